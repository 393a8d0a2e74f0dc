//! Tests of the catalogue: statistical tests of every distribution (each
//! with a sensitivity twin that must fail when the std is off by 1%),
//! structured rules, slicing and determinism.

use super::*;
use crate::activation::Activation;
use crate::fan::Layout;
use crate::stream::Philox;
use crate::tensor::Shape;

/// Samples per statistical test: 2²² ≈ 4.2·10⁶. At this size the KS critical
/// value is 0.00095, and a 1% error in std moves the CDF of a normal by up to
/// 0.0024 (at ±1σ), five standard errors of the empirical CDF away.
const N: usize = 1 << 22;

/// The Kolmogorov–Smirnov critical value at α = 0.001 (asymptotic: 1.95/√n).
fn ks_critical(n: usize) -> f64 {
    1.949_59 / (n as f64).sqrt()
}

/// The KS statistic of samples against a continuous CDF.
fn ks_statistic(samples: &[f64], cdf: impl Fn(f64) -> f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    sorted.iter().enumerate().fold(0.0f64, |d, (i, &x)| {
        let f = cdf(x);
        d.max(f - i as f64 / n).max((i + 1) as f64 / n - f)
    })
}

/// A reference distribution with its CDF, mean, std and kurtosis bound.
struct Reference {
    cdf: Box<dyn Fn(f64) -> f64>,
    mean: f64,
    std: f64,
    /// An upper bound on the kurtosis E[(x−μ)⁴]/σ⁴, which sets the sampling
    /// std of the sample variance: √((κ − 1)/n)·σ².
    kurtosis: f64,
}

#[derive(Debug)]
struct Verdict {
    ks: f64,
    ks_critical: f64,
    mean_z: f64,
    var_ratio_z: f64,
}

impl Verdict {
    /// KS at α = 0.001 and moment checks at z = 5.
    fn passes(&self) -> bool {
        self.ks <= self.ks_critical && self.mean_z.abs() <= 5.0 && self.var_ratio_z.abs() <= 5.0
    }
}

fn judge(samples: &[f64], reference: &Reference) -> Verdict {
    let n = samples.len() as f64;
    let mean = samples.iter().sum::<f64>() / n;
    let var = samples.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    Verdict {
        ks: ks_statistic(samples, &reference.cdf),
        ks_critical: ks_critical(samples.len()),
        mean_z: (mean - reference.mean) / (reference.std / n.sqrt()),
        var_ratio_z: (var / (reference.std * reference.std) - 1.0) / ((reference.kurtosis - 1.0) / n).sqrt(),
    }
}

fn normal_ref(mean: f64, std: f64) -> Reference {
    Reference { cdf: Box::new(move |x| crate::gaussian::cdf((x - mean) / std)), mean, std, kurtosis: 3.0 }
}

fn uniform_ref(low: f64, high: f64) -> Reference {
    Reference {
        cdf: Box::new(move |x| ((x - low) / (high - low)).clamp(0.0, 1.0)),
        mean: (low + high) / 2.0,
        std: (high - low) / 12f64.sqrt(),
        kurtosis: 1.8,
    }
}

/// A truncated normal reference built independently of the sampler (its CDF
/// from Φ directly); symmetric-or-not truncation only lowers the kurtosis
/// below 3 for the cases tested, so 3 is a safe bound.
fn truncated_ref(mu: f64, sigma: f64, low: f64, high: f64) -> Reference {
    use crate::gaussian::{cdf, pdf};
    let (a, b) = ((low - mu) / sigma, (high - mu) / sigma);
    let z = cdf(b) - cdf(a);
    let mean = mu + sigma * (pdf(a) - pdf(b)) / z;
    let d = (pdf(a) - pdf(b)) / z;
    let std = sigma * (1.0 + (a * pdf(a) - b * pdf(b)) / z - d * d).sqrt();
    Reference {
        cdf: Box::new(move |x| ((cdf((x.clamp(low, high) - mu) / sigma) - cdf(a)) / z).clamp(0.0, 1.0)),
        mean,
        std,
        kurtosis: 3.0,
    }
}

fn draw<E: Element>(init: &Init, spec: &TensorSpec, seed: u64, name: &str) -> Vec<f64> {
    let mut out = vec![E::default(); spec.numel() as usize];
    init.fill(spec, &Philox::new(seed, name), &mut out).unwrap();
    out.into_iter().map(Element::to_f64).collect()
}

fn flat(n: usize) -> TensorSpec {
    TensorSpec::new(Shape::new(vec![n]).unwrap()).with_fan(Fan::new(1, 1).unwrap())
}

