//! The standard normal distribution: density, CDF, quantile, and expectations.
//!
//! Two kinds of tools live here:
//!
//! - **Closed forms.** [`pdf`], [`cdf`], [`sf`] (the upper tail 1 − Φ) and [`inverse_cdf`]
//!   (Φ⁻¹), each accurate to a few ulps over the whole double range, including the far
//!   tails. The truncated-normal sampler calls [`inverse_cdf`] once per element, so it is a
//!   closed rational form with no iteration.
//! - **Gaussian expectations.** [`expect`] computes E\[f(z)\] for z ~ N(0, 1) and
//!   [`expect2`] computes E\[f(u, v)\] for a standard bivariate normal pair with correlation
//!   ρ. Activation gains and the mean-field length and correlation maps are built on them.
//!
//! Every transcendental function comes from the [`libm`] crate rather than the platform's
//! math library, so results are the same bits on every platform.
//!
//! # How expectations are computed
//!
//! E\[f(z)\] = ∫ f(z) φ(z) dz is integrated over \[−16, 16\] by globally adaptive
//! Gauss–Kronrod quadrature (7-point Gauss, 15-point Kronrod, the pair QUADPACK calls
//! `qk15`), the panel with the largest error estimate being bisected until the summed
//! estimate is below 10⁻¹³ · E\|f(z)\|.
//!
//! - **Breakpoints.** The caller lists the points where f has a kink or a jump (0 for ReLU,
//!   ±1 for hardtanh). Panels start at these points, so every panel sees a smooth
//!   integrand and converges at the rule's full order. Without a breakpoint, bisection
//!   still closes in on a kink, at the cost of more evaluations and some accuracy.
//! - **Truncation.** The neglected tails weigh 2·∫₁₆^∞ zᵏ φ(z) dz ≈ 2 · 16ᵏ⁻¹ · φ(16) ≈
//!   2 · 10⁻⁵⁶ · 16ᵏ⁻¹ for f = zᵏ, below 10⁻³⁰ of E\[zᵏ\] for every k ≤ 20. For
//!   exponential growth, f = e^(a·z), the relative tail is Φ(\|a\| − 16), below 10⁻¹⁶
//!   for \|a\| ≤ 7.7. So \[−16, 16\] is wide enough for any activation and its powers,
//!   with a margin; a wider domain would only cost evaluations.
//! - **Accuracy.** The result is accurate to about 10⁻¹³ relative to E\|f(z)\| for
//!   integrands that are smooth between the breakpoints and grow at most like the bounds
//!   above; the tests hold it to 10⁻¹² against closed forms. When E\[f\] is much smaller
//!   than E\|f\| (cancellation, e.g. E\[z\] = 0), the error is small relative to E\|f\|, not
//!   relative to the result.
//! - **Cost.** Typically 200–500 evaluations of f for [`expect`], and the square of that
//!   for [`expect2`]. A hard cap on the number of bisections keeps the cost bounded (and
//!   the call panic-free) for any f, including one that returns NaN; a non-finite result
//!   is returned as soon as it appears.

use std::f64::consts::{FRAC_1_SQRT_2, FRAC_2_SQRT_PI};

/// 1/√(2π).
const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// Half-width of the integration domain of [`expect`]; see the module docs.
const HALF_WIDTH: f64 = 16.0;

/// Interior points of the initial partition: panels of width ≤ 2 where φ has its mass.
const GRID: [f64; 11] = [-8.0, -5.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 5.0, 8.0];

/// Target for the summed error estimate, relative to E|f(z)|.
const REL_TOL: f64 = 1e-13;

/// Most panel bisections one integral may make.
const MAX_BISECTIONS: usize = 400;

/// The standard normal density φ(x) = e^(−x²/2) / √(2π).
///
/// Accurate to a few ulps for every x: x² is split so that the exponent is computed
/// without the relative error of order x²·ε a direct `exp(-x*x/2)` has.
///
/// # Example
///
/// ```
/// use nninit::gaussian::pdf;
///
/// assert!((pdf(0.0) - 0.398_942_280_401_432_7).abs() < 1e-16);
/// ```
pub fn pdf(x: f64) -> f64 {
    let x = x.abs();
    if x > 40.0 {
        // φ(38.6) is below the smallest subnormal.
        return 0.0;
    }
    // x = hi + lo with hi a multiple of 2⁻¹⁶, so hi² is exact for |x| < 2¹⁶ and
    // x²/2 = hi²/2 + lo·(hi + lo/2) with a small, accurately computed second term.
    let hi = libm::trunc(x * 65536.0) / 65536.0;
    let lo = x - hi;
    FRAC_1_SQRT_2PI * libm::exp(-0.5 * hi * hi) * libm::exp(-lo * (hi + 0.5 * lo))
}

