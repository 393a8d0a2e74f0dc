//! Branch-free f32 `ln` and `sincos(2π·s)` with fused multiply-adds at fixed places.
//!
//! Every function here uses only IEEE-754 add, subtract, multiply, fused multiply-add
//! (`f32::mul_add`: `a·b + c` rounded once), square root, exact integer↔float conversions
//! of small integers, and integer bit operations. Each is written out (Rust never
//! contracts `a * b + c` into a fused multiply-add on its own, and `mul_add` is correctly
//! rounded on every platform, in hardware or in software), so the results are the same
//! bits everywhere: the scalar, baseline and AVX2+FMA builds all round identically. There
//! are no branches on data (selections are bit masks), so loops over `[f32; N]` that call
//! these functions vectorize where the target has FMA; elsewhere `mul_add` is a library
//! call, slower but the same bits.
//!
//! The polynomials are those of Cephes `logf`, `sinf` and `cosf` (S. L. Moshier); the
//! evaluation order is fixed and written out in the parent module's specification.

/// √½ rounded to f32: mantissas below it are doubled before the polynomial.
pub(crate) const SQRT_HALF: f32 = 0.707_106_77;

/// Cephes `logf` polynomial P, highest degree first: `ln(1+x) ≈ x − x²/2 + x³·P(x)`.
pub(crate) const LN_P: [f32; 9] = [
    0.070_376_836,
    -0.115_146_1,
    0.116_769_984,
    -0.124_201_41,
    0.142_493_23,
    -0.166_680_57,
    0.200_007_14,
    -0.249_999_94,
    0.333_333_3,
];
/// ln 2 split: `LN2_HI` (exact in 9 bits, so `e·LN2_HI` is exact) plus `LN2_LO`.
pub(crate) const LN2_HI: f32 = 0.693_359_4; // 0x3f318000 = 0.693359375
/// Low part of ln 2: `ln 2 ≈ LN2_HI + LN2_LO`.
pub(crate) const LN2_LO: f32 = -0.000_212_194_44;

/// Cephes `sinf` polynomial, highest degree first: `sin x ≈ x + x·z·S(z)`, `z = x²`.
pub(crate) const SIN_P: [f32; 3] = [-0.000_195_152_96, 0.008_332_161, -0.166_666_55];
/// Cephes `cosf` polynomial, highest degree first: `cos x ≈ 1 − z/2 + z²·C(z)`.
pub(crate) const COS_P: [f32; 3] = [2.443_315_7e-5, -0.001_388_731_6, 0.041_666_646];

/// 2π rounded to f32.
pub(crate) const TAU_F32: f32 = core::f32::consts::TAU;
/// 1.5·2²³: adding and subtracting it rounds an f32 of magnitude < 2²² to the nearest
/// integer, ties to even (the default IEEE rounding).
pub(crate) const ROUND_MAGIC: f32 = 12_582_912.0;

/// Selects `a` where `mask` is all ones and `b` where it is zero.
#[inline(always)]
fn select(mask: u32, a: f32, b: f32) -> f32 {
    f32::from_bits((a.to_bits() & mask) | (b.to_bits() & !mask))
}

/// All ones if `c`, else zero.
#[inline(always)]
fn mask(c: bool) -> u32 {
    u32::from(c).wrapping_neg()
}

/// Natural logarithm of a positive, normal, finite `x` (Cephes `logf`, branch-free).
///
/// For other inputs (zero, subnormal, negative, infinite, NaN) the result is unspecified
/// but never panics; the stream only calls it on `(0, 1]`.
#[inline(always)]
pub(crate) fn ln(x: f32) -> f32 {
    let bits = x.to_bits();
    // x = m·2^e with m in [0.5, 1).
    let e = ((bits >> 23) & 0xff) as i32 - 126;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000);
    let small = mask(m < SQRT_HALF);
    // If m < √½: use 2m in [1, √2) and e − 1; then x = 2m − 1, else x = m − 1 (both exact).
    let e = e + small as i32; // `small as i32` is −1 or 0
    let x = (m + select(small, m, 0.0)) - 1.0;
    let fe = e as f32;
    let z = x * x;
    let mut p = LN_P[0];
    for &c in &LN_P[1..] {
        p = p.mul_add(x, c);
    }
    let mut y = p * x * z;
    y = LN2_LO.mul_add(fe, y);
    y = (-0.5f32).mul_add(z, y);
    // LN2_HI·fe is exact, so fusing this last product changes nothing but the op count.
    LN2_HI.mul_add(fe, x + y)
}