/// Runs the checks in f32 and f64 and the sensitivity twins: the samples
/// must pass against `reference(1.0)` and fail against `reference(0.99)` and
/// `reference(1.01)` (the std scaled by that factor).
fn check_distribution(init: &Init, spec: &TensorSpec, name: &str, reference: impl Fn(f64) -> Reference) {
    for (dtype, samples) in [("f32", draw::<f32>(init, spec, 7, name)), ("f64", draw::<f64>(init, spec, 7, name))] {
        let verdict = judge(&samples, &reference(1.0));
        assert!(verdict.passes(), "{name} {dtype}: {verdict:?}");
        for off in [0.99, 1.01] {
            let twin = judge(&samples, &reference(off));
            assert!(!twin.passes(), "{name} {dtype}: the test cannot tell a std off by {off}: {twin:?}");
            assert!(twin.ks > twin.ks_critical, "{name} {dtype}: KS alone misses std × {off}: {twin:?}");
        }
    }
}

#[test]
fn uniform_distribution() {
    let init = Init::Uniform(Uniform::new(-0.5, 1.5).unwrap());
    // Scaling the std of U(a, b) by s about its centre: U(c − s·h, c + s·h).
    check_distribution(&init, &flat(N), "uniform", |s| uniform_ref(0.5 - s, 0.5 + s));
}

#[test]
fn normal_distribution() {
    let init = Init::Normal(Normal::new(0.3, 0.02).unwrap());
    check_distribution(&init, &flat(N), "normal", |s| normal_ref(0.3, 0.02 * s));
}

#[test]
fn truncated_normal_absolute_bounds() {
    // PyTorch's convention, asymmetric: N(0.1, 1) cut to [−1, 2.5].
    let t = TruncatedNormal::new(0.1, 1.0, Truncation::Absolute { low: -1.0, high: 2.5 }).unwrap();
    let samples = draw::<f64>(&Init::TruncatedNormal(t), &flat(N), 3, "t");
    assert!(samples.iter().all(|&x| (-1.0..=2.5).contains(&x)));
    check_distribution(&Init::TruncatedNormal(t), &flat(N), "trunc_abs", |s| truncated_ref(0.1, s, -1.0, 2.5));
}

#[test]
fn truncated_normal_std_units_with_correction() {
    // JAX variance-scaling convention: ±2σ with σ corrected so the std is 0.05.
    let t = TruncatedNormal::new(
        0.0,
        0.05,
        Truncation::Std { lower: -2.0, upper: 2.0, correction: Correction::PreserveStd },
    )
    .unwrap();
    let sigma = 0.05 / TRUNCATED_2SIGMA_STD;
    // The twin scales σ and keeps the bounds in σ units, i.e. the whole distribution.
    check_distribution(&Init::TruncatedNormal(t), &flat(N), "trunc_std", |s| {
        truncated_ref(0.0, sigma * s, -2.0 * sigma * s, 2.0 * sigma * s)
    });
}

#[test]
fn truncated_normal_far_tail() {
    // Entirely in the upper tail, 4σ to 6σ: rejection samplers struggle here.
    let t = TruncatedNormal::new(0.0, 1.0, Truncation::Absolute { low: 4.0, high: 6.0 }).unwrap();
    let samples = draw::<f64>(&Init::TruncatedNormal(t), &flat(1 << 20), 5, "tail");
    let verdict = judge(&samples, &truncated_ref(0.0, 1.0, 4.0, 6.0));
    assert!(verdict.passes(), "{verdict:?}");
    assert!(samples.iter().all(|&x| (4.0..=6.0).contains(&x)));
}

#[test]
fn kaiming_normal_conv_fan_out() {
    // nn.Conv2d(64, 128, 3) weight, kaiming_normal_(mode='fan_out', nonlinearity='relu'):
    // std = √2 / √(128·9) = 0.041666...
    let spec = TensorSpec::new(Shape::new(vec![128, 64, 3, 3]).unwrap());
    let init = Init::from(VarianceScaling::kaiming_normal(FanMode::FanOut, Activation::Relu).unwrap());
    let std = 2f64.sqrt() / (128.0f64 * 9.0).sqrt();
    assert!((init.explain(&spec).unwrap().std.unwrap() - std).abs() < 1e-16);
    let big = TensorSpec::new(Shape::new(vec![N]).unwrap()).with_fan(spec.fan().unwrap());
    check_distribution(&init, &big, "kaiming_normal", |s| normal_ref(0.0, std * s));
}

