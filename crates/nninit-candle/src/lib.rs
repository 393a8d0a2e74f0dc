//! # nninit-candle — initialize any candle model with nninit, through its `VarBuilder`
//!
//! [candle](https://github.com/huggingface/candle)'s own initializers (`candle_nn::Init`) draw
//! from a CPU generator that cannot be seeded (`Device::Cpu.set_seed` is an error), so the
//! same model starts from other weights on every run. This crate is a
//! [`candle_nn::var_builder::SimpleBackend`] that answers every `VarBuilder::get` from an
//! nninit [`Plan`]: the tensor of that name, drawn under the plan's rule from nninit's Philox
//! stream keyed by (seed, name). Any `candle-transformers` model built on it gets, tensor by
//! tensor, the bytes `nninit materialize --config FILE --scheme S --seed N` writes for the
//! same config — whatever the device, the thread count or the order candle asks in.
//!
//! ```
//! use candle_core::{DType, Device};
//! use nninit_candle::PlanBackend;
//!
//! let config = r#"{"model_type": "llama", "architectures": ["LlamaForCausalLM"],
//!     "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
//!     "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 256,
//!     "max_position_embeddings": 128, "rms_norm_eps": 1e-5, "tie_word_embeddings": false}"#;
//! let backend = PlanBackend::from_config_json(config, "megatron", 42)?;
//! let vb = backend.var_builder(DType::F32, &Device::Cpu);
//! // Any candle model: candle_transformers::models::llama::Llama::load(vb, &cfg)?, or by hand:
//! let q = vb.pp("model.layers.0.self_attn.q_proj").get((64, 64), "weight")?;
//! let norm = vb.pp("model.norm").get(64, "weight")?;
//! assert_eq!(norm.to_vec1::<f32>()?, vec![1.0; 64]);
//! assert_eq!(backend.served().len(), 2);
//! # let _ = q;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! What the backend does with each request `(shape, name, candle's Init hint, dtype, device)`:
//!
//! - the name must be a tensor of the plan (a tied tensor, such as BERT's
//!   `cls.predictions.decoder.weight`, gets its source's values, as `transformers` ties them),
//!   else [`Error::UnknownTensor`];
//! - the shape must be the plan's, else [`Error::Shape`]; the one exception is GPT-2's
//!   `Conv1D` weights (`[in, out]` in the plan, as `transformers` stores them), which a backend
//!   [`with_conv1d_layout`](PlanBackend::with_conv1d_layout)`(`[`Conv1dLayout::OutIn`]`)`
//!   serves transposed, for candle models that build them as `Linear` `[out, in]`;
//! - candle's `Init` hint is ignored: the plan's rule (the scheme's choice) decides;
//! - f32, f64, bf16 and f16 are drawn directly in that type, the same bytes as
//!   `nninit materialize --dtype`; any other type is an [`Error::DType`].
//!
//! Zero-copy: each tensor is drawn once into a `Vec` that [`Tensor::from_vec`] takes as the
//! CPU storage, with no second copy (the transposed `Conv1D` weights are the exception: one
//! extra buffer each while they are transposed). A name asked for twice (a tie candle makes
//! itself) gets the same tensor back, sharing storage. [`save_safetensors`] writes tensors
//! from their storage, without copying them first.
//!
//! Errors reach candle as a [`candle_core::Error`] carrying nninit's message; the backend
//! keeps them in [`PlanBackend::refused`]. (candle's own `Llama::load` unwraps the
//! errors of its decoder layers, so a config that disagrees with the plan there panics inside
//! candle; the other models return the error.)

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use candle_core::{DType, Device, Shape, Tensor, WithDType};
use candle_nn::VarBuilder;
use candle_nn::var_builder::SimpleBackend;
use nninit::Element;
use nninit::arch::Model;
use nninit::plan::{Module, Plan, PlannedTensor};
use nninit::scheme::Scheme;
use nninit::stream::Philox;

mod error;
mod save;
#[cfg(test)]
mod tests;

pub use error::{Error, Result};
pub use save::save_safetensors;

/// A candle `VarBuilder` backend that draws every tensor from an nninit [`Plan`].
///
/// Cheap to clone (the clones share the plan and what was served), so keep one to read
/// [`served`](Self::served), [`unrequested`](Self::unrequested) and
/// [`refused`](Self::refused) after a model is built on [`var_builder`](Self::var_builder).
#[derive(Clone, Debug)]
pub struct PlanBackend {
    inner: Arc<Inner>,
    conv1d: Conv1dLayout,
}

