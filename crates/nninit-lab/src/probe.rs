//! The probe: what a network does to a real batch at initialization.
//!
//! One forward and one backward pass on a real batch give, per hidden layer, the mean and std
//! of the activations, the fraction of dead and saturated units, the std of the loss gradient
//! with respect to the weight and to the pre-activation; the input–output Jacobian's
//! singular values (MLPs up to width 1024); and a verdict: healthy, vanishing or exploding,
//! with the per-layer rate that decides it.

use burn::tensor::Device;
use faer::Mat;
use nninit::activation::Activation;
use nninit::theory::MeanField;

use crate::error::Result;
use crate::loss::{LossKind, batch_loss};
use crate::model::{Bias, HostHidden, ModelSpec, Network, Residual};
use crate::record::{LayerStats, ModelKind, Probe, SignalKind, Spectrum, Verdict};

/// Widest MLP whose Jacobian spectrum the probe computes (a dense SVD of width² entries).
pub const MAX_JACOBIAN_WIDTH: usize = 1024;

/// Per-layer rate within which a signal counts as preserved: a factor of 2 over 10 layers (a shallower
/// network is also healthy while its total change stays within a factor of 2).
pub fn healthy_rate() -> f64 {
    2f64.powf(0.1)
}

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
    let jacobian = if spec.kind == ModelKind::Mlp
        && spec.residual == Residual::Off
        && spec.width <= MAX_JACOBIAN_WIDTH
        && spec.depth >= 2
    {
        jacobian_spectrum(spec, net, &preacts_host)
    } else {
        None
    };
    let verdict = verdict(&layers);
    Ok(Probe { layers, jacobian, verdict })
}

