//! nninit's lab: what initialization does to training, on real data.
//!
//! The lab builds multilayer perceptrons, plain convolutional networks and a character-level
//! GPT ([`model::GptSpec`], every parameter from nninit's GPT-2 plan under a scheme) on
//! [burn](https://burn.dev) (the pure-Rust `flex` backend on CPU by default, GPU backends
//! behind cargo features), initializes every layer through nninit's rules by parameter path
//! ([`nninit_burn`], so a layer's values are the same on every backend), and measures:
//!
//! - at initialization, the [`probe`]: per-layer activation and gradient statistics on a
//!   real batch, dead and saturated units, the input–output Jacobian's singular values, and a
//!   verdict (healthy, vanishing or exploding, with the per-layer rate);
//! - data-dependent initializations in [`lsuv`]: LSUV (Mishkin & Matas 2016) and the
//!   weight-normalization init (Salimans & Kingma 2016);
//! - during [`train`]ing with SGD+momentum or Adam: the loss at every step, test accuracy and
//!   per-layer gradient norms at every evaluation; a run whose loss turns NaN or infinite is
//!   stopped and marked diverged while the others go on;
//! - whole [`experiment`]s declared in TOML (the built-in ones reproduce classic results),
//!   written as `results.jsonl`, `summary.csv`, SVG/PNG figures and a self-contained
//!   `report.html` by [`report`].
//!
//! Every number the lab draws comes from a real run on a real dataset ([`data`]): the
//! scikit-learn digits embedded in the crate, MNIST and Fashion-MNIST fetched from package
//! registries.
//!
//! Everything that runs a network needs the `burn` feature and the report the `report` feature
//! (both on by default). Without them the crate is the experiment description alone, with no
//! training backend: [`experiment::Experiment::parse`] and everything it validates into, the
//! [`limits`], the [`record`]s and the datasets' names.

#[cfg(feature = "burn")]
pub mod backend;
pub mod data;
mod error;
pub mod experiment;
pub mod limits;
pub mod loss;
#[cfg(feature = "burn")]
pub mod lsuv;
pub mod model;
#[cfg(feature = "burn")]
pub mod probe;
pub mod record;
#[cfg(feature = "report")]
pub mod report;
pub mod rules;
pub mod train;

#[cfg(feature = "burn")]
pub use backend::Backend;
pub use error::{LabError, Result};
