//! Whole-model replay: the state dict that a list of PyTorch modules has right
//! after construction under `torch.manual_seed(seed)`.
//!
//! Each module's `__init__` creates its parameters without drawing, then its
//! `reset_parameters()` draws, so the generator is consumed in construction
//! order, and within a module in the order below. [`state_dict`] replays
//! exactly that and returns the state dict in PyTorch's order and naming.
//!
//! | module | default init, in generator order | state-dict keys |
//! |---|---|---|
//! | `Linear`, `Conv*`, `ConvTranspose*` | weight `kaiming_uniform_(a=√5)`, bias `uniform_(±1/√fan_in)` | `weight`, `bias` |
//! | `Bilinear` | weight, bias `uniform_(±1/√in1_features)` | `weight`, `bias` |
//! | `Embedding` | `normal_(0, 1)`, then row `padding_idx` zeroed | `weight` |
//! | `LayerNorm` | ones, zeros (no draws) | `weight`, `bias` |
//! | `BatchNorm1d/2d/3d` | ones, zeros, buffers (no draws) | `weight`, `bias`, `running_mean`, `running_var`, `num_batches_tracked` |
//! | `RNN`, `LSTM`, `GRU` | every parameter `uniform_(±1/√hidden_size)` | `weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`, (`weight_hr_l0`), `…_reverse`, `…_l1` |
//! | `MultiheadAttention` | `out_proj` Linear init, then `xavier_uniform_` of `in_proj_weight` (or q/k/v), biases zeroed, `xavier_normal_` of `bias_k`, `bias_v` | `in_proj_weight` (or `q_proj_weight`, `k_proj_weight`, `v_proj_weight`), `in_proj_bias`, `bias_k`, `bias_v`, `out_proj.weight`, `out_proj.bias` |
//!
//! `num_batches_tracked` is an `int64` scalar (shape `[]`) holding 0:
//! [`StateValues::I64`], which safetensors stores as `I64`.
//!
//! # The JSON format
//!
//! A JSON array of modules in construction order. Each module is an object
//! with `"type"` (the `torch.nn` class name), an optional `"name"` (the prefix
//! of its state-dict keys, e.g. `"0"` in a `Sequential` or `"encoder.attn"`;
//! empty or absent for none), and the class's constructor arguments under
//! PyTorch's names, with PyTorch's defaults. Arguments that do not affect
//! initialization (`stride`, `padding`, `dilation`, `output_padding`,
//! `padding_mode`, `dropout`, `eps`, `momentum`, `batch_first`, `nonlinearity`,
//! `max_norm`, ...) are accepted and ignored; unknown keys are errors. Modules
//! without parameters (activations, `Flatten`, `Dropout`) are left out, but
//! their `Sequential` index still counts, so name the others accordingly:
//!
//! ```
//! use nninit::torch::{state_dict_from_json, TorchDType, TorchGenerator};
//!
//! // torch.manual_seed(0)
//! // nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU(), nn.Flatten(), nn.Linear(14400, 64),
//! //               nn.LayerNorm(64)).state_dict()
//! let json = r#"[
//!   {"type": "Conv2d", "name": "0", "in_channels": 3, "out_channels": 16, "kernel_size": 3},
//!   {"type": "Linear", "name": "3", "in_features": 14400, "out_features": 64},
//!   {"type": "LayerNorm", "name": "4", "normalized_shape": 64}
//! ]"#;
//! let tensors = state_dict_from_json(json, &mut TorchGenerator::new(0), TorchDType::F32)?;
//! let keys: Vec<&str> = tensors.iter().map(|t| t.name.as_str()).collect();
//! assert_eq!(keys, ["0.weight", "0.bias", "3.weight", "3.bias", "4.weight", "4.bias"]);
//! assert_eq!(tensors[0].shape, [16, 3, 3, 3]);
//! # Ok::<(), nninit::Error>(())
//! ```
//!
//! The accepted modules and arguments (defaults in brackets):
//!
//! - `Linear`: `in_features`, `out_features`, `bias` \[true\]
//! - `Conv1d`, `Conv2d`, `Conv3d`, `ConvTranspose1d`, `ConvTranspose2d`,
//!   `ConvTranspose3d`: `in_channels`, `out_channels`, `kernel_size` (a number
//!   or a list), `groups` \[1\], `bias` \[true\]
//! - `Bilinear`: `in1_features`, `in2_features`, `out_features`, `bias` \[true\]
//! - `Embedding`: `num_embeddings`, `embedding_dim`, `padding_idx` \[none;
//!   negative counts from the end\]
//! - `LayerNorm`: `normalized_shape` (a number or a list),
//!   `elementwise_affine` \[true\], `bias` \[true\]
//! - `BatchNorm1d`, `BatchNorm2d`, `BatchNorm3d`: `num_features`, `affine`
//!   \[true\], `track_running_stats` \[true\]
//! - `RNN`, `GRU`: `input_size`, `hidden_size`, `num_layers` \[1\], `bias`
//!   \[true\], `bidirectional` \[false\]; `LSTM` also `proj_size` \[0\]
//! - `MultiheadAttention`: `embed_dim`, `num_heads`, `bias` \[true\],
//!   `add_bias_kv` \[false\], `kdim`, `vdim` \[embed_dim\]