/// The standard normal CDF Φ(x) = P(z ≤ x).
///
/// Computed as erfc(−x/√2)/2, so the lower tail keeps its relative accuracy: within 2
/// ulps of the exact value down to Φ(−37.5) ≈ 4.6 · 10⁻³⁰⁸, the end of the normal range
/// (measured against mpmath at 2,000 random points). The rounding of x/√2 alone would cost a
/// relative error of about x²·ε (800 ulps at x = −37); it is corrected to first order.
///
/// # Example
///
/// ```
/// use nninit::gaussian::cdf;
///
/// assert_eq!(cdf(0.0), 0.5);
/// assert!((cdf(-10.0) / 7.619_853_024_160_526e-24 - 1.0).abs() < 1e-14);
/// ```
pub fn cdf(x: f64) -> f64 {
    0.5 * erfc_frac_sqrt2(-x)
}

/// The standard normal survival function 1 − Φ(x) = P(z > x), without cancellation.
///
/// `sf(x)` is exactly `cdf(-x)`: `sf(8.0)` ≈ 6.2 · 10⁻¹⁶ keeps all its digits, where
/// `1.0 - cdf(8.0)` keeps one.
///
/// # Example
///
/// ```
/// use nninit::gaussian::{cdf, sf};
///
/// assert_eq!(sf(1.5), cdf(-1.5));
/// assert!((sf(8.0) / 6.220_960_574_271_784e-16 - 1.0).abs() < 1e-14);
/// ```
pub fn sf(x: f64) -> f64 {
    cdf(-x)
}

/// erfc(x/√2), with the rounding error of x/√2 corrected to first order.
fn erfc_frac_sqrt2(x: f64) -> f64 {
    /// 1/√2 − `FRAC_1_SQRT_2`, so that the two add up to 1/√2 to about 10⁻³³.
    const FRAC_1_SQRT_2_LO: f64 = -4.833_646_656_726_457e-17;
    let y = x * FRAC_1_SQRT_2;
    if !y.is_finite() {
        return libm::erfc(y);
    }
    // The exact product x/√2 is y + dy.
    let dy = x.mul_add(FRAC_1_SQRT_2, -y) + x * FRAC_1_SQRT_2_LO;
    // erfc(y + dy) ≈ erfc(y) − dy · 2/√π · e^(−y²).
    libm::erfc(y) - dy * FRAC_2_SQRT_PI * libm::exp(-y * y)
}

/// The standard normal quantile Φ⁻¹(p): the x with Φ(x) = p.
///
/// Wichura's algorithm AS 241 (`PPND16`)[^1]: three rational approximations of degree 7,
/// one for the centre (|p − ½| ≤ 0.425) and two for the tails, accurate to about 1 part in
/// 10¹⁶ for every p in (0, 1), down to the smallest subnormal. There is no iteration, so
/// the cost is one `log` and one `sqrt` (tails only) and two short polynomials.
///
/// Returns −∞ for p = 0, +∞ for p = 1, and NaN for p outside \[0, 1\] or NaN.
///
/// # Example
///
/// ```
/// use nninit::gaussian::inverse_cdf;
///
/// assert!((inverse_cdf(0.975) - 1.959_963_984_540_054).abs() < 1e-15);
/// assert_eq!(inverse_cdf(0.0), f64::NEG_INFINITY);
/// assert!(inverse_cdf(1.5).is_nan());
/// ```
///
/// [^1]: M. J. Wichura (1988), *Algorithm AS 241: The Percentage Points of the Normal
///     Distribution*, Journal of the Royal Statistical Society C (Applied Statistics)
///     37(3), 477–484, <https://doi.org/10.2307/2347330>.
#[inline]
pub fn inverse_cdf(p: f64) -> f64 {
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        return q * rational(&as241::CENTRE_NUM, &as241::CENTRE_DEN, r);
    }
    // The distance to the nearer end; 1 − p is exact for p ≥ ½.
    let tail = if q < 0.0 { p } else { 1.0 - p };
    if tail == 0.0 {
        return if q < 0.0 { f64::NEG_INFINITY } else { f64::INFINITY };
    }
    if tail.is_nan() || tail < 0.0 {
        return f64::NAN;
    }
    let r = libm::sqrt(-libm::log(tail));
    let x = if r <= 5.0 {
        rational(&as241::NEAR_NUM, &as241::NEAR_DEN, r - 1.6)
    } else {
        rational(&as241::FAR_NUM, &as241::FAR_DEN, r - 5.0)
    };
    if q < 0.0 { -x } else { x }
}