#[test]
fn kaiming_uniform_pytorch_linear_default() {
    // nn.Linear(in=512): kaiming_uniform_(a=√5) gives bound = √3·√(2/(1+5))/√512 ≈ 1/√512.
    let a = 5f64.sqrt();
    let init = Init::from(
        VarianceScaling::kaiming_uniform(FanMode::FanIn, Activation::LeakyRelu { negative_slope: a }).unwrap(),
    );
    let spec = TensorSpec::new(Shape::new(vec![N]).unwrap()).with_fan(Fan::new(512, 256).unwrap());
    let bound = init.explain(&spec).unwrap().bound.unwrap();
    assert!((bound - 1.0 / 512f64.sqrt()).abs() < 1e-15);
    check_distribution(&init, &spec, "kaiming_uniform", |s| uniform_ref(-bound * s, bound * s));
}

#[test]
fn xavier_normal_and_lecun_normal() {
    let spec = TensorSpec::new(Shape::new(vec![N]).unwrap()).with_fan(Fan::new(300, 100).unwrap());
    let std = (2.0f64 / 400.0).sqrt();
    check_distribution(&Init::from(VarianceScaling::xavier_normal(1.0).unwrap()), &spec, "xavier_normal", |s| {
        normal_ref(0.0, std * s)
    });
    // lecun_normal: truncated at ±2σ with corrected σ; std 1/√300.
    let sigma = 1.0 / 300f64.sqrt() / TRUNCATED_2SIGMA_STD;
    check_distribution(&Init::from(VarianceScaling::lecun_normal()), &spec, "lecun_normal", |s| {
        truncated_ref(0.0, sigma * s, -2.0 * sigma * s, 2.0 * sigma * s)
    });
}

#[test]
fn sparse_keeps_normal_values_and_exact_zero_count() {
    let init = Init::Sparse(Sparse::new(0.25, 0.5).unwrap());
    let spec = TensorSpec::new(Shape::new(vec![1024, 1024]).unwrap());
    let w = draw::<f64>(&init, &spec, 1, "sparse");
    for c in 0..1024 {
        let zeros = (0..1024).filter(|r| w[r * 1024 + c] == 0.0).count();
        assert_eq!(zeros, 256, "column {c}");
    }
    let nonzero: Vec<f64> = w.into_iter().filter(|&x| x != 0.0).collect();
    let verdict = judge(&nonzero, &normal_ref(0.0, 0.5));
    assert!(verdict.passes(), "{verdict:?}");
    assert!(!judge(&nonzero, &normal_ref(0.0, 0.505)).passes());
}

fn max_orthogonality_error(w: &[f64], rows: usize, cols: usize, gain: f64) -> f64 {
    // Compare the Gram matrix of the shorter side with gain²·I.
    let (n, m, at) = if rows <= cols {
        (rows, cols, Box::new(move |i: usize, k: usize| i * cols + k) as Box<dyn Fn(usize, usize) -> usize>)
    } else {
        (cols, rows, Box::new(move |i: usize, k: usize| k * cols + i) as Box<dyn Fn(usize, usize) -> usize>)
    };
    let mut worst = 0.0f64;
    for i in 0..n {
        for j in 0..n {
            let dot: f64 = (0..m).map(|k| w[at(i, k)] * w[at(j, k)]).sum();
            let target = if i == j { gain * gain } else { 0.0 };
            worst = worst.max((dot - target).abs());
        }
    }
    worst
}

#[test]
fn orthogonal_is_orthogonal_in_every_shape_and_layout() {
    let gain = 1.5;
    let init = Init::Orthogonal(Orthogonal::new(gain).unwrap());
    for dims in [vec![64, 64], vec![32, 100], vec![100, 32], vec![16, 8, 3, 3]] {
        let spec = TensorSpec::new(Shape::new(dims.clone()).unwrap());
        let view = spec.matrix_view().unwrap();
        let (rows, cols) = (view.rows(), view.cols());
        let n = rows.max(cols) as f64;
        let w64 = draw::<f64>(&init, &spec, 0, "q");
        assert!(
            max_orthogonality_error(&w64, rows, cols, gain) <= 10.0 * n * f64::EPSILON * gain * gain,
            "{dims:?} f64"
        );
        let w32 = draw::<f32>(&init, &spec, 0, "q");
        assert!(
            max_orthogonality_error(&w32, rows, cols, gain) <= 10.0 * n * f64::from(f32::EPSILON) * gain * gain,
            "{dims:?} f32"
        );
    }
    // JAX layout [in, out]: the columns (outputs) are the rows of the view.
    let spec = TensorSpec::new(Shape::new(vec![100, 32]).unwrap()).with_layout(Layout::Jax);
    let w = draw::<f64>(&init, &spec, 0, "q");
    let transposed: Vec<f64> =
        (0..32).flat_map(|o| (0..100).map(move |i| (i, o))).map(|(i, o)| w[i * 32 + o]).collect();
    assert!(max_orthogonality_error(&transposed, 32, 100, gain) < 1e-12);
}

