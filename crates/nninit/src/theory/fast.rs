//! The fixed-rule evaluation behind the phase diagram: a composite Gauss–Legendre rule
//! and the Mehler (Hermite) expansion of the correlation map.

use super::analysis::{Analysis, Maps};
use super::fixed_point::{FixedPoint, Limits, Q_MAX, Q_TINY, Q_ZERO, solve_length};
use super::mean_field::{MeanField, derivative_jump};
use crate::activation::Activation;
use crate::gaussian;

/// Gauss–Legendre nodes and weights on \[−1, 1\], 12 points.
#[allow(clippy::excessive_precision)]
const GL_NODES: [f64; 6] = [
    0.125_233_408_511_468_915_472_441_369_464,
    0.367_831_498_998_180_193_752_691_536_644,
    0.587_317_954_286_617_447_296_702_418_941,
    0.769_902_674_194_304_687_036_893_833_213,
    0.904_117_256_370_474_856_678_465_866_119,
    0.981_560_634_246_719_250_690_549_090_149,
];
#[allow(clippy::excessive_precision)]
const GL_WEIGHTS: [f64; 6] = [
    0.249_147_045_813_402_785_000_562_436_043,
    0.233_492_536_538_354_808_760_849_898_925,
    0.203_167_426_723_065_921_749_064_455_810,
    0.160_078_328_543_346_226_334_652_529_543,
    0.106_939_325_995_318_430_960_254_718_194,
    0.047_175_336_386_511_827_194_615_961_485,
];

/// Half-width of the domain; ϕ(9) ≈ 1.0 · 10⁻¹⁸.
const HALF_WIDTH: f64 = 9.0;
/// Hermite terms kept in the Mehler expansion.
pub(super) const TERMS: usize = 80;

/// A fixed rule for E\[g(z)\]: nodes z and weights (with the density ϕ folded in).
#[derive(Clone, Debug)]
pub(super) struct Rule {
    pub(super) z: Vec<f64>,
    pub(super) w: Vec<f64>,
}

impl Rule {
    /// Composite 12-point Gauss–Legendre on \[−9, 9\] in panels of width `panel`, with
    /// panel ends also at the breakpoints.
    pub(super) fn new(breakpoints: &[f64], panel: f64) -> Self {
        let n = (2.0 * HALF_WIDTH / panel).round() as usize;
        let mut ends: Vec<f64> = (0..=n).map(|i| -HALF_WIDTH + panel * i as f64).collect();
        ends.extend(breakpoints.iter().copied().filter(|b| b.abs() < HALF_WIDTH));
        ends.sort_by(f64::total_cmp);
        ends.dedup();
        let mut z = Vec::with_capacity(12 * ends.len());
        let mut w = Vec::with_capacity(12 * ends.len());
        for pair in ends.windows(2) {
            let (mid, half) = (0.5 * (pair[0] + pair[1]), 0.5 * (pair[1] - pair[0]));
            for (x, wt) in GL_NODES.iter().zip(GL_WEIGHTS) {
                for s in [-1.0, 1.0] {
                    let node = mid + s * half * x;
                    z.push(node);
                    w.push(half * wt * gaussian::pdf(node));
                }
            }
        }
        Self { z, w }
    }

    /// E\[g(z)\].
    pub(super) fn expect(&self, g: impl Fn(f64) -> f64) -> f64 {
        self.z.iter().zip(&self.w).map(|(&z, &w)| w * g(z)).sum()
    }
}

use std::borrow::Cow;
use std::sync::OnceLock;

/// Relative accuracy of q* in the fast path.
const FAST_TOL: f64 = 1e-8;

/// The rule for φ at length q: panels of width 1, ½ or ¼ so that a feature of φ of
/// width 1 (φ(√q z) varies on the scale 1/√q in z) spans at least about 1.5 panels,
/// with breakpoints at the kinks of φ(√q z). Rules without extra breakpoints are
/// shared.
pub(super) fn rule(mf: &MeanField, q: f64) -> Cow<'static, Rule> {
    static SHARED: [OnceLock<Rule>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let level = if q <= 2.25 {
        0
    } else if q <= 9.0 {
        1
    } else {
        2
    };
    let panel = [1.0, 0.5, 0.25][level];
    let s = q.max(Q_TINY).sqrt();
    let breaks: Vec<f64> = mf
        .activation
        .kinks()
        .iter()
        .map(|k| k / s)
        .filter(|b| b.abs() < HALF_WIDTH && (b / panel).fract() != 0.0)
        .collect();
    if breaks.is_empty() {
        return Cow::Borrowed(SHARED[level].get_or_init(|| Rule::new(&[], panel)));
    }
    Cow::Owned(Rule::new(&breaks, panel))
}

/// (φ, φ′, φ″) at x, with one `tanh` for tanh.
fn triple(phi: &Activation, x: f64) -> (f64, f64, f64) {
    if let Activation::Tanh = phi {
        let t = libm::tanh(x);
        let d = 1.0 - t * t;
        return (t, d, -2.0 * t * d);
    }
    (phi.eval(x), phi.derivative(x), phi.second_derivative(x))
}

