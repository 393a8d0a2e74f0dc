//! The factors of one adapted matrix, method by method.
//!
//! Every function takes the base weight `W` as PyTorch's `nn.Linear` stores it: row-major
//! `[out, in]` (`m × n`), and gives `A` (`[r, in]`) and `B` (`[out, r]`) row-major, so that the
//! adapted layer computes `W' x + scaling · B·A x`.

use faer::MatRef;

use super::{Method, Svd};
use crate::error::{Error, Result};
use crate::init::{Initializer, VarianceScaling};
use crate::linalg;
use crate::stream::Philox;
use crate::{FanMode, Shape, TensorSpec};

/// `A`, `B` and what the factorization captured.
#[derive(Debug)]
pub(crate) struct Factors {
    /// `lora_A`, row-major `[r, in]`.
    pub a: Vec<f32>,
    /// `lora_B`, row-major `[out, r]`.
    pub b: Vec<f32>,
    /// The share of `‖W‖²_F` in `scaling · B·A` (PiSSA: `Σ_{i≤r} σ_i² / ‖W‖²_F`), for the
    /// methods that take it from `W`.
    pub captured: Option<f64>,
}

/// LoRA's and rsLoRA's factors, as PEFT's `reset_lora_parameters` with `init_lora_weights=True`:
/// `A` by `kaiming_uniform_(a=√5)` (the default `nn.Linear` init: U(−1/√in, 1/√in)), `B = 0`.
/// `A` is drawn from `stream`.
pub(crate) fn lora(out: usize, inp: usize, rank: usize, stream: &Philox) -> Result<Factors> {
    let spec = TensorSpec::new(Shape::new(vec![rank, inp])?);
    let rule =
        VarianceScaling::kaiming_uniform(FanMode::FanIn, crate::activation::Activation::leaky_relu(5f64.sqrt())?)?;
    let mut a = vec![0.0f32; rank * inp];
    rule.fill(&spec, stream, &mut a)?;
    Ok(Factors { a, b: vec![0.0; out * rank], captured: None })
}

/// Counts the non-finite values of a weight that is about to be factored.
fn check_finite(name: &str, w: &[f32]) -> Result<()> {
    let count = w.iter().filter(|v| !v.is_finite()).count() as u64;
    if count > 0 {
        return Err(Error::NonFiniteTensor { tensor: name.to_string(), count });
    }
    Ok(())
}

/// `‖W‖²_F` in `f64`.
fn frobenius2(w: &[f32]) -> f64 {
    w.iter().map(|&v| f64::from(v) * f64::from(v)).sum()
}

/// PiSSA (Meng, Wang and Zhang 2024), as PEFT's `pissa_init`: with `W ≈ U_r S_r V_rᵀ` the
/// leading `r` singular triplets, `A = diag(√(S_r/scaling))·V_rᵀ`, `B = U_r·diag(√(S_r/scaling))`,
/// and `W` is replaced in place by the residual `W − scaling·B·A = W − U_r S_r V_rᵀ`.
///
/// `svd` chooses faer's exact thin SVD (PEFT's `init_lora_weights="pissa"`) or a randomized
/// one (PEFT's `"pissa_niter_N"` does this with `torch.svd_lowrank`), whose test vectors come
/// from `stream`.
pub(crate) fn pissa(
    name: &str,
    w: &mut [f32],
    (m, n): (usize, usize),
    rank: usize,
    scaling: f64,
    svd: Svd,
    stream: &Philox,
) -> Result<Factors> {
    check_finite(name, w)?;
    let total = frobenius2(w);
    let top = {
        let view = MatRef::from_row_major_slice(w, m, n);
        match svd {
            Svd::Exact => linalg::exact_top_svd(view, rank),
            Svd::Randomized { oversample, power_iterations } => {
                linalg::randomized_top_svd(view, rank, linalg::Sketch { oversample, power_iterations }, stream)
            }
        }
    }
    .map_err(|()| Error::NoConvergence { what: "SVD", tensor: name.to_string() })?;
    let r = top.s.len();
    let roots: Vec<f32> = top.s.iter().map(|&s| (f64::from(s) / scaling).sqrt() as f32).collect();
    let mut a = vec![0.0f32; r * n];
    for (i, row) in a.chunks_exact_mut(n).enumerate() {
        for (j, x) in row.iter_mut().enumerate() {
            *x = roots[i] * top.v[(j, i)];
        }
    }
    let mut b = vec![0.0f32; m * r];
    for (o, row) in b.chunks_exact_mut(r).enumerate() {
        for (i, x) in row.iter_mut().enumerate() {
            *x = top.u[(o, i)] * roots[i];
        }
    }
    // The residual W − U_r·diag(S_r)·V_rᵀ.
    let mut us = top.u.clone();
    for (i, &s) in top.s.iter().enumerate() {
        us.col_mut(i).iter_mut().for_each(|x| *x *= s);
    }
    linalg::subtract_product(w, m, n, us.as_ref(), top.v.as_ref().transpose(), 1.0);
    let kept: f64 = top.s.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    Ok(Factors { a, b, captured: (total > 0.0).then(|| kept / total) })
}

