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

use super::schema::{Configuration, Experiment, Setup};
use crate::backend::Backend;
use crate::data::{self, Dataset, Fetchable, TextDataset};
use crate::error::{LabError, Result};
use crate::limits;
use crate::model::{Network, TextTraining, train_on_text};
use crate::record::{EvalRow, ExperimentResults, RunRecord, RunStatus, Shard, ShardOf, StepRow, TheoryOverlay};
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

/// The data an experiment trains on, loaded: images for the classifiers, a text for the GPT.
#[derive(Clone, Debug)]
pub enum ExperimentData {
    /// An image dataset ([`data::load`]).
    Images(Dataset),
    /// A character-level text ([`data::load_text`]; boxed: its byte-to-id table is 1 KiB).
    Text(Box<TextDataset>),
}

impl ExperimentData {
    /// Loads `dataset` from `data_dir` (default: [`data::default_data_dir`]).
    ///
    /// # Errors
    /// The dataset's own ([`LabError::Data`]): missing, corrupt.
    pub fn load(dataset: Fetchable, data_dir: Option<&std::path::Path>) -> Result<Self> {
        Ok(match dataset {
            Fetchable::Images(name) => Self::Images(data::load(name, data_dir)?),
            Fetchable::Text(spec) => Self::Text(Box::new(data::load_text(spec, data_dir)?)),
        })
    }
}