/// (V(q), V′(q)) by the fixed rule.
pub(super) fn length(mf: &MeanField, q: f64) -> (f64, f64) {
    let phi = mf.activation;
    let s = q.max(Q_TINY).sqrt();
    let r = rule(mf, q);
    let (mut v, mut dv) = (0.0, 0.0);
    for (&z, &w) in r.z.iter().zip(&r.w) {
        let x = s * z;
        let (f, d, d2) = triple(&phi, x);
        v += w * f * f;
        dv += w * (d * d + f * d2);
    }
    let deltas: f64 =
        phi.kinks().iter().map(|&k| phi.eval(k) * derivative_jump(&phi, k) * gaussian::pdf(k / s) / s).sum();
    (mf.sigma_w2 * v + mf.sigma_b2, mf.sigma_w2 * (dv + deltas))
}

/// Σ_k b_k² c^k plus the tail beyond [`TERMS`] (known in total at c = 1) times c^TERMS.
pub(super) fn series(b2: &[f64; TERMS], tail: f64, c: f64) -> f64 {
    let head = b2.iter().rev().fold(0.0, |acc, &b| acc * c + b);
    head + tail * c.powi(TERMS as i32)
}

/// The Mehler coefficients b_k² = E\[φ(√q z) h_k(z)\]², k < [`TERMS`], and the tail
/// E\[φ(√q z)²\] − Σ b_k² (≥ 0).
pub(super) fn mehler(mf: &MeanField, q: f64) -> ([f64; TERMS], f64) {
    let phi = mf.activation;
    let s = q.max(Q_TINY).sqrt();
    let r = rule(mf, q);
    let mut b = [0.0; TERMS];
    let mut second = 0.0;
    let sqrt: [f64; TERMS] = std::array::from_fn(|k| (k as f64).sqrt());
    for (&z, &w) in r.z.iter().zip(&r.w) {
        let f = phi.eval(s * z) * w;
        second += f * phi.eval(s * z);
        let (mut h0, mut h1) = (1.0, z);
        b[0] += f;
        b[1] += f * z;
        for k in 1..TERMS - 1 {
            let h2 = (z * h1 - sqrt[k] * h0) / sqrt[k + 1];
            b[k + 1] += f * h2;
            h0 = h1;
            h1 = h2;
        }
    }
    let b2 = b.map(|x| x * x);
    let tail = (second - b2.iter().sum::<f64>()).max(0.0);
    (b2, tail)
}

/// [`MeanField::analyze`] with the fixed rule and the Mehler expansion.
pub(super) fn analyze(mf: &MeanField) -> Analysis {
    let zero_possible = mf.sigma_b2 == 0.0 && mf.activation.eval(0.0) == 0.0;
    let limits = Limits {
        zero: if zero_possible { Q_ZERO } else { -1.0 },
        max: Q_MAX * mf.sigma_w2.max(mf.sigma_b2).max(1.0),
        tol: FAST_TOL,
        scale: mf.sigma_b2.max(1.0),
    };
    let fixed_point = solve_length(1.0, limits, |q| length(mf, q));
    let chi1 = |q: f64| {
        let s = q.max(Q_TINY).sqrt();
        mf.sigma_w2 * rule(mf, q).expect(|z| mf.activation.derivative(s * z).powi(2))
    };
    let q = match fixed_point {
        FixedPoint::Converged { q_star, .. } => q_star,
        _ => {
            let maps = Maps { chi1, slope: |_| 0.0, cmap: |_, _| 0.0, cslope: |_, _| 0.0 };
            return mf.analyze_with(1.0, fixed_point, &maps);
        }
    };
    let (b2, tail) = mehler(mf, q);
    let v = length(mf, q).0;
    let cmap = move |_: f64, c: f64| (mf.sigma_w2 * series(&b2, tail, c) + mf.sigma_b2) / v;
    // σ_w² E[φ′(u₁)φ′(u₂)] = σ_w²/q Σ (k+1) b_{k+1}² c^k.
    let qq = q.max(Q_TINY);
    let cslope = move |_: f64, c: f64| {
        let series = (0..TERMS - 1).rev().fold(0.0, |acc, k| acc * c + (k + 1) as f64 * b2[k + 1]);
        mf.sigma_w2 * series / qq
    };
    let maps = Maps { chi1, slope: |q| length(mf, q).1, cmap, cslope };
    mf.analyze_with(1.0, fixed_point, &maps)
}

impl MeanField {
    /// [`MeanField::correlation_map`] by the fast Mehler expansion of
    /// [`phase_diagram`](crate::theory::phase_diagram) (see the [module docs](crate::theory#accuracy)): about 10⁻⁹ for smooth φ,
    /// 10⁻³ for kinked φ near c = 1, and 50 µs instead of milliseconds. For many
    /// correlations at one q, as in simulations.
    pub fn correlation_map_fast(&self, q: f64, c: f64) -> f64 {
        let (b2, tail) = mehler(self, q);
        (self.sigma_w2 * series(&b2, tail, c.clamp(-1.0, 1.0)) + self.sigma_b2) / length(self, q).0
    }
}
