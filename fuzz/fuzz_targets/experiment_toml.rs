//! The experiment TOML reader never panics or hangs on any text, and what it
//! accepts is runnable as far as that can be checked without training: at
//! least one configuration, every count within its limit, every network
//! valid and its batches within the memory limit, every initialization's
//! data-free rule buildable. `cargo +nightly fuzz run experiment_toml`
//! (the lab crate without its default features: no burn).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nninit::scheme::residual::{ResidualDepth, ResidualRole};
use nninit_lab::experiment::{Experiment, Setup};
use nninit_lab::limits;
use nninit_lab::model::LAYERS_PER_BRANCH;
use nninit_lab::rules::InitMethod;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(exp) = Experiment::parse(text, "fuzz") else { return };
    let what = "fuzz";
    assert!(!exp.configs.is_empty(), "an experiment with nothing to run");
    limits::SEEDS.check_usize(what, exp.seeds).expect("seeds");
    limits::PROBE_BATCH.check_usize(what, exp.probe_batch).expect("probe_batch");
    limits::RUNS.check(what, exp.configs.len() as u128 * exp.seeds as u128).expect("runs");
    for c in &exp.configs {
        let label = &c.record.label;
        match &c.setup {
            Setup::Classifier { model, init } => {
                model.validate().unwrap_or_else(|e| panic!("{label}: an invalid network accepted: {e}"));
                model.check_batch(what, c.train.batch.max(exp.probe_batch)).unwrap_or_else(|e| panic!("{label}: {e}"));
                init.method.check(model).unwrap_or_else(|e| panic!("{label}: an init that does not fit: {e}"));
                match init.method {
                    // A residual scheme has a rule per role, not one rule: every role's must build.
                    InitMethod::Residual(scheme) => {
                        let depth = ResidualDepth::new(model.blocks(), LAYERS_PER_BRANCH)
                            .unwrap_or_else(|e| panic!("{label}: {e}"));
                        let mut roles = vec![
                            ResidualRole::Stem,
                            ResidualRole::BranchInner,
                            ResidualRole::BranchLast,
                            ResidualRole::Head,
                            ResidualRole::Bias,
                            ResidualRole::Multiplier,
                        ];
                        if scheme.has_scalar_biases() {
                            roles.push(ResidualRole::ScalarBias);
                        }
                        for role in roles {
                            scheme.rule(depth, role, model.activation).unwrap_or_else(|e| panic!("{label}: {e}"));
                        }
                    }
                    _ => {
                        init.method.pre_init().unwrap_or_else(|e| panic!("{label}: {e}"));
                    }
                }
            }
            Setup::Gpt { spec, scheme, validation_windows } => {
                spec.check_batch(what, c.train.batch).unwrap_or_else(|e| panic!("{label}: {e}"));
                spec.plan(*scheme).unwrap_or_else(|e| panic!("{label}: {e}"));
                limits::VALIDATION_WINDOWS.check_usize(what, *validation_windows).expect("validation_windows");
            }
        }
        limits::STEPS.check_usize(what, c.train.steps).expect("steps");
        limits::BATCH.check_usize(what, c.train.batch).expect("batch");
        // The rate the run trains with, after any scaling by depth.
        limits::LR.check(what, c.train.lr).unwrap_or_else(|e| panic!("{label}: {e}"));
    }
});
