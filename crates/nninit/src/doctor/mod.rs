//! The doctor: what a checkpoint's weights say, and what is wrong with them.
//!
//! [`examine`] reads every floating-point tensor of a [`Checkpoint`]
//! (memory-mapped, in parallel) and reports:
//!
//! - **statistics** ([`Stats`]): dtype, shape, mean, std, min, max, NaN/∞,
//!   zero and subnormal counts with their first indices, the fraction beyond
//!   6 std, excess kurtosis, and std·√fan_in (fans from the
//!   [`fan`](crate::fan) module, through the plan's layout);
//! - **spectra** ([`Spectral`]) of matrices (rank ≥ 2, viewed through the
//!   plan's layout as the layer's `[out, in · receptive field]` matrix, see
//!   [`MatrixView`]): the spectral norm by [`SPECTRAL_ITERATIONS`] passes
//!   of Lanczos on WᵀW, and the distance from orthogonality;
//! - **schemes**: with a model (`config.json`), nninit builds its own
//!   [`crate::plan::Plan`] under every scheme ([`crate::scheme`]) and
//!   tests each tensor against the rule that scheme gives it ([`RuleTest`]:
//!   mean, variance and kurtosis against their sampling distributions, see
//!   [`rules`](self::RuleTest));
//! - a **verdict** ([`Verdict`]) and **findings** ranked by severity, each
//!   with its fix; the **lints** name the init bugs users report (a tied
//!   head that differs from its embedding, an untied head off its scheme's
//!   scale, norms not at their init value, an ignored `initializer_range`,
//!   NaN/∞/subnormal garbage, exact zeros no scheme gives, a truncation never
//!   applied, layers that make the signal explode or vanish), with
//!   statistical thresholds at [`P_LIMIT`] (see docs/doctor.md).
//!
//! # Spectral accuracy
//! Each pass over a matrix is one product with A = WᵀW; the Lanczos recurrence
//! over them gives a lower bound on σ_max² (the largest Ritz value, and ‖A q‖ for
//! each unit Lanczos vector q), which converges about as fast as power iteration
//! with the square of the passes. Matrices of i.i.d. entries are the hard case
//! (no gap at the top of the Marchenko–Pastur spectrum); after
//! [`SPECTRAL_ITERATIONS`] passes the estimate is within [`SPECTRAL_ACCURACY`] of
//! σ_max on them (measured against an exact SVD in the tests: 5–8 % low at sizes
//! from 128×512 to 2048×512; the power iteration it replaced needed 8 passes for the same bound),
//! and much closer when a few directions dominate (trained weights).
//!
//! # Passes over the data
//! The statistics read each tensor once ([`Stats`]: the 6-std outlier count
//! re-reads only blocks whose extremes reach it), the spectra
//! [`SPECTRAL_ITERATIONS`] times; the work is split into pieces that do not
//! depend on the thread count and merged in order, so a report is the same
//! bits on every run (the `seconds` field aside). Matrices of more than [`SPECTRAL_MAX_ELEMENTS`]
//! elements (embedding tables and vocabulary heads) are skipped, and the
//! report says so.
//!
//! The distance from orthogonality is `‖W Wᵀ/c − I‖_F/√m` over the smaller
//! side m with `c = ‖W‖_F²/m`, which equals `√(m·Σσᵢ⁴/(Σσᵢ²)² − 1)`; Σσᵢ² is
//! exact and Σσᵢ⁴/Σσᵢ² is estimated by `‖A z‖²/(zᵀ A z)` for the Gaussian
//! start z of the Lanczos recurrence, which is exact for scaled orthogonal
//! matrices (distance 0) and within a few percent for i.i.d. ones (distance
//! √(m/n)) at the sizes of real layers.

mod findings;
mod fits;
mod lints;
mod report;
mod rules;
#[cfg(target_arch = "x86_64")]
mod simd;
mod stats;

pub use report::{Finding, Report, SchemeFit, Severity, TensorReport, Verdict};
pub use rules::RuleTest;
pub use stats::{Spectral, Stats};

use fits::SchemePlan;