/// num(r)/den(r) for two degree-7 polynomials, coefficients from the constant term up.
#[inline(always)]
fn rational(num: &[f64; 8], den: &[f64; 8], r: f64) -> f64 {
    let horner = |c: &[f64; 8]| c.iter().rev().fold(0.0, |acc, &c| acc * r + c);
    horner(num) / horner(den)
}

/// The coefficients of AS 241, constant term first, with the digits Wichura published.
#[allow(clippy::excessive_precision)]
mod as241 {
    pub(super) const CENTRE_NUM: [f64; 8] = [
        3.387_132_872_796_366_608,
        1.331_416_678_917_843_774_5e2,
        1.971_590_950_306_551_442_7e3,
        1.373_169_376_550_946_112_5e4,
        4.592_195_393_154_987_145_7e4,
        6.726_577_092_700_870_085_3e4,
        3.343_057_558_358_812_810_5e4,
        2.509_080_928_730_122_672_7e3,
    ];
    pub(super) const CENTRE_DEN: [f64; 8] = [
        1.0,
        4.231_333_070_160_091_125_2e1,
        6.871_870_074_920_579_083e2,
        5.394_196_021_424_751_107_7e3,
        2.121_379_430_158_659_586_7e4,
        3.930_789_580_009_271_061e4,
        2.872_908_573_572_194_267_4e4,
        5.226_495_278_852_854_561e3,
    ];
    pub(super) const NEAR_NUM: [f64; 8] = [
        1.423_437_110_749_683_577_34,
        4.630_337_846_156_545_295_9,
        5.769_497_221_460_691_405_5,
        3.647_848_324_763_204_605_04,
        1.270_458_252_452_368_382_58,
        2.417_807_251_774_506_117_7e-1,
        2.272_384_498_926_918_458_33e-2,
        7.745_450_142_783_414_076_4e-4,
    ];
    pub(super) const NEAR_DEN: [f64; 8] = [
        1.0,
        2.053_191_626_637_758_821_87,
        1.676_384_830_183_803_849_4,
        6.897_673_349_851_000_045_5e-1,
        1.481_039_764_274_800_745_9e-1,
        1.519_866_656_361_645_719_66e-2,
        5.475_938_084_995_344_946e-4,
        1.050_750_071_644_416_843_24e-9,
    ];
    pub(super) const FAR_NUM: [f64; 8] = [
        6.657_904_643_501_103_777_2,
        5.463_784_911_164_114_369_9,
        1.784_826_539_917_291_335_8,
        2.965_605_718_285_048_912_3e-1,
        2.653_218_952_657_612_309_3e-2,
        1.242_660_947_388_078_438_6e-3,
        2.711_555_568_743_487_578_15e-5,
        2.010_334_399_292_288_132_65e-7,
    ];
    pub(super) const FAR_DEN: [f64; 8] = [
        1.0,
        5.998_322_065_558_879_376_9e-1,
        1.369_298_809_227_358_053_1e-1,
        1.487_536_129_085_061_485_25e-2,
        7.868_691_311_456_132_591e-4,
        1.846_318_317_510_054_681_8e-5,
        1.421_511_758_316_445_887_e-7,
        2.044_263_103_389_939_785_64e-15,
    ];
}

/// E\[f(z)\] for z ~ N(0, 1), by adaptive Gauss–Kronrod quadrature.
///
/// `breakpoints` lists the points where f is not smooth (kinks, jumps); the integration
/// panels start there. Non-finite breakpoints and those outside \[−16, 16\] are ignored.
/// See the [module docs](self) for the method, the truncation of the domain and the
/// accuracy: about 10⁻¹³ relative to E\|f(z)\| for f smooth between the breakpoints and
/// of at most polynomial or mildly exponential growth.
///
/// # Example
///
/// E\[relu(z)²\] = ½, with the kink of ReLU at 0:
///
/// ```
/// use nninit::gaussian::expect;
///
/// let m = expect(|z| z.max(0.0).powi(2), &[0.0]);
/// assert!((m - 0.5).abs() < 1e-14);
/// ```
pub fn expect<F: Fn(f64) -> f64>(f: F, breakpoints: &[f64]) -> f64 {
    let mut points: Vec<f64> = GRID
        .iter()
        .chain(breakpoints)
        .copied()
        .filter(|b| b.abs() < HALF_WIDTH)
        .chain([-HALF_WIDTH, HALF_WIDTH])
        .collect();
    points.sort_by(f64::total_cmp);
    points.dedup();
    integrate(|z| f(z) * pdf(z), &points)
}