/// `(sin x, cos x)` for `x` in `[−π/4, π/4]` (Cephes `sinf`/`cosf` polynomials).
#[inline(always)]
pub(crate) fn sincos_poly(x: f32) -> (f32, f32) {
    let z = x * x;
    let s = SIN_P[0].mul_add(z, SIN_P[1]).mul_add(z, SIN_P[2]);
    let c = COS_P[0].mul_add(z, COS_P[1]).mul_add(z, COS_P[2]);
    let sin_x = (s * z).mul_add(x, x);
    // 1 − z/2 is one rounding either way (z/2 is exact); fused to match the AVX2 kernel.
    let cos_x = (c * z).mul_add(z, (-0.5f32).mul_add(z, 1.0));
    (sin_x, cos_x)
}

/// `(sin 2πs, cos 2πs)` for `s` in `[0, 1)` a multiple of 2⁻²⁴ (exact turn reduction,
/// Cephes polynomials on `[−π/4, π/4]`, rotation by quadrant; branch-free).
///
/// Exact for any `s` whose reductions below are exact, which includes every multiple of
/// 2⁻²⁴ in `[0, 1)`; other `s` in `[0, 2²²)` still give a good approximation.
#[inline(always)]
pub(crate) fn sincos_turns(s: f32) -> (f32, f32) {
    // t = s − round(s) in [−½, ½], q = round(4t), f = t − q/4 in [−⅛, ⅛]: all exact.
    let t = s - ((s + ROUND_MAGIC) - ROUND_MAGIC);
    let qm = 4.0 * t + ROUND_MAGIC;
    let q = qm - ROUND_MAGIC;
    let quadrant = qm.to_bits().wrapping_sub(ROUND_MAGIC.to_bits()) & 3;
    let f = t - 0.25 * q;
    let (sin_x, cos_x) = sincos_poly(f * TAU_F32);
    // Angle = quadrant·π/2 + x: odd quadrants swap sin and cos; sin is negated in
    // quadrants 2 and 3, cos in quadrants 1 and 2.
    let swap = mask(quadrant & 1 != 0);
    let sin_sign = (quadrant & 2) << 30;
    let cos_sign = ((quadrant + 1) & 2) << 30;
    let sin = f32::from_bits(select(swap, cos_x, sin_x).to_bits() ^ sin_sign);
    let cos = f32::from_bits(select(swap, sin_x, cos_x).to_bits() ^ cos_sign);
    (sin, cos)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Error of `got` in units of the last place of the f32 binade holding `exact`.
    fn ulp_error(got: f32, exact: f64) -> f64 {
        if exact == 0.0 {
            return if got == 0.0 { 0.0 } else { f64::INFINITY };
        }
        let e = exact.abs().log2().floor() as i32;
        let ulp = 2f64.powi(e.max(-126) - 23);
        (f64::from(got) - exact).abs() / ulp
    }

    #[test]
    fn constants_are_cephes_rounded_to_f32() {
        // Cephes' decimal coefficients, each rounded once to f32, and their bits (as the
        // parent module's specification lists them).
        let check = |got: &[f32], cephes: &[&str], bits: &[u32]| {
            for ((g, c), b) in got.iter().zip(cephes).zip(bits) {
                assert_eq!(*g, c.parse::<f32>().unwrap(), "{c}");
                assert_eq!(g.to_bits(), *b, "{c}");
            }
        };
        check(
            &LN_P,
            &[
                "7.0376836292E-2",
                "-1.1514610310E-1",
                "1.1676998740E-1",
                "-1.2420140846E-1",
                "1.4249322787E-1",
                "-1.6668057665E-1",
                "2.0000714765E-1",
                "-2.4999993993E-1",
                "3.3333331174E-1",
            ],
            &[
                0x3d90_21bb,
                0xbdeb_d1b8,
                0x3def_251a,
                0xbdfe_5d4f,
                0x3e11_e9bf,
                0xbe2a_ae50,
                0x3e4c_ceac,
                0xbe7f_fffc,
                0x3eaa_aaaa,
            ],
        );
        check(
            &[LN2_HI, LN2_LO, SQRT_HALF],
            &["0.693359375", "-2.12194440e-4", "0.707106781186547524"],
            &[0x3f31_8000, 0xb95e_8083, 0x3f35_04f3],
        );
        check(
            &SIN_P,
            &["-1.9515295891E-4", "8.3321608736E-3", "-1.6666654611E-1"],
            &[0xb94c_a1f9, 0x3c08_839e, 0xbe2a_aaa3],
        );
        check(
            &COS_P,
            &["2.443315711809948E-5", "-1.388731625493765E-3", "4.166664568298827E-2"],
            &[0x37cc_f5ce, 0xbab6_061a, 0x3d2a_aaa5],
        );
        assert_eq!(TAU_F32.to_bits(), 0x40c9_0fdb);
    }

    /// Every input the stream can give `ln`: u = 1 − k·2⁻²⁴, k in 0..2²⁴.
    #[test]
    fn ln_max_ulp_error_on_stream_inputs() {
        let mut worst = (0.0f64, 0.0f32);
        for k in 0..(1u32 << 24) {
            let u = 1.0 - k as f32 * (1.0 / 16_777_216.0);
            let err = ulp_error(ln(u), f64::from(u).ln());
            if err > worst.0 {
                worst = (err, u);
            }
        }
        eprintln!("ln: max error {:.3} ulp at u = {:e}", worst.0, worst.1);
        assert!(worst.0 <= 2.0, "ln error {} ulp at {}", worst.0, worst.1);
    }

    /// `ln` over the whole positive normal range, sampled by bit pattern.
    #[test]
    fn ln_max_ulp_error_on_normal_floats() {
        let mut worst = 0.0f64;
        let mut bits = 0x0080_0000u32;
        while bits < 0x7f80_0000 {
            let x = f32::from_bits(bits);
            worst = worst.max(ulp_error(ln(x), f64::from(x).ln()));
            bits += 97;
        }
        eprintln!("ln (all normal floats, sampled): max error {worst:.3} ulp");
        assert!(worst <= 2.0);
    }

    /// `(sin 2πs, cos 2πs)` to f64 accuracy, with the reduction to `[−⅛, ⅛]` turn done
    /// exactly so that results near zero keep their relative accuracy.
    fn sincos_turns_f64(s: f64) -> (f64, f64) {
        let t = s - s.round();
        let q = (4.0 * t).round();
        let x = (t - 0.25 * q) * core::f64::consts::TAU;
        let (sin, cos) = x.sin_cos();
        match q as i64 & 3 {
            0 => (sin, cos),
            1 => (cos, -sin),
            2 => (-sin, -cos),
            _ => (-cos, sin),
        }
    }

    /// Every input the stream can give `sincos_turns`: s = k·2⁻²⁴, k in 0..2²⁴. The
    /// reference is the sine and cosine of 2π·s to f64 accuracy, so the error includes
    /// the rounding of x = f·2π to f32.
    #[test]
    fn sincos_max_ulp_error_on_stream_inputs() {
        let (mut ws, mut wc) = (0.0f64, 0.0f64);
        for k in 0..(1u32 << 24) {
            let s = k as f32 * (1.0 / 16_777_216.0);
            let (sin, cos) = sincos_turns(s);
            let (es, ec) = sincos_turns_f64(f64::from(s));
            ws = ws.max(ulp_error(sin, es));
            wc = wc.max(ulp_error(cos, ec));
        }
        eprintln!("sincos_turns: max error sin {ws:.3} ulp, cos {wc:.3} ulp");
        assert!(ws <= 2.0 && wc <= 2.0, "sin {ws} cos {wc}");
    }

    /// The polynomials alone, on f32 arguments in `[0, π/4]` (and so, by symmetry, `[−π/4, 0]`),
    /// against the f64 sine and cosine of the same f32 argument.
    #[test]
    fn sincos_poly_max_ulp_error() {
        let (mut ws, mut wc) = (0.0f64, 0.0f64);
        let end = (core::f32::consts::FRAC_PI_4 * (1.0 + f32::EPSILON)).to_bits();
        // Every 61st bit pattern: about 17 million arguments spread over all binades.
        for bits in (0..=end).step_by(61) {
            let x = f32::from_bits(bits);
            let (sin, cos) = sincos_poly(x);
            ws = ws.max(ulp_error(sin, f64::from(x).sin()));
            wc = wc.max(ulp_error(cos, f64::from(x).cos()));
        }
        eprintln!("sincos_poly on [0, π/4]: max error sin {ws:.3} ulp, cos {wc:.3} ulp");
        assert!(ws <= 2.0 && wc <= 2.0, "sin {ws} cos {wc}");
    }

    #[test]
    fn exact_points() {
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(sincos_turns(0.0), (0.0, 1.0));
        assert_eq!(sincos_turns(0.25), (1.0, 0.0));
        assert_eq!(sincos_turns(0.5), (-0.0, -1.0));
        assert_eq!(sincos_turns(0.75), (-1.0, 0.0));
    }
}