/// Mean and (population) standard deviation, accumulated in f64; NaN for an empty slice.
pub fn mean_std(values: &[f32]) -> (f64, f64) {
    let m = nninit::stats::Moments::from_values(values.iter().map(|&v| f64::from(v)));
    (m.mean(), m.std())
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
fn jacobian_spectrum(spec: &ModelSpec, net: &Network, preacts: &[HostHidden]) -> Option<Spectrum> {
    let n = spec.width;
    let weights = net.weights();
    // Row convention (burn's Linear is y = x W): dz^{l+1} = dz^l · D_l · W_{l+1}.
    let mut jac = Mat::<f64>::identity(n, n);
    let mut sigma_w2 = Vec::new();
    let mut sigma_b2 = Vec::new();
    for l in 0..spec.depth - 1 {
        let d: Vec<f64> = preacts[l].values[..n].iter().map(|&z| spec.activation.derivative(f64::from(z))).collect();
        let w = &weights[l + 1].weight;
        let w_mat = Mat::<f64>::from_fn(n, n, |i, j| d[i] * f64::from(w[i * n + j]));
        jac = &jac * &w_mat;
        // Mean field treats weights as zero-mean with variance σ_w²/n: use the raw second moment.
        sigma_w2.push(w.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / w.len() as f64 * n as f64);
        if let (Bias::On, Some(b)) = (spec.bias, &weights[l + 1].bias) {
            let (m, s) = mean_std(b);
            sigma_b2.push(s * s + m * m);
        }
    }
    let values = jac.as_ref().singular_values().ok()?;
    if values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let mean_squared = values.iter().map(|v| v * v).sum::<f64>() / values.len() as f64;
    let avg = |v: &[f64]| if v.is_empty() { 0.0 } else { v.iter().sum::<f64>() / v.len() as f64 };
    // Mean field along this input's own length trajectory: q¹ is the example's measured
    // pre-activation second moment, q^{l+1} = V(q^l), and each layer multiplies the mean squared
    // singular value by χ₁(q^l) = σ_w² E[φ′(√q^l z)²] (at the fixed point, χ₁^(L−1)).
    let q1 = preacts[0].values[..n].iter().map(|&z| f64::from(z).powi(2)).sum::<f64>() / n as f64;
    let theory_mean_squared = MeanField::new(spec.activation, avg(&sigma_w2), avg(&sigma_b2))
        .ok()
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

/// The verdict from the per-layer statistics: the geometric-mean rate at which the activation
/// std changes from layer to layer, and at which the pre-activation gradient std changes from
/// the last layer back to the first.
pub fn verdict(layers: &[LayerStats]) -> Verdict {
    let rate = |first: f64, last: f64| {
        let steps = layers.len().saturating_sub(1).max(1) as f64;
        let (first, last) = (first.max(1e-300), last.max(1e-300));
        (last.ln() - first.ln()) / steps
    };
    let (Some(first), Some(last)) = (layers.first(), layers.last()) else {
        return Verdict {
            kind: SignalKind::Healthy,
            forward_rate: 1.0,
            backward_rate: 1.0,
            sentence: "no hidden layers to probe".into(),
        };
    };
    let nonfinite = layers.iter().any(|l| !l.act_std.is_finite() || !l.backprop_std.is_finite());
    let fwd = rate(first.act_std, last.act_std);
    let bwd = rate(last.backprop_std, first.backprop_std);
    let (forward_rate, backward_rate) = (fwd.exp(), bwd.exp());
    let depth = layers.len();
    let limit = healthy_rate().ln();
    let worst = if fwd.abs() >= bwd.abs() { fwd } else { bwd };
    let kind = if nonfinite {
        SignalKind::Exploding
    } else if worst.abs() <= limit || worst.abs() * (depth.saturating_sub(1) as f64) <= 2f64.ln() {
        // Within a factor of 2 per 10 layers, or within a factor of 2 over the whole (shallow) network.
        SignalKind::Healthy
    } else if worst < 0.0 {
        SignalKind::Vanishing
    } else {
        SignalKind::Exploding
    };
    let total = |r: f64| r.powi(depth as i32 - 1);
    let sentence = match kind {
        SignalKind::Healthy => format!(
            "healthy: activations change {forward_rate:.3}x and gradients {backward_rate:.3}x per layer \
             ({:.2}x and {:.2}x over {depth} layers)",
            total(forward_rate),
            total(backward_rate)
        ),
        _ if nonfinite => "exploding: activations or gradients overflow to infinity or NaN".to_string(),
        SignalKind::Vanishing | SignalKind::Exploding => {
            let what = if kind == SignalKind::Vanishing { "vanishing" } else { "exploding" };
            let (name, r) = if fwd.abs() >= bwd.abs() {
                ("activations", forward_rate)
            } else {
                ("gradients (from the output back to the input)", backward_rate)
            };
            let advice = if kind == SignalKind::Vanishing {
                "increase the weight scale (He for ReLU, Xavier/LeCun-style fans for tanh) or use LSUV"
            } else {
                "decrease the weight scale to the fan-based std for this activation"
            };
            format!("{what}: {name} change {r:.3}x per layer, {:.3e}x over {depth} layers; {advice}", total(r))
        }
    };
    Verdict { kind, forward_rate, backward_rate, sentence }
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
        let v = verdict(&layers);
        assert_eq!(v.kind, SignalKind::Vanishing);
        assert!((v.forward_rate - 0.5).abs() < 1e-12, "{}", v.forward_rate);
        assert!(v.sentence.starts_with("vanishing: activations change 0.500x"), "{}", v.sentence);
    }

    #[test]
    fn verdict_threshold_is_a_factor_of_two_per_ten_layers() {
        // Just inside: 1.9x over 10 steps. Just outside: 2.1x.
        let make = |total: f64| -> Vec<LayerStats> {
            (0..11).map(|l| layer(l + 1, total.powf(l as f64 / 10.0), 1.0)).collect()
        };
        assert_eq!(verdict(&make(1.9)).kind, SignalKind::Healthy);
        assert_eq!(verdict(&make(2.1)).kind, SignalKind::Exploding);
        assert_eq!(verdict(&make(1.0 / 2.1)).kind, SignalKind::Vanishing);
    }

    #[test]
    fn exploding_gradients_are_named_even_when_activations_are_fine() {
        // Gradients grow 1.5x per layer going back: last layer 1, first layer 1.5^10.
        let layers: Vec<_> = (0..11).map(|l| layer(l + 1, 1.0, 1.5f64.powi(10 - l as i32))).collect();
        let v = verdict(&layers);
        assert_eq!(v.kind, SignalKind::Exploding);
        assert!((v.backward_rate - 1.5).abs() < 1e-9, "{}", v.backward_rate);
        assert!(v.sentence.contains("gradients"), "{}", v.sentence);
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