/// E\[f(u, v)\] for a standard bivariate normal pair (u, v) with correlation `rho`.
///
/// The pair has unit variances and E\[u·v\] = ρ, as u = z₁, v = ρ·z₁ + √(1 − ρ²)·z₂ with
/// z₁, z₂ independent N(0, 1). `breakpoints` lists where f is not smooth in either
/// argument, as for [`expect`] (0 for ReLU, ±1 for hardtanh).
///
/// # Method
///
/// The expectation is a nested integral, each level computed by [`expect`], in rotated
/// coordinates: for ρ ≥ 0, u = a·w₁ + c·w₂ and v = a·w₁ − c·w₂ with a = √((1 + ρ)/2) ≥ c =
/// √((1 − ρ)/2), the inner integral over w₁ and the outer over w₂. The inner integrand
/// has its kinks where u or v crosses a breakpoint, at w₁ = (b ∓ c·w₂)/a, which are passed
/// on as its breakpoints. The outer integrand is then a Gaussian smoothing of width a ≥
/// 1/√2, smooth except where two of those kinks meet, which become its breakpoints. So
/// neither level sees a feature narrower than the Gaussian itself, however close ρ is to
/// ±1 (the naive order, z₁ outside, has steps of width √(1 − ρ²) there). For ρ < 0 the
/// same is done for f(u, −v) at −ρ. For ρ = ±1 the pair is degenerate (v = ±u) and the
/// result is the single integral E\[f(z, ±z)\].
///
/// Accurate to about 10⁻¹² relative to E\|f(u, v)\| for f smooth between the breakpoints,
/// for every ρ in \[−1, 1\]. Returns NaN for `rho` outside \[−1, 1\] or NaN.
///
/// # Example
///
/// E\[u·v\] = ρ, and E\[relu(u)·relu(v)\] is the arc-cosine kernel:
///
/// ```
/// use nninit::gaussian::expect2;
/// use std::f64::consts::PI;
///
/// assert!((expect2(|u, v| u * v, 0.3, &[]) - 0.3).abs() < 1e-12);
///
/// let rho: f64 = -0.6;
/// let kernel = ((1.0 - rho * rho).sqrt() + (PI - rho.acos()) * rho) / (2.0 * PI);
/// let m = expect2(|u, v| u.max(0.0) * v.max(0.0), rho, &[0.0]);
/// assert!((m - kernel).abs() < 1e-12);
/// ```
pub fn expect2<F: Fn(f64, f64) -> f64>(f: F, rho: f64, breakpoints: &[f64]) -> f64 {
    if !(-1.0..=1.0).contains(&rho) {
        return f64::NAN;
    }
    if rho < 0.0 {
        let mirrored: Vec<f64> = breakpoints.iter().map(|b| -b).collect();
        return expect2_nonnegative(|u, v| f(u, -v), -rho, breakpoints, &mirrored);
    }
    expect2_nonnegative(f, rho, breakpoints, breakpoints)
}

/// [`expect2`] for ρ in \[0, 1\], with the breakpoints of each argument apart.
fn expect2_nonnegative<F: Fn(f64, f64) -> f64>(f: F, rho: f64, bu: &[f64], bv: &[f64]) -> f64 {
    let a = libm::sqrt(0.5 * (1.0 + rho));
    let c = libm::sqrt(0.5 * (1.0 - rho));
    if c == 0.0 {
        let points: Vec<f64> = bu.iter().chain(bv).copied().collect();
        return expect(|z| f(z, z), &points);
    }
    // The inner kinks (bu − c·w₂)/a and (bv + c·w₂)/a meet at w₂ = (bu − bv)/2c.
    let outer: Vec<f64> = bu.iter().flat_map(|&x| bv.iter().map(move |&y| (x - y) / (2.0 * c))).collect();
    expect(
        |w2| {
            let inner: Vec<f64> =
                bu.iter().map(|&b| (b - c * w2) / a).chain(bv.iter().map(|&b| (b + c * w2) / a)).collect();
            expect(|w1| f(a * w1 + c * w2, a * w1 - c * w2), &inner)
        },
        &outer,
    )
}

/// One integration panel: its ends, the Kronrod estimate of ∫g, the error estimate, and
/// ∫|g| (the scale the tolerance is relative to).
#[derive(Clone, Copy, Debug)]
struct Panel {
    a: f64,
    b: f64,
    value: f64,
    error: f64,
    abs: f64,
}

