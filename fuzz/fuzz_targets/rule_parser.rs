//! The rule parser the CLI's options feed never panics: the first line names
//! a rule, each further line is `key=value` for `InitParams::set`. A rule it
//! accepts round-trips through JSON, explains itself on a small tensor, and
//! fills it with finite values. `cargo +nightly fuzz run rule_parser`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nninit::stream::Philox;
use nninit::{Fan, Init, InitParams, Shape, TensorSpec};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut lines = text.lines();
    let Some(name) = lines.next() else { return };
    let mut params = InitParams::default();
    for line in lines {
        let Some((key, value)) = line.split_once('=') else { return };
        if params.set(key, value).is_err() {
            return;
        }
    }
    let Ok(init) = Init::parse(name, &params) else { return };
    let json = serde_json::to_string(&init).expect("a valid rule serializes");
    let back: Init = serde_json::from_str(&json).expect("a serialized rule parses");
    assert_eq!(back, init, "JSON round trip changed the rule: {json}");
    for dims in [vec![6, 4], vec![4, 2, 3, 3], vec![5]] {
        let mut spec = TensorSpec::new(Shape::new(dims).expect("a valid shape"));
        if spec.shape().dims().len() < 2 {
            spec = spec.with_fan(Fan::new(3, 5).expect("valid fans"));
        }
        if init.check(&spec).is_err() {
            continue;
        }
        let _ = init.explain(&spec);
        let mut out = vec![0.0f32; spec.numel() as usize];
        if init.fill(&spec, &Philox::new(0, "fuzz"), &mut out).is_ok() {
            assert!(out.iter().all(|v| v.is_finite()), "{init:?} gave a non-finite value");
        }
    }
});