/// OLoRA (Büyükakyüz 2024), as PEFT's `olora_init`: with `W = Q·R` the thin QR,
/// `B = Q[:, :r]`, `A = R[:r]`, and `W` is replaced in place by `W − scaling·B·A`. (Unlike
/// PiSSA, the factors are not divided by the scaling, so the residual depends on it.)
pub(crate) fn olora(name: &str, w: &mut [f32], (m, n): (usize, usize), rank: usize, scaling: f64) -> Result<Factors> {
    check_finite(name, w)?;
    let total = frobenius2(w);
    let (q, r) = linalg::leading_qr(MatRef::from_row_major_slice(w, m, n), rank);
    let k = q.ncols();
    let mut a = vec![0.0f32; k * n];
    for (i, row) in a.chunks_exact_mut(n).enumerate() {
        for (j, x) in row.iter_mut().enumerate() {
            *x = r[(i, j)];
        }
    }
    let mut b = vec![0.0f32; m * k];
    for (o, row) in b.chunks_exact_mut(k).enumerate() {
        for (i, x) in row.iter_mut().enumerate() {
            *x = q[(o, i)];
        }
    }
    linalg::subtract_product(w, m, n, q.as_ref(), r.as_ref(), scaling as f32);
    let kept = frobenius2(&a) * scaling * scaling;
    Ok(Factors { a, b, captured: (total > 0.0).then(|| kept / total) })
}