/// ∫ g over `[points[0], points[last]]`, adaptively, the given points being panel ends.
fn integrate<G: Fn(f64) -> f64>(g: G, points: &[f64]) -> f64 {
    let mut panels: Vec<Panel> = points.windows(2).map(|w| kronrod15(&g, w[0], w[1])).collect();
    for _ in 0..MAX_BISECTIONS {
        let (mut value, mut error, mut scale) = (0.0, 0.0, 0.0);
        let mut worst = 0;
        for (i, p) in panels.iter().enumerate() {
            value += p.value;
            error += p.error;
            scale += p.abs;
            if p.error > panels[worst].error {
                worst = i;
            }
        }
        if !value.is_finite() || error.is_nan() || error <= REL_TOL * scale {
            break;
        }
        let Panel { a, b, .. } = panels[worst];
        let mid = 0.5 * (a + b);
        if a < mid && mid < b {
            panels[worst] = kronrod15(&g, a, mid);
            panels.push(kronrod15(&g, mid, b));
        } else {
            // The panel cannot be split further in floating point: accept it.
            panels[worst].error = 0.0;
        }
    }
    panels.iter().map(|p| p.value).sum()
}

/// The Gauss–Kronrod 7/15 rule on \[−1, 1\], with the digits of QUADPACK's `qk15`.
#[allow(clippy::excessive_precision)]
mod qk15 {
    /// Abscissae of the 15-point Kronrod rule on \[−1, 1\] (non-negative half, descending);
    /// the odd-indexed ones are the 7-point Gauss nodes.
    pub(super) const NODES: [f64; 8] = [
        0.991_455_371_120_812_639_206_854_697_526_329,
        0.949_107_912_342_758_524_526_189_684_047_851,
        0.864_864_423_359_769_072_789_712_788_640_926,
        0.741_531_185_599_394_439_863_864_773_280_788,
        0.586_087_235_467_691_130_294_144_845_693_013,
        0.405_845_151_377_397_166_906_606_412_076_961,
        0.207_784_955_007_898_467_600_689_403_773_245,
        0.0,
    ];
    /// Weights of the 15-point Kronrod rule, matching [`NODES`].
    pub(super) const KRONROD: [f64; 8] = [
        0.022_935_322_010_529_224_963_732_008_058_970,
        0.063_092_092_629_978_553_290_700_663_189_204,
        0.104_790_010_322_250_183_839_876_322_541_518,
        0.140_653_259_715_525_918_745_189_590_510_238,
        0.169_004_726_639_267_902_826_583_426_598_550,
        0.190_350_578_064_785_409_913_256_402_421_014,
        0.204_432_940_075_298_892_414_161_999_234_649,
        0.209_482_141_084_727_828_012_999_174_891_714,
    ];
    /// Weights of the 7-point Gauss rule at `NODES[1]`, `[3]`, `[5]` and `[7]`.
    pub(super) const GAUSS: [f64; 4] = [
        0.129_484_966_168_869_693_270_611_432_679_082,
        0.279_705_391_489_276_667_901_467_771_423_780,
        0.381_830_050_505_118_944_950_369_775_488_975,
        0.417_959_183_673_469_387_755_102_040_816_327,
    ];
}