use serde::Deserialize;

use crate::activation::Activation;
use crate::error::{Error, Result};
use crate::fan::FanMode;
use crate::tensor::Shape;

use super::generator::TorchGenerator;
use super::init::{self, TorchFloat};

/// A number or a list of numbers (`kernel_size=3` or `kernel_size=(3, 1)`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum IntOrList {
    /// One number, repeated over every spatial axis.
    One(usize),
    /// One number per axis.
    List(Vec<usize>),
}

impl IntOrList {
    fn expand(&self, what: &str, rank: usize) -> Result<Vec<usize>> {
        match self {
            Self::One(k) => Ok(vec![*k; rank]),
            Self::List(v) if v.len() == rank => Ok(v.clone()),
            Self::List(v) => {
                Err(Error::InvalidConfig { reason: format!("{what} has {} entries, expected {rank}", v.len()) })
            }
        }
    }
}

fn yes() -> bool {
    true
}
fn one() -> usize {
    1
}

/// One PyTorch module and its constructor arguments; see the [module docs](crate::torch::modules)
/// for the JSON form.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "type")]
#[non_exhaustive]
pub enum TorchModule {
    /// `nn.Linear`.
    Linear(LinearArgs),
    /// `nn.Conv1d`.
    Conv1d(ConvArgs),
    /// `nn.Conv2d`.
    Conv2d(ConvArgs),
    /// `nn.Conv3d`.
    Conv3d(ConvArgs),
    /// `nn.ConvTranspose1d`.
    ConvTranspose1d(ConvArgs),
    /// `nn.ConvTranspose2d`.
    ConvTranspose2d(ConvArgs),
    /// `nn.ConvTranspose3d`.
    ConvTranspose3d(ConvArgs),
    /// `nn.Bilinear`.
    Bilinear(BilinearArgs),
    /// `nn.Embedding`.
    Embedding(EmbeddingArgs),
    /// `nn.LayerNorm`.
    LayerNorm(LayerNormArgs),
    /// `nn.BatchNorm1d`.
    BatchNorm1d(BatchNormArgs),
    /// `nn.BatchNorm2d`.
    BatchNorm2d(BatchNormArgs),
    /// `nn.BatchNorm3d`.
    BatchNorm3d(BatchNormArgs),
    /// `nn.RNN`.
    #[serde(rename = "RNN")]
    Rnn(RnnArgs),
    /// `nn.LSTM`.
    #[serde(rename = "LSTM")]
    Lstm(RnnArgs),
    /// `nn.GRU`.
    #[serde(rename = "GRU")]
    Gru(RnnArgs),
    /// `nn.MultiheadAttention`.
    MultiheadAttention(AttentionArgs),
}

/// Arguments of `nn.Linear`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct LinearArgs {
    /// State-dict prefix.
    #[serde(default)]
    pub name: String,
    /// `in_features`.
    pub in_features: usize,
    /// `out_features`.
    pub out_features: usize,
    /// `bias` \[true\].
    #[serde(default = "yes")]
    pub bias: bool,
    /// Ignored (`device`, `dtype`).
    #[serde(default, flatten)]
    ignored: Ignored,
}

