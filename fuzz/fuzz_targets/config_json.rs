//! The `config.json` reader never panics on any text; a config it accepts
//! plans under every scheme without panicking, and every rule of the plan
//! explains itself. `cargo +nightly fuzz run config_json`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nninit::DType;
use nninit::arch::Model;
use nninit::scheme::Scheme;

/// Configs whose numbers all lie within this are planned. Larger sizes are
/// the reader's to refuse (the CLI's bad-input tests try them); planning
/// them here would only measure the machine's memory.
const SMALL: f64 = 64.0;

fn small(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Number(n) => n.as_f64().is_some_and(|x| x.abs() <= SMALL),
        serde_json::Value::Array(a) => a.iter().all(small),
        serde_json::Value::Object(o) => o.values().all(small),
        _ => true,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(model) = Model::from_config_json(text) else { return };
    if !small(model.config()) {
        return;
    }
    // `mup[:BASE_WIDTH]` is listed with its optional part.
    for scheme in nninit::scheme::SCHEME_NAMES.split(", ").filter_map(|s| s.split('[').next()) {
        let Ok(scheme) = Scheme::parse(scheme) else { continue };
        let Ok(mut plan) = model.plan(DType::F32) else { return };
        if scheme.apply(&model, &mut plan).is_err() || plan.validate().is_err() {
            continue;
        }
        for t in &plan.tensors {
            if let Some(init) = &t.init {
                let _ = init.explain(&t.spec);
            }
        }
    }
});
