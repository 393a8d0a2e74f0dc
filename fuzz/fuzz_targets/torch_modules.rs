//! The PyTorch module-list reader never panics on any text, and a list it
//! accepts with small sizes replays without panicking into finite values of
//! the shapes it names. `cargo +nightly fuzz run torch_modules`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nninit::torch::{self, StateValues, TorchDType, TorchGenerator};

/// Lists whose numbers all lie within this are replayed (at most a few
/// thousand values per module). Larger sizes are the reader's to refuse
/// (the CLI's bad-input tests try them).
const SMALL: f64 = 16.0;

fn small(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Number(n) => n.as_f64().is_some_and(|x| x.abs() <= SMALL),
        serde_json::Value::Array(a) => a.len() <= 64 && a.iter().all(small),
        serde_json::Value::Object(o) => o.values().all(small),
        _ => true,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(modules) = torch::parse_modules(text) else { return };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else { return };
    if !small(&value) {
        return;
    }
    let Ok(tensors) = torch::state_dict(&modules, &mut TorchGenerator::new(0), TorchDType::F32) else { return };
    for t in &tensors {
        assert_eq!(t.data.len(), t.shape.iter().product::<usize>(), "{}: values and shape disagree", t.name);
        if let StateValues::F32(v) = &t.data {
            assert!(v.iter().all(|x| x.is_finite()), "{}: a non-finite value", t.name);
        }
    }
});
