//! The mean-field theory against real random networks of width 1000.
//!
//! Each case builds `NETWORKS` fully connected networks of width N = 1000 and `LAYERS`
//! layers, h^l = W^l φ(h^(l−1)) + b^l with W ~ N(0, σ_w²/N) and b ~ N(0, σ_b²) from the
//! Philox stream, and pushes two inputs of correlation `c0` forward and one gradient
//! backward. Every layer gives one observation of three one-step maps, each compared with
//! the theory evaluated at the measured state of the layer before:
//!
//! - length: q̂^l / V(q̂^(l−1)) − 1;
//! - correlation: ĉ^l − C(ĉ^(l−1)) at q = q̂^(l−1);
//! - gradient growth: ‖δ^(l−1)‖²/‖δ^l‖² / χ₁(q̂^(l−1)) − 1.
//!
//! # Tolerances, from the width
//!
//! Given layer l − 1, the N pre-activations of layer l are i.i.d. Gaussian, so each
//! observation is an average over N = 1000 units with a known sampling variance:
//!
//! - length: q̂^l = s²·χ²_N/N (relative variance 2/N) times an empirical mean of φ(h)²
//!   (relative variance κ/N, κ = E\[φ⁴\]/E\[φ²\]² − 1): σ² = (2 + κ)/N;
//! - correlation: a sample correlation of N Gaussian pairs (variance ≤ 1/N) plus the
//!   empirical mean of σ_w² φ(u₁)φ(u₂)/q (variance ≤ σ_w⁴ E\[φ⁴\]/(q² N)):
//!   σ² = (1 + σ_w⁴ E\[φ⁴\]/q²)/N;
//! - gradient: an empirical mean of φ′(h)² g² with g ~ N(0, 1): σ² = (3 E\[φ′⁴\]/E\[φ′²\]² − 1)/N.
//!
//! The mean of n = NETWORKS·LAYERS independent observations has standard deviation σ/√n;
//! a case passes when |mean| ≤ Z·σ/√n with Z = 3.5 (a false alarm about once in 2,000 for
//! a fresh seed; the seeds here are fixed, so the outcome is deterministic). The moments are
//! the theory's own integrals ([`nninit::gaussian::expect`]). The variances are upper
//! bounds, so the true false-alarm rate is lower.
//!
//! # Twins
//!
//! Each check has a twin that uses a prediction a few percent off (length and gradient
//! growth × 1.05, correlation + 0.05) and must fail: the tolerances are tight enough to
//! catch such errors.
//!
//! The correlation predictions use [`MeanField::correlation_map_fast`] (the Mehler series,
//! 10⁻³ or better, far below the 0.005–0.01 noise of one observation) to keep the test fast.

use std::sync::OnceLock;

use nninit::activation::Activation;
use nninit::gaussian::expect;
use nninit::stream::Philox;
use nninit::theory::{MeanField, Phase, Recommendation};

/// Width.
const N: usize = 1000;
/// Networks per case.
const NETWORKS: usize = 8;
/// Layers per network.
const LAYERS: usize = 8;
/// Standard deviations allowed.
const Z: f64 = 3.5;
/// How far off the twins' length and gradient predictions are (relative).
const OFF: f64 = 0.05;
/// How far off the twins' correlation predictions are (absolute).
const C_OFF: f64 = 0.05;

/// The observations of one case.
#[derive(Debug)]
struct Measured {
    mf: MeanField,
    /// q̂^l / V(q̂^(l−1)) − 1.
    length: Vec<f64>,
    /// (ĉ^l, C(ĉ^(l−1))).
    correlation: Vec<(f64, f64)>,
    /// (measured gradient ratio, χ₁(q̂^(l−1))).
    gradient: Vec<(f64, f64)>,
    /// q̂ per layer, first network.
    q: Vec<f64>,
    /// The noise scales σ (per observation) for length, correlation, gradient.
    sigma: [f64; 3],
}

fn mean_square(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64
}

/// y = W x + b for a row-major W.
fn affine(w: &[f64], b: &[f64], x: &[f64]) -> Vec<f64> {
    w.chunks_exact(N).zip(b).map(|(row, bi)| row.iter().zip(x).map(|(a, b)| a * b).sum::<f64>() + bi).collect()
}