#[test]
fn delta_orthogonal_centre_tap_is_orthogonal() {
    let init = Init::DeltaOrthogonal(DeltaOrthogonal::new(1.0).unwrap());
    let spec = TensorSpec::new(Shape::new(vec![16, 8, 3, 3]).unwrap());
    let w = draw::<f64>(&init, &spec, 0, "conv");
    let centre: Vec<f64> =
        (0..16).flat_map(|o| (0..8).map(move |i| (o, i))).map(|(o, i)| w[o * 72 + i * 9 + 4]).collect();
    assert!(max_orthogonality_error(&centre, 16, 8, 1.0) < 1e-12);
    assert_eq!(w.iter().filter(|&&x| x != 0.0).count(), 128);
    let wide = TensorSpec::new(Shape::new(vec![8, 16, 3, 3]).unwrap());
    assert!(matches!(init.check(&wide), Err(Error::UnsupportedShape { .. })));
    let linear = TensorSpec::new(Shape::new(vec![8, 16]).unwrap());
    assert!(matches!(init.check(&linear), Err(Error::UnsupportedShape { .. })));
}

#[test]
fn dirac_matches_pytorch_definition() {
    // torch.nn.init.dirac_(torch.empty(6, 2, 3), groups=2)
    let init = Init::Dirac(Dirac::new(2).unwrap());
    let spec = TensorSpec::new(Shape::new(vec![6, 2, 3]).unwrap());
    let w = draw::<f32>(&init, &spec, 0, "d");
    let ones: Vec<usize> = (0..w.len()).filter(|&k| w[k] == 1.0).collect();
    // (0,0,1), (1,1,1), (3,0,1), (4,1,1)
    assert_eq!(ones, vec![1, 6 + 3 + 1, 3 * 6 + 1, 4 * 6 + 3 + 1]);
    assert!(matches!(Init::Dirac(Dirac::new(4).unwrap()).check(&spec), Err(Error::UnsupportedShape { .. })));
}

#[test]
fn eye_and_zero() {
    let spec = TensorSpec::new(Shape::new(vec![3, 5]).unwrap());
    let w = draw::<f32>(&Init::Eye, &spec, 0, "e");
    assert_eq!(w.iter().sum::<f64>(), 3.0);
    assert_eq!((w[0], w[6], w[12]), (1.0, 1.0, 1.0));
    let z = draw::<f64>(&Init::Zero, &spec, 0, "z");
    assert_eq!(z, w, "ZerO is the partial identity when out <= in");
    // out = 5 > in = 3: Hadamard H_8 / √8, rows 0..5, columns 0..3.
    let tall = TensorSpec::new(Shape::new(vec![5, 3]).unwrap());
    let z = draw::<f64>(&Init::Zero, &tall, 0, "z");
    let s = std::f64::consts::SQRT_2 / 4.0; // 2^(-3/2)
    assert_eq!(&z[..6], &[s, s, s, s, -s, s]);
    assert_eq!(z[3 * 3 + 2], -s, "popcount(3 & 2) = 1");
    assert_eq!(draw::<f64>(&Init::Zero, &tall, 99, "other"), z, "deterministic");
    // With out a power of two (out = p = 8) ZerO's columns are orthonormal: Hᵀ H / p = I,
    // up to the rounding of the entries ±2^(−3/2) (one rounding of √2, relative error
    // ≤ ε/2), their products and the sum of 8: below (rows + 2)·ε. Its 5-row cut is not
    // orthogonal (columns 0 and 1 have dot product 1/8), and the check says so.
    let pow2 = TensorSpec::new(Shape::new(vec![8, 3]).unwrap());
    let bound = |eps: f64| (8.0 + 2.0) * eps;
    let z8 = draw::<f64>(&Init::Zero, &pow2, 0, "z");
    assert!(max_orthogonality_error(&z8, 8, 3, 1.0) <= bound(f64::EPSILON));
    let z8_32 = draw::<f32>(&Init::Zero, &pow2, 0, "z");
    assert!(max_orthogonality_error(&z8_32, 8, 3, 1.0) <= bound(f64::from(f32::EPSILON)));
    assert!(
        max_orthogonality_error(&z, 5, 3, 1.0) > bound(f64::from(f32::EPSILON)),
        "5 rows of H_8 are not orthogonal"
    );
    // Twins: moving one entry (|w| = 0.35) by 1e-12 moves a Gram entry by 7e-13, which
    // the f64 bound (2.2e-15) catches; by 1e-5, which the f32 bound (1.2e-6) catches.
    let nudge = |by: f64| {
        let mut w = z8.clone();
        w[4] += by;
        max_orthogonality_error(&w, 8, 3, 1.0)
    };
    assert!(nudge(1e-12) > bound(f64::EPSILON), "a perturbed ZerO fails the f64 bound");
    assert!(nudge(1e-5) > bound(f64::from(f32::EPSILON)), "a perturbed ZerO fails the f32 bound");
    let eye3 = TensorSpec::new(Shape::new(vec![2, 3, 3]).unwrap());
    assert!(matches!(Init::Eye.check(&eye3), Err(Error::UnsupportedShape { .. })));
}