use crate::arch::Model;
use crate::error::{Error, Result};
use crate::fan::{Layout, MatrixView};
use crate::io::{Checkpoint, StoredTensor};
use crate::plan::Plan;
use crate::scheme::Scheme;
use crate::spec::TensorSpec;
use crate::tensor::{DType, Shape};

/// A statistic further than this many standard errors from the rule's value
/// rejects the rule (two-sided p = 5.7·10⁻⁷ per statistic, so a model with
/// a thousand tensors tested on three statistics wrongly rejects its own
/// scheme with probability below 0.2%).
pub const Z_LIMIT: f64 = 5.0;

/// A count of rare values (zeros, subnormals) whose probability under the
/// rule's sampling distribution is below this is a finding: the two-sided
/// normal tail beyond [`Z_LIMIT`], 2·(1 − Φ(5)), so count lints and the
/// z-tests share one false-alarm rate.
pub const P_LIMIT: f64 = 5.733_031e-7;

/// The kurtosis is tested only from this many values on (below, the sample
/// kurtosis is too skewed for a normal approximation at [`Z_LIMIT`]).
pub const SHAPE_MIN_COUNT: u64 = 20_000;

/// Lanczos passes per matrix (each reads the matrix once).
pub const SPECTRAL_ITERATIONS: usize = 4;

/// The relative accuracy of the spectral norm on i.i.d. matrices after
/// [`SPECTRAL_ITERATIONS`] passes (the estimate is low by at most this).
pub const SPECTRAL_ACCURACY: f64 = 0.10;

/// The most spectral passes [`Options::iterations`] may ask for: each
/// pass reads every matrix once, so 1000 passes over a 1 B-parameter
/// checkpoint already read terabytes.
pub const MAX_SPECTRAL_ITERATIONS: usize = 1000;

/// Matrices above this many elements get no spectral analysis.
pub const SPECTRAL_MAX_ELEMENTS: u64 = 1 << 25;

/// Above this std·√fan_in a hidden layer multiplies the RMS of its input by
/// more than 2 (Kaiming's √2 compensates ReLU's halving; 2 has no such reason).
pub const GROWTH_LIMIT: f64 = 2.0;

/// Options of [`examine`].
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// The scheme the checkpoint must follow (`--expect`).
    pub expect: Option<Scheme>,
    /// Spectral (Lanczos) passes per matrix, 0 (no spectra) to
    /// [`MAX_SPECTRAL_ITERATIONS`].
    pub iterations: usize,
}

impl Options {
    /// Checks the counts a user controls.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] for more than [`MAX_SPECTRAL_ITERATIONS`] iterations.
    pub fn check(&self) -> Result<()> {
        if self.iterations > MAX_SPECTRAL_ITERATIONS {
            return Err(Error::OutOfRange {
                what: "spectral iterations (--iterations)".into(),
                value: self.iterations as i128,
                min: 0,
                max: MAX_SPECTRAL_ITERATIONS as u64,
            });
        }
        Ok(())
    }
}

impl Default for Options {
    fn default() -> Self {
        Self { expect: None, iterations: SPECTRAL_ITERATIONS }
    }
}

