//! `nninit probe`: what a network does to a real batch at initialization.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args as ClapArgs;
use nninit::activation::Activation;
use nninit_lab::data::{self, DatasetName};
use nninit_lab::experiment::{init_choice, probe_batch};
use nninit_lab::loss::LossKind;
use nninit_lab::model::{Bias, ModelSpec, Network, Residual};
use nninit_lab::record::{ModelKind, Probe};
use nninit_lab::rules::{InitMethod, initial_weights};
use nninit_lab::{Backend, limits};

/// Arguments of `nninit probe`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// mlp or cnn.
    #[arg(long, default_value = "mlp")]
    model: String,
    /// Hidden layers (MLP) or convolutions (CNN), 1 to 1000 (the network at most 2^28 parameters).
    #[arg(long, default_value_t = 20)]
    depth: usize,
    /// Units per hidden layer (MLP) or channels (CNN), 1 to 8192.
    #[arg(long, default_value_t = 256)]
    width: usize,
    /// Activation: relu, tanh, gelu, selu, sigmoid, leaky_relu, ...
    #[arg(long, default_value = "relu")]
    activation: String,
    /// The activation's parameter (leaky_relu's slope, elu's alpha).
    #[arg(long, allow_negative_numbers = true)]
    activation_param: Option<f64>,
    /// The initializer: any nninit rule (kaiming_normal, xavier_uniform, orthogonal, normal, ...),
    /// lsuv, weight-norm, or mean-field (with --param sigma_w2=X --param sigma_b2=Y).
    #[arg(long)]
    init: String,
    /// A parameter of the initializer, KEY=VALUE (repeatable): std=0.01, gain=1.5, mode=fan_out, ...
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
    /// The dataset the batch comes from: digits (embedded), mnist or fashion-mnist (fetched).
    #[arg(long, default_value = "digits")]
    dataset: String,
    /// Where fetched datasets live.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Examples in the batch, 1 to 65536 (batch x width x depth at most 2^28 values).
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// Seed of the weights and of the batch.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// No biases.
    #[arg(long)]
    no_bias: bool,
    /// Residual MLP blocks.
    #[arg(long)]
    residual: bool,
    /// Draw the per-layer activation and gradient std (SVG or PNG by extension).
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
    /// Compute backend.
    #[arg(long, default_value = "flex")]
    backend: String,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

/// Runs `nninit probe`.
pub fn run(args: Args) -> Result<()> {
    let kind = match args.model.as_str() {
        "mlp" => ModelKind::Mlp,
        "cnn" => ModelKind::Cnn,
        other => bail!("unknown --model `{other}` (known: mlp, cnn)"),
    };
    let activation = Activation::parse(&args.activation, args.activation_param)?;
    let dataset: DatasetName = args.dataset.parse()?;
    // Every size is checked before the dataset is loaded or a weight allocated.
    let spec = ModelSpec {
        kind,
        depth: args.depth,
        width: args.width,
        activation,
        bias: if args.no_bias { Bias::Off } else { Bias::On },
        residual: if args.residual { Residual::On } else { Residual::Off },
        features: dataset.features(),
        image: dataset.image(),
        classes: dataset.classes(),
    };
    spec.validate()?;
    limits::PROBE_BATCH.check_usize("probe", args.batch)?;
    spec.check_batch("probe", args.batch)?;
    let params: Vec<(String, String)> = args
        .params
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .with_context(|| format!("--param `{p}` is not KEY=VALUE"))
        })
        .collect::<Result<_>>()?;
    let choice = init_choice(&args.init, &params, activation)?;
    let data = data::load(dataset, args.data.as_deref())?;
    let device = args.backend.parse::<Backend>()?.device()?;
    let mut weights = initial_weights(&spec, &choice.method, args.seed)?;
    let (x, y) = probe_batch(&data, args.seed, args.batch);
    let iterations = match &choice.method {
        InitMethod::DataDependent(m) => {
            Some(nninit_lab::lsuv::apply(&spec, &mut weights, *m, &x, y.len(), &device.clone().inner())?)
        }
        InitMethod::Rule { .. } | InitMethod::Residual(_) => None,
    };
    let net = Network::new(&spec, &weights, &device)?;
    let probe = nninit_lab::probe::probe(&spec, &net, &x, &y, LossKind::CrossEntropy, &device)?;
    if let Some(path) = &args.plot {
        let title = format!("{} {}x{} {} under {}", args.model, spec.depth, spec.width, activation.name(), choice.name);
        nninit_lab::report::probe_figure(&probe, &title, path)?;
    }
    if args.json {
        let mut value = serde_json::to_value(&probe)?;
        value["init"] = serde_json::json!(choice.name);
        value["init_iterations"] = serde_json::json!(iterations);
        return crate::print_json(&value);
    }
    print_table(&probe, &choice.name, iterations.as_deref());
    Ok(())
}

fn print_table(probe: &Probe, init: &str, iterations: Option<&[usize]>) {
    println!("init: {init}");
    if let Some(it) = iterations {
        println!("data-dependent iterations per layer: {it:?}");
    }
    println!(
        "{:>5}  {:>10} {:>10} {:>10} {:>7} {:>7} {:>11} {:>11}",
        "layer", "act mean", "act std", "pre std", "dead", "satur.", "grad(W) std", "grad(z) std"
    );
    for l in &probe.layers {
        println!(
            "{:>5}  {:>10.3e} {:>10.3e} {:>10.3e} {:>6.1}% {:>6.1}% {:>11.3e} {:>11.3e}",
            l.layer,
            l.act_mean,
            l.act_std,
            l.preact_std,
            100.0 * l.dead_fraction,
            100.0 * l.saturated_fraction,
            l.grad_std,
            l.backprop_std
        );
    }
    if let Some(j) = &probe.jacobian {
        let (max, min) = (
            j.singular_values.first().copied().unwrap_or(f64::NAN),
            j.singular_values.last().copied().unwrap_or(f64::NAN),
        );
        let theory = j.theory_mean_squared.map_or("n/a".into(), |t| format!("{t:.4e}"));
        println!(
            "Jacobian ∂h^L/∂h^1: σ_max {max:.4e}, σ_min {min:.4e}, mean σ² {:.4e} (mean-field theory ∏ χ₁(q^l): {theory})",
            j.mean_squared
        );
    }
    println!("verdict: {}", probe.verdict.sentence);
}
