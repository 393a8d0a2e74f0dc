//! One training run on burn: the batches, the optimizer steps, the evaluations and divergence
//! detection.

use std::time::Instant;

use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::{Device, Gradients};
use nninit::stream::Philox;

use super::{EvalLayers, Optimizer, TrainConfig};
use crate::data::{Dataset, Split};
use crate::error::Result;
use crate::loss::{LossKind, batch_loss};
use crate::model::{ModelSpec, Network, host};
use crate::record::{EvalRow, LayerStats, ModelKind, RunStatus, StepRow};

/// What one training run produced.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainOutcome {
    /// Finished or diverged.
    pub status: RunStatus,
    /// The loss at every step run.
    pub steps: Vec<StepRow>,
    /// Every evaluation.
    pub evals: Vec<EvalRow>,
    /// The first step at which the smoothed loss reached the criterion.
    pub steps_to_criterion: Option<usize>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// The data order of epoch `epoch`: permutation number `epoch` of `0..n` from the stream
/// ([`Philox::permutation`], nninit's one shuffle).
pub fn permutation(stream: &Philox, epoch: u64, n: usize) -> Vec<usize> {
    stream.permutation(epoch, n)
}

/// The batches of one training run, drawn without replacement epoch after epoch from the
/// stream of `(seed, "lab.data-order")`.
#[derive(Debug)]
struct Batches<'a> {
    split: &'a Split,
    features: usize,
    stream: Philox,
    epoch: u64,
    order: Vec<usize>,
    pos: usize,
    batch: usize,
}

impl<'a> Batches<'a> {
    fn new(split: &'a Split, features: usize, seed: u64, batch: usize) -> Self {
        let stream = Philox::new(seed, "lab.data-order");
        let order = permutation(&stream, 0, split.n);
        Self { split, features, stream, epoch: 0, order, pos: 0, batch: batch.min(split.n).max(1) }
    }

    fn next_batch(&mut self) -> (Vec<f32>, Vec<u8>) {
        if self.pos + self.batch > self.order.len() {
            self.epoch += 1;
            self.order = permutation(&self.stream, self.epoch, self.split.n);
            self.pos = 0;
        }
        let idx = &self.order[self.pos..self.pos + self.batch];
        self.pos += self.batch;
        self.split.batch(idx, self.features)
    }
}

/// The per-layer weight-gradient L2 norms in `grads`.
fn grad_norms(spec: &ModelSpec, net: &Network, grads: &Gradients) -> Vec<f64> {
    let norm =
        |g: Option<Vec<f32>>| g.map_or(f64::NAN, |g| g.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt());
    let mut out: Vec<f64> = match spec.kind {
        ModelKind::Mlp => {
            net.hidden.iter().map(|l| norm(l.weight.val().grad(grads).map(|g| host(g.into_data())))).collect()
        }
        ModelKind::Cnn => {
            net.conv.iter().map(|c| norm(c.weight.val().grad(grads).map(|g| host(g.into_data())))).collect()
        }
    };
    out.push(norm(net.head.weight.val().grad(grads).map(|g| host(g.into_data()))));
    out
}

/// Test loss and accuracy over the whole test split, in chunks.
fn evaluate(spec: &ModelSpec, net: &Network, data: &Dataset, loss: LossKind, device: &Device) -> (f64, Option<f64>) {
    const CHUNK: usize = 1000;
    let valid = burn::module::Module::valid(net);
    let inner = device.clone().inner();
    let (mut total, mut correct) = (0.0f64, 0usize);
    let n = data.test.n;
    let mut start = 0;
    while start < n {
        let end = (start + CHUNK).min(n);
        let idx: Vec<usize> = (start..end).collect();
        let (x, y) = data.test.batch(&idx, data.features);
        let fwd = valid.forward(spec, Network::input(spec, x, y.len(), &inner), None);
        let logits = host(fwd.logits.to_data());
        total +=
            f64::from(batch_loss(loss, fwd.logits, &y, spec.classes, &inner).into_scalar::<f32>()) * y.len() as f64;
        for (i, &label) in y.iter().enumerate() {
            let row = &logits[i * spec.classes..(i + 1) * spec.classes];
            let best =
                row.iter().enumerate().fold((0, f32::NEG_INFINITY), |b, (j, &v)| if v > b.1 { (j, v) } else { b });
            correct += usize::from(best.0 == usize::from(label));
        }
        start = end;
    }
    (total / n.max(1) as f64, Some(correct as f64 / n.max(1) as f64))
}

