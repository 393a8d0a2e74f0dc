//! # nninit — start neural networks right
//!
//! Weight initialization with every established scheme, fans that know the
//! tensor layout, gains for any activation, and random streams that make
//! every tensor reproducible anywhere: on any thread count, in any order, and
//! one slice at a time on another machine.
//!
//! ```
//! use nninit::{Init, Layout, Shape, TensorSpec};
//! use nninit::activation::Activation;
//! use nninit::fan::FanMode;
//! use nninit::stream::Philox;
//!
//! // A Flax conv kernel [3, 3, 64, 128] for a ReLU network, He-initialized.
//! let spec = TensorSpec::new(Shape::new(vec![3, 3, 64, 128])?).with_layout(Layout::Jax);
//! let init = Init::KaimingNormal { mode: FanMode::FanIn, nonlinearity: Activation::Relu };
//! let explained = init.explain(&spec)?;
//! assert_eq!(explained.fan_in, Some(576));
//! assert!((explained.std.unwrap() - (2.0f64 / 576.0).sqrt()).abs() < 1e-15);
//!
//! let mut weights = vec![0.0f32; spec.numel() as usize];
//! init.fill(&spec, &Philox::new(0, "block1.conv.kernel"), &mut weights)?;
//! # Ok::<(), nninit::Error>(())
//! ```
//!
//! ## Map
//! - [`fan`]: shape + [`Layout`] → [`Fan`]. The only place fans are computed.
//! - [`activation`]: activations and their gains (PyTorch's table and gains
//!   computed from Gaussian integrals in [`gaussian`]).
//! - [`init`]: the catalogue; [`Init`] lists every rule.
//! - [`stream`]: the counter-based Philox4x32-10 stream keyed by (seed,
//!   tensor name), specified bit for bit.
//! - [`plan`], [`arch`], [`scheme`]: whole models: the named tensors of a
//!   Hugging Face architecture and the rule each gets under a scheme.
//! - [`io`]: `.npy` and `.safetensors`, written atomically; whole models
//!   streamed into sharded safetensors ([`io::materialize()`]); checkpoints
//!   read by memory map ([`io::Checkpoint`]).
//! - [`doctor`]: what a checkpoint's weights say: statistics, spectra, the
//!   scheme they follow (a statistical test per tensor), findings.
//! - [`theory`]: mean-field signal propagation, edge of chaos, phase diagram.
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
pub mod arch;
pub mod doctor;
pub mod error;
pub mod fan;
pub mod gaussian;
pub mod init;
pub mod io;
pub(crate) mod linalg;
pub mod plan;
pub mod scheme;
mod spec;
pub mod stats;
pub mod stream;
mod tensor;
pub mod theory;
pub mod torch;

pub use error::{Error, Result};
pub use fan::{Fan, FanMode, Layout};
pub use init::{Init, InitParams};
pub use spec::TensorSpec;
pub use tensor::{DType, Element, Shape};