fn simulate(activation: Activation, sigma_w2: f64, sigma_b2: f64, c0: f64) -> Measured {
    let mf = MeanField::new(activation, sigma_w2, sigma_b2).unwrap();
    let phi = activation;
    let (mut length, mut correlation, mut gradient, mut q_first) = (vec![], vec![], vec![], vec![]);
    let mut w = vec![0.0; N * N];
    let mut b = vec![0.0; N];
    for net in 0..NETWORKS {
        let stream = Philox::new(net as u64, &format!("theory/{activation}/{sigma_w2}/{sigma_b2}"));
        // Inputs: h^0 of second moment 1 and correlation c0.
        let mut z1 = vec![0.0; N];
        let mut z2 = vec![0.0; N];
        stream.derive("input1").normal_f64(0, &mut z1, 0.0, 1.0);
        stream.derive("input2").normal_f64(0, &mut z2, 0.0, 1.0);
        let s0 = (1.0 - c0 * c0).sqrt();
        let mut ha = z1.clone();
        let mut hb: Vec<f64> = z1.iter().zip(&z2).map(|(a, b)| c0 * a + s0 * b).collect();
        let mut layers: Vec<(Vec<f64>, Vec<f64>)> = vec![]; // (W, h^(l−1)) for backprop
        for l in 0..LAYERS {
            stream.derive(&format!("w{l}")).normal_f64(0, &mut w, 0.0, (sigma_w2 / N as f64).sqrt());
            stream.derive(&format!("b{l}")).normal_f64(0, &mut b, 0.0, sigma_b2.sqrt());
            let (qa, qb) = (mean_square(&ha), mean_square(&hb));
            let c_prev = ha.iter().zip(&hb).map(|(x, y)| x * y).sum::<f64>() / N as f64 / (qa * qb).sqrt();
            let xa: Vec<f64> = ha.iter().map(|&x| phi.eval(x)).collect();
            let xb: Vec<f64> = hb.iter().map(|&x| phi.eval(x)).collect();
            let na = affine(&w, &b, &xa);
            let nb = affine(&w, &b, &xb);
            let (qa2, qb2) = (mean_square(&na), mean_square(&nb));
            length.push(qa2 / mf.length_map(qa) - 1.0);
            let c = na.iter().zip(&nb).map(|(x, y)| x * y).sum::<f64>() / N as f64 / (qa2 * qb2).sqrt();
            correlation.push((c, mf.correlation_map_fast(0.5 * (qa + qb), c_prev)));
            if net == 0 {
                q_first.push(qa2);
            }
            layers.push((w.clone(), ha.clone()));
            ha = na;
            hb = nb;
        }
        // Backward: δ^(l−1) = φ′(h^(l−1)) ⊙ (W^l)ᵀ δ^l, from a random δ^L.
        let mut delta = vec![0.0; N];
        stream.derive("delta").normal_f64(0, &mut delta, 0.0, 1.0);
        for (w, h) in layers.iter().rev() {
            let mut back = vec![0.0; N];
            for (row, d) in w.chunks_exact(N).zip(&delta) {
                for (acc, wij) in back.iter_mut().zip(row) {
                    *acc += wij * d;
                }
            }
            let next: Vec<f64> = back.iter().zip(h).map(|(g, &x)| g * phi.derivative(x)).collect();
            let ratio = mean_square(&next) / mean_square(&delta);
            gradient.push((ratio, mf.chi1(mean_square(h))));
            delta = next;
        }
    }
    // Noise scales at the typical length of the run.
    let q = q_first[q_first.len() / 2].max(1e-300);
    let s = q.sqrt();
    let m = |k: i32| expect(|z| phi.eval(s * z).powi(k), &[]);
    let d = |k: i32| expect(|z| phi.derivative(s * z).powi(k), &[]);
    let kappa = m(4) / m(2).powi(2) - 1.0;
    // The bias carries no sampling noise: the φ-part of V is the fraction σ_w² E[φ²]/V.
    let share = sigma_w2 * m(2) / mf.length_map(q);
    let sigma = [
        ((2.0 + kappa * share * share) / N as f64).sqrt(),
        ((1.0 + sigma_w2 * sigma_w2 * m(4) / (q * q)) / N as f64).sqrt(),
        ((3.0 * d(4) / d(2).powi(2) - 1.0) / N as f64).sqrt(),
    ];
    Measured { mf, length, correlation, gradient, q: q_first, sigma }
}

/// Asserts |mean of `obs`| ≤ Z·σ/√n.
fn check(what: &str, obs: &[f64], sigma: f64) {
    let n = obs.len() as f64;
    let mean = obs.iter().sum::<f64>() / n;
    let tol = Z * sigma / n.sqrt();
    assert!(
        mean.abs() <= tol,
        "{what}: mean deviation {mean:.5} exceeds the tolerance {tol:.5} (σ = {sigma:.4}, n = {n})"
    );
}

fn length(m: &Measured, scale: f64) {
    let obs: Vec<f64> = m.length.iter().map(|r| (r + 1.0) / scale - 1.0).collect();
    check(&format!("length map {:?}", m.mf), &obs, m.sigma[0]);
}

