//! Running an experiment: every configuration under every seed, in parallel, with the probe
//! at initialization and the training record of each run.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use burn::tensor::Device;
use nninit::activation::Activation;
use nninit::stream::Philox;
use nninit::theory::MeanField;
use rayon::prelude::*;

use super::schema::{Configuration, Experiment};
use crate::backend::Backend;
use crate::data::{self, Dataset};
use crate::error::{LabError, Result};
use crate::limits;
use crate::model::Network;
use crate::record::{ExperimentResults, RunRecord, Shard, ShardOf, TheoryOverlay};
use crate::rules::{InitMethod, initial_weights};
use crate::train::{permutation, train};

/// Overrides and places for one run of an experiment.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Seeds per configuration instead of the file's, in [`limits::SEEDS`].
    pub seeds: Option<usize>,
    /// Training steps instead of the file's, in [`limits::STEPS`].
    pub steps: Option<usize>,
    /// Where fetched datasets are (default: [`data::default_data_dir`]).
    pub data_dir: Option<PathBuf>,
    /// The backend.
    pub backend: Backend,
    /// Runs in parallel (default: the machine's cores; burn's own kernels also use them), in
    /// [`limits::JOBS`].
    pub jobs: Option<usize>,
    /// Only this shard's runs (see [`Shard`]); the results say which shard they are, and
    /// [`super::merge`] joins every shard's into the whole experiment's.
    pub shard: Option<Shard>,
}

/// What the runner reports as it goes.
#[derive(Clone, Debug)]
pub enum Event<'a> {
    /// The experiment has this many runs.
    Planned {
        /// Runs in total.
        runs: usize,
        /// Steps per run.
        steps: usize,
    },
    /// One training step of some run is done.
    Step,
    /// A run finished.
    RunDone(&'a RunRecord),
}