/// The factors of `method` for one matrix (`w` is replaced by the residual for the methods
/// that have one).
pub(crate) fn factors(
    opts: &super::Options,
    name: &str,
    w: Option<&mut [f32]>,
    shape: (usize, usize),
    stream: &Philox,
) -> Result<Factors> {
    let (method, rank, scaling) = (opts.method(), opts.rank(), opts.scaling());
    match (method, w) {
        (Method::Lora | Method::RsLora, _) => lora(shape.0, shape.1, rank, stream),
        (Method::Pissa, Some(w)) => pissa(name, w, shape, rank, scaling, opts.svd(), &stream.derive("pissa_sketch")),
        (Method::Olora, Some(w)) => olora(name, w, shape, rank, scaling),
        (Method::Pissa | Method::Olora, None) => {
            Err(Error::InvalidPlan { reason: format!("{} needs the base weight of `{name}`", method.name()) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A matrix with a known spectrum: `U diag(s) Vᵀ`, `U`, `V` orthonormal from Gaussians.
    pub(crate) fn with_spectrum(m: usize, n: usize, s: &[f64], seed: u64) -> Vec<f32> {
        let k = s.len();
        let mut u = vec![0.0f64; m * k];
        Philox::new(seed, "u").normal_f64(0, &mut u, 0.0, 1.0);
        crate::linalg::orthonormalize_f64(m, k, &mut u);
        let mut v = vec![0.0f64; n * k];
        Philox::new(seed, "v").normal_f64(0, &mut v, 0.0, 1.0);
        crate::linalg::orthonormalize_f64(n, k, &mut v);
        let mut w = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                w[i * n + j] = (0..k).map(|l| u[i * k + l] * s[l] * v[j * k + l]).sum::<f64>() as f32;
            }
        }
        w
    }

    fn reconstruct(f: &Factors, residual: &[f32], (m, n): (usize, usize), r: usize, scaling: f64) -> Vec<f64> {
        let mut out: Vec<f64> = residual.iter().map(|&x| f64::from(x)).collect();
        for i in 0..m {
            for j in 0..n {
                let ba: f64 = (0..r).map(|l| f64::from(f.b[i * r + l]) * f64::from(f.a[l * n + j])).sum();
                out[i * n + j] += scaling * ba;
            }
        }
        out
    }

    #[test]
    fn pissa_residual_plus_adapter_is_the_base_and_keeps_the_top_spectrum() {
        let (m, n, r) = (40, 30, 4);
        let spectrum: Vec<f64> = (0..30).map(|i| 10.0 * 0.7f64.powi(i)).collect();
        let base = with_spectrum(m, n, &spectrum, 3);
        for svd in [Svd::Exact, Svd::Randomized { oversample: 8, power_iterations: 4 }] {
            let mut w = base.clone();
            let scaling = 2.0;
            let f = pissa("w", &mut w, (m, n), r, scaling, svd, &Philox::new(0, "w")).unwrap();
            let back = reconstruct(&f, &w, (m, n), r, scaling);
            let err = back.iter().zip(&base).map(|(a, &b)| (a - f64::from(b)).abs()).fold(0.0, f64::max);
            assert!(err < 1e-4, "{svd:?}: {err}");
            let kept: f64 =
                spectrum[..r].iter().map(|s| s * s).sum::<f64>() / spectrum.iter().map(|s| s * s).sum::<f64>();
            assert!((f.captured.unwrap() - kept).abs() < 1e-5, "{svd:?}: {:?} vs {kept}", f.captured);
            // The residual's norm² is the tail of the spectrum (Eckart–Young).
            let tail: f64 = spectrum[r..].iter().map(|s| s * s).sum();
            assert!((frobenius2(&w) - tail).abs() < 1e-3 * tail, "{svd:?}");
        }
    }

    #[test]
    fn olora_factors_are_the_leading_qr() {
        let (m, n, r) = (12, 9, 3);
        let mut base = vec![0.0f32; m * n];
        Philox::new(1, "w").normal_f32(0, &mut base, 0.0, 1.0);
        let mut w = base.clone();
        let f = olora("w", &mut w, (m, n), r, 0.5).unwrap();
        // B has orthonormal columns, A is upper triangular in its first r columns.
        for a in 0..r {
            for b in 0..r {
                let dot: f64 = (0..m).map(|i| f64::from(f.b[i * r + a]) * f64::from(f.b[i * r + b])).sum();
                assert!((dot - f64::from(u8::from(a == b))).abs() < 1e-5);
            }
            for j in 0..a {
                assert!(f.a[a * n + j].abs() < 1e-5, "A[{a}, {j}] = {}", f.a[a * n + j]);
            }
            assert!(f.a[a * n + a] > 0.0);
        }
        let back = reconstruct(&f, &w, (m, n), r, 0.5);
        assert!(back.iter().zip(&base).all(|(a, &b)| (a - f64::from(b)).abs() < 1e-5));
    }

    #[test]
    fn lora_is_kaiming_uniform_a_sqrt5_and_b_zero() {
        let (out, inp, r) = (16, 400, 8);
        let f = lora(out, inp, r, &Philox::new(0, "a")).unwrap();
        let bound = 1.0 / (inp as f32).sqrt();
        assert!(f.a.iter().all(|x| x.abs() <= bound));
        assert!(f.b.iter().all(|&x| x == 0.0));
        assert!(f.a.iter().any(|x| x.abs() > 0.9 * bound));
    }

    #[test]
    fn non_finite_weights_are_refused() {
        let mut w = vec![1.0f32, f32::NAN, 2.0, 3.0];
        let e = pissa("w", &mut w, (2, 2), 1, 1.0, Svd::Exact, &Philox::new(0, "w")).unwrap_err();
        assert!(matches!(e, Error::NonFiniteTensor { count: 1, .. }), "{e}");
    }
}
