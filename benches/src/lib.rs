//! Shared pieces of nninit's benchmarks: the workloads, so the criterion
//! benches and the peer-comparison probe measure the same thing.

use nninit::activation::Activation;
use nninit::init::{Correction, Normal, Orthogonal, TruncatedNormal, Truncation, Uniform};
use nninit::stream::Philox;
use nninit::{Fan, FanMode, Init, Shape, TensorSpec};

/// Elements per fill: 2²⁶ f32 (256 MiB).
pub const FILL_LEN: usize = 1 << 26;

/// The fills compared with PyTorch and NumPy, by name.
pub fn fills() -> Vec<(&'static str, Init)> {
    let unit_normal = Normal::new(0.0, 1.0).expect("valid");
    let unit_uniform = Uniform::new(0.0, 1.0).expect("valid");
    vec![
        ("normal", Init::Normal(unit_normal)),
        ("uniform", Init::Uniform(unit_uniform)),
        ("truncated_normal", Init::TruncatedNormal(truncated_normals()[0].1)),
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

/// The truncated normals timed against the normal fill: σ 0.02 at ±2σ in each convention
/// (JAX/Keras bounds in σ without and with the variance correction, PyTorch's absolute
/// bounds as timm and torchtitan call `trunc_normal_(std=0.02, a=-0.04, b=0.04)`), and
/// PyTorch's default absolute bounds ±2, which at σ 0.02 do not truncate at all; and one
/// tail alone, `[2σ, 3σ]`, where every value goes through the inverse CDF's tail.
pub fn truncated_normals() -> Vec<(&'static str, TruncatedNormal)> {
    let std = |correction| Truncation::Std { lower: -2.0, upper: 2.0, correction };
    let t = |truncation| TruncatedNormal::new(0.0, 0.02, truncation).expect("valid");
    vec![
        ("truncated_normal", t(std(Correction::None))),
        ("truncated_normal_preserve_std", t(std(Correction::PreserveStd))),
        ("truncated_normal_absolute", t(Truncation::Absolute { low: -0.04, high: 0.04 })),
        ("truncated_normal_absolute_pm2", t(Truncation::Absolute { low: -2.0, high: 2.0 })),
        ("truncated_normal_one_tail", t(Truncation::Std { lower: 2.0, upper: 3.0, correction: Correction::None })),
    ]
}

/// The orthogonal workload at `n × n` (gain 1, stream `q`): the initializer, its tensor and
/// its stream.
pub fn orthogonal(n: usize) -> (Init, TensorSpec, Philox) {
    let init = Init::Orthogonal(Orthogonal::new(1.0).expect("valid"));
    (init, TensorSpec::new(Shape::new(vec![n, n]).expect("valid shape")), Philox::new(0, "q"))
}

/// The orthogonal workload's peer: the same Gaussians that [`orthogonal`] factors, already in a
/// faer matrix, for `Mat::qr` then `Qr::compute_thin_Q` (what a user of faer writes).
pub fn faer_gaussians(n: usize) -> faer::Mat<f32> {
    let (_, _, stream) = orthogonal(n);
    let mut buf = vec![0.0f32; n * n];
    stream.normal_f32(0, &mut buf, 0.0, 1.0);
    faer::Mat::<f32>::from_fn(n, n, |i, j| buf[i * n + j])
}

/// A plain parallel memory write of `buf` on the current rayon pool, in chunks of
/// [`nninit::stream::PAR_CHUNK`]: the baseline a fill is compared with, on as many threads as the
/// fills use.
pub fn memory_write(buf: &mut [f32]) {
    use rayon::prelude::*;
    buf.par_chunks_mut(nninit::stream::PAR_CHUNK).for_each(|c| c.fill(std::hint::black_box(1.0)));
    std::hint::black_box(&*buf);
}