/// Arguments of `nn.Conv*` and `nn.ConvTranspose*`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ConvArgs {
    /// State-dict prefix.
    #[serde(default)]
    pub name: String,
    /// `in_channels`.
    pub in_channels: usize,
    /// `out_channels`.
    pub out_channels: usize,
    /// `kernel_size`.
    pub kernel_size: IntOrList,
    /// `groups` \[1\].
    #[serde(default = "one")]
    pub groups: usize,
    /// `bias` \[true\].
    #[serde(default = "yes")]
    pub bias: bool,
    #[serde(default, flatten)]
    ignored: Ignored,
}

/// Arguments of `nn.Bilinear`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct BilinearArgs {
    /// State-dict prefix.
    #[serde(default)]
    pub name: String,
    /// `in1_features`.
    pub in1_features: usize,
    /// `in2_features`.
    pub in2_features: usize,
    /// `out_features`.
    pub out_features: usize,
    /// `bias` \[true\].
    #[serde(default = "yes")]
    pub bias: bool,
    #[serde(default, flatten)]
    ignored: Ignored,
}

/// Arguments of `nn.Embedding`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct EmbeddingArgs {
    /// State-dict prefix.
    #[serde(default)]
    pub name: String,
    /// `num_embeddings`.
    pub num_embeddings: usize,
    /// `embedding_dim`.
    pub embedding_dim: usize,
    /// `padding_idx` \[none\]: the row zeroed after `normal_`; negative counts from the end.
    #[serde(default)]
    pub padding_idx: Option<i64>,
    #[serde(default, flatten)]
    ignored: Ignored,
}

/// Arguments of `nn.LayerNorm`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct LayerNormArgs {
    /// State-dict prefix.
    #[serde(default)]
    pub name: String,
    /// `normalized_shape`.
    pub normalized_shape: IntOrList,
    /// `elementwise_affine` \[true\].
    #[serde(default = "yes")]
    pub elementwise_affine: bool,
    /// `bias` \[true\].
    #[serde(default = "yes")]
    pub bias: bool,
    #[serde(default, flatten)]
    ignored: Ignored,
}

/// Arguments of `nn.BatchNorm1d/2d/3d`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct BatchNormArgs {
    /// State-dict prefix.
    #[serde(default)]
    pub name: String,
    /// `num_features`.
    pub num_features: usize,
    /// `affine` \[true\].
    #[serde(default = "yes")]
    pub affine: bool,
    /// `track_running_stats` \[true\].
    #[serde(default = "yes")]
    pub track_running_stats: bool,
    #[serde(default, flatten)]
    ignored: Ignored,
}

/// Arguments of `nn.RNN`, `nn.LSTM`, `nn.GRU`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RnnArgs {
    /// State-dict prefix.
    #[serde(default)]
    pub name: String,
    /// `input_size`.
    pub input_size: usize,
    /// `hidden_size`.
    pub hidden_size: usize,
    /// `num_layers` \[1\].
    #[serde(default = "one")]
    pub num_layers: usize,
    /// `bias` \[true\].
    #[serde(default = "yes")]
    pub bias: bool,
    /// `bidirectional` \[false\].
    #[serde(default)]
    pub bidirectional: bool,
    /// `proj_size` \[0\], LSTM only.
    #[serde(default)]
    pub proj_size: usize,
    #[serde(default, flatten)]
    ignored: Ignored,
}

/// Arguments of `nn.MultiheadAttention`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AttentionArgs {
    /// State-dict prefix.
    #[serde(default)]
    pub name: String,
    /// `embed_dim`.
    pub embed_dim: usize,
    /// `num_heads` (must divide `embed_dim`).
    pub num_heads: usize,
    /// `bias` \[true\].
    #[serde(default = "yes")]
    pub bias: bool,
    /// `add_bias_kv` \[false\].
    #[serde(default)]
    pub add_bias_kv: bool,
    /// `add_zero_attn` \[false\] (no parameters).
    #[serde(default)]
    pub add_zero_attn: bool,
    /// `kdim` \[embed_dim\].
    #[serde(default)]
    pub kdim: Option<usize>,
    /// `vdim` \[embed_dim\].
    #[serde(default)]
    pub vdim: Option<usize>,
    #[serde(default, flatten)]
    ignored: Ignored,
}