/// How the backend serves the weights of GPT-2's `Conv1D` modules, which `transformers` stores
/// `[in, out]` (the transpose of a `Linear`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Conv1dLayout {
    /// `[in, out]`, as `transformers` stores them and `nninit materialize` writes them: for a
    /// candle model that multiplies by them as they are (`x·W`).
    #[default]
    InOut,
    /// `[out, in]`, the transpose: for a candle model that builds them as `candle_nn::Linear`
    /// (`x·Wᵀ`), such as `candle_transformers::models::bigcode` (GPT-2's layers as `Linear`).
    /// The same weights for the same function; one extra buffer per weight while it is
    /// transposed.
    OutIn,
}

#[derive(Debug)]
struct Inner {
    plan: Plan,
    seed: u64,
    /// Plan index of every tensor name.
    index: HashMap<String, usize>,
    log: Mutex<Log>,
}

#[derive(Debug, Default)]
struct Log {
    /// Every tensor handed to candle, in the order first asked for.
    served: Vec<(String, Tensor)>,
    /// Every request refused.
    refused: Vec<Refusal>,
}

/// A request the backend refused: the path candle asked for and the message of the
/// [`Error`] candle got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The path candle asked for.
    pub name: String,
    /// The error's message.
    pub message: String,
}

/// How a planned tensor's values are laid out for candle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    /// As in the plan.
    Plan,
    /// The transpose of a rank-2 plan tensor (a `Conv1D` weight asked for as a `Linear`).
    Transposed,
}

impl PlanBackend {
    /// A backend over `plan` (validated here: every stored tensor must have a rule), drawing
    /// from nninit's Philox stream of (`seed`, tensor name) — the stream of
    /// `nninit materialize --seed SEED`.
    ///
    /// # Errors
    /// [`Error::Nninit`] if the plan does not validate.
    pub fn new(plan: Plan, seed: u64) -> Result<Self> {
        plan.validate().map_err(|e| Error::nninit("the plan", e))?;
        let index = plan.tensors.iter().enumerate().map(|(i, t)| (t.name.clone(), i)).collect();
        Ok(Self {
            inner: Arc::new(Inner { plan, seed, index, log: Mutex::default() }),
            conv1d: Conv1dLayout::default(),
        })
    }

    /// The backend serving `Conv1D` weights in `layout` (the default is
    /// [`Conv1dLayout::InOut`], the plan's own).
    #[must_use]
    pub fn with_conv1d_layout(mut self, layout: Conv1dLayout) -> Self {
        self.conv1d = layout;
        self
    }

    /// The plan of a Hugging Face `config.json` (gpt2, llama, mistral, qwen2, bert, vit, ...)
    /// under a scheme (`hf`, `torch-default`, `megatron`, `mup:256`, ...): the plan
    /// `nninit materialize --config FILE --scheme SCHEME` writes.
    ///
    /// # Errors
    /// [`Error::Nninit`] for a config nninit cannot read, an unknown scheme, or a scheme that
    /// cannot initialize the architecture.
    pub fn from_config_json(config: &str, scheme: &str, seed: u64) -> Result<Self> {
        let model = Model::from_config_json(config).map_err(|e| Error::nninit("the config", e))?;
        let scheme = Scheme::parse(scheme).map_err(|e| Error::nninit("the scheme", e))?;
        Self::from_model(&model, &scheme, seed)
    }

    /// The plan of `model` under `scheme` ([`Scheme::plan`]).
    ///
    /// # Errors
    /// [`Error::Nninit`] for a scheme that cannot initialize the architecture.
    pub fn from_model(model: &Model, scheme: &Scheme, seed: u64) -> Result<Self> {
        // The dtype only sizes the plan; each tensor is drawn in the type candle asks for.
        let plan = scheme
            .plan(model, nninit::DType::F32)
            .map_err(|e| Error::nninit(format!("scheme `{}` on {}", scheme.label(), model.model_class()), e))?;
        Self::new(plan, seed)
    }