#[test]
fn slices_equal_the_whole() {
    let spec = TensorSpec::new(Shape::new(vec![37, 29]).unwrap());
    let rules = [
        Init::Normal(Normal::new(0.0, 1.0).unwrap()),
        Init::Uniform(Uniform::new(-1.0, 1.0).unwrap()),
        Init::from(VarianceScaling::lecun_normal()),
        Init::Orthogonal(Orthogonal::new(1.0).unwrap()),
        Init::Sparse(Sparse::new(0.1, 1.0).unwrap()),
    ];
    for init in rules {
        let stream = Philox::new(3, "w");
        let mut whole = vec![0.0f32; 37 * 29];
        init.fill(&spec, &stream, &mut whole).unwrap();
        for (start, len) in [(0, 1), (1, 3), (5, 17), (100, 500), (1072, 1), (0, 1073)] {
            let mut part = vec![0.0f32; len];
            init.fill_slice(&spec, &stream, start as u64, &mut part).unwrap();
            assert_eq!(part, whole[start..start + len], "{} slice {start}+{len}", init.name());
        }
        let mut past = vec![0.0f32; 2];
        assert!(matches!(init.fill_slice(&spec, &stream, 1072, &mut past), Err(Error::InvalidSlice { .. })));
    }
}

#[test]
fn same_bytes_for_any_thread_count() {
    let spec = TensorSpec::new(Shape::new(vec![1000, 1000]).unwrap());
    let init = Init::from(VarianceScaling::kaiming_normal(FanMode::FanIn, Activation::Relu).unwrap());
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| draw::<f32>(&init, &spec, 11, "layer.weight"))
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
}

#[test]
fn names_and_seeds_select_independent_streams() {
    let spec = flat(1000);
    let init = Init::Normal(Normal::new(0.0, 1.0).unwrap());
    let a = draw::<f32>(&init, &spec, 0, "a");
    assert_ne!(a, draw::<f32>(&init, &spec, 0, "b"));
    assert_ne!(a, draw::<f32>(&init, &spec, 1, "a"));
    assert_eq!(a, draw::<f32>(&init, &spec, 0, "a"));
}

#[test]
fn half_precision_is_rounded_f32_within_bounds() {
    let spec = flat(10_000);
    let init = Init::Normal(Normal::new(0.0, 0.02).unwrap());
    let f = draw::<f32>(&init, &spec, 0, "h");
    let b = draw::<half::bf16>(&init, &spec, 0, "h");
    let h = draw::<half::f16>(&init, &spec, 0, "h");
    for k in 0..f.len() {
        assert_eq!(b[k], half::bf16::from_f32(f[k] as f32).to_f64());
        assert_eq!(h[k], half::f16::from_f32(f[k] as f32).to_f64());
    }
    // The whole-tensor initializers too, with a gain that is not a power of two (rounding Q to
    // half precision before multiplying by the gain rounds twice and fails this), in a
    // row-major view and in a JAX layout, whose matrix view is not row-major in memory.
    let gain = std::f64::consts::SQRT_2;
    let matrices = [
        (Init::Orthogonal(Orthogonal::new(gain).unwrap()), TensorSpec::new(Shape::new(vec![48, 80]).unwrap())),
        (
            Init::Orthogonal(Orthogonal::new(gain).unwrap()),
            TensorSpec::new(Shape::new(vec![3, 3, 16, 24]).unwrap()).with_layout(Layout::Jax),
        ),
        (
            Init::DeltaOrthogonal(DeltaOrthogonal::new(gain).unwrap()),
            TensorSpec::new(Shape::new(vec![32, 16, 3, 3]).unwrap()),
        ),
    ];
    for (init, spec) in &matrices {
        let f = draw::<f32>(init, spec, 0, "q");
        let b = draw::<half::bf16>(init, spec, 0, "q");
        let h = draw::<half::f16>(init, spec, 0, "q");
        for k in 0..f.len() {
            assert_eq!(b[k], half::bf16::from_f32(f[k] as f32).to_f64(), "{init:?} {k}");
            assert_eq!(h[k], half::f16::from_f32(f[k] as f32).to_f64(), "{init:?} {k}");
        }
    }
    // 0.03 is not representable in bf16; values must still stay within it.
    let u = Init::Uniform(Uniform::new(-0.03, 0.03).unwrap());
    assert!(draw::<half::bf16>(&u, &flat(100_000), 0, "u").iter().all(|x| x.abs() <= 0.03));
    let t = Init::TruncatedNormal(
        TruncatedNormal::new(0.0, 0.02, Truncation::Absolute { low: -0.03, high: 0.03 }).unwrap(),
    );
    assert!(draw::<half::bf16>(&t, &flat(100_000), 0, "t").iter().all(|x| x.abs() <= 0.03));
}

