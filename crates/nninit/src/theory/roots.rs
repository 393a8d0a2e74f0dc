//! One-dimensional root finders: Brent's method and the bracketing searches built on it.

/// The stable fixed point c* ∈ \[0, 1) of a correlation map in the chaotic phase, from
/// h(c) = C(c) − c: h(0) ≥ 0 and h < 0 just below 1. `None` if no sign change is found
/// within 10⁻⁸ of 1.
pub(super) fn chaotic_c_star(h: impl Fn(f64) -> f64) -> Option<f64> {
    let h0 = h(0.0);
    if h0 <= 0.0 {
        return Some(0.0);
    }
    let mut delta = 0.5;
    while delta >= 1e-8 {
        let hi = 1.0 - delta;
        let hh = h(hi);
        if hh < 0.0 {
            // Narrow the bracket from below with the last point that had h ≥ 0.
            let lo = if delta < 0.5 { 1.0 - 10.0 * delta } else { 0.0 };
            let hl = if lo == 0.0 { h0 } else { h(lo) };
            let (lo, hl) = if hl >= 0.0 { (lo, hl) } else { (0.0, h0) };
            return Some(brent(&h, lo, hi, hl, hh, 1e-13, 1e-16));
        }
        delta = if delta == 0.5 { 0.1 } else { delta / 10.0 };
    }
    None
}

/// Brent's root finder on \[a, b\] with f(a)·f(b) < 0 given (Brent 1973, as in
/// Numerical Recipes' `zbrent`): stops when the bracket is below `xtol` or |f| ≤ `ftol`.
#[allow(clippy::too_many_arguments)]
pub(super) fn brent(f: impl Fn(f64) -> f64, a: f64, b: f64, fa: f64, fb: f64, xtol: f64, ftol: f64) -> f64 {
    let (mut a, mut b, mut fa, mut fb) = (a, b, fa, fb);
    let (mut c, mut fc) = (b, fb);
    let (mut d, mut e) = (b - a, b - a);
    for _ in 0..200 {
        if (fb > 0.0) == (fc > 0.0) {
            (c, fc) = (a, fa);
            d = b - a;
            e = d;
        }
        if fc.abs() < fb.abs() {
            (a, fa) = (b, fb);
            (b, fb) = (c, fc);
            (c, fc) = (a, fa);
        }
        let tol = 2.0 * f64::EPSILON * b.abs() + 0.5 * xtol;
        let m = 0.5 * (c - b);
        if m.abs() <= tol || fb.abs() <= ftol {
            return b;
        }
        if e.abs() >= tol && fa.abs() > fb.abs() {
            let s = fb / fa;
            let (mut p, mut q) = if a == c {
                (2.0 * m * s, 1.0 - s)
            } else {
                let (qa, r) = (fa / fc, fb / fc);
                (s * (2.0 * m * qa * (qa - r) - (b - a) * (r - 1.0)), (qa - 1.0) * (r - 1.0) * (s - 1.0))
            };
            if p > 0.0 {
                q = -q;
            }
            p = p.abs();
            if 2.0 * p < (3.0 * m * q - (tol * q).abs()).min((e * q).abs()) {
                e = d;
                d = p / q;
            } else {
                d = m;
                e = d;
            }
        } else {
            d = m;
            e = d;
        }
        (a, fa) = (b, fb);
        b += if d.abs() > tol { d } else { tol.copysign(m) };
        fb = f(b);
        if !fb.is_finite() {
            return a;
        }
    }
    b
}