fn correlation(m: &Measured, offset: f64) {
    let obs: Vec<f64> = m.correlation.iter().map(|(c, p)| c - p - offset).collect();
    check(&format!("correlation map {:?}", m.mf), &obs, m.sigma[1]);
}

fn gradient(m: &Measured, scale: f64) {
    let obs: Vec<f64> = m.gradient.iter().map(|(r, chi)| r / (chi * scale) - 1.0).collect();
    check(&format!("gradient growth {:?}", m.mf), &obs, m.sigma[2]);
}

macro_rules! case {
    ($name:ident, $twin:ident, $activation:expr, $w:expr, $b:expr, $c0:expr, $phase:expr) => {
        fn $name() -> &'static Measured {
            static CELL: OnceLock<Measured> = OnceLock::new();
            CELL.get_or_init(|| simulate($activation, $w, $b, $c0))
        }

        mod $twin {
            use super::*;

            #[test]
            fn phase() {
                assert_eq!(MeanField::new($activation, $w, $b).unwrap().analyze().phase, $phase);
            }

            #[test]
            fn length_map_agrees() {
                length($name(), 1.0);
            }

            #[test]
            #[should_panic(expected = "length map")]
            fn length_map_twin_off_by_5_percent_fails() {
                length($name(), 1.0 + OFF);
            }

            #[test]
            fn correlation_map_agrees() {
                correlation($name(), 0.0);
            }

            #[test]
            #[should_panic(expected = "correlation map")]
            fn correlation_map_twin_off_by_5_points_fails() {
                correlation($name(), C_OFF);
            }

            #[test]
            fn gradient_growth_agrees() {
                gradient($name(), 1.0);
            }

            #[test]
            #[should_panic(expected = "gradient growth")]
            fn gradient_growth_twin_off_by_5_percent_fails() {
                gradient($name(), 1.0 + OFF);
            }
        }
    };
}

fn tanh() -> Activation {
    Activation::Tanh
}

case!(tanh_ordered, tanh_ordered_phase, tanh(), 0.8, 0.05, 0.3, Phase::Ordered);
case!(tanh_chaotic, tanh_chaotic_phase, tanh(), 25.0 / 9.0, 0.0, 0.6, Phase::Chaotic);
case!(tanh_critical, tanh_critical_phase, tanh(), 1.760_954_639_612_42, 0.05, 0.6, Phase::Critical);
case!(relu_he, relu_he_point, Activation::Relu, 2.0, 0.0, 0.3, Phase::Critical);
case!(relu_ordered, relu_ordered_phase, Activation::Relu, 1.5, 0.2, 0.3, Phase::Ordered);
case!(gelu_chaotic, gelu_chaotic_phase, Activation::Gelu, 2.5, 0.0, 0.6, Phase::Chaotic);

/// q^l reaches q* within a few layers (tanh, σ_b² = 0.05 at the edge).
#[test]
fn tanh_length_reaches_the_fixed_point() {
    let m = tanh_critical();
    let a = m.mf.analyze();
    let q_star = a.q_star.unwrap();
    let last = *m.q.last().unwrap();
    let tol = Z * m.sigma[0];
    assert!((last / q_star - 1.0).abs() <= tol, "q^L = {last}, q* = {q_star}, tolerance {tol}");
}

// ---------------------------------------------------------------------------------------
// The recommended points, over the whole depth.
// ---------------------------------------------------------------------------------------

/// Fewest networks per recommended point and depth.
const DEEP_NETWORKS: usize = 16;
/// Most networks per recommended point and depth (see [`Prediction::networks`]).
const MAX_DEEP_NETWORKS: usize = 96;
/// The input correlation of the deep runs.
const DEEP_C0: f64 = 0.5;
/// Student's t for 15 degrees of freedom at a two-sided 10⁻⁴ (the correlation check's
/// tolerance comes from the networks' own spread); with more networks the quantile is
/// smaller, so this bounds it.
const T_15: f64 = 5.25;

