//! The probe: what a network does to a real batch at initialization.
//!
//! One forward and one backward pass on a real batch give, per hidden layer, the mean and std
//! of the activations, the fraction of dead and saturated units, the std of the loss gradient
//! with respect to the weight and to the pre-activation; the input–output Jacobian's
//! singular values (MLPs up to width 1024); and a verdict: healthy, drifting, vanishing or
//! exploding, graded by the total factor over the network and, for MLPs, mean-field theory's
//! trainable depth at the measured weight statistics (see [`verdict`]).

use burn::tensor::Device;
use faer::Mat;
use nninit::activation::Activation;
use nninit::theory::{MeanField, Phase};

use crate::error::Result;
use crate::loss::{LossKind, batch_loss};
use crate::model::{Bias, HostHidden, LayerWeights, ModelSpec, Network, Residual};
use crate::record::{LayerStats, ModelKind, Probe, SignalKind, Spectrum, Verdict};

/// Widest MLP whose Jacobian spectrum the probe computes (a dense SVD of width² entries).
pub const MAX_JACOBIAN_WIDTH: usize = 1024;

/// Whether the activation saturates at both ends (its derivative tends to 0), so that the
/// saturated fraction is meaningful.
fn saturates(activation: Activation) -> bool {
    matches!(activation, Activation::Tanh | Activation::Sigmoid | Activation::Hardtanh { .. })
}

/// Runs the probe on one batch (`x` flattened row-major, `y` the labels).
///
/// # Errors
/// Model errors; numerical failures of the SVD are reported as a missing spectrum, not an error.
pub fn probe(spec: &ModelSpec, net: &Network, x: &[f32], y: &[u8], loss: LossKind, device: &Device) -> Result<Probe> {
    let batch = y.len();
    let shapes = spec.layers()?;
    let first = net.forward(spec, Network::input(spec, x.to_vec(), batch, device), None);
    let leaves: Vec<_> = first.preacts.iter().map(|p| p.zeros_tracked()).collect();
    let fwd = net.forward(spec, Network::input(spec, x.to_vec(), batch, device), Some(&leaves));
    let loss_value = batch_loss(loss, fwd.logits.clone(), y, spec.classes, device);
    let grads = loss_value.backward();

    let mut layers = Vec::with_capacity(fwd.preacts.len());
    let mut preacts_host = Vec::with_capacity(fwd.preacts.len());
    for (l, ((pre, a), leaf)) in fwd.preacts.iter().zip(&fwd.acts).zip(&leaves).enumerate() {
        let pre = pre.to_host();
        let a = a.to_host();
        let (act_mean, act_std) = mean_std(&a.values);
        let (_, preact_std) = mean_std(&pre.values);
        let weight_grad = match spec.kind {
            ModelKind::Mlp => net.hidden[l].weight.val().grad(&grads).map(|g| crate::model::host(g.into_data())),
            ModelKind::Cnn => net.conv[l].weight.val().grad(&grads).map(|g| crate::model::host(g.into_data())),
        };
        let grad_std = weight_grad.map_or(f64::NAN, |g| mean_std(&g).1);
        let backprop_std = leaf.grad_host(&grads).map_or(f64::NAN, |g| mean_std(&g.values).1);
        layers.push(LayerStats {
            layer: l + 1,
            name: shapes[l].name.clone(),
            act_mean,
            act_std,
            preact_std,
            dead_fraction: dead_fraction(spec.activation, &pre),
            saturated_fraction: if saturates(spec.activation) {
                let n = pre.values.len().max(1) as f64;
                pre.values.iter().filter(|&&z| spec.activation.derivative(f64::from(z)).abs() < 0.01).count() as f64 / n
            } else {
                0.0
            },
            grad_std,
            backprop_std,
        });
        preacts_host.push(pre);
    }
    // Mean-field theory describes plain MLPs: for them the hidden weights come to the host once,
    // for the Jacobian and for the theory's (σ_w², σ_b²) that both the spectrum and the verdict use.
    let plain_mlp = spec.kind == ModelKind::Mlp && spec.residual == Residual::Off && spec.depth >= 2;
    let weights = if plain_mlp { net.weights() } else { Vec::new() };
    let mean_field = if plain_mlp { measured_mean_field(spec, &weights) } else { None };
    let jacobian = if plain_mlp && spec.width <= MAX_JACOBIAN_WIDTH {
        jacobian_spectrum(spec, &weights, &preacts_host, mean_field.as_ref())
    } else {
        None
    };
    let q1 = preacts_host.first().map_or(1.0, |p| second_moment(&p.values));
    let verdict = verdict(&layers, mean_field.and_then(|mf| theory_depth(&mf, q1)));
    Ok(Probe { layers, jacobian, verdict })
}