/// Constructor arguments that do not affect initialization.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Ignored {
    #[serde(default)]
    stride: Option<serde_json::Value>,
    #[serde(default)]
    padding: Option<serde_json::Value>,
    #[serde(default)]
    dilation: Option<serde_json::Value>,
    #[serde(default)]
    output_padding: Option<serde_json::Value>,
    #[serde(default)]
    padding_mode: Option<serde_json::Value>,
    #[serde(default)]
    dropout: Option<serde_json::Value>,
    #[serde(default)]
    eps: Option<serde_json::Value>,
    #[serde(default)]
    momentum: Option<serde_json::Value>,
    #[serde(default)]
    batch_first: Option<serde_json::Value>,
    #[serde(default)]
    nonlinearity: Option<serde_json::Value>,
    #[serde(default)]
    max_norm: Option<serde_json::Value>,
    #[serde(default)]
    norm_type: Option<serde_json::Value>,
    #[serde(default)]
    scale_grad_by_freq: Option<serde_json::Value>,
    #[serde(default)]
    sparse: Option<serde_json::Value>,
    #[serde(default)]
    device: Option<serde_json::Value>,
    #[serde(default)]
    dtype: Option<serde_json::Value>,
}

/// The floating-point type of the replayed parameters (`torch.set_default_dtype`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TorchDType {
    /// `torch.float32`, PyTorch's default.
    F32,
    /// `torch.float64`.
    F64,
}

/// The values of one state-dict entry.
#[derive(Clone, Debug, PartialEq)]
pub enum StateValues {
    /// `float32` values.
    F32(Vec<f32>),
    /// `float64` values.
    F64(Vec<f64>),
    /// `int64` values (`num_batches_tracked`).
    I64(Vec<i64>),
}

impl StateValues {
    /// The number of elements.
    pub fn len(&self) -> usize {
        match self {
            Self::F32(v) => v.len(),
            Self::F64(v) => v.len(),
            Self::I64(v) => v.len(),
        }
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One state-dict entry: key, shape (row-major) and values.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct TorchTensor {
    /// The state-dict key, e.g. `lstm.weight_ih_l0`.
    pub name: String,
    /// The shape; `[]` for a scalar.
    pub shape: Vec<usize>,
    /// The values.
    pub data: StateValues,
}

/// Parses a JSON module list (see the [module docs](crate::torch::modules)).
///
/// # Errors
///
/// [`Error::InvalidConfig`] for JSON that is not a list of known modules with
/// their required arguments.
pub fn parse_modules(json: &str) -> Result<Vec<TorchModule>> {
    serde_json::from_str(json).map_err(|e| Error::InvalidConfig { reason: format!("torch module list: {e}") })
}

/// Parses `json` with [`parse_modules`] and runs [`state_dict`].
///
/// # Errors
///
/// Those of [`parse_modules`] and [`state_dict`].
pub fn state_dict_from_json(json: &str, g: &mut TorchGenerator, dtype: TorchDType) -> Result<Vec<TorchTensor>> {
    state_dict(&parse_modules(json)?, g, dtype)
}

/// Constructs `modules` in order as PyTorch does, drawing from `g`, and returns
/// their state dicts concatenated, in PyTorch's order and naming.
///
/// With `g` fresh from [`TorchGenerator::new`]`(seed)` this is the state dict of
/// the same modules built after `torch.manual_seed(seed)` with
/// `torch.set_default_dtype(dtype)`, bit for bit (see the [parent module](super)
/// for the kernel flavour).
///
/// # Errors
///
/// [`Error::InvalidConfig`] for impossible arguments (a zero size,
/// `groups` that do not divide the channels, `num_heads` that does not divide
/// `embed_dim`, `padding_idx` out of range, `proj_size` on an RNN or GRU or
/// not below `hidden_size`).
pub fn state_dict(modules: &[TorchModule], g: &mut TorchGenerator, dtype: TorchDType) -> Result<Vec<TorchTensor>> {
    let mut out = Vec::new();
    for m in modules {
        match dtype {
            TorchDType::F32 => module::<f32, _>(m, g, &mut out, StateValues::F32)?,
            TorchDType::F64 => module::<f64, _>(m, g, &mut out, StateValues::F64)?,
        }
    }
    Ok(out)
}

fn invalid(reason: String) -> Error {
    Error::InvalidConfig { reason }
}

fn key(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_owned() } else { format!("{prefix}.{name}") }
}

/// A tensor's shape, refused before anything is allocated when it is empty or larger than
/// [`crate::io::MAX_WRITE_ELEMENTS`] (the state dict is built in memory).
fn shape_of(dims: &[usize]) -> Result<Shape> {
    let shape = Shape::new(dims.to_vec()).map_err(|e| invalid(format!("torch module: {e}")))?;
    crate::io::check_write_elements(&format!("a torch module tensor {dims:?}"), shape.numel())?;
    Ok(shape)
}

/// Appends tensors in state-dict order while the draws happen in init order.
struct Builder<'a, T, W: Fn(Vec<T>) -> StateValues> {
    out: &'a mut Vec<TorchTensor>,
    wrap: W,
    _t: std::marker::PhantomData<T>,
}

