//! # nninit-burn — initialize any burn module with nninit, in one call
//!
//! [burn](https://burn.dev)'s own initializers are a closed enum drawn from a backend-global
//! random generator, so the same model starts from other weights on another backend, device
//! or thread count. This crate re-initializes every parameter of any burn [`Module`] by its
//! parameter path with nninit's rules and streams:
//!
//! - [`init`]`(model, &rules, seed)`: each parameter is drawn with its [`Rules`] rule from
//!   nninit's Philox stream keyed by (seed, burn path). The values depend on nothing else —
//!   not the backend, the device or the thread count — and equal
//!   `nninit sample RULE --shape ... --seed SEED --name PATH` bit for bit.
//! - [`init_torch`]`(model, seed)`: a burn model whose modules mirror a PyTorch model gets the
//!   weights PyTorch's default initialization gives after `torch.manual_seed(seed)`, bit for
//!   bit (nninit's [`nninit::torch`] replays the modules on PyTorch's generator; see
//!   [`torch`](mod@torch) for the module correspondence).
//!
//! Fans come from burn's real storage layouts ([`Kind`]): a `Linear` weight is `[in, out]`, a
//! convolution `[out, in/groups, k...]`, a transposed one `[in, out/groups, k...]`. Nothing is
//! recomputed here: nninit's [`fan`](nninit::fan) module reads the layout.
//!
//! Lazy parameters (a module fresh from its config) are never materialized by burn's
//! initializer first, and each filled `Vec` becomes the tensor's data without a second copy on
//! the host ([`TensorData::new`](burn::tensor::TensorData::new) takes the buffer).
//!
//! ```
//! use burn::nn::{LinearConfig, Linear, Relu};
//! use burn::module::Module;
//! use burn::tensor::Device;
//! use nninit::init::{Init, VarianceScaling};
//! use nninit_burn::Rules;
//!
//! #[derive(Module, Debug)]
//! struct Mlp {
//!     hidden: Linear,
//!     head: Linear,
//! }
//!
//! let device = Device::flex();
//! let model = Mlp {
//!     hidden: LinearConfig::new(64, 256).init(&device),
//!     head: LinearConfig::new(256, 10).init(&device),
//! };
//! // He-normal weights (fan_in = 64 and 256: burn's [in, out] layout), zero biases.
//! let rules = Rules::modules(VarianceScaling::he_normal(), Init::Zeros);
//! let model = nninit_burn::init(model, &rules, 42)?;
//! assert_eq!(model.head.bias.as_ref().unwrap().val().into_data().try_to_vec::<f32>().unwrap(), vec![0.0; 10]);
//! # Ok::<(), nninit_burn::Error>(())
//! ```

use std::collections::HashMap;

use burn::module::Module;
use nninit::stream::Philox;
use nninit::torch::TorchGenerator;

mod error;
mod rules;
pub mod torch;
mod walk;

pub use error::{Error, Result};
pub use rules::{Kind, Rules};

/// The parameters' fills, drawn one at a time as the mapper reaches them.
struct Fills {
    seed: u64,
    fills: HashMap<String, Option<rules::Fill>>,
}

impl walk::Values for Fills {
    fn take(&mut self, path: &str) -> Result<Option<Vec<f32>>> {
        let Some(Some(fill)) = self.fills.remove(path) else { return Ok(None) };
        let mut values = vec![0f32; fill.spec.numel() as usize];
        let drawn = match &fill.parts {
            Some(t) => t.fill_slice(self.seed, 0, &mut values),
            None => fill.init.fill(&fill.spec, &Philox::new(self.seed, &fill.stream), &mut values),
        };
        drawn.map_err(|source| Error::Refused {
            path: path.to_owned(),
            shape: fill.spec.shape().dims().to_vec(),
            rule: fill.init.name(),
            source: Box::new(source),
        })?;
        Ok(Some(values))
    }
}

/// Re-initializes every float parameter of `model` under `rules`, each from nninit's Philox
/// stream of (`seed`, its burn path) — or of the plan's name under [`Rules::from_plan`].
///
/// Every parameter is checked before anything is drawn: on an error the model is dropped and
/// nothing was filled. A parameter the rules [`keep`](Rules::keep) is left as it is.
///
/// # Errors
/// [`Error::NoRule`] for a parameter no rule matches, [`Error::Refused`] for a shape its rule
/// refuses, [`Error::BadPattern`], and the plan errors of [`Rules::from_plan`].
pub fn init<M: Module>(model: M, rules: &Rules, seed: u64) -> Result<M> {
    let records = walk::records(&model);
    let fills = rules.compile()?.resolve(&records)?;
    let mut fills = Fills { seed, fills: fills.into_iter().collect() };
    walk::apply(model, &mut fills)
}

/// Gives `model` the weights its PyTorch mirror has after `torch.manual_seed(seed)` and
/// construction with PyTorch's default initialization (the x86-64 wheels' AVX2 kernels), bit
/// for bit. See [`torch`](mod@torch) for which burn modules mirror which PyTorch modules.
///
/// # Errors
/// [`Error::TorchUnsupported`] for a parameter outside the modules of [`torch`](mod@torch) or a
/// module that does not have its PyTorch counterpart's parameters.
pub fn init_torch<M: Module>(model: M, seed: u64) -> Result<M> {
    init_torch_with(model, &mut TorchGenerator::new(seed))
}

/// [`init_torch`] from a given PyTorch generator (another kernel flavour, or a generator that
/// earlier draws moved on); the generator is left where PyTorch's would be.
///
/// # Errors
/// As [`init_torch`].
pub fn init_torch_with<M: Module>(model: M, generator: &mut TorchGenerator) -> Result<M> {
    let records = walk::records(&model);
    let mut values = torch::values(&records, generator)?;
    walk::apply(model, &mut values)
}