/// Per-layer statistics of a training batch's forward and backward pass (for experiments that
/// follow them during training).
///
/// # Errors
/// The probe's errors.
fn layer_stats(
    spec: &ModelSpec,
    net: &Network,
    x: &[f32],
    y: &[u8],
    loss: LossKind,
    device: &Device,
) -> Result<Vec<LayerStats>> {
    Ok(crate::probe::probe(spec, net, x, y, loss, device)?.layers)
}

/// The burn optimizer of `optimizer`: SGD with heavy-ball momentum and no dampening, or Adam
/// with PyTorch's defaults (β₁ = 0.9, β₂ = 0.999, ε = 1e-8). Every model the lab trains gets
/// its optimizer here.
pub(crate) fn optimizer(optimizer: Optimizer) -> ModuleOptimizer {
    match optimizer {
        Optimizer::Sgd { momentum } => {
            let m = (momentum > 0.0).then(|| MomentumConfig::new().with_momentum(momentum).with_dampening(0.0));
            SgdConfig::new().with_momentum(m).init()
        }
        Optimizer::Adam => AdamConfig::new().with_epsilon(1e-8).init(),
    }
}

/// Trains `net` and records everything. `progress` is called after every step with the step
/// number. The run stops early, marked diverged, at the first non-finite loss or gradient norm
/// (a diverged run is a result, not an error).
///
/// # Errors
/// The probe's errors, where evaluations record per-layer statistics ([`EvalLayers::Record`]).
pub fn train(
    spec: &ModelSpec,
    mut net: Network,
    data: &Dataset,
    cfg: &TrainConfig,
    seed: u64,
    device: &Device,
    progress: &mut dyn FnMut(usize),
) -> Result<TrainOutcome> {
    let started = Instant::now();
    let mut optim = optimizer(cfg.optimizer);
    let mut batches = Batches::new(&data.train, data.features, seed, cfg.batch);
    let mut steps = Vec::with_capacity(cfg.steps);
    let mut evals = Vec::new();
    let mut status = RunStatus::Finished;
    let mut steps_to_criterion = None;
    let eval_every = cfg.eval_every.map(|e| e.max(1));
    for step in 1..=cfg.steps {
        let (x, y) = batches.next_batch();
        let is_eval = eval_every.is_some_and(|e| step % e == 0 || step == cfg.steps);
        // The host batch is read again only for an evaluation's per-layer statistics: copy it
        // then, and move it into the input tensor otherwise.
        let x_stats = (is_eval && cfg.eval_layers == EvalLayers::Record).then(|| x.clone());
        let fwd = net.forward(spec, Network::input(spec, x, y.len(), device), None);
        let loss = batch_loss(cfg.loss, fwd.logits, &y, spec.classes, device);
        let value = f64::from(loss.clone().into_scalar::<f32>());
        steps.push(StepRow { step, loss: value });
        if !value.is_finite() {
            status = RunStatus::Diverged { step };
            break;
        }
        if let Some(criterion) = cfg.loss_criterion
            && steps_to_criterion.is_none()
            && steps.len() >= 10
        {
            let recent = steps[steps.len() - 10..].iter().map(|s| s.loss).sum::<f64>() / 10.0;
            if recent < criterion {
                steps_to_criterion = Some(step);
            }
        }
        let grads = loss.backward();
        let norms = is_eval.then(|| grad_norms(spec, &net, &grads));
        if norms.as_ref().is_some_and(|n| n.iter().any(|v| !v.is_finite())) {
            status = RunStatus::Diverged { step };
            break;
        }
        let grads = GradientsParams::from_grads(grads, &net);
        net = optim.step(cfg.lr, net, grads);
        if let Some(grad_norms) = norms {
            let (test_loss, test_accuracy) = evaluate(spec, &net, data, cfg.loss, device);
            let layers = x_stats.map(|x| layer_stats(spec, &net, &x, &y, cfg.loss, device)).transpose()?;
            evals.push(EvalRow { step, test_loss, test_accuracy, grad_norms, layers, validation_bits: None });
            if !test_loss.is_finite() {
                status = RunStatus::Diverged { step };
                break;
            }
        }
        progress(step);
    }
    Ok(TrainOutcome { status, steps, evals, steps_to_criterion, seconds: started.elapsed().as_secs_f64() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{self, DatasetName};
    use crate::rules::{BiasRule, InitMethod, initial_weights};
    use nninit::Init;
    use nninit::activation::Activation;
    use nninit::init::Normal;

    fn setup(std: Option<f64>) -> (ModelSpec, Network, Dataset, Device) {
        let data = data::load(DatasetName::Digits, None).unwrap();
        let spec = ModelSpec::digits_mlp(3, 32, Activation::Relu);
        let weight = match std {
            Some(s) => Init::Normal(Normal::new(0.0, s).unwrap()),
            None => Init::from(nninit::init::VarianceScaling::he_normal()),
        };
        let device = Device::flex().autodiff();
        let w = initial_weights(&spec, &InitMethod::Rule { weight, bias: BiasRule::Zero }, 0).unwrap();
        let net = Network::new(&spec, &w, &device).unwrap();
        (spec, net, data, device)
    }

    fn cfg(lr: f64, steps: usize) -> TrainConfig {
        TrainConfig {
            steps,
            batch: 32,
            lr,
            optimizer: Optimizer::Sgd { momentum: 0.9 },
            loss: LossKind::CrossEntropy,
            eval_every: Some(50),
            eval_layers: EvalLayers::Skip,
            loss_criterion: Some(1.0),
        }
    }

    #[test]
    fn training_learns_the_digits() {
        let (spec, net, data, device) = setup(None);
        let out = train(&spec, net, &data, &cfg(0.05, 200), 0, &device, &mut |_| {}).unwrap();
        assert_eq!(out.status, RunStatus::Finished);
        assert_eq!(out.steps.len(), 200);
        assert_eq!(out.evals.iter().map(|e| e.step).collect::<Vec<_>>(), vec![50, 100, 150, 200]);
        let first = out.steps[..10].iter().map(|s| s.loss).sum::<f64>() / 10.0;
        let last = out.steps[190..].iter().map(|s| s.loss).sum::<f64>() / 10.0;
        assert!(last < first / 3.0, "{first} -> {last}");
        // 10 classes: chance is 0.1; a 3-layer MLP gets far above it in 200 steps.
        assert!(out.evals.last().unwrap().test_accuracy.unwrap() > 0.8);
        assert!(out.steps_to_criterion.is_some_and(|s| (10..=200).contains(&s)));
        assert_eq!(out.evals[0].grad_norms.len(), 4);
    }

    #[test]
    fn a_run_that_blows_up_is_stopped_and_marked_diverged() {
        let (spec, net, data, device) = setup(Some(1.0));
        let out = train(&spec, net, &data, &cfg(1e6, 100), 0, &device, &mut |_| {}).unwrap();
        match out.status {
            RunStatus::Diverged { step } => assert!(step < 100 && out.steps.len() == step, "{step}"),
            RunStatus::Finished => panic!("lr 1e6 on N(0,1) weights must diverge"),
        }
    }

    #[test]
    fn permutations_are_permutations_and_change_with_the_epoch() {
        let s = Philox::new(0, "lab.data-order");
        let p = permutation(&s, 0, 1000);
        let mut sorted = p.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
        assert_eq!(p, permutation(&s, 0, 1000));
        assert_ne!(p, permutation(&s, 1, 1000));
    }
}