/// The Gauss–Kronrod 7/15 pair on \[a, b\], with QUADPACK's error estimate (`qk15`).
fn kronrod15<G: Fn(f64) -> f64>(g: &G, a: f64, b: f64) -> Panel {
    let (centre, half) = (0.5 * (a + b), 0.5 * (b - a));
    // Point i of 15, left to right, is the node k = min(i, 14 − i).
    let node = |i: usize| i.min(14 - i);
    let values: [f64; 15] = std::array::from_fn(|i| {
        let offset = half * qk15::NODES[node(i)];
        g(if i < 7 { centre - offset } else { centre + offset })
    });
    let kronrod_sum = |h: &dyn Fn(f64) -> f64| -> f64 {
        values.iter().enumerate().map(|(i, &v)| qk15::KRONROD[node(i)] * h(v)).sum()
    };
    let kronrod = kronrod_sum(&|v| v);
    // ∫|g| and ∫|g − mean| (QUADPACK's `resabs` and `resasc`) on the reference interval.
    let abs = kronrod_sum(&f64::abs);
    let spread = kronrod_sum(&|v| (v - 0.5 * kronrod).abs());
    // The Gauss nodes are the Kronrod nodes of odd k.
    let gauss: f64 =
        values.iter().enumerate().filter(|&(i, _)| node(i) % 2 == 1).map(|(i, &v)| qk15::GAUSS[node(i) / 2] * v).sum();
    let (kronrod, gauss, abs, spread) = (kronrod * half, gauss * half, abs * half, spread * half);
    let mut error = (kronrod - gauss).abs();
    if spread != 0.0 && error != 0.0 {
        error = spread * libm::pow(200.0 * error / spread, 1.5).min(1.0);
    }
    // No estimate below what rounding alone can reach.
    error = error.max(50.0 * f64::EPSILON * abs);
    Panel { a, b, value: kronrod, error, abs }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    /// |got − want| ≤ tol · |want| (or ≤ tol when want is 0).
    fn close(got: f64, want: f64, tol: f64) -> bool {
        (got - want).abs() <= tol * want.abs().max(if want == 0.0 { 1.0 } else { 0.0 })
    }

    macro_rules! assert_close {
        ($got:expr, $want:expr, $tol:expr) => {{
            let (got, want) = ($got, $want);
            assert!(close(got, want, $tol), "got {got:e}, want {want:e} (rel tol {:e})", $tol);
        }};
    }

    #[test]
    fn pdf_known_values() {
        assert_eq!(pdf(0.0), FRAC_1_SQRT_2PI);
        assert_eq!(pdf(-1.3), pdf(1.3));
        // mpmath 1.3, 40 digits: npdf(x).
        assert_close!(pdf(1.0), 0.241_970_724_519_143_34, 2e-16);
        assert_close!(pdf(10.0), 7.694_598_626_706_419e-23, 4e-16);
        assert_close!(pdf(37.5), 1.728_233_732_284_105_4e-306, 4e-16);
        assert_eq!(pdf(40.0), 0.0);
        assert_eq!(pdf(1e305), 0.0);
        assert_eq!(pdf(f64::NEG_INFINITY), 0.0);
        assert!(pdf(f64::NAN).is_nan());
    }

    #[test]
    fn cdf_known_values() {
        assert_eq!(cdf(0.0), 0.5);
        assert_eq!(cdf(f64::NEG_INFINITY), 0.0);
        assert_eq!(cdf(f64::INFINITY), 1.0);
        assert!(cdf(f64::NAN).is_nan());
        // mpmath 1.3, 40 digits: ncdf(x), rounded to double.
        let table = [
            (-37.5, 4.605_353_009_581_955e-308),
            (-30.0, 4.906_713_927_148_187e-198),
            (-20.0, 2.753_624_118_606_233_7e-89),
            (-10.0, 7.619_853_024_160_525e-24),
            (-5.0, 2.866_515_718_791_939e-7),
            (-1.0, 0.158_655_253_931_457_05),
            (0.5, 0.691_462_461_274_013_1),
            (3.0, 0.998_650_101_968_369_9),
            (8.0, 0.999_999_999_999_999_3),
        ];
        for (x, want) in table {
            assert_close!(cdf(x), want, 4e-16);
            assert_close!(sf(-x), want, 4e-16);
        }
        // Subnormal: only the leading digits survive in the result itself.
        assert_close!(cdf(-38.0), 2.885_428_35e-316, 1e-8);
    }

    #[test]
    fn inverse_cdf_known_values() {
        // Φ⁻¹(0.975) = 1.959963984540054 (to 16 digits); the double nearest 0.975 is a
        // little below it, with Φ⁻¹ = 1.9599639845400538556 (mpmath 1.3, 60 digits).
        assert_close!(inverse_cdf(0.975), 1.959_963_984_540_054, 4e-16);
        assert_close!(inverse_cdf(0.975), 1.959_963_984_540_053_8, 2.5e-16);
        assert_close!(inverse_cdf(0.025), -1.959_963_984_540_054_2, 2.5e-16);
        assert_eq!(inverse_cdf(0.5), 0.0);
        // mpmath 1.3, 60 digits: the root of log ncdf(x) = log p, rounded to double.
        assert_close!(inverse_cdf(1e-10), -6.361_340_902_404_057, 4e-16);
        assert_close!(inverse_cdf(1e-300), -37.047_096_299_361_2, 4e-16);
        assert_close!(inverse_cdf(0.3), -0.524_400_512_708_040_8, 4e-16);
    }

    #[test]
    fn inverse_cdf_edges() {
        assert_eq!(inverse_cdf(0.0), f64::NEG_INFINITY);
        assert_eq!(inverse_cdf(1.0), f64::INFINITY);
        for p in [-0.0, -1e-300, 1.0 + f64::EPSILON, 2.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(p == 0.0 || inverse_cdf(p).is_nan(), "p = {p}");
        }
        assert_eq!(inverse_cdf(-0.0), f64::NEG_INFINITY);
        // The smallest subnormal and the largest double below 1 give finite quantiles.
        assert!(inverse_cdf(f64::from_bits(1)).is_finite());
        assert!(inverse_cdf(1.0 - f64::EPSILON / 2.0).is_finite());
    }

    #[test]
    fn cdf_inverse_cdf_round_trip() {
        // p from 1e-300 up to 1/2 on a log grid, and the mirrored upper tail 1 − p.
        for i in 0..=3000 {
            let p = 10f64.powf(-300.0 + 0.1 * f64::from(i)).min(0.5);
            let x = inverse_cdf(p);
            // Φ(x(1 + δ)) = p(1 + |x|²δ) to first order, so allow |x|²·ε.
            let tol = 8.0 * f64::EPSILON * x.powi(2).max(1.0);
            assert_close!(cdf(x), p, tol);
            let upper = 1.0 - p;
            if upper < 1.0 {
                let xu = inverse_cdf(upper);
                // 1 − p is rounded; compare in the tail, where sf(xu) is exact to ~ε.
                assert_close!(sf(xu), 1.0 - upper, tol);
            }
        }
        // 1 − 1e-16 rounds to 1 − 2⁻⁵³, whose tail 2⁻⁵³ is exact.
        let p = 1.0 - 1e-16;
        let x = inverse_cdf(p);
        assert_close!(sf(x), 1.0 - p, 8.0 * f64::EPSILON * x * x);
        // x → Φ(x) → x, over the range where Φ(x) is normal and not rounded towards 1.
        for i in -370..=5 {
            let x = 0.1 * f64::from(i) + 0.013;
            assert_close!(inverse_cdf(cdf(x)), x, 1e-14 / x.abs().min(1.0));
        }
    }

    #[test]
    fn expect_closed_forms() {
        assert_close!(expect(|_| 1.0, &[]), 1.0, 1e-14);
        assert_close!(expect(|z| z * z, &[]), 1.0, 1e-13);
        assert_close!(expect(|z| z.powi(4), &[]), 3.0, 1e-13);
        assert_close!(expect(|z| z.powi(10), &[]), 945.0, 1e-12);
        assert_close!(expect(|z| z.max(0.0).powi(2), &[0.0]), 0.5, 1e-13);
        assert_close!(expect(f64::abs, &[0.0]), (2.0 / PI).sqrt(), 1e-13);
        // E[e^(az)] = e^(a²/2).
        for a in [-3.0, 1.0, 5.0] {
            assert_close!(expect(|z| libm::exp(a * z), &[]), libm::exp(0.5 * a * a), 1e-12);
        }
        // E[sin² z] = (1 − e⁻²)/2.
        assert_close!(expect(|z| libm::sin(z).powi(2), &[]), 0.5 * (1.0 - libm::exp(-2.0)), 1e-13);
        // Odd integrands: zero to about 1e-13 of E|f|.
        assert!(expect(|z| z, &[]).abs() < 1e-13);
        assert!(expect(|z| z.powi(3), &[0.0]).abs() < 1e-13);
        // P(z < 1.3), a jump at the breakpoint.
        assert_close!(expect(|z| if z < 1.3 { 1.0 } else { 0.0 }, &[1.3]), cdf(1.3), 1e-13);
    }

    #[test]
    fn expect_tanh_squared_against_mpmath() {
        // mpmath 1.3, 40 digits: quad(lambda z: tanh(z)**2 * npdf(z), [-inf, 0, inf]).
        let want = 0.394_294_490_397_841_2;
        assert_close!(expect(|z| libm::tanh(z).powi(2), &[]), want, 1e-13);
    }

    #[test]
    fn expect_handles_sharp_and_scaled_integrands() {
        // A hardtanh with tiny range: kinks at ±1e-3, E[ht²] ≈ 1e-6 (mpmath 1.3, 40 digits).
        let c = 1e-3;
        let want = 9.994_680_770_126_57e-7;
        assert_close!(expect(|z| z.clamp(-c, c).powi(2), &[-c, c]), want, 1e-12);
        // Missing the breakpoint costs evaluations, not correctness.
        assert_close!(expect(|z| z.max(0.0).powi(2) + 0.0 * z, &[]), 0.5, 1e-12);
        // Breakpoints that are NaN, infinite or outside the domain are ignored.
        let m = expect(|z| z * z, &[f64::NAN, f64::INFINITY, 100.0, -0.5, -0.5]);
        assert_close!(m, 1.0, 1e-13);
    }

    #[test]
    fn expect_terminates_on_nan() {
        assert!(expect(|_| f64::NAN, &[]).is_nan());
        assert!(expect(|z| if z > 1.0 { f64::NAN } else { 0.0 }, &[]).is_nan());
        assert!(expect(|z| 1.0 / z, &[]).is_nan() || expect(|z| 1.0 / z, &[]).is_finite());
    }

    /// E[relu(u) relu(v)] = (√(1 − ρ²) + (π − acos ρ)·ρ) / 2π, the arc-cosine kernel,
    /// written as (sin δ − δ·cos δ)/2π with δ = acos(−ρ), and summed as a series for
    /// small δ, where the two terms cancel.
    fn arccos_kernel(rho: f64) -> f64 {
        let d = (-rho).acos();
        let diff = if d < 0.5 {
            // Σ_{k≥1} (−1)^(k+1) · 2k · δ^(2k+1) / (2k+1)!
            let (mut term, mut sum) = (d, 0.0);
            for k in 1..12 {
                term *= -d * d / f64::from((2 * k) * (2 * k + 1));
                sum -= f64::from(2 * k) * term;
            }
            sum
        } else {
            d.sin() - d * d.cos()
        };
        diff / (2.0 * PI)
    }

    const RHOS: [f64; 11] = [-1.0, -0.999_999_999, -0.9, -0.5, -0.1, 0.0, 0.3, 0.7, 0.99, 1.0 - 1e-15, 1.0];

    #[test]
    fn expect2_closed_forms() {
        for rho in RHOS {
            assert_close!(expect2(|u, v| u * v, rho, &[]), rho, 1e-12);
            assert_close!(expect2(|u, v| u.max(0.0) * v.max(0.0), rho, &[0.0]), arccos_kernel(rho), 1e-11);
            // E[u² v²] = 1 + 2ρ².
            assert_close!(expect2(|u, v| (u * v).powi(2), rho, &[]), 1.0 + 2.0 * rho * rho, 1e-12);
        }
        assert_close!(arccos_kernel(1.0), 0.5, 1e-15);
        assert_close!(arccos_kernel(0.0), 0.5 / PI, 1e-15);
        assert_close!(arccos_kernel(0.3), (0.91f64.sqrt() + (PI - 0.3f64.acos()) * 0.3) / (2.0 * PI), 1e-15);
        // mpmath 1.3, 40 digits, at the double nearest −0.999999999.
        assert_close!(arccos_kernel(-0.999_999_999), 4.745_083_421_718_241e-15, 1e-9);
    }

    #[test]
    fn expect2_against_mpmath() {
        // E[tanh(u) tanh(v)] at ρ = 0.5; mpmath 1.3, 30 digits, nested quad.
        let want = 0.186_324_413_203_448_1;
        assert_close!(expect2(|u, v| libm::tanh(u) * libm::tanh(v), 0.5, &[]), want, 1e-11);
        // Hardtanh, kinks at ±1 in both arguments; mpmath 1.3, 20 digits, nested quad.
        let ht = |x: f64| x.clamp(-1.0, 1.0);
        let m = expect2(|u, v| ht(u) * ht(v), 0.5, &[-1.0, 1.0]);
        assert_close!(m, 0.238_169_165_800_770_66, 1e-12);
        // The ρ = 1 value is E[tanh²].
        let diag = expect2(|u, v| libm::tanh(u) * libm::tanh(v), 1.0, &[]);
        assert_close!(diag, 0.394_294_490_397_841_2, 1e-13);
        // E[|u| sign(v)·…]: P(u > 0, v > 0) = 1/4 + asin(ρ)/2π, jumps at 0.
        for rho in RHOS {
            let p = expect2(|u, v| if u > 0.0 && v > 0.0 { 1.0 } else { 0.0 }, rho, &[0.0]);
            assert_close!(p, 0.25 + rho.asin() / (2.0 * PI), 1e-10);
        }
    }

    #[test]
    fn expect2_rejects_invalid_rho() {
        for rho in [f64::NAN, 1.0 + 1e-15, -2.0, f64::INFINITY] {
            assert!(expect2(|u, v| u * v, rho, &[]).is_nan());
        }
    }

    #[test]
    fn constants() {
        assert_close!(FRAC_1_SQRT_2PI, 1.0 / (2.0 * PI).sqrt(), 1e-16);
    }
}