/// Examines a checkpoint. With `model` (from its `config.json` or given),
/// tests every tensor against every scheme nninit knows; with
/// `options.expect`, records whether the checkpoint follows that scheme.
///
/// # Errors
/// [`Error::OutOfRange`] for more than [`MAX_SPECTRAL_ITERATIONS`]
/// iterations (checked before anything is read), [`Error::InvalidConfig`]
/// when `options.expect` is given without a model.
pub fn examine(checkpoint: &Checkpoint, model: Option<&Model>, options: &Options) -> Result<Report> {
    options.check()?;
    if options.expect.is_some() && model.is_none() {
        return Err(Error::InvalidConfig {
            reason: "--expect needs the model's config.json (beside the weights, or --config FILE)".into(),
        });
    }
    let mut schemes: Vec<Scheme> = fits::candidates();
    if let Some(e) = options.expect
        && !schemes.contains(&e)
    {
        schemes.push(e);
    }
    let plans: Vec<SchemePlan> = match model {
        Some(m) => schemes
            .iter()
            .map(|&scheme| {
                let plan = m.plan(DType::F32).and_then(|mut p| scheme.apply(m, &mut p).map(|()| p));
                SchemePlan { scheme, plan }
            })
            .collect(),
        None => Vec::new(),
    };
    let base_plan = plans.first().and_then(|p| p.plan.as_ref().ok());
    let mut notes = vec![format!(
        "tests: mean, variance and (n ≥ {SHAPE_MIN_COUNT}) kurtosis against each rule's sampling distribution, \
         rejected beyond |z| = {Z_LIMIT}"
    )];
    if options.iterations > 0 {
        notes.push(format!(
            "spectral norm: {} Lanczos passes on WᵀW, a lower bound within {:.0}% on i.i.d. matrices; \
             matrices over {SPECTRAL_MAX_ELEMENTS} elements skipped",
            options.iterations,
            SPECTRAL_ACCURACY * 100.0
        ));
    }
    if model.is_none() {
        notes.push("no config.json: no scheme tests; fans assume PyTorch's [out, in, ...] layout".into());
    }

    let mut tensors = Vec::with_capacity(checkpoint.tensors().len());
    for stored in checkpoint.tensors() {
        tensors.push(tensor_report(checkpoint, stored, base_plan, &plans, options));
    }

    let fits = fits::fits(&plans, &tensors, checkpoint);
    let verdict = fits::verdict(&fits, &tensors, base_plan, model.is_some());
    let mut findings = findings::findings(&tensors, &verdict, &plans);
    let ctx = lints::Context {
        checkpoint,
        tensors: &tensors,
        verdict: &verdict,
        plans: &plans,
        model,
        expect: options.expect,
    };
    let linted = lints::lints(&ctx);
    // A lint that names the bug replaces the generic rule mismatch on its tensor
    // (on every tensor, for a lint about the whole model).
    let whole = linted.iter().any(|f| f.kind == lints::RANGE_KIND);
    findings.retain(|f| {
        f.kind != "rule_mismatch" || !(whole || linted.iter().any(|l| l.tensor.is_some() && l.tensor == f.tensor))
    });
    findings.extend(linted);
    let expected_followed = options.expect.map(|e| {
        let fit = fits.iter().find(|f| f.scheme == e.label());
        let ok = fit.is_some_and(|f| f.not_applicable.is_none() && f.tested > 0 && f.consistent == f.tested);
        if !ok {
            findings::expect_findings(e, fit, &tensors, &mut findings);
        }
        ok
    });
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let mut fits = fits;
    fits.sort_by(|a, b| b.parameter_fraction.total_cmp(&a.parameter_fraction));
    Ok(Report {
        path: checkpoint.root().display().to_string(),
        model: model.map(|m| format!("{} ({})", m.model_type(), m.model_class())),
        tensor_count: tensors.len(),
        parameters: checkpoint.tensors().iter().map(StoredTensor::numel).sum(),
        bytes: checkpoint.data_bytes(),
        verdict,
        schemes: fits,
        findings,
        expected_followed,
        notes,
        tensors,
    })
}