impl<T: TorchFloat, W: Fn(Vec<T>) -> StateValues> Builder<'_, T, W> {
    fn push(&mut self, name: String, shape: Vec<usize>, data: Vec<T>) {
        self.out.push(TorchTensor { name, shape, data: (self.wrap)(data) });
    }
}

fn zeros<T: TorchFloat>(n: usize) -> Vec<T> {
    vec![T::default(); n]
}

fn filled<T: TorchFloat>(n: usize, v: f64) -> Vec<T> {
    let mut x = zeros(n);
    init::constant_(&mut x, v);
    x
}

/// The weight half of `nn.Linear`/`_ConvNd.reset_parameters`:
/// `kaiming_uniform_(a=√5)`.
fn default_weight<T: TorchFloat>(g: &mut TorchGenerator, wshape: &[usize]) -> Result<(Shape, Vec<T>)> {
    let shape = shape_of(wshape)?;
    let mut w = zeros::<T>(shape.numel() as usize);
    let linear = Activation::leaky_relu(5f64.sqrt())?;
    init::kaiming_uniform_(g, &mut w, &shape, FanMode::FanIn, &linear)?;
    Ok((shape, w))
}

/// The bias half, drawn after the weight: `len` values from
/// `uniform_(±`[`init::linear_bias_bound`]`)` of the weight's PyTorch fans.
fn default_bias<T: TorchFloat>(g: &mut TorchGenerator, weight: &Shape, len: usize) -> Result<Vec<T>> {
    let bound = init::linear_bias_bound(init::torch_fan(weight)?);
    let mut b = zeros::<T>(len);
    init::uniform_(g, &mut b, -bound, bound)?;
    Ok(b)
}

/// A convolution's weight layout: `[out, in/groups, k…]` or, transposed,
/// `[in, out/groups, k…]` (the [`Layout::Torch`](crate::fan::Layout::Torch) and
/// [`Layout::TorchTransposed`](crate::fan::Layout::TorchTransposed) shapes).
#[derive(Clone, Copy)]
enum Conv {
    Direct,
    Transposed,
}

/// The recurrent cells: gate count, and whether `proj_size` is allowed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cell {
    Rnn,
    Lstm,
    Gru,
}

impl Cell {
    fn gates(self) -> usize {
        match self {
            Self::Rnn => 1,
            Self::Lstm => 4,
            Self::Gru => 3,
        }
    }
}