    /// A `VarBuilder` on this backend (a clone of it), for `dtype` tensors on `device`.
    pub fn var_builder(&self, dtype: DType, device: &Device) -> VarBuilder<'static> {
        VarBuilder::from_backend(Box::new(self.clone()), dtype, device.clone())
    }

    /// The plan the tensors come from.
    pub fn plan(&self) -> &Plan {
        &self.inner.plan
    }

    /// The seed of every tensor's stream.
    pub fn seed(&self) -> u64 {
        self.inner.seed
    }

    /// The tensor `name` in `shape`, as `dtype` on `device` — what `VarBuilder::get` gets —
    /// with the typed error (recorded in [`refused`](Self::refused) too).
    ///
    /// # Errors
    /// [`Error::UnknownTensor`], [`Error::Shape`], [`Error::DType`], [`Error::Alloc`], and
    /// [`Error::Nninit`] or [`Error::Candle`] where they refuse.
    pub fn tensor(&self, name: &str, shape: &[usize], dtype: DType, device: &Device) -> Result<Tensor> {
        self.serve(name, Some(shape), dtype, device)
    }

    /// Every tensor handed to candle so far, each name once, in the order first asked for.
    /// They share storage with the model's (no copy): save them with [`save_safetensors`].
    pub fn served(&self) -> Vec<(String, Tensor)> {
        self.log().served.clone()
    }

    /// The stored tensors of the plan (what `nninit materialize` writes) that candle never
    /// asked for, under their own name or the name of a tensor tied to them. Empty when the
    /// candle model and the plan are the same model.
    pub fn unrequested(&self) -> Vec<String> {
        let plan = &self.inner.plan;
        let asked: HashSet<&str> = {
            let log = self.log();
            log.served
                .iter()
                .filter_map(|(n, _)| plan.get(n))
                .map(|t| t.tied_to.as_deref().unwrap_or(&t.name))
                .collect::<HashSet<_>>()
                .into_iter()
                .filter_map(|n| plan.get(n).map(|t| t.name.as_str()))
                .collect()
        };
        plan.stored().filter(|t| !asked.contains(t.name.as_str())).map(|t| t.name.clone()).collect()
    }

    /// Every request refused so far (also those a candle model caught to try another path),
    /// taking them out of the backend.
    pub fn refused(&self) -> Vec<Refusal> {
        std::mem::take(&mut self.log().refused)
    }

    fn log(&self) -> MutexGuard<'_, Log> {
        // A panic while the log was held leaves it as it was: still usable.
        self.inner.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Serves `name` (in `shape`, or the plan's own), recording the result.
    fn serve(&self, name: &str, shape: Option<&[usize]>, dtype: DType, device: &Device) -> Result<Tensor> {
        let result = self.try_serve(name, shape, dtype, device);
        if let Err(e) = &result {
            self.log().refused.push(Refusal { name: name.to_owned(), message: e.to_string() });
        }
        result
    }

    fn try_serve(&self, name: &str, shape: Option<&[usize]>, dtype: DType, device: &Device) -> Result<Tensor> {
        if let Some(t) = self.lookup(name, shape, dtype, device) {
            return Ok(t);
        }
        let (source, order) = self.resolve(name, shape)?;
        let tensor = self.draw(name, source, order, dtype, device)?;
        let mut log = self.log();
        if !log.served.iter().any(|(n, _)| n == name) {
            log.served.push((name.to_owned(), tensor.clone()));
        }
        Ok(tensor)
    }

    /// The tensor served before under `name`, if it has this shape, dtype and device.
    fn lookup(&self, name: &str, shape: Option<&[usize]>, dtype: DType, device: &Device) -> Option<Tensor> {
        self.log()
            .served
            .iter()
            .find(|(n, t)| {
                n == name && shape.is_none_or(|s| t.dims() == s) && t.dtype() == dtype && t.device().same_device(device)
            })
            .map(|(_, t)| t.clone())
    }

    /// The planned tensor whose values `name` gets (the source of a tie) and their order,
    /// checked against the shape candle asks for.
    fn resolve(&self, name: &str, shape: Option<&[usize]>) -> Result<(&PlannedTensor, Order)> {
        let plan = &self.inner.plan;
        let unknown = || Error::UnknownTensor { name: name.to_owned(), model_class: plan.model_class.clone() };
        let asked = self.inner.index.get(name).map(|&i| &plan.tensors[i]).ok_or_else(unknown)?;
        // Plan::validate checked that a tie points at a stored tensor of the same shape.
        let source = match &asked.tied_to {
            Some(s) => plan.get(s).ok_or_else(unknown)?,
            None => asked,
        };
        let planned = source.spec.shape().dims();
        let order = match self.conv1d {
            Conv1dLayout::OutIn if source.module == Module::Conv1D && planned.len() == 2 => Order::Transposed,
            _ => Order::Plan,
        };
        let served = match order {
            Order::Plan => planned.to_vec(),
            Order::Transposed => vec![planned[1], planned[0]],
        };
        if let Some(s) = shape.filter(|&s| s != served.as_slice()) {
            return Err(Error::Shape { name: name.to_owned(), requested: s.to_vec(), planned: served });
        }
        Ok((source, order))
    }

    /// Draws `source` for the request `name`, in `dtype`, onto `device`.
    fn draw(&self, name: &str, source: &PlannedTensor, order: Order, dtype: DType, device: &Device) -> Result<Tensor> {
        match dtype_of(name, dtype)? {
            nninit::DType::F32 => self.draw_as::<f32>(name, source, order, device),
            nninit::DType::F64 => self.draw_as::<f64>(name, source, order, device),
            nninit::DType::BF16 => self.draw_as::<half::bf16>(name, source, order, device),
            nninit::DType::F16 => self.draw_as::<half::f16>(name, source, order, device),
            nninit::DType::I64 => Err(Error::DType { name: name.to_owned(), dtype }),
        }
    }

    fn draw_as<E: Element + WithDType>(
        &self,
        name: &str,
        source: &PlannedTensor,
        order: Order,
        device: &Device,
    ) -> Result<Tensor> {
        let values = fill::<E>(name, source, self.inner.seed)?;
        let dims = source.spec.shape().dims();
        let (values, dims) = match order {
            Order::Plan => (values, dims.to_vec()),
            Order::Transposed => (transpose(&values, dims[0], dims[1]), vec![dims[1], dims[0]]),
        };
        // On the CPU the Vec becomes the tensor's storage as it is (no copy).
        Tensor::from_vec(values, Shape::from(dims), device)
            .map_err(|source| Error::Candle { name: name.to_owned(), source })
    }
}