/// Runs every configuration under every seed; `on_event` hears about progress.
///
/// # Errors
/// [`LabError::OutOfRange`] for overrides outside [`crate::limits`] (before anything is
/// loaded); dataset, model and init errors (before any training starts where possible); the
/// first error of any run.
pub fn run(exp: &Experiment, opts: &RunOptions, on_event: &(dyn Fn(Event<'_>) + Sync)) -> Result<ExperimentResults> {
    const WHAT: &str = "lab run";
    let started = Instant::now();
    let seeds = match opts.seeds {
        Some(s) => limits::SEEDS.check_usize(WHAT, s)?,
        None => exp.seeds,
    };
    limits::RUNS.check(WHAT, exp.configs.len() as u128 * seeds as u128)?;
    if let Some(steps) = opts.steps {
        limits::STEPS.check_usize(WHAT, steps)?;
    }
    let threads = match opts.jobs {
        Some(j) => limits::JOBS.check_usize(WHAT, j)?,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let all: Vec<(usize, u64)> = (0..exp.configs.len()).flat_map(|c| (0..seeds as u64).map(move |s| (c, s))).collect();
    let shard = match opts.shard {
        Some(shard) if shard.count() > all.len() => {
            return Err(LabError::OutOfRange {
                what: WHAT.into(),
                name: "shards",
                value: shard.count().to_string(),
                valid: format!("1 to {}, the experiment's runs (every shard needs one)", all.len()),
            });
        }
        Some(shard) => Some(ShardOf { shard, total_runs: all.len() }),
        None => None,
    };
    let jobs: Vec<(usize, u64)> = match shard {
        Some(part) => all.iter().enumerate().filter(|(i, _)| part.shard.takes(*i)).map(|(_, &job)| job).collect(),
        None => all,
    };
    let mut configs = exp.configs.clone();
    if let Some(steps) = opts.steps {
        for c in &mut configs {
            c.train.steps = steps;
            c.train.eval_every = c.train.eval_every.map(|e| e.min(steps));
        }
    }
    let data = data::load(exp.dataset, opts.data_dir.as_deref())?;
    let device = opts.backend.device()?;
    // Fail fast: every init must build for every model before anything trains.
    for c in &configs {
        initial_weights(&c.model, &c.init.method, 0)?;
    }
    on_event(Event::Planned { runs: jobs.len(), steps: configs.first().map_or(0, |c| c.train.steps) });
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().map_err(|e| LabError::Backend {
        name: opts.backend.to_string(),
        reason: format!("cannot start worker threads: {e}"),
    })?;
    let results: Mutex<Vec<Option<RunRecord>>> = Mutex::new(vec![None; jobs.len()]);
    let first_error: Mutex<Option<LabError>> = Mutex::new(None);
    pool.install(|| {
        jobs.par_iter().enumerate().for_each(|(i, &(c, seed))| {
            match run_one(&exp.name, &configs[c], seed, &data, exp.probe_batch, &device, on_event) {
                Ok(record) => {
                    on_event(Event::RunDone(&record));
                    if let Ok(mut r) = results.lock() {
                        r[i] = Some(record);
                    }
                }
                Err(e) => {
                    if let Ok(mut slot) = first_error.lock() {
                        slot.get_or_insert(e);
                    }
                }
            }
        });
    });
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    let runs: Vec<RunRecord> = results.into_inner().unwrap_or_default().into_iter().flatten().collect();
    let theory = match (exp.theory_activation, exp.theory_sigma_b2) {
        (Some(activation), Some(sigma_b2)) => Some(theory_overlay(activation, sigma_b2, &configs)?),
        _ => None,
    };
    Ok(ExperimentResults {
        name: exp.name.clone(),
        description: exp.description.clone(),
        expectation: exp.expectation.clone(),
        loss_criterion: configs.first().and_then(|c| c.train.loss_criterion),
        runs,
        theory,
        seconds: started.elapsed().as_secs_f64(),
        shard,
    })
}

/// 6·ξ_c over a fine σ_w² grid spanning the experiment's.
fn theory_overlay(activation: Activation, sigma_b2: f64, configs: &[Configuration]) -> Result<TheoryOverlay> {
    let sw: Vec<f64> = configs.iter().filter_map(|c| c.record.sigma_w2).collect();
    let (lo, hi) = sw.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let points = 200;
    let mut trainable_depth = Vec::with_capacity(points + 1);
    for i in 0..=points {
        let s = lo + (hi - lo) * i as f64 / points as f64;
        let a = MeanField::new(activation, s, sigma_b2)?.analyze();
        trainable_depth.push((s, a.trainable_depth));
    }
    Ok(TheoryOverlay { sigma_b2, trainable_depth })
}

/// The probe batch: the first `n` examples of a fixed permutation of the training set.
pub fn probe_batch(data: &Dataset, seed: u64, n: usize) -> (Vec<f32>, Vec<u8>) {
    let order = permutation(&Philox::new(seed, "lab.probe-batch"), 0, data.train.n);
    data.train.batch(&order[..n.min(order.len())], data.features)
}

/// One configuration under one seed: init (data-dependent where asked), probe, train.
///
/// # Errors
/// Model and init errors, and the probe's (at initialization and during training).
pub fn run_one(
    experiment: &str,
    config: &Configuration,
    seed: u64,
    data: &Dataset,
    probe_examples: usize,
    device: &Device,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<RunRecord> {
    let started = Instant::now();
    let spec = &config.model;
    let (x, y) = probe_batch(data, seed, probe_examples);
    let (net, init_iterations) = match &config.init.method {
        InitMethod::DataDependent(method) => {
            let mut weights = initial_weights(spec, &config.init.method, seed)?;
            let iterations = crate::lsuv::apply(spec, &mut weights, *method, &x, y.len(), &device.clone().inner())?;
            (Network::new(spec, &weights, device)?, Some(iterations))
        }
        // Drawn on the training device directly, by parameter path.
        InitMethod::Rule { .. } | InitMethod::Residual(_) => {
            (Network::init(spec, &config.init.method, seed, device)?, None)
        }
    };
    let loss = config.train.loss;
    let probe = crate::probe::probe(spec, &net, &x, &y, loss, device)?;
    let outcome = train(spec, net, data, &config.train, seed, device, &mut |_| on_event(Event::Step))?;
    Ok(RunRecord {
        experiment: experiment.to_string(),
        config: config.record.clone(),
        seed,
        status: outcome.status,
        steps: outcome.steps,
        evals: outcome.evals,
        probe: Some(probe),
        init_iterations,
        steps_to_criterion: outcome.steps_to_criterion,
        seconds: started.elapsed().as_secs_f64(),
    })
}