#[test]
fn explain_gives_pytorch_numbers() {
    let spec = TensorSpec::new(Shape::new(vec![64, 32]).unwrap());
    let x = Init::from(VarianceScaling::xavier_uniform(1.0).unwrap()).explain(&spec).unwrap();
    assert_eq!((x.fan_in, x.fan_out, x.gain), (Some(32), Some(64), Some(1.0)));
    assert!((x.bound.unwrap() - (6.0f64 / 96.0).sqrt()).abs() < 1e-15);
    let bias = TensorSpec::new(Shape::new(vec![64]).unwrap());
    assert!(matches!(Init::from(VarianceScaling::lecun_normal()).explain(&bias), Err(Error::RankTooSmall { .. })));
    let n = Init::Normal(Normal::new(0.0, 0.02).unwrap()).explain(&bias).unwrap();
    assert_eq!((n.fan_in, n.std, n.bound), (None, Some(0.02), None));
}

#[test]
fn parse_names_defaults_and_errors() {
    let p = InitParams::default();
    assert_eq!(Init::parse("glorot_uniform", &p).unwrap(), Init::from(VarianceScaling::xavier_uniform(1.0).unwrap()));
    assert_eq!(Init::parse("he-uniform", &p).unwrap().name(), "kaiming_uniform");
    assert!(matches!(Init::parse("xavier", &p), Err(Error::UnknownInit { .. })));
    assert!(matches!(Init::parse("sparse", &p), Err(Error::InvalidConfig { .. })));
    let bad = InitParams { std: Some(-1.0), ..InitParams::default() };
    assert!(matches!(Init::parse("normal", &bad), Err(Error::InvalidParameter { name: "std", .. })));
    let nan = InitParams { std: Some(f64::NAN), ..InitParams::default() };
    assert!(matches!(Init::parse("normal", &nan), Err(Error::InvalidParameter { .. })));
    let reversed = InitParams { low: Some(1.0), high: Some(-1.0), ..InitParams::default() };
    assert!(matches!(Init::parse("uniform", &reversed), Err(Error::InvalidInterval { .. })));
    let sparsity = InitParams { sparsity: Some(1.5), ..InitParams::default() };
    assert!(matches!(Init::parse("sparse", &sparsity), Err(Error::InvalidParameter { name: "sparsity", .. })));
    let mixed = InitParams { low: Some(-1.0), high: Some(1.0), lower: Some(-2.0), ..InitParams::default() };
    assert!(matches!(Init::parse("trunc_normal", &mixed), Err(Error::InvalidConfig { .. })));
    let gain = InitParams { gain: Some(0.0), ..InitParams::default() };
    assert!(matches!(Init::parse("orthogonal", &gain), Err(Error::InvalidParameter { name: "gain", .. })));
    assert!(matches!(
        Init::parse("dirac", &InitParams { groups: Some(0), ..p.clone() }),
        Err(Error::InvalidParameter { .. })
    ));
}