/// The last layer (q̂^L, ĉ^L) of `networks` networks of width N and `depth` layers at
/// (σ_w², σ_b²), from unit-variance inputs of correlation [`DEEP_C0`]: the one simulator
/// behind every deep check, its twins and [`issue_table`].
///
/// Each layer is drawn in law rather than by a matrix product: given the layer before,
/// x = φ(h), the N rows of W are independent N(0, σ_w²/N) vectors and b is shared, so the
/// two inputs' new pre-activations (W x_a + b, W x_b + b) are N independent Gaussian pairs
/// with covariance σ_w²/N · \[x_a·x_a, x_a·x_b; x_b·x_b\] + σ_b². Drawing those pairs is
/// exactly a width-N Gaussian network for these two inputs (every finite-width effect
/// kept), with 2N random numbers a layer instead of N², which keeps 300 layers fast.
fn deep(activation: Activation, sigma_w2: f64, sigma_b2: f64, depth: usize, networks: usize) -> Vec<Run> {
    let n = N as f64;
    (0..networks)
        .map(|net| {
            let stream = Philox::new(net as u64, &format!("deep/{activation}/{sigma_w2}/{sigma_b2}/{depth}"));
            let mut z = vec![0.0; 2 * N];
            stream.derive("input").normal_f64(0, &mut z, 0.0, 1.0);
            let s0 = (1.0 - DEEP_C0 * DEEP_C0).sqrt();
            let mut ha: Vec<f64> = z[..N].to_vec();
            let mut hb: Vec<f64> = z[..N].iter().zip(&z[N..]).map(|(a, b)| DEEP_C0 * a + s0 * b).collect();
            let mut states = Vec::with_capacity(depth + 1);
            states.push(State::of(&ha, &hb));
            for l in 0..depth {
                let (mut aa, mut ab, mut bb) = (0.0, 0.0, 0.0);
                for (x, y) in ha.iter().zip(&hb) {
                    let (fx, fy) = (activation.eval(*x), activation.eval(*y));
                    aa += fx * fx;
                    ab += fx * fy;
                    bb += fy * fy;
                }
                let gaa = sigma_w2 * aa / n + sigma_b2;
                let gab = sigma_w2 * ab / n + sigma_b2;
                let gbb = sigma_w2 * bb / n + sigma_b2;
                stream.derive(&format!("layer{l}")).normal_f64(0, &mut z, 0.0, 1.0);
                let (sa, r) = (gaa.sqrt(), gab / gaa.sqrt());
                let rest = (gbb - r * r).max(0.0).sqrt();
                for i in 0..N {
                    ha[i] = sa * z[i];
                    hb[i] = r * z[i] + rest * z[N + i];
                }
                states.push(State::of(&ha, &hb));
            }
            Run { states }
        })
        .collect()
}

/// The measured state of one layer of one network: the two inputs' second moments and
/// their correlation.
#[derive(Debug, Clone, Copy)]
struct State {
    qa: f64,
    qb: f64,
    c: f64,
}

impl State {
    fn of(ha: &[f64], hb: &[f64]) -> State {
        let (qa, qb) = (mean_square(ha), mean_square(hb));
        let c = ha.iter().zip(hb).map(|(x, y)| x * y).sum::<f64>() / N as f64 / (qa * qb).sqrt();
        State { qa, qb, c }
    }
}

/// One network's states, input (layer 0) to the last layer.
#[derive(Debug)]
struct Run {
    states: Vec<State>,
}

/// (q̂^L of the first input, ĉ^L) of each network.
fn last_layer(runs: &[Run]) -> Vec<(f64, f64)> {
    runs.iter().map(|r| r.states.last().map(|s| (s.qa, s.c)).unwrap()).collect()
}

/// What the theory predicts at the last layer, and the width-derived noise of log q̂^L.
#[derive(Debug)]
struct Prediction {
    /// The recommended point.
    mf: MeanField,
    /// The reached fixed point q*.
    q_star: f64,
    /// q^L = V^L(1), the length after `depth` layers (→ q*).
    q_last: f64,
    /// c^L, the correlation after `depth` layers from [`DEEP_C0`].
    c_last: f64,
    /// The expected bias and the standard deviation of log(q̂^L / q^L) for one network.
    log_bias: f64,
    log_sd: f64,
    /// The theory's log(q^L at 1.05 σ_w² / q^L): what the length twin must see.
    log_shift: f64,
    /// The theory's c^L at 1.05 σ_w² minus c^L: what the correlation twin must see.
    c_shift: f64,
    /// Networks simulated: enough that the length twin's expected shift is at least twice
    /// the check's tolerance, n ≥ (2 Z sd / log_shift)², within
    /// \[[`DEEP_NETWORKS`], [`MAX_DEEP_NETWORKS`]\] (sigmoid at depth 100, whose saturated
    /// length moves only 5 % for a 5 % error in σ_w², needs 55).
    networks: usize,
}

/// The theory's (q^L, c^L) from (1, [`DEEP_C0`]); `exact` uses the adaptive correlation
/// map, else the Mehler series (10⁻⁹ for smooth φ at moderate q, but about 10⁻³ near c = 1
/// for kinked φ and for the smooth ReLU-like ones at large q, where they look kinked).
fn trajectory(mf: &MeanField, depth: usize, exact: bool) -> (f64, f64) {
    let (mut q, mut c) = (1.0, DEEP_C0);
    for _ in 0..depth {
        c = if exact { mf.correlation_map(q, c) } else { mf.correlation_map_fast(q, c) };
        q = mf.length_map(q);
    }
    (q, c)
}