/// The values of `source`, drawn once: `nninit materialize`'s bytes for that tensor.
fn fill<E: Element>(name: &str, source: &PlannedTensor, seed: u64) -> Result<Vec<E>> {
    let numel = source.numel();
    nninit::io::check_write_elements(&format!("`{name}`"), numel)
        .map_err(|e| Error::nninit(format!("tensor `{name}`"), e))?;
    let alloc = || Error::Alloc { name: name.to_owned(), bytes: numel.saturating_mul(size_of::<E>() as u64) };
    let n = usize::try_from(numel).map_err(|_| alloc())?;
    let mut values = Vec::new();
    values.try_reserve_exact(n).map_err(|_| alloc())?;
    values.resize(n, E::default());
    // Plan::validate checked that a stored tensor has a rule (or a rule per part) that accepts it.
    match source.init.as_ref() {
        Some(init) => init
            .fill(&source.spec, &Philox::new(seed, &source.name), &mut values)
            .map_err(|e| Error::nninit(format!("tensor `{name}` ({})", init.name()), e))?,
        // A fused tensor whose parts take their own rules, each from its part's stream.
        None => source.fill_slice(seed, 0, &mut values).map_err(|e| Error::nninit(format!("tensor `{name}`"), e))?,
    }
    Ok(values)
}

/// The transpose of a row-major `rows × cols` matrix.
fn transpose<E: Copy>(values: &[E], rows: usize, cols: usize) -> Vec<E> {
    let mut out = Vec::with_capacity(values.len());
    for c in 0..cols {
        out.extend((0..rows).map(|r| values[r * cols + c]));
    }
    out
}

/// nninit's element type for candle's `dtype`.
fn dtype_of(name: &str, dtype: DType) -> Result<nninit::DType> {
    match dtype {
        DType::F32 => Ok(nninit::DType::F32),
        DType::F64 => Ok(nninit::DType::F64),
        DType::BF16 => Ok(nninit::DType::BF16),
        DType::F16 => Ok(nninit::DType::F16),
        other => Err(Error::DType { name: name.to_owned(), dtype: other }),
    }
}

impl SimpleBackend for PlanBackend {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _hint: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        Ok(self.serve(name, Some(s.dims()), dtype, dev)?)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        Ok(self.serve(name, None, dtype, dev)?)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.inner.index.contains_key(name)
    }
}