#[test]
fn json_round_trip_of_every_rule() {
    let rules = [
        Init::Constant(Constant::new(0.5).unwrap()),
        Init::Zeros,
        Init::Uniform(Uniform::new(-1.0, 2.0).unwrap()),
        Init::TruncatedNormal(
            TruncatedNormal::new(0.0, 0.02, Truncation::Absolute { low: -0.04, high: 0.04 }).unwrap(),
        ),
        Init::VarianceScaling(VarianceScaling::new(2.0, FanMode::FanOut, Distribution::Uniform).unwrap()),
        Init::from(VarianceScaling::kaiming_normal(FanMode::FanOut, Activation::Relu).unwrap()),
        Init::from(VarianceScaling::xavier_uniform(2.0).unwrap()),
        Init::Orthogonal(Orthogonal::new(1.5).unwrap()),
        Init::Dirac(Dirac::new(2).unwrap()),
        Init::Sparse(Sparse::new(0.1, 0.01).unwrap()),
        Init::Zero,
    ];
    for init in rules {
        let json = serde_json::to_string(&init).unwrap();
        let back: Init = serde_json::from_str(&json).unwrap();
        assert_eq!(back, init, "{json}");
    }
    assert!(serde_json::from_str::<Init>(r#"{"init": "normal", "std": -0.1}"#).is_err());
    assert!(serde_json::from_str::<Init>(r#"{"init": "xavier_uniform", "gain": 0}"#).is_err());
    assert!(serde_json::from_str::<Init>(r#"{"init": "nope"}"#).is_err());
    let k: Init = serde_json::from_str(r#"{"init": "he_uniform"}"#).unwrap();
    assert_eq!(
        k,
        Init::from(
            VarianceScaling::kaiming_uniform(FanMode::FanIn, Activation::LeakyRelu { negative_slope: 0.0 }).unwrap()
        )
    );
}

#[test]
fn parameters_a_rule_does_not_take_are_errors() {
    let p = InitParams { gain: Some(2.0), ..InitParams::default() };
    let err = Init::parse("normal", &p).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { .. }));
    assert!(err.to_string().contains("does not take --gain"), "{err}");
    assert!(Init::parse("kaiming_normal", &p).is_err());
    // groups describes the tensor (a grouped convolution), so every rule accepts it.
    let g = InitParams { groups: Some(2), ..InitParams::default() };
    assert!(Init::parse("xavier_uniform", &g).is_ok());
}

#[test]
fn rule_types_fill_by_themselves_as_init_does() {
    let spec = TensorSpec::new(Shape::new(vec![16, 8]).unwrap());
    let stream = Philox::new(5, "w");
    let mut direct = vec![0.0f32; 128];
    Normal::new(0.0, 0.02).unwrap().fill(&spec, &stream, &mut direct).unwrap();
    let mut via_init = vec![0.0f32; 128];
    Init::Normal(Normal::new(0.0, 0.02).unwrap()).fill(&spec, &stream, &mut via_init).unwrap();
    assert_eq!(direct, via_init);
    let mut eye = vec![0.0f64; 128];
    Eye.fill(&spec, &stream, &mut eye).unwrap();
    assert_eq!(eye.iter().sum::<f64>(), 8.0);
    assert_eq!(Eye.explain(&spec).unwrap(), Init::Eye.explain(&spec).unwrap());
    let zeros = Init::Zeros.explain(&spec).unwrap();
    assert_eq!((zeros.init, zeros.std, zeros.bound), ("zeros", Some(0.0), Some(0.0)));
}

#[test]
fn presets_are_validated_where_they_are_parsed() {
    let huge = InitParams { gain: Some(1e308), ..InitParams::default() };
    for name in ["xavier_uniform", "xavier_normal", "glorot_uniform"] {
        assert!(matches!(Init::parse(name, &huge), Err(Error::InvalidParameter { name: "gain", .. })), "{name}");
    }
    let leaky = Activation::parse("leaky_relu", Some(1e200)).unwrap();
    let underflow = InitParams { nonlinearity: Some(leaky), ..InitParams::default() };
    for name in ["kaiming_uniform", "kaiming_normal", "he_uniform"] {
        assert!(matches!(Init::parse(name, &underflow), Err(Error::InvalidParameter { name: "gain", .. })), "{name}");
    }
    for json in [
        r#"{"init": "xavier_uniform", "gain": 1e308}"#,
        r#"{"init": "xavier_normal", "gain": 1e308}"#,
        r#"{"init": "kaiming_normal", "nonlinearity": {"name": "leaky_relu", "negative_slope": 1e200}}"#,
    ] {
        assert!(serde_json::from_str::<Init>(json).is_err(), "{json}");
    }
}

#[test]
fn presets_keep_their_names_and_json() {
    let cases = [
        ("xavier_uniform", r#"{"init":"xavier_uniform","gain":1.0}"#),
        ("xavier_normal", r#"{"init":"xavier_normal","gain":1.0}"#),
        ("glorot_normal", r#"{"init":"glorot_normal"}"#),
        (
            "kaiming_uniform",
            r#"{"init":"kaiming_uniform","mode":"fan_in","nonlinearity":{"name":"leaky_relu","negative_slope":0.0}}"#,
        ),
        ("he_normal", r#"{"init":"he_normal"}"#),
        ("lecun_uniform", r#"{"init":"lecun_uniform"}"#),
        ("lecun_normal", r#"{"init":"lecun_normal"}"#),
    ];
    for (name, json) in cases {
        let init = Init::parse(name, &InitParams::default()).unwrap();
        assert_eq!(init.name(), name);
        assert_eq!(serde_json::to_string(&init).unwrap(), json);
        assert_eq!(serde_json::from_str::<Init>(json).unwrap(), init);
        assert!(init.variance_scaling().is_some(), "{name} is a variance-scaling value");
    }
}

#[test]
fn torch_stream_fills_whole_tensors_only() {
    use crate::stream::TorchStream;
    let spec = TensorSpec::new(Shape::new(vec![8, 4]).unwrap());
    let rule = Normal::new(0.0, 1.0).unwrap();
    let stream = TorchStream::new(0);
    let mut part = vec![0.0f32; 8];
    assert!(matches!(rule.fill_slice(&spec, &stream, 8, &mut part), Err(Error::SequentialStream { .. })));
    let mut half = vec![half::bf16::ZERO; 32];
    assert!(matches!(rule.fill(&spec, &stream, &mut half), Err(Error::StreamDType { dtype: "bf16", .. })));
    let mut whole = vec![0.0f32; 32];
    rule.fill(&spec, &stream, &mut whole).unwrap();
    let mut g = crate::torch::TorchGenerator::new(0);
    let mut direct = vec![0.0f32; 32];
    crate::torch::normal_(&mut g, &mut direct, 0.0, 1.0).unwrap();
    assert_eq!(whole, direct);
}

/// Found by the `rule_parser` fuzz target: `orthogonal` with gain 6.27e125 is a valid f64 rule
/// but filled f32 with infinities. A fill must refuse an element type its values overflow, and
/// still work in a type that holds them.
#[test]
fn fills_that_overflow_the_element_type_are_refused() {
    let spec = TensorSpec::new(Shape::new(vec![6, 4]).unwrap());
    let stream = Philox::new(0, "fuzz");
    let huge = Orthogonal::new(6.271_366_948_221_3e125).unwrap();
    let mut f32s = vec![0.0f32; 24];
    assert!(matches!(huge.fill(&spec, &stream, &mut f32s), Err(Error::Unrepresentable { .. })));
    let mut f64s = vec![0.0f64; 24];
    huge.fill(&spec, &stream, &mut f64s).unwrap();
    assert!(f64s.iter().all(|v| v.is_finite()));
    // The limit is the type's: N(0, 10⁴) reaches 9·10⁴ > 65504 in f16, fits in bf16 and f32.
    let wide = Normal::new(0.0, 1.0e4).unwrap();
    let mut halves = vec![half::f16::ZERO; 24];
    assert!(matches!(wide.fill(&spec, &stream, &mut halves), Err(Error::Unrepresentable { .. })));
    let mut bf = vec![half::bf16::ZERO; 24];
    wide.fill(&spec, &stream, &mut bf).unwrap();
    // Its twin: a std just inside f16's range fills.
    let fits = Normal::new(0.0, 65504.0 / 9.0).unwrap();
    fits.fill(&spec, &stream, &mut halves).unwrap();
    assert!(halves.iter().all(|v| v.is_finite()));
}

/// Found by the `constructors` fuzz target: a truncated normal with a subnormal std on an
/// interval 10²⁰⁰ std wide made PyTorch's rejection sampler loop forever; it is refused. The
/// Philox stream (inverse CDF) fills it.
#[test]
fn a_hopeless_torch_rejection_sampler_is_refused() {
    let p = InitParams {
        std: Some(5.432309226912e-311),
        mean: Some(9.136931084395e-311),
        low: Some(-2.1622452334897608e-110),
        high: Some(5.432309226912e-311),
        ..InitParams::default()
    };
    let init = Init::parse("truncated_normal", &p).unwrap();
    let spec = TensorSpec::new(Shape::new(vec![2, 3]).unwrap());
    let mut out = vec![0.0f64; 6];
    init.fill(&spec, &Philox::new(0, "fuzz"), &mut out).unwrap();
    let torch = init.fill(&spec, &crate::stream::TorchStream::new(0), &mut out);
    assert!(matches!(torch, Err(Error::InvalidConfig { .. })), "{torch:?}");
    // Its twin: an ordinary narrow truncation still takes PyTorch's path.
    let ok = Init::parse(
        "truncated_normal",
        &InitParams { std: Some(0.02), low: Some(-0.01), high: Some(0.03), ..InitParams::default() },
    )
    .unwrap();
    ok.fill(&spec, &crate::stream::TorchStream::new(0), &mut out).unwrap();
}