/// The theory's last layer for a recommended point.
///
/// The conditional variance G^l of layer l given layer l − 1 is V(G^(l−1)) times
/// (1 + ε_l), ε_l an empirical mean over N units with variance σ² = κ·share²/N
/// (κ = Var\[φ²\]/E\[φ²\]² = E\[φ⁴\]/E\[φ²\]² − 1 at q*, share = σ_w² E\[φ²\]/q*, the part of
/// V that is not bias): the relative sd of one layer's length estimate is
/// √(Var\[φ²\]/N)/E\[φ²\] times share. Near a fixed point with slope s = V′(q*)
/// (d log V/d log q = s there, since V(q*) = q*),
/// log G^l − log q^l = s·(log G^(l−1) − log q^(l−1)) + log(1 + ε_l): over L layers a
/// variance σ² Σ s^(2k) and a bias −σ²/2 Σ s^k (k < L). The measured q̂^L = G^L·χ²_N/N
/// adds a variance 2/N and a bias −1/N.
fn predict(activation: Activation, depth: usize) -> Prediction {
    let rec = Recommendation::for_depth(activation, depth).unwrap();
    let mf = MeanField::new(activation, rec.sigma_w2, rec.sigma_b2).unwrap();
    let off = MeanField::new(activation, rec.sigma_w2 * (1.0 + OFF), rec.sigma_b2).unwrap();
    let q_star = rec.analysis.q_star.expect("a recommendation reaches a fixed point");
    let exact = !activation.kinks().is_empty() || q_star > 4.0;
    let (q_last, c_last) = trajectory(&mf, depth, exact);
    // The same map for the twins' shifts: near c = 1 the fast series' error can exceed the shift.
    let (q_off, c_off) = trajectory(&off, depth, exact);
    let s_q = q_star.sqrt();
    let m = |k: i32| expect(|z| activation.eval(s_q * z).powi(k), &activation.kinks());
    let kappa = m(4) / m(2).powi(2) - 1.0;
    let share = rec.sigma_w2 * m(2) / q_star;
    let var = kappa * share * share / N as f64;
    let s = mf.length_map_slope(q_star);
    let (sum, sum2) = (0..depth).fold((0.0, 0.0), |(a, b), k| (a + s.powi(k as i32), b + s.powi(2 * k as i32)));
    let n = N as f64;
    let log_sd = (var * sum2 + 2.0 / n).sqrt();
    let log_shift = (q_off / q_last).ln();
    let needed = (2.0 * Z * log_sd / log_shift.abs()).powi(2).ceil() as usize;
    Prediction {
        mf,
        q_star,
        q_last,
        c_last,
        log_bias: -0.5 * var * sum - 1.0 / n,
        log_sd,
        log_shift,
        c_shift: c_off - c_last,
        networks: needed.clamp(DEEP_NETWORKS, MAX_DEEP_NETWORKS),
    }
}

/// The last layer's length against the prediction: |mean log(q̂^L/q^L) − bias| ≤ Z·sd/√n.
fn deep_length(p: &Prediction, last: &[(f64, f64)]) {
    let n = last.len() as f64;
    let mean = last.iter().map(|(q, _)| (q / p.q_last).ln()).sum::<f64>() / n;
    let tol = Z * p.log_sd / n.sqrt();
    assert!(
        (mean - p.log_bias).abs() <= tol,
        "length at the last layer: mean log(q^L / predicted) = {mean:.4}, expected {:.4} ± {tol:.4} (q* = {:.5}, predicted q^L = {:.5}, {:?})",
        p.log_bias,
        p.q_star,
        p.q_last,
        p.mf
    );
}