/// Mean and (population) standard deviation, accumulated in f64; NaN for an empty slice.
pub fn mean_std(values: &[f32]) -> (f64, f64) {
    let m = nninit::stats::Moments::from_values(values.iter().map(|&v| f64::from(v)));
    (m.mean(), m.std())
}

/// The raw second moment E[x²] (mean-field theory's length), accumulated in f64; 0 for an empty slice.
fn second_moment(values: &[f32]) -> f64 {
    values.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / values.len().max(1) as f64
}

/// Fraction of units (channels for a CNN) whose activation derivative is zero at every
/// example and position of the batch.
fn dead_fraction(activation: Activation, pre: &HostHidden) -> f64 {
    if pre.units == 0 {
        return 0.0;
    }
    let dead = (0..pre.units)
        .filter(|&u| {
            (0..pre.batch).all(|b| {
                let start = (b * pre.units + u) * pre.spatial;
                pre.values[start..start + pre.spatial].iter().all(|&z| activation.derivative(f64::from(z)) == 0.0)
            })
        })
        .count();
    dead as f64 / pre.units as f64
}

/// The singular values of ∂h^L/∂h^1, the Jacobian from the first hidden pre-activation to the
/// last, at the batch's first example; and mean-field theory's mean squared singular value
/// ∏ χ₁(q^l) along the example's length trajectory (χ₁^(L−1) once at the fixed point q*), with
/// σ_w² and σ_b² measured from the network's own hidden weights and biases.
fn jacobian_spectrum(
    spec: &ModelSpec,
    weights: &[LayerWeights],
    preacts: &[HostHidden],
    mean_field: Option<&MeanField>,
) -> Option<Spectrum> {
    let n = spec.width;
    // Row convention (burn's Linear is y = x W): dz^{l+1} = dz^l · D_l · W_{l+1}.
    let mut jac = Mat::<f64>::identity(n, n);
    for l in 0..spec.depth - 1 {
        let d: Vec<f64> = preacts[l].values[..n].iter().map(|&z| spec.activation.derivative(f64::from(z))).collect();
        let w = &weights[l + 1].weight;
        let w_mat = Mat::<f64>::from_fn(n, n, |i, j| d[i] * f64::from(w[i * n + j]));
        jac = &jac * &w_mat;
    }
    let values = jac.as_ref().singular_values().ok()?;
    if values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let mean_squared = values.iter().map(|v| v * v).sum::<f64>() / values.len() as f64;
    // Mean field along this input's own length trajectory: q¹ is the example's measured
    // pre-activation second moment, q^{l+1} = V(q^l), and each layer multiplies the mean squared
    // singular value by χ₁(q^l) = σ_w² E[φ′(√q^l z)²] (at the fixed point, χ₁^(L−1)).
    let q1 = second_moment(&preacts[0].values[..n]);
    let theory_mean_squared = mean_field
        .map(|mf| {
            let (mut q, mut product) = (q1, 1.0);
            for _ in 1..spec.depth {
                product *= mf.chi1(q);
                q = mf.length_map(q);
            }
            product
        })
        .filter(|v| v.is_finite());
    Some(Spectrum { singular_values: values, mean_squared, theory_mean_squared })
}

/// Over the whole network (first hidden layer to last), a total factor within this is healthy.
pub const HEALTHY_TOTAL: f64 = 2.0;

/// A total factor (activation std or back-propagated gradient std, first hidden layer to last) beyond
/// this means the network will not train as it is: calibrated on the lab's recorded runs
/// (docs/REPRODUCTIONS.md, "The probe's verdict against training"). Between [`HEALTHY_TOTAL`] and this
/// the verdict is [`SignalKind::Drifting`], with the number.
pub const FAILING_TOTAL: f64 = 100.0;

/// Mean-field theory at a network's measured weight statistics: what [`verdict`] uses besides the
/// measured factors.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TheoryDepth {
    /// The trainable depth 6 ξ_c (∞ at the edge of chaos).
    pub trainable_depth: f64,
    /// The phase: beyond the trainable depth an ordered network vanishes, a chaotic one explodes.
    pub phase: Phase,
}

/// The theory's trainable depth for an MLP without residual connections, at its measured mean field
/// ([`measured_mean_field`]) and the first hidden layer's measured length q¹.
fn theory_depth(mf: &MeanField, q1: f64) -> Option<TheoryDepth> {
    let a = mf.analyze_from(q1).ok()?;
    Some(TheoryDepth { trainable_depth: a.trainable_depth, phase: a.phase })
}

