//! The experiment TOML reader never panics on any text, and what it accepts
//! is runnable as far as it can be checked without training: at least one
//! configuration, every network valid. `cargo +nightly fuzz run --features lab
//! experiment_toml` (the feature pulls in the burn-based lab crate).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nninit_lab::experiment::Experiment;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(exp) = Experiment::parse(text, "fuzz") else { return };
    assert!(exp.seeds >= 1 && !exp.configs.is_empty(), "an experiment with nothing to run");
    for c in &exp.configs {
        assert!(c.model.validate().is_ok(), "{}: an invalid network accepted", c.record.label);
    }
});