/// The last layer's mean correlation minus the theory's c^L, and the tolerance t·sd/√n
/// with the networks' own standard deviation (N = 1000 keeps it small, but near c = 1 it
/// has no simple closed form).
fn correlation_gap(p: &Prediction, last: &[(f64, f64)]) -> (f64, f64) {
    let n = last.len() as f64;
    let mean = last.iter().map(|(_, c)| c).sum::<f64>() / n;
    let var = last.iter().map(|(_, c)| (c - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean - p.c_last, T_15 * (var / n).sqrt())
}

/// The last layer's correlation against the theory's c^L: |mean ĉ^L − c^L| ≤ t·sd/√n.
fn deep_correlation(p: &Prediction, last: &[(f64, f64)]) {
    let (gap, tol) = correlation_gap(p, last);
    assert!(
        gap.abs() <= tol,
        "correlation at the last layer: mean − predicted {:.5} = {gap:.5}, tolerance {tol:.5} ({:?})",
        p.c_last,
        p.mf
    );
}

/// Every how many layers [`correlation_map_gap`] takes one step of each network (the
/// exact correlation map is costly; ten keeps the sigmoid case at 300 layers to 2,880
/// evaluations).
const MAP_STRIDE: usize = 10;

/// The one-step correlation map at the measured state, layer by layer: for layers
/// l = 0, [`MAP_STRIDE`], 2·[`MAP_STRIDE`], … of each network, the relative error
/// (1 − ĉ^(l+1)) / (1 − `scale`·(1 − C(q̄^l, ĉ^l))) − 1, with C the exact map at the
/// measured state (q̄ the mean of the two inputs' second moments). Relative, because near
/// c = 1 the distance 1 − c is what the map moves. Returns the mean over networks of each
/// network's mean, and the tolerance t·sd/√n from the networks' own spread (networks are
/// independent; the layers of one network are not, so they are pooled first).
///
/// Unlike ĉ^L, this does not compound: at width N each layer multiplies 1 − c by a random
/// factor of mean 1 and relative sd ≈ 0.12 (sigmoid at q* = 45.6), which over 300 layers
/// spreads 1 − ĉ^L over an order of magnitude and pulls its mean below the
/// infinite-width c^L (the map is concave near c = 1), while every single step still
/// follows the map.
fn correlation_map_gap(steps: &[Vec<(f64, f64)>], scale: f64) -> (f64, f64) {
    let per_net: Vec<f64> = steps
        .iter()
        .map(|net| net.iter().map(|(measured, pred)| measured / (scale * pred) - 1.0).sum::<f64>() / net.len() as f64)
        .collect();
    let n = per_net.len() as f64;
    let mean = per_net.iter().sum::<f64>() / n;
    let var = per_net.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, T_15 * (var / n).sqrt())
}

/// (1 − ĉ^(l+1), 1 − C(q̄^l, ĉ^l)) for every [`MAP_STRIDE`]-th step of each network.
fn correlation_map_steps(p: &Prediction, runs: &[Run]) -> Vec<Vec<(f64, f64)>> {
    runs.iter()
        .map(|r| {
            r.states
                .windows(2)
                .step_by(MAP_STRIDE)
                .map(|w| (1.0 - w[1].c, 1.0 - p.mf.correlation_map(0.5 * (w[0].qa + w[0].qb), w[0].c)))
                .collect()
        })
        .collect()
}

/// The correlation map against the theory's, step by step: |mean relative error| ≤ t·sd/√n.
fn deep_correlation_map(p: &Prediction, steps: &[Vec<(f64, f64)>], scale: f64) {
    let (gap, tol) = correlation_map_gap(steps, scale);
    assert!(
        gap.abs() <= tol,
        "correlation map step by step: mean relative error of 1 − c {gap:.5}, tolerance {tol:.5} ({:?}, prediction's 1 − C × {scale})",
        p.mf
    );
}