fn module<T: TorchFloat, W: Fn(Vec<T>) -> StateValues>(
    m: &TorchModule,
    g: &mut TorchGenerator,
    out: &mut Vec<TorchTensor>,
    wrap: W,
) -> Result<()> {
    let mut b = Builder { out, wrap, _t: std::marker::PhantomData };
    match m {
        TorchModule::Linear(a) => {
            let (shape, w) = default_weight::<T>(g, &[a.out_features, a.in_features])?;
            b.push(key(&a.name, "weight"), vec![a.out_features, a.in_features], w);
            if a.bias {
                let bias = default_bias(g, &shape, a.out_features)?;
                b.push(key(&a.name, "bias"), vec![a.out_features], bias);
            }
        }
        TorchModule::Conv1d(a) => conv(&mut b, g, a, 1, Conv::Direct)?,
        TorchModule::Conv2d(a) => conv(&mut b, g, a, 2, Conv::Direct)?,
        TorchModule::Conv3d(a) => conv(&mut b, g, a, 3, Conv::Direct)?,
        TorchModule::ConvTranspose1d(a) => conv(&mut b, g, a, 1, Conv::Transposed)?,
        TorchModule::ConvTranspose2d(a) => conv(&mut b, g, a, 2, Conv::Transposed)?,
        TorchModule::ConvTranspose3d(a) => conv(&mut b, g, a, 3, Conv::Transposed)?,
        TorchModule::Bilinear(a) => {
            let wshape = vec![a.out_features, a.in1_features, a.in2_features];
            let shape = shape_of(&wshape)?;
            let bound = 1.0 / (a.in1_features as f64).sqrt();
            let mut w = zeros::<T>(shape.numel() as usize);
            init::uniform_(g, &mut w, -bound, bound)?;
            b.push(key(&a.name, "weight"), wshape, w);
            if a.bias {
                let mut bias = zeros::<T>(a.out_features);
                init::uniform_(g, &mut bias, -bound, bound)?;
                b.push(key(&a.name, "bias"), vec![a.out_features], bias);
            }
        }
        TorchModule::Embedding(a) => {
            let shape = shape_of(&[a.num_embeddings, a.embedding_dim])?;
            let padding = match a.padding_idx {
                None => None,
                Some(p) => {
                    let n = a.num_embeddings as i64;
                    if !(-n..n).contains(&p) {
                        return Err(invalid(format!("Embedding padding_idx {p} is outside -{n}..{n}")));
                    }
                    Some(if p < 0 { (p + n) as usize } else { p as usize })
                }
            };
            let mut w = zeros::<T>(shape.numel() as usize);
            init::normal_(g, &mut w, 0.0, 1.0)?;
            if let Some(row) = padding {
                init::zeros_(&mut w[row * a.embedding_dim..(row + 1) * a.embedding_dim]);
            }
            b.push(key(&a.name, "weight"), vec![a.num_embeddings, a.embedding_dim], w);
        }
        TorchModule::LayerNorm(a) => {
            let dims = match &a.normalized_shape {
                IntOrList::One(k) => vec![*k],
                IntOrList::List(v) => v.clone(),
            };
            let n = shape_of(&dims)?.numel() as usize;
            if a.elementwise_affine {
                b.push(key(&a.name, "weight"), dims.clone(), filled(n, 1.0));
                if a.bias {
                    b.push(key(&a.name, "bias"), dims, zeros(n));
                }
            }
        }
        TorchModule::BatchNorm1d(a) | TorchModule::BatchNorm2d(a) | TorchModule::BatchNorm3d(a) => {
            let n = a.num_features;
            shape_of(&[n])?;
            if a.affine {
                b.push(key(&a.name, "weight"), vec![n], filled(n, 1.0));
                b.push(key(&a.name, "bias"), vec![n], zeros(n));
            }
            if a.track_running_stats {
                b.push(key(&a.name, "running_mean"), vec![n], zeros(n));
                b.push(key(&a.name, "running_var"), vec![n], filled(n, 1.0));
                b.out.push(TorchTensor {
                    name: key(&a.name, "num_batches_tracked"),
                    shape: vec![],
                    data: StateValues::I64(vec![0]),
                });
            }
        }
        TorchModule::Rnn(a) => rnn(&mut b, g, a, Cell::Rnn)?,
        TorchModule::Lstm(a) => rnn(&mut b, g, a, Cell::Lstm)?,
        TorchModule::Gru(a) => rnn(&mut b, g, a, Cell::Gru)?,
        TorchModule::MultiheadAttention(a) => attention(&mut b, g, a)?,
    }
    Ok(())
}

fn conv<T: TorchFloat, W: Fn(Vec<T>) -> StateValues>(
    b: &mut Builder<'_, T, W>,
    g: &mut TorchGenerator,
    a: &ConvArgs,
    rank: usize,
    layout: Conv,
) -> Result<()> {
    let k = a.kernel_size.expand("kernel_size", rank)?;
    if a.groups == 0 || !a.in_channels.is_multiple_of(a.groups) || !a.out_channels.is_multiple_of(a.groups) {
        return Err(invalid(format!(
            "groups = {} must divide in_channels = {} and out_channels = {}",
            a.groups, a.in_channels, a.out_channels
        )));
    }
    let mut wshape = match layout {
        Conv::Direct => vec![a.out_channels, a.in_channels / a.groups],
        Conv::Transposed => vec![a.in_channels, a.out_channels / a.groups],
    };
    wshape.extend(k);
    let (shape, w) = default_weight::<T>(g, &wshape)?;
    b.push(key(&a.name, "weight"), wshape, w);
    if a.bias {
        // PyTorch reads even a transposed weight as [out, in, k…] for the bias bound.
        let bias = default_bias(g, &shape, a.out_channels)?;
        b.push(key(&a.name, "bias"), vec![a.out_channels], bias);
    }
    Ok(())
}