/// Runs every configuration under every seed; `on_event` hears about progress.
///
/// # Errors
/// [`LabError::OutOfRange`] for overrides outside [`crate::limits`] (before anything is
/// loaded); dataset, model and init errors (before any training starts where possible); the
/// first error of any run.
pub fn run(exp: &Experiment, opts: &RunOptions, on_event: &(dyn Fn(Event<'_>) + Sync)) -> Result<ExperimentResults> {
    check_options(exp, opts)?;
    let data = ExperimentData::load(exp.dataset, opts.data_dir.as_deref())?;
    run_on(exp, &data, opts, on_event)
}

/// Checks the overrides of `opts` before anything is loaded; the shard's part of the runs.
fn check_options(exp: &Experiment, opts: &RunOptions) -> Result<Option<ShardOf>> {
    const WHAT: &str = "lab run";
    let seeds = opts.seeds.map(|s| limits::SEEDS.check_usize(WHAT, s)).transpose()?.unwrap_or(exp.seeds);
    limits::RUNS.check(WHAT, exp.configs.len() as u128 * seeds as u128)?;
    if let Some(steps) = opts.steps {
        limits::STEPS.check_usize(WHAT, steps)?;
    }
    if let Some(j) = opts.jobs {
        limits::JOBS.check_usize(WHAT, j)?;
    }
    let total = exp.configs.len() * seeds;
    match opts.shard {
        Some(shard) if shard.count() > total => Err(LabError::OutOfRange {
            what: WHAT.into(),
            name: "shards",
            value: shard.count().to_string(),
            valid: format!("1 to {total}, the experiment's runs (every shard needs one)"),
        }),
        Some(shard) => Ok(Some(ShardOf { shard, total_runs: total })),
        None => Ok(None),
    }
}

/// [`run`] on data already loaded (`opts.data_dir` is not read).
///
/// # Errors
/// As [`run`]; [`LabError::Model`] for data of the wrong kind for a configuration.
pub fn run_on(
    exp: &Experiment,
    data: &ExperimentData,
    opts: &RunOptions,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<ExperimentResults> {
    let shard = check_options(exp, opts)?;
    let started = Instant::now();
    let seeds = opts.seeds.unwrap_or(exp.seeds);
    let threads = opts.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let all = (0..exp.configs.len()).flat_map(|c| (0..seeds as u64).map(move |s| (c, s)));
    let jobs: Vec<(usize, u64)> = match shard {
        Some(part) => all.enumerate().filter(|(i, _)| part.shard.takes(*i)).map(|(_, job)| job).collect(),
        None => all.collect(),
    };
    let mut configs = exp.configs.clone();
    if let Some(steps) = opts.steps {
        for c in &mut configs {
            c.train.steps = steps;
            c.train.eval_every = c.train.eval_every.map(|e| e.min(steps));
        }
    }
    let device = opts.backend.device()?;
    // Fail fast: every init must build for every model before anything trains (a GPT's
    // scheme was planned when the file was read).
    for c in &configs {
        if let Setup::Classifier { model, init } = &c.setup {
            initial_weights(model, &init.method, 0)?;
        }
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
            match run_one(&exp.name, &configs[c], seed, data, exp.probe_batch, &device, on_event) {
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

/// One configuration under one seed: for a classifier, init (data-dependent where asked),
/// probe, train; for the GPT, init from its scheme's plan and train on the text, measuring
/// validation bits per character at every evaluation.
///
/// # Errors
/// Model and init errors, and the probe's (at initialization and during training);
/// [`LabError::Model`] for data of the wrong kind for the configuration.
pub fn run_one(
    experiment: &str,
    config: &Configuration,
    seed: u64,
    data: &ExperimentData,
    probe_examples: usize,
    device: &Device,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<RunRecord> {
    let started = Instant::now();
    let mut record = match (&config.setup, data) {
        (Setup::Classifier { model, init }, ExperimentData::Images(data)) => {
            let (x, y) = probe_batch(data, seed, probe_examples);
            let (net, init_iterations) = match &init.method {
                InitMethod::DataDependent(method) => {
                    let mut weights = initial_weights(model, &init.method, seed)?;
                    let iterations =
                        crate::lsuv::apply(model, &mut weights, *method, &x, y.len(), &device.clone().inner())?;
                    (Network::new(model, &weights, device)?, Some(iterations))
                }
                // Drawn on the training device directly, by parameter path.
                InitMethod::Rule { .. } | InitMethod::Residual(_) => {
                    (Network::init(model, &init.method, seed, device)?, None)
                }
            };
            let probe = crate::probe::probe(model, &net, &x, &y, config.train.loss, device)?;
            let outcome = train(model, net, data, &config.train, seed, device, &mut |_| on_event(Event::Step))?;
            RunRecord {
                experiment: experiment.to_string(),
                config: config.record.clone(),
                seed,
                status: outcome.status,
                steps: outcome.steps,
                evals: outcome.evals,
                probe: Some(probe),
                init_iterations,
                steps_to_criterion: outcome.steps_to_criterion,
                seconds: 0.0,
            }
        }
        (Setup::Gpt { spec, scheme, validation_windows }, ExperimentData::Text(text)) => {
            let cfg = TextTraining {
                steps: config.train.steps,
                batch: config.train.batch,
                lr: config.train.lr,
                seed,
                validation_windows: *validation_windows,
                eval_every: config.train.eval_every,
            };
            let run = train_on_text(spec, *scheme, text, &cfg, device, &mut |_| on_event(Event::Step))?;
            let steps = run.train_loss.iter().enumerate().map(|(i, &loss)| StepRow { step: i + 1, loss }).collect();
            let evals = run
                .evals
                .iter()
                .map(|e| EvalRow {
                    step: e.step,
                    test_loss: e.bits * std::f64::consts::LN_2,
                    test_accuracy: None,
                    grad_norms: Vec::new(),
                    layers: None,
                    validation_bits: Some(e.bits),
                })
                .collect();
            RunRecord {
                experiment: experiment.to_string(),
                config: config.record.clone(),
                seed,
                status: run.diverged_at.map_or(RunStatus::Finished, |step| RunStatus::Diverged { step }),
                steps,
                evals,
                probe: None,
                init_iterations: None,
                steps_to_criterion: None,
                seconds: 0.0,
            }
        }
        (_, data) => {
            let have = match data {
                ExperimentData::Images(_) => "an image dataset",
                ExperimentData::Text(_) => "a text",
            };
            return Err(LabError::Model {
                reason: format!("{}: this configuration cannot train on {have}", config.record.label),
            });
        }
    };
    record.seconds = started.elapsed().as_secs_f64();
    Ok(record)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// A periodic text with Shakespeare's 84 symbols, so the built-in experiment's specs
    /// (vocabulary 84) train on it.
    fn text_with_84_symbols() -> TextDataset {
        let symbols: Vec<u8> = (33u8..117).collect();
        let text: Vec<u8> = (0..6000).map(|i| symbols[(i * 5) % 84]).collect();
        let data = TextDataset::new(&text).unwrap();
        assert_eq!(data.vocab_size(), 84);
        data
    }

    /// `transformer-depth` with its sizes shrunk, every init kept.
    fn tiny_transformer_depth() -> Experiment {
        let src = super::super::BUILT_IN.iter().find(|(n, _)| *n == "transformer-depth").unwrap().1;
        let mut t: toml::Table = toml::from_str(src).unwrap();
        let int = |v: i64| toml::Value::Integer(v);
        let model = t["model"].as_table_mut().unwrap();
        for (key, v) in [("width", 8), ("heads", 2), ("context", 8), ("mlp_width", 16)] {
            model.insert(key.into(), int(v));
        }
        model.insert("depth".into(), toml::Value::Array(vec![int(1), int(3)]));
        let train = t["train"].as_table_mut().unwrap();
        for (key, v) in [("batch", 4), ("eval_every", 3), ("validation_windows", 4)] {
            train.insert(key.into(), int(v));
        }
        Experiment::parse(&toml::to_string(&t).unwrap(), "tiny transformer-depth").unwrap()
    }

    #[test]
    fn a_tiny_transformer_depth_runs_every_init_end_to_end() {
        let full = Experiment::load("transformer-depth").unwrap();
        let exp = tiny_transformer_depth();
        let data = ExperimentData::Text(Box::new(text_with_84_symbols()));
        let opts = RunOptions { steps: Some(7), seeds: Some(2), jobs: Some(1), ..RunOptions::default() };
        let results = run_on(&exp, &data, &opts, &|_| {}).unwrap();
        assert_eq!(results.runs.len(), exp.configs.len() * 2);
        // Every init of the built-in experiment ran at each depth, under both seeds.
        let inits = |e: &Experiment| e.configs.iter().map(|c| c.record.init.clone()).collect::<BTreeSet<_>>();
        assert_eq!(inits(&exp), inits(&full));
        assert_eq!(inits(&exp).len(), 7);
        let ran: BTreeSet<(String, u64)> = results.runs.iter().map(|r| (r.config.label.clone(), r.seed)).collect();
        assert_eq!(ran.len(), results.runs.len());
        for r in &results.runs {
            let what = format!("{} seed {}", r.config.label, r.seed);
            assert!(r.config.label.starts_with(&format!("d{}/", r.config.depth)), "{what}");
            let gpt = r.config.gpt.as_ref().unwrap();
            assert!(crate::model::BlockForm::NAMES.contains(&gpt.form.as_str()), "{what}: {}", gpt.form);
            assert!(r.probe.is_none());
            // Validation bits at step 0, every 3 steps and after the last, unless it diverged.
            assert_eq!(r.evals[0].step, 0, "{what}");
            for e in &r.evals {
                let bits = e.validation_bits.unwrap();
                assert!((e.test_loss - bits * std::f64::consts::LN_2).abs() < 1e-12, "{what}");
                assert_eq!(e.test_accuracy, None);
            }
            match r.status {
                RunStatus::Finished => {
                    assert_eq!(r.steps.len(), 7, "{what}");
                    let steps: Vec<usize> = r.evals.iter().map(|e| e.step).collect();
                    assert_eq!(steps, [0, 3, 6, 7], "{what}");
                    assert!(r.evals.iter().all(|e| e.validation_bits.unwrap().is_finite()), "{what}");
                }
                RunStatus::Diverged { step } => assert_eq!(r.steps.len(), step, "{what}"),
            }
            if gpt.form == "pre-ln" && gpt.scheme == "hf" {
                // GPT-2's init starts near the uniform guess, log2 84 = 6.39 bits.
                let first = r.evals[0].validation_bits.unwrap();
                assert!((first - 84f64.log2()).abs() < 0.5, "{what}: {first}");
                assert_eq!(r.status, RunStatus::Finished, "{what}");
            }
        }
        // The same configuration and seed give the same run.
        let device = opts.backend.device().unwrap();
        let mut config = exp.configs[0].clone();
        config.train.steps = 7;
        let again = run_one(&exp.name, &config, 1, &data, 0, &device, &|_| {}).unwrap();
        let first = results.runs.iter().find(|r| r.config.label == exp.configs[0].record.label && r.seed == 1).unwrap();
        assert_eq!(again.steps.len(), 7);
        assert_eq!((&again.steps, &again.evals), (&first.steps, &first.evals));
        // A GPT configuration refuses image data.
        let digits = ExperimentData::load(Fetchable::Images(data::DatasetName::Digits), None).unwrap();
        assert!(matches!(run_one("t", &exp.configs[0], 0, &digits, 0, &device, &|_| {}), Err(LabError::Model { .. })));
        #[cfg(feature = "report")]
        {
            // The records go through results.jsonl and back with their validation bits.
            let dir = tempfile::tempdir().unwrap();
            crate::report::write_report(&results, dir.path()).unwrap();
            let back = crate::report::read_results(&dir.path().join("results.jsonl")).unwrap();
            for (a, b) in results.runs.iter().zip(&back.runs) {
                assert_eq!((&a.config, &a.status, &a.evals), (&b.config, &b.status, &b.evals));
            }
        }
    }
}