/// The mean-field model of an MLP's hidden-to-hidden layers: σ_w² = fan_in · E[w²] and σ_b² = E[b²],
/// averaged over the layers.
fn measured_mean_field(spec: &ModelSpec, weights: &[LayerWeights]) -> Option<MeanField> {
    let n = spec.width as f64;
    let avg = |v: &[f64]| if v.is_empty() { 0.0 } else { v.iter().sum::<f64>() / v.len() as f64 };
    let hidden = weights.get(1..spec.depth)?;
    let sigma_w2: Vec<f64> = hidden.iter().map(|l| second_moment(&l.weight) * n).collect();
    let sigma_b2: Vec<f64> = match spec.bias {
        Bias::On => hidden
            .iter()
            .filter_map(|l| l.bias.as_ref())
            .map(|b| {
                let (m, s) = mean_std(b);
                s * s + m * m
            })
            .collect(),
        Bias::Off => Vec::new(),
    };
    MeanField::new(spec.activation, avg(&sigma_w2), avg(&sigma_b2)).ok()
}

/// The verdict from the per-layer statistics, graded by what the whole depth does.
///
/// The rates are the geometric-mean factors by which the activation std changes from one layer to the
/// next, and the pre-activation gradient std from the last layer back to the first; the totals are
/// those factors over the network (rate^(L−1)). The worse of the two totals decides:
///
/// - **exploding** when anything overflows, or the total grows past [`FAILING_TOTAL`];
/// - **vanishing** when it shrinks past 1/[`FAILING_TOTAL`];
/// - where mean-field theory applies (`theory`, an MLP), a depth beyond the trainable depth 6 ξ_c is
///   also vanishing (ordered phase: the inputs' correlations collapse) or exploding (chaotic);
/// - **drifting** when the total is beyond [`HEALTHY_TOTAL`] but within [`FAILING_TOTAL`]: the
///   network trains as it is, and the sentence says by how much its signal drifts;
/// - **healthy** otherwise.
///
/// So vanishing and exploding mean "will not train as it is". The thresholds come from the lab's own
/// runs (docs/REPRODUCTIONS.md has the table of verdicts against outcomes).
pub fn verdict(layers: &[LayerStats], theory: Option<TheoryDepth>) -> Verdict {
    let rate = |first: f64, last: f64| {
        let steps = layers.len().saturating_sub(1).max(1) as f64;
        let (first, last) = (first.max(1e-300), last.max(1e-300));
        (last.ln() - first.ln()) / steps
    };
    let trainable_depth = theory.map(|t| t.trainable_depth).filter(|d| d.is_finite());
    let (Some(first), Some(last)) = (layers.first(), layers.last()) else {
        return Verdict {
            kind: SignalKind::Healthy,
            forward_rate: 1.0,
            backward_rate: 1.0,
            trainable_depth,
            sentence: "no hidden layers to probe".into(),
        };
    };
    let nonfinite = layers.iter().any(|l| !l.act_std.is_finite() || !l.backprop_std.is_finite());
    let fwd = rate(first.act_std, last.act_std);
    let bwd = rate(last.backprop_std, first.backprop_std);
    let (forward_rate, backward_rate) = (fwd.exp(), bwd.exp());
    let depth = layers.len();
    let steps = depth.saturating_sub(1) as f64;
    let total = |r: f64| r.powf(steps);
    // The worse of the two directions, as a log total factor over the network.
    let (name, worst_rate, worst) = if fwd.abs() >= bwd.abs() {
        ("activations", forward_rate, fwd * steps)
    } else {
        ("gradients (from the output back to the input)", backward_rate, bwd * steps)
    };
    let beyond_theory = theory.filter(|t| (depth as f64) > t.trainable_depth);
    let kind = if nonfinite {
        SignalKind::Exploding
    } else if worst.abs() > FAILING_TOTAL.ln() {
        if worst < 0.0 { SignalKind::Vanishing } else { SignalKind::Exploding }
    } else if let Some(t) = beyond_theory {
        if t.phase == Phase::Chaotic { SignalKind::Exploding } else { SignalKind::Vanishing }
    } else if worst.abs() > HEALTHY_TOTAL.ln() {
        SignalKind::Drifting
    } else {
        SignalKind::Healthy
    };
    let advice = |kind: SignalKind| {
        if kind == SignalKind::Vanishing {
            "increase the weight scale (He for ReLU, Xavier/LeCun-style fans for tanh) or use LSUV"
        } else {
            "decrease the weight scale to the fan-based std for this activation"
        }
    };
    let sentence = match kind {
        SignalKind::Healthy => format!(
            "healthy: activations change {forward_rate:.3}x and gradients {backward_rate:.3}x per layer \
             ({:.2}x and {:.2}x over {depth} layers)",
            total(forward_rate),
            total(backward_rate)
        ),
        _ if nonfinite => "exploding: activations or gradients overflow to infinity or NaN".to_string(),
        SignalKind::Drifting => format!(
            "drifting: {name} change {worst_rate:.3}x per layer, {:.3}x over {depth} layers: more than {HEALTHY_TOTAL}x \
             but within the {FAILING_TOTAL}x past which the lab's runs did not train, so it trains as it is; \
             to level it, {}",
            total(worst_rate),
            advice(if worst < 0.0 { SignalKind::Vanishing } else { SignalKind::Exploding })
        ),
        SignalKind::Vanishing | SignalKind::Exploding if worst.abs() > FAILING_TOTAL.ln() => {
            let what = if kind == SignalKind::Vanishing { "vanishing" } else { "exploding" };
            format!(
                "{what}: {name} change {worst_rate:.3}x per layer, {:.3e}x over {depth} layers, past the {FAILING_TOTAL}x \
                 beyond which the lab's runs did not train; {}",
                total(worst_rate),
                advice(kind)
            )
        }
        SignalKind::Vanishing | SignalKind::Exploding => {
            let t = beyond_theory.map_or(f64::NAN, |t| t.trainable_depth);
            let (what, how) = if kind == SignalKind::Vanishing {
                ("vanishing", "ordered phase: the inputs' correlations collapse toward 1")
            } else {
                ("exploding", "chaotic phase: nearby inputs decorrelate")
            };
            format!(
                "{what}: depth {depth} is beyond mean-field theory's trainable depth 6ξ_c = {t:.1} at the measured \
                 weight variance ({how}), though {name} change only {worst_rate:.3}x per layer ({:.3}x over the \
                 network); move sigma_w2 toward the edge of chaos (`nninit theory ACTIVATION --recommend --depth {depth}`)",
                total(worst_rate)
            )
        }
    };
    Verdict { kind, forward_rate, backward_rate, trainable_depth, sentence }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(l: usize, act_std: f64, backprop_std: f64) -> LayerStats {
        LayerStats {
            layer: l,
            name: format!("hidden.{l}"),
            act_mean: 0.0,
            act_std,
            preact_std: act_std,
            dead_fraction: 0.0,
            saturated_fraction: 0.0,
            grad_std: 1.0,
            backprop_std,
        }
    }

    #[test]
    fn verdict_names_vanishing_with_its_rate() {
        let layers: Vec<_> = (0..11).map(|l| layer(l + 1, 0.5f64.powi(l as i32), 1.0)).collect();
        let v = verdict(&layers, None);
        assert_eq!(v.kind, SignalKind::Vanishing);
        assert!((v.forward_rate - 0.5).abs() < 1e-12, "{}", v.forward_rate);
        assert!(v.sentence.starts_with("vanishing: activations change 0.500x"), "{}", v.sentence);
    }

    /// Activations changing by `total` from the first of 11 layers to the last.
    fn over_ten_steps(total: f64) -> Vec<LayerStats> {
        (0..11).map(|l| layer(l + 1, total.powf(l as f64 / 10.0), 1.0)).collect()
    }

    #[test]
    fn verdict_thresholds_are_totals_over_the_network() {
        assert_eq!(verdict(&over_ten_steps(1.9), None).kind, SignalKind::Healthy);
        assert_eq!(verdict(&over_ten_steps(1.0 / 1.9), None).kind, SignalKind::Healthy);
        assert_eq!(verdict(&over_ten_steps(2.1), None).kind, SignalKind::Drifting);
        assert_eq!(verdict(&over_ten_steps(1.0 / 2.1), None).kind, SignalKind::Drifting);
        let inside = 0.99 * FAILING_TOTAL;
        let outside = 1.01 * FAILING_TOTAL;
        assert_eq!(verdict(&over_ten_steps(inside), None).kind, SignalKind::Drifting);
        assert_eq!(verdict(&over_ten_steps(1.0 / inside), None).kind, SignalKind::Drifting);
        assert_eq!(verdict(&over_ten_steps(outside), None).kind, SignalKind::Exploding);
        assert_eq!(verdict(&over_ten_steps(1.0 / outside), None).kind, SignalKind::Vanishing);
    }

    #[test]
    fn a_mild_drift_is_reported_with_its_number() {
        // The quick experiment's tanh-d20 under LSUV: gradients 1.087x per layer, 4.9x over 20 layers,
        // and it trains to 97.6 %.
        let layers: Vec<_> = (0..20).map(|l| layer(l + 1, 1.0, 1.087f64.powi(19 - l as i32))).collect();
        let v = verdict(&layers, None);
        assert_eq!(v.kind, SignalKind::Drifting, "{}", v.sentence);
        assert!(v.sentence.starts_with("drifting: gradients"), "{}", v.sentence);
        assert!(v.sentence.contains("1.087x per layer, 4.879x over 20 layers"), "{}", v.sentence);
    }

    #[test]
    fn exploding_gradients_are_named_even_when_activations_are_fine() {
        // Gradients grow 1.7x per layer going back: last layer 1, first layer 1.7^10 ≈ 200.
        let layers: Vec<_> = (0..11).map(|l| layer(l + 1, 1.0, 1.7f64.powi(10 - l as i32))).collect();
        let v = verdict(&layers, None);
        assert_eq!(v.kind, SignalKind::Exploding);
        assert!((v.backward_rate - 1.7).abs() < 1e-9, "{}", v.backward_rate);
        assert!(v.sentence.contains("gradients"), "{}", v.sentence);
    }

    #[test]
    fn beyond_the_theorys_trainable_depth_a_mild_drift_will_not_train() {
        let layers = over_ten_steps(1.5);
        let ordered = TheoryDepth { trainable_depth: 8.0, phase: Phase::Ordered };
        let chaotic = TheoryDepth { trainable_depth: 8.0, phase: Phase::Chaotic };
        let v = verdict(&layers, Some(ordered));
        assert_eq!(v.kind, SignalKind::Vanishing, "{}", v.sentence);
        assert!(v.sentence.contains("trainable depth 6ξ_c = 8.0"), "{}", v.sentence);
        assert_eq!(v.trainable_depth, Some(8.0));
        assert_eq!(verdict(&layers, Some(chaotic)).kind, SignalKind::Exploding);
        // Within the trainable depth (11 layers ≤ 12), or at the edge of chaos, the factors decide.
        let within = TheoryDepth { trainable_depth: 12.0, phase: Phase::Ordered };
        assert_eq!(verdict(&layers, Some(within)).kind, SignalKind::Healthy);
        let edge = TheoryDepth { trainable_depth: f64::INFINITY, phase: Phase::Critical };
        let v = verdict(&layers, Some(edge));
        assert_eq!((v.kind, v.trainable_depth), (SignalKind::Healthy, None));
    }

    #[test]
    fn mean_std_is_the_population_moments() {
        let (m, s) = mean_std(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(m, 2.5);
        assert!((s - 1.25f64.sqrt()).abs() < 1e-15);
    }
}

#[cfg(test)]
mod jacobian_tests {
    use super::*;
    use crate::model::LayerWeights;
    use crate::rules::{BiasRule, InitMethod, initial_weights};
    use nninit::Init;
    use nninit::init::Orthogonal;

    fn linear_net(gain: f64) -> (ModelSpec, Vec<LayerWeights>) {
        let spec = ModelSpec { bias: Bias::Off, ..ModelSpec::digits_mlp(12, 32, Activation::Linear) };
        let rule = InitMethod::Rule { weight: Init::Orthogonal(Orthogonal::new(gain).unwrap()), bias: BiasRule::Zero };
        let w = initial_weights(&spec, &rule, 5).unwrap();
        (spec, w)
    }

    #[test]
    fn a_deep_linear_orthogonal_network_is_an_isometry() {
        let device = Device::flex().autodiff();
        for gain in [1.0, 1.01] {
            let (spec, w) = linear_net(gain);
            let net = Network::new(&spec, &w, &device).unwrap();
            let digits = crate::data::load(crate::data::DatasetName::Digits, None).unwrap();
            let (x, y) = digits.train.batch(&(0..64).collect::<Vec<_>>(), 64);
            let p = probe(&spec, &net, &x, &y, LossKind::CrossEntropy, &device).unwrap();
            let j = p.jacobian.expect("a spectrum");
            // ∂h^12/∂h^1 is a product of 11 orthogonal matrices times gain^11.
            let expected = gain.powi(11);
            assert_eq!(j.singular_values.len(), 32);
            for s in &j.singular_values {
                assert!((s / expected - 1.0).abs() < 1e-4, "gain {gain}: {s} vs {expected}");
            }
            // Theory: χ₁ = σ_w² for the identity, σ_w² = gain² measured from the weights (to sampling error).
            let theory = j.theory_mean_squared.unwrap();
            assert!((theory / expected.powi(2) - 1.0).abs() < 1e-3, "{theory}");
            assert!(p.layers.iter().all(|l| l.dead_fraction == 0.0 && l.saturated_fraction == 0.0));
        }
    }
}