macro_rules! deep_case {
    ($name:ident, $activation:expr, $depth:expr) => {
        deep_case!($name, $activation, $depth, #[test]);
    };
    ($name:ident, $activation:expr, $depth:expr, map = $map:expr, $(#[$correlation:meta])+) => {
        deep_case!(@ $name, $activation, $depth, [$map], $(#[$correlation])+);
    };
    ($name:ident, $activation:expr, $depth:expr, $(#[$correlation:meta])+) => {
        deep_case!(@ $name, $activation, $depth, [], $(#[$correlation])+);
    };
    (@ $name:ident, $activation:expr, $depth:expr, [$($map:expr)?], $(#[$correlation:meta])+) => {
        mod $name {
            use super::*;

            fn prediction() -> &'static Prediction {
                static CELL: OnceLock<Prediction> = OnceLock::new();
                CELL.get_or_init(|| predict($activation, $depth))
            }

            fn at(scale: f64) -> Vec<Run> {
                let p = prediction();
                deep($activation, p.mf.sigma_w2() * scale, p.mf.sigma_b2(), $depth, p.networks)
            }

            fn recommended_runs() -> &'static [Run] {
                static CELL: OnceLock<Vec<Run>> = OnceLock::new();
                CELL.get_or_init(|| at(1.0))
            }

            fn recommended() -> &'static [(f64, f64)] {
                static CELL: OnceLock<Vec<(f64, f64)>> = OnceLock::new();
                CELL.get_or_init(|| last_layer(recommended_runs()))
            }

            /// σ_w² 5 % above the recommendation.
            fn off() -> &'static [(f64, f64)] {
                static CELL: OnceLock<Vec<(f64, f64)>> = OnceLock::new();
                CELL.get_or_init(|| last_layer(&at(1.0 + OFF)))
            }

            $(
            fn map_steps() -> &'static [Vec<(f64, f64)>] {
                static CELL: OnceLock<Vec<Vec<(f64, f64)>>> = OnceLock::new();
                CELL.get_or_init(|| correlation_map_steps(prediction(), recommended_runs()))
            }

            /// The one-step map, layer by layer (see [`correlation_map_gap`]).
            #[test]
            fn correlation_map_holds_step_by_step() {
                let _: &str = $map;
                deep_correlation_map(prediction(), map_steps(), 1.0);
            }

            /// The same with the prediction's 1 − C off by 5 % either way (what a 5 % error
            /// in χ₁ at c = 1 does): must fail.
            #[test]
            #[should_panic(expected = "correlation map step by step")]
            fn correlation_map_twin_5_percent_above_fails() {
                deep_correlation_map(prediction(), map_steps(), 1.0 + OFF);
            }

            #[test]
            #[should_panic(expected = "correlation map step by step")]
            fn correlation_map_twin_5_percent_below_fails() {
                deep_correlation_map(prediction(), map_steps(), 1.0 - OFF);
            }
            )?

            #[test]
            fn length_holds() {
                deep_length(prediction(), recommended());
            }

            #[test]
            #[should_panic(expected = "length at the last layer")]
            fn length_twin_with_sigma_w2_off_by_5_percent_fails() {
                deep_length(prediction(), off());
            }

            $(#[$correlation])+
            fn correlation_holds() {
                deep_correlation(prediction(), recommended());
            }

            /// Where the theory says a 5 % error in σ_w² moves c^L by at least twice the
            /// check's tolerance, the check must fail on those networks. Elsewhere the
            /// correlation cannot see the error (ReLU's correlations do not depend on σ_w²
            /// at all: scaling W scales both inputs alike) and the length twin above is the
            /// one that catches it.
            #[test]
            fn correlation_twin_with_sigma_w2_off_by_5_percent_fails_where_the_theory_sees_it() {
                let p = prediction();
                let (_, tol) = correlation_gap(p, recommended());
                let (gap, tol_off) = correlation_gap(p, off());
                // The tolerance the check applies to the perturbed networks is their own spread,
                // which can be far wider than the recommended ones' near c = 1 (softplus).
                let tol = tol.max(tol_off);
                if p.c_shift.abs() >= 2.0 * tol {
                    assert!(
                        gap.abs() > tol_off,
                        "σ_w² off by 5 %: correlation gap {gap:.5} within {tol_off:.5}, though the theory moves c^L by {:.5}",
                        p.c_shift
                    );
                } else {
                    println!("correlation twin not applicable: the theory moves c^L by {:.5}, tolerance {tol:.5}", p.c_shift);
                }
            }
        }
    };
}

deep_case!(deep_gelu_20, Activation::Gelu, 20);
deep_case!(deep_gelu_100, Activation::Gelu, 100);
deep_case!(deep_gelu_300, Activation::Gelu, 300);
deep_case!(deep_silu_20, Activation::Silu, 20);
deep_case!(deep_silu_100, Activation::Silu, 100);
deep_case!(deep_silu_300, Activation::Silu, 300);
deep_case!(deep_mish_20, Activation::Mish, 20);
deep_case!(deep_mish_100, Activation::Mish, 100);
deep_case!(deep_mish_300, Activation::Mish, 300);
deep_case!(deep_elu_20, Activation::elu(1.0).unwrap(), 20);
deep_case!(deep_elu_100, Activation::elu(1.0).unwrap(), 100);
deep_case!(deep_elu_300, Activation::elu(1.0).unwrap(), 300);
deep_case!(deep_softplus_20, Activation::softplus(1.0).unwrap(), 20);
deep_case!(deep_softplus_100, Activation::softplus(1.0).unwrap(), 100);
deep_case!(deep_softplus_300, Activation::softplus(1.0).unwrap(), 300);
deep_case!(deep_sigmoid_20, Activation::Sigmoid, 20);
deep_case!(deep_sigmoid_100, Activation::Sigmoid, 100);
// At sigmoid's critical point (q* ≈ 45.6) after 300 layers the width-1000 networks' mean ĉ^L
// is not the infinite-width c^L: 96 networks end at c̄ = 0.99964, the exact map says 0.99924
// (tolerance 0.00032 from the networks' spread). Each layer multiplies 1 − c by a random
// factor of relative sd 0.12 at this width; compounded over 300 layers near c = 1, where the
// map is concave, that lowers the mean of 1 − ĉ^L. So the correlation is checked here as the
// issue asks, as a map: every tenth step of every network against the exact one-step map at
// the measured state (mean relative error +0.0015 ± 0.0009 over all 300 steps, twins at
// ±5 % fail). The end-to-end check stays as a diagnostic (`--ignored`). The σ_w² twin of the
// correlation is not applicable here at fixed q (σ_w² cancels in C but for σ_b²/V ≈ 10⁻³); the
// length twin catches a 5 % error in σ_w².
deep_case!(
    deep_sigmoid_300,
    Activation::Sigmoid,
    300,
    map = "step by step",
    #[test]
    #[ignore = "finite-width compounding of ĉ^L at sigmoid's critical point, see the comment above; the map is checked step by step"]
);
deep_case!(deep_tanh_20, Activation::Tanh, 20);
deep_case!(deep_tanh_100, Activation::Tanh, 100);
deep_case!(deep_tanh_300, Activation::Tanh, 300);
deep_case!(deep_relu_20, Activation::Relu, 20);
deep_case!(deep_relu_100, Activation::Relu, 100);
deep_case!(deep_relu_300, Activation::Relu, 300);

/// The issue's table, measured again: `cargo test -p nninit --test theory_simulation --
/// --ignored --nocapture issue_table` prints one markdown row per activation at depth 100,
/// and the correlation twins' applicability for every deep case.
#[test]
#[ignore]
fn issue_table() {
    let acts = [
        Activation::Tanh,
        Activation::Gelu,
        Activation::Silu,
        Activation::Mish,
        Activation::elu(1.0).unwrap(),
        Activation::softplus(1.0).unwrap(),
        Activation::Sigmoid,
        Activation::Relu,
    ];
    let depth = 100;
    println!(
        "| activation | recommended (σ_w², σ_b²) | theory there | width-1000 networks, {depth} layers, mean ± sd |"
    );
    println!("|---|---|---|---|");
    for a in acts {
        let p = predict(a, depth);
        let at = p.mf.analyze();
        let last = last_layer(&deep(a, p.mf.sigma_w2(), p.mf.sigma_b2(), depth, p.networks));
        let n = last.len() as f64;
        let mq = last.iter().map(|(q, _)| q).sum::<f64>() / n;
        let sq = (last.iter().map(|(q, _)| (q - mq).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        let mc = last.iter().map(|(_, c)| c).sum::<f64>() / n;
        let sc = (last.iter().map(|(_, c)| (c - mc).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        println!(
            "| {a} | {:.4}, {} | {}, χ₁ = {:.4}, q* = {:.4} ({}) | {} networks: length 1 → {mq:.4} ± {sq:.4} (theory q^{depth} = {:.4}); correlation {DEEP_C0} → {mc:.4} ± {sc:.4} (theory {:.4}) |",
            p.mf.sigma_w2(),
            p.mf.sigma_b2(),
            at.phase.name(),
            at.chi1,
            p.q_star,
            at.stability.map_or("—", |s| s.name()),
            last.len(),
            p.q_last,
            p.c_last
        );
    }
    println!();
    println!(
        "| activation | depth | networks | log shift of q^L at 1.05 σ_w² | tolerance | c^L shift | correlation tolerance |"
    );
    println!("|---|---|---|---|---|---|---|");
    for a in acts {
        for depth in [20, 100, 300] {
            let p = predict(a, depth);
            let last = last_layer(&deep(a, p.mf.sigma_w2(), p.mf.sigma_b2(), depth, p.networks));
            let (_, tol) = correlation_gap(&p, &last);
            println!(
                "| {a} | {depth} | {} | {:.4} | {:.4} | {:.5} | {tol:.5} |",
                p.networks,
                p.log_shift,
                Z * p.log_sd / (p.networks as f64).sqrt(),
                p.c_shift
            );
        }
    }
}

/// What softplus's caveat claims: at its recommended point, two inputs at correlation 0.5
/// are on average within 10⁻⁴ of one direction after 20 layers (the theory's c^20 is
/// 1 − 6.5·10⁻⁵; single width-1000 networks scatter around it by about as much).
fn inputs_merge_within_20_layers(activation: Activation) {
    let rec = Recommendation::for_depth(activation, 20).unwrap();
    let last = last_layer(&deep(activation, rec.sigma_w2, rec.sigma_b2, 20, DEEP_NETWORKS));
    let gap = last.iter().map(|(_, c)| 1.0 - c).sum::<f64>() / last.len() as f64;
    println!("{activation}: mean 1 − c after 20 layers {gap:.3e} over {} networks", last.len());
    assert!(gap < 1e-4, "1 − c after 20 layers is {gap:.2e} on average over {} networks", last.len());
}

#[test]
fn softplus_caveat_holds_inputs_merge() {
    inputs_merge_within_20_layers(Activation::softplus(1.0).unwrap());
}

/// The same check at tanh's critical point, where inputs stay apart (c^20 ≈ 0.81), must fail.
#[test]
#[should_panic(expected = "1 − c after 20 layers")]
fn softplus_caveat_twin_tanh_keeps_inputs_apart() {
    inputs_merge_within_20_layers(Activation::Tanh);
}