fn tensor_report(
    checkpoint: &Checkpoint,
    stored: &StoredTensor,
    base_plan: Option<&Plan>,
    plans: &[SchemePlan],
    options: &Options,
) -> TensorReport {
    let planned = base_plan.and_then(|p| p.get(&stored.name));
    let mut report = TensorReport {
        name: stored.name.clone(),
        dtype: stored.dtype.name(),
        shape: stored.shape.clone(),
        role: planned.map(|p| p.role),
        stats: None,
        fan_in: None,
        std_sqrt_fan_in: None,
        spectral: None,
        spectral_skipped: None,
        consistent_with: Vec::new(),
        tests: Vec::new(),
    };
    if stored.dtype.float().is_none() || stored.numel() == 0 {
        return report;
    }
    let bytes = checkpoint.data(stored);
    let s = stats::stats(stored.dtype, bytes);
    // The plan's spec (layout, a bias's weight fans) when the plan has the tensor
    // with this shape; else PyTorch's layout.
    let spec = planned
        .filter(|p| p.spec.shape().dims() == stored.shape.as_slice())
        .map(|p| p.spec.clone())
        .or_else(|| Shape::new(stored.shape.clone()).ok().map(|s| TensorSpec::new(s).with_layout(Layout::Torch)));
    if let Some(fan) = spec.as_ref().filter(|_| stored.shape.len() >= 2).and_then(|sp| sp.fan().ok()) {
        report.fan_in = Some(fan.fan_in());
        report.std_sqrt_fan_in = Some(s.std * (fan.fan_in() as f64).sqrt());
    }
    if stored.shape.len() >= 2 && options.iterations > 0 {
        if stored.numel() > SPECTRAL_MAX_ELEMENTS {
            report.spectral_skipped = Some(format!(
                "{} elements > {SPECTRAL_MAX_ELEMENTS} (embedding/head-sized): {} passes would read {:.0} MB",
                stored.numel(),
                options.iterations,
                bytes.len() as f64 * options.iterations as f64 / 1e6
            ));
        } else if s.nan + s.inf > 0 {
            report.spectral_skipped = Some("non-finite values".into());
        } else if let Some(spec) = &spec {
            let sumsq = s.rms * s.rms * s.count as f64;
            report.spectral = layer_spectral(spec, stored, bytes, sumsq, options.iterations);
        }
    }
    for sp in plans {
        let Some(planned) = sp.get(&stored.name) else { continue };
        if planned.spec.shape().dims() != stored.shape.as_slice() {
            continue;
        }
        let tested = match &planned.init {
            Some(init) => rules::test(&sp.scheme.label(), init, &planned.spec, stored.dtype, &s),
            // A fused tensor whose parts take rules of their own: each part against its rule.
            None if planned.has_part_rules() => rules::test_parts(&sp.scheme.label(), planned, stored.dtype, bytes),
            None => continue,
        };
        if let Ok(t) = tested {
            if t.consistent {
                report.consistent_with.push(t.scheme.clone());
            }
            report.tests.push(t);
        }
    }
    report.stats = Some(s);
    report
}

/// The spectrum of the layer's `[out, in · receptive field]` matrix
/// ([`MatrixView`] under the spec's layout). Singular values do not change
/// when rows or columns are permuted or the matrix is transposed, so where
/// the output axes are a leading or trailing run of the storage axes (PyTorch
/// `[out, in, k…]`, JAX `[k…, in, out]`) the stored bytes are read in place
/// as `[prefix, suffix]`; otherwise (a transposed convolution's `[in, out, k…]`)
/// the matrix is gathered first.
fn layer_spectral(
    spec: &TensorSpec,
    stored: &StoredTensor,
    bytes: &[u8],
    sumsq: f64,
    iterations: usize,
) -> Option<Spectral> {
    let shape = spec.shape();
    let view = MatrixView::new(shape, spec.layout()).ok()?;
    let mut outputs = spec.layout().roles(shape).ok()?.outputs;
    outputs.sort_unstable();
    let rank = shape.rank();
    let dims = shape.dims();
    let split = if outputs.iter().enumerate().all(|(i, &a)| a == i) {
        Some(outputs.len())
    } else if outputs.iter().rev().enumerate().all(|(i, &a)| a == rank - 1 - i) {
        Some(rank - outputs.len())
    } else {
        None
    };
    let spectral = match split {
        Some(k) => {
            let rows = dims[..k].iter().product();
            let cols = dims[k..].iter().product();
            stats::spectral(stored.dtype, bytes, rows, cols, sumsq, iterations, &stored.name)
        }
        None => {
            let gathered = stats::gather(stored.dtype, bytes, &view);
            let f32s = crate::io::StoredDType::F32;
            stats::spectral(f32s, &gathered, view.rows(), view.cols(), sumsq, iterations, &stored.name)
        }
    }?;
    Some(Spectral { rows: view.rows(), cols: view.cols(), ..spectral })
}

#[cfg(test)]
mod tests;
