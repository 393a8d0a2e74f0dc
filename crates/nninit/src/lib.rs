//! # nninit — start neural networks right
//!
//! Weight initialization with every established scheme, fans that know the
//! tensor layout, gains for any activation, and random streams that make
//! every tensor reproducible anywhere: on any thread count, in any order, and
//! one slice at a time on another machine.
//!
//! Every rule is a small type whose constructor validates it, and which then
//! fills tensors on its own through the [`Initializer`] trait:
//!
//! ```
//! use nninit::init::{Initializer, Normal, VarianceScaling};
//! use nninit::activation::Activation;
//! use nninit::stream::{Philox, TorchStream};
//! use nninit::{FanMode, Layout, Shape, TensorSpec};
//!
//! // GPT-2's N(0, 0.02²) for one weight, from nninit's reproducible stream.
//! let spec = TensorSpec::new(Shape::new(vec![768, 3072])?);
//! let mut w = vec![0.0f32; spec.numel() as usize];
//! Normal::new(0.0, 0.02)?.fill(&spec, &Philox::new(0, "h.0.mlp.c_fc.weight"), &mut w)?;
//!
//! // A Flax conv kernel [3, 3, 64, 128] for a ReLU network, He-initialized.
//! let conv = TensorSpec::new(Shape::new(vec![3, 3, 64, 128])?).with_layout(Layout::Jax);
//! let he = VarianceScaling::kaiming_normal(FanMode::FanIn, Activation::Relu)?;
//! let explained = he.explain(&conv)?;
//! assert_eq!(explained.fan_in, Some(576));
//! assert!((explained.std.unwrap() - (2.0f64 / 576.0).sqrt()).abs() < 1e-15);
//! let mut kernel = vec![0.0f32; conv.numel() as usize];
//! he.fill(&conv, &Philox::new(0, "block1.conv.kernel"), &mut kernel)?;
//!
//! // The same rule on PyTorch's generator gives torch.nn.init's numbers:
//! // torch.manual_seed(0); torch.nn.init.kaiming_normal_(torch.empty(64, 32), nonlinearity="relu")
//! let linear = TensorSpec::new(Shape::new(vec![64, 32])?);
//! let mut pt = vec![0.0f32; 64 * 32];
//! he.fill(&linear, &TorchStream::new(0), &mut pt)?;
//! # Ok::<(), nninit::Error>(())
//! ```
//!
//! [`Init`] names every rule for configs, JSON and the command line, and
//! delegates to the rule types:
//!
//! ```
//! use nninit::{Init, InitParams, Shape, TensorSpec};
//! use nninit::stream::Philox;
//! let init: Init = serde_json::from_str(r#"{"init": "kaiming_normal", "nonlinearity": {"name": "relu"}}"#)?;
//! assert_eq!(init, Init::parse("kaiming_normal", &InitParams { nonlinearity: Some("relu".parse()?), ..Default::default() })?);
//! let spec = TensorSpec::new(Shape::new(vec![64, 32])?);
//! let mut w = vec![0.0f32; 64 * 32];
//! init.fill(&spec, &Philox::new(0, "fc.weight"), &mut w)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Map
//! - [`fan`]: shape + [`Layout`] → [`Fan`]. The only place fans are computed.
//! - [`activation`]: activations and their gains (PyTorch's table and gains
//!   computed from Gaussian integrals in [`gaussian`]).
//! - [`init`]: the catalogue: one type per rule, each an [`Initializer`];
//!   [`Init`] names them all.
//! - [`stream`]: the counter-based Philox4x32-10 stream keyed by (seed,
//!   tensor name), specified bit for bit, and PyTorch's generator as a
//!   [`stream::TorchStream`]; rules draw from either ([`stream::Stream`]).
//! - [`plan`], [`arch`], [`scheme`]: whole models: the named tensors of a
//!   Hugging Face architecture and the rule each gets under a scheme.
//! - [`io`]: `.npy` and `.safetensors`, written atomically; whole models
//!   streamed into sharded safetensors ([`io::materialize()`]); checkpoints
//!   read by memory map ([`io::Checkpoint`]).
//! - [`doctor`]: what a checkpoint's weights say: statistics, spectra, the
//!   scheme they follow (a statistical test per tensor), findings.
//! - [`report`]: the serializable reports of the `nninit` commands (their `--json`), shared
//!   with the Python package.
//! - [`theory`]: mean-field signal propagation, edge of chaos, phase diagram.
//! - [`adapter`]: LoRA-family adapters (LoRA, rsLoRA, PiSSA, OLoRA) initialized from a base
//!   checkpoint, in PEFT's format.
//! - [`torch`]: PyTorch's CPU generator and `torch.nn.init`, bit for bit.
//!
//! ## Reproducibility
//! Element `i` of a tensor depends only on (seed, tensor name, `i`): the same
//! bytes come out for any thread count, chunking, order of tensors, or slice.
//! Sampled values never depend on cargo features or the CPU's instruction
//! set. A change of any sampled value is a value-breaking change and is
//! recorded in the CHANGELOG.

#![deny(unsafe_code)]

pub mod activation;
pub mod adapter;
pub mod arch;
pub mod doctor;
pub mod error;
pub mod fan;
pub mod gaussian;
pub mod init;
pub mod io;
pub(crate) mod linalg;
pub mod plan;
pub mod report;
pub mod scheme;
mod spec;
pub mod stats;
pub mod stream;
mod tensor;
pub mod theory;
pub mod torch;

pub use error::{Error, Result};
pub use fan::{Fan, FanMode, Layout};
pub use init::{Init, InitParams, Initializer};
pub use spec::TensorSpec;
pub use tensor::{DType, Element, Shape};
