//! Times one training epoch of the lab's MLP on MNIST, for `scripts/bench-lab.py`.
//!
//! The network is 784-256-256-10 with ReLU and biases, He-initialized (`kaiming_normal`, fan-in,
//! gain √2) through nninit's rules with seed 0. It is trained by the lab's own
//! [`nninit_lab::train::train`] with plain SGD (lr 0.01, no momentum) and cross-entropy for
//! 469 steps of 128 examples: one pass over MNIST's 60,000 training images.
//!
//! ```text
//! cargo run --release -p nninit-lab --example epoch
//! RAYON_NUM_THREADS=1 target/release/examples/epoch
//! ```
//!
//! It prints one JSON line: `{"seconds", "cpu_seconds", "steps", "threads", "mean_loss",
//! "final_loss"}`. `seconds` is the wall time of `train` alone (data loading and weight drawing
//! excluded), `cpu_seconds` the CPU time of all threads over the same span (Linux only, else
//! null; on one thread it is the run's cost without the waiting a loaded machine adds);
//! `threads` is the size of rayon's global pool, which burn's flex backend runs on, so
//! `RAYON_NUM_THREADS` sets it; `mean_loss` is the training loss averaged over the epoch's
//! steps (a check that the run learned), `final_loss` the last step's (identical for any
//! thread count and from build to build unless a change alters results). MNIST must have been
//! fetched (`nninit data fetch mnist`).

mod common;

use std::time::Instant;

use nninit::Init;
use nninit::activation::Activation;
use nninit::fan::FanMode;
use nninit_lab::Backend;
use nninit_lab::data::{self, DatasetName};
use nninit_lab::loss::LossKind;
use nninit_lab::model::{Bias, ModelSpec, Network, Residual};
use nninit_lab::record::ModelKind;
use nninit_lab::rules::{BiasRule, InitMethod, initial_weights};
use nninit_lab::train::{EvalLayers, Optimizer, TrainConfig, train};

use crate::common::cpu_seconds;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = data::load(DatasetName::Mnist, None)?;
    let spec = ModelSpec {
        kind: ModelKind::Mlp,
        depth: 2,
        width: 256,
        activation: Activation::Relu,
        bias: Bias::On,
        residual: Residual::Off,
        features: data.features,
        image: data.image,
        classes: data.classes,
    };
    let he = InitMethod::Rule {
        weight: Init::from(nninit::init::VarianceScaling::kaiming_normal(FanMode::FanIn, Activation::Relu)?),
        bias: BiasRule::Zero,
    };
    let weights = initial_weights(&spec, &he, 0)?;
    let device = Backend::Flex.device()?;
    let net = Network::new(&spec, &weights, &device)?;
    let steps = data.train.n / 128 + usize::from(data.train.n % 128 != 0);
    let cfg = TrainConfig {
        steps,
        batch: 128,
        lr: 0.01,
        optimizer: Optimizer::Sgd { momentum: 0.0 },
        loss: LossKind::CrossEntropy,
        eval_every: None,
        eval_layers: EvalLayers::Skip,
        loss_criterion: None,
    };
    let (started, cpu_started) = (Instant::now(), cpu_seconds());
    let outcome = train(&spec, net, &data, &cfg, 0, &device, &mut |_| {})?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_started.zip(cpu_seconds()).map(|(a, b)| b - a);
    let mean_loss = outcome.steps.iter().map(|s| s.loss).sum::<f64>() / outcome.steps.len().max(1) as f64;
    println!(
        "{}",
        serde_json::json!({
            "seconds": seconds,
            "cpu_seconds": cpu,
            "steps": outcome.steps.len(),
            "threads": rayon::current_num_threads(),
            "mean_loss": mean_loss,
            "final_loss": outcome.steps.last().map_or(f64::NAN, |s| s.loss),
        })
    );
    Ok(())
}