fn rnn<T: TorchFloat, W: Fn(Vec<T>) -> StateValues>(
    b: &mut Builder<'_, T, W>,
    g: &mut TorchGenerator,
    a: &RnnArgs,
    cell: Cell,
) -> Result<()> {
    if a.proj_size > 0 && (cell != Cell::Lstm || a.proj_size >= a.hidden_size) {
        return Err(invalid(format!(
            "proj_size = {} needs an LSTM with hidden_size > proj_size (hidden_size = {})",
            a.proj_size, a.hidden_size
        )));
    }
    if a.num_layers > crate::arch::MAX_LAYERS {
        return Err(Error::OutOfRange {
            what: "an RNN's num_layers".into(),
            value: a.num_layers as i128,
            min: 1,
            max: crate::arch::MAX_LAYERS as u64,
        });
    }
    shape_of(&[a.input_size, a.hidden_size, a.num_layers])?;
    let real_hidden = if a.proj_size > 0 { a.proj_size } else { a.hidden_size };
    let directions = if a.bidirectional { 2 } else { 1 };
    let gate = cell.gates() * a.hidden_size;
    let stdv = 1.0 / (a.hidden_size as f64).sqrt();
    for layer in 0..a.num_layers {
        for dir in 0..directions {
            let suffix = if dir == 1 { "_reverse" } else { "" };
            let layer_in = if layer == 0 { a.input_size } else { real_hidden * directions };
            let mut params: Vec<(String, Vec<usize>)> = vec![
                (format!("weight_ih_l{layer}{suffix}"), vec![gate, layer_in]),
                (format!("weight_hh_l{layer}{suffix}"), vec![gate, real_hidden]),
            ];
            if a.bias {
                params.push((format!("bias_ih_l{layer}{suffix}"), vec![gate]));
                params.push((format!("bias_hh_l{layer}{suffix}"), vec![gate]));
            }
            if a.proj_size > 0 {
                params.push((format!("weight_hr_l{layer}{suffix}"), vec![a.proj_size, a.hidden_size]));
            }
            for (name, shape) in params {
                let mut v = zeros::<T>(shape.iter().product());
                init::uniform_(g, &mut v, -stdv, stdv)?;
                b.push(key(&a.name, &name), shape, v);
            }
        }
    }
    Ok(())
}

