//! Shared pieces of nninit's benchmarks: the workloads, so the criterion
//! benches and the peer-comparison probe measure the same thing.

use nninit::activation::Activation;
use nninit::init::{Correction, Normal, TruncatedNormal, Truncation, Uniform};
use nninit::{Fan, FanMode, Init, Shape, TensorSpec};

/// Elements per fill: 2²⁶ f32 (256 MiB).
pub const FILL_LEN: usize = 1 << 26;

/// The fills compared with PyTorch and NumPy, by name.
pub fn fills() -> Vec<(&'static str, Init)> {
    let unit_normal = Normal::new(0.0, 1.0).expect("valid");
    let unit_uniform = Uniform::new(0.0, 1.0).expect("valid");
    let trunc =
        TruncatedNormal::new(0.0, 0.02, Truncation::Std { lower: -2.0, upper: 2.0, correction: Correction::None })
            .expect("valid");
    vec![
        ("normal", Init::Normal(unit_normal)),
        ("uniform", Init::Uniform(unit_uniform)),
        ("truncated_normal", Init::TruncatedNormal(trunc)),
        (
            "kaiming_normal",
            nninit::init::VarianceScaling::kaiming_normal(FanMode::FanIn, Activation::Relu).expect("valid").into(),
        ),
    ]
}

/// A flat tensor of `len` elements with the fans of an 8192 × 8192 matrix.
pub fn flat_spec(len: usize) -> TensorSpec {
    TensorSpec::new(Shape::new(vec![len]).expect("valid shape")).with_fan(Fan::new(8192, 8192).expect("valid fans"))
}