fn attention<T: TorchFloat, W: Fn(Vec<T>) -> StateValues>(
    b: &mut Builder<'_, T, W>,
    g: &mut TorchGenerator,
    a: &AttentionArgs,
) -> Result<()> {
    let e = a.embed_dim;
    if a.num_heads == 0 || !e.is_multiple_of(a.num_heads) {
        return Err(invalid(format!("num_heads = {} must divide embed_dim = {e}", a.num_heads)));
    }
    let (kdim, vdim) = (a.kdim.unwrap_or(e), a.vdim.unwrap_or(e));
    shape_of(&[e, kdim, vdim])?;
    let same = kdim == e && vdim == e;
    // __init__ builds out_proj (a Linear: it draws) before _reset_parameters.
    let (out_shape, out_w) = default_weight::<T>(g, &[e, e])?;
    if a.bias {
        // Drawn, then zeroed by _reset_parameters below: only the draws matter.
        default_bias::<T>(g, &out_shape, e)?;
    }
    let xavier = |g: &mut TorchGenerator, shape: Vec<usize>| -> Result<(Vec<usize>, Vec<T>)> {
        let s = shape_of(&shape)?;
        let mut v = zeros::<T>(s.numel() as usize);
        init::xavier_uniform_(g, &mut v, &s, 1.0)?;
        Ok((shape, v))
    };
    let mut own: Vec<(String, Vec<usize>, Vec<T>)> = Vec::new();
    if same {
        let (s, v) = xavier(g, vec![3 * e, e])?;
        own.push((key(&a.name, "in_proj_weight"), s, v));
    } else {
        for (name, cols) in [("q_proj_weight", e), ("k_proj_weight", kdim), ("v_proj_weight", vdim)] {
            let (s, v) = xavier(g, vec![e, cols])?;
            own.push((key(&a.name, name), s, v));
        }
    }
    if a.bias {
        own.push((key(&a.name, "in_proj_bias"), vec![3 * e], zeros(3 * e)));
    }
    if a.add_bias_kv {
        for name in ["bias_k", "bias_v"] {
            let s = shape_of(&[1, 1, e])?;
            let mut v = zeros::<T>(e);
            init::xavier_normal_(g, &mut v, &s, 1.0)?;
            own.push((key(&a.name, name), vec![1, 1, e], v));
        }
    }
    for (name, shape, v) in own {
        b.push(name, shape, v);
    }
    let prefix = key(&a.name, "out_proj");
    b.push(key(&prefix, "weight"), vec![e, e], out_w);
    if a.bias {
        // _reset_parameters zeroes out_proj.bias after the Linear drew it.
        b.push(key(&prefix, "bias"), vec![e], zeros(e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(json: &str) -> Result<Vec<TorchTensor>> {
        state_dict_from_json(json, &mut TorchGenerator::new(0), TorchDType::F32)
    }

    #[test]
    fn bad_module_lists_are_errors() {
        for bad in [
            "{}",
            "[{\"type\": \"Linear\", \"in_features\": 3}]",
            "[{\"type\": \"Linear\", \"in_features\": 3, \"out_features\": 2, \"bais\": true}]",
            "[{\"type\": \"Transformer\"}]",
            "[{\"type\": \"Linear\", \"in_features\": 0, \"out_features\": 2}]",
            "[{\"type\": \"Conv2d\", \"in_channels\": 3, \"out_channels\": 4, \"kernel_size\": 3, \"groups\": 2}]",
            "[{\"type\": \"Conv2d\", \"in_channels\": 4, \"out_channels\": 4, \"kernel_size\": [3, 3, 3]}]",
            "[{\"type\": \"Embedding\", \"num_embeddings\": 4, \"embedding_dim\": 2, \"padding_idx\": 4}]",
            "[{\"type\": \"Embedding\", \"num_embeddings\": 4, \"embedding_dim\": 2, \"padding_idx\": -5}]",
            "[{\"type\": \"GRU\", \"input_size\": 4, \"hidden_size\": 2, \"proj_size\": 1}]",
            "[{\"type\": \"LSTM\", \"input_size\": 4, \"hidden_size\": 2, \"proj_size\": 2}]",
            "[{\"type\": \"MultiheadAttention\", \"embed_dim\": 6, \"num_heads\": 4}]",
            "[{\"type\": \"MultiheadAttention\", \"embed_dim\": 6, \"num_heads\": 0}]",
            "[{\"type\": \"BatchNorm1d\", \"num_features\": 0}]",
        ] {
            assert!(matches!(run(bad), Err(Error::InvalidConfig { .. })), "{bad}");
        }
    }

    #[test]
    fn keys_shapes_and_ignored_arguments() {
        let t = run(r#"[
            {"type": "Conv2d", "name": "c", "in_channels": 4, "out_channels": 6, "kernel_size": [3, 1],
             "stride": 2, "padding": "same", "groups": 2},
            {"type": "BatchNorm2d", "name": "bn", "num_features": 6, "eps": 1e-3},
            {"type": "LSTM", "input_size": 3, "hidden_size": 4, "bidirectional": true, "batch_first": true}
        ]"#)
        .unwrap();
        let keys: Vec<String> = t.iter().map(|t| format!("{}{:?}", t.name, t.shape)).collect();
        assert_eq!(
            keys,
            [
                "c.weight[6, 2, 3, 1]",
                "c.bias[6]",
                "bn.weight[6]",
                "bn.bias[6]",
                "bn.running_mean[6]",
                "bn.running_var[6]",
                "bn.num_batches_tracked[]",
                "weight_ih_l0[16, 3]",
                "weight_hh_l0[16, 4]",
                "bias_ih_l0[16]",
                "bias_hh_l0[16]",
                "weight_ih_l0_reverse[16, 3]",
                "weight_hh_l0_reverse[16, 4]",
                "bias_ih_l0_reverse[16]",
                "bias_hh_l0_reverse[16]",
            ]
        );
        assert_eq!(t[6].data, StateValues::I64(vec![0]));
        assert!(t.iter().all(|t| t.data.len() == t.shape.iter().product::<usize>() && !t.data.is_empty()));
    }
}
