//! `nninit doctor`'s lints: the real binary on checkpoints transformers and
//! torch wrote with one init bug each (`scripts/doctor-lint-fixtures.py`,
//! committed under `tests/fixtures/doctor/`), and on their clean twin.

mod common;

use common::{assert_bad_input, nninit, stdout};
use serde_json::Value;

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/doctor/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The exit code and the JSON report of `nninit doctor FIXTURE --json ARGS`.
fn doctor(name: &str, args: &[&str]) -> (i32, Value) {
    let path = fixture(name);
    let o = nninit(&[&["doctor", path.as_str(), "--json"][..], args].concat());
    let code = o.status.code().expect("exited");
    assert!(code == 0 || code == 1, "{name}: exit {code}: {}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    (code, v["report"].clone())
}

fn findings<'a>(report: &'a Value, kind: &str) -> Vec<&'a Value> {
    report["findings"].as_array().unwrap().iter().filter(|f| f["kind"] == kind).collect()
}

fn kinds(report: &Value) -> Vec<String> {
    report["findings"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap().to_string()).collect()
}

/// Asserts that the fixture has a finding of `kind` with `severity` on each
/// of `tensors` (or one about the whole model when `tensors` is empty) whose
/// message holds `needle`, with a fix; that its exit code is 1 under the
/// default `--fail-on error` when the severity is an error, and 0 under
/// `--fail-on never`. Returns the report.
fn assert_lint(name: &str, kind: &str, severity: &str, tensors: &[&str], needle: &str) -> Value {
    let (code, report) = doctor(name, &[]);
    let found = findings(&report, kind);
    assert!(!found.is_empty(), "{name}: no `{kind}` in {:?}", report["findings"]);
    for f in &found {
        assert_eq!(f["severity"], severity, "{name}: {f}");
        assert!(f["message"].as_str().unwrap().contains(needle), "{name}: `{needle}` not in {f}");
        assert!(f["fix"].as_str().is_some_and(|x| !x.is_empty()), "{name}: no fix in {f}");
    }
    if tensors.is_empty() {
        assert!(found.iter().all(|f| f["tensor"].is_null()), "{name}: {found:?}");
    } else {
        let named: Vec<&str> = found.iter().filter_map(|f| f["tensor"].as_str()).collect();
        for t in tensors {
            assert!(named.contains(t), "{name}: `{kind}` not on {t}: {named:?}");
        }
    }
    let errors = report["findings"].as_array().unwrap().iter().any(|f| f["severity"] == "error");
    assert_eq!(code, i32::from(errors), "{name}: exit code under --fail-on error");
    let (never, _) = doctor(name, &["--fail-on", "never"]);
    assert_eq!(never, 0, "{name}: --fail-on never");
    let (warning, _) = doctor(name, &["--fail-on", "warning"]);
    assert_eq!(warning, 1, "{name}: --fail-on warning");
    report
}

const Q: &str = "model.layers.0.self_attn.q_proj.weight";
const K: &str = "model.layers.0.self_attn.k_proj.weight";
const UP: &str = "model.layers.0.mlp.up_proj.weight";
const DOWN: &str = "model.layers.0.mlp.down_proj.weight";
const EMBED: &str = "model.embed_tokens.weight";
const HEAD: &str = "lm_head.weight";
const NORMS: [&str; 3] =
    ["model.layers.0.input_layernorm.weight", "model.layers.0.post_attention_layernorm.weight", "model.norm.weight"];

/// The twin every lint test is measured against: transformers' own init, no finding at all.
#[test]
fn the_clean_twin_has_no_finding() {
    let (code, report) = doctor("clean", &["--fail-on", "warning"]);
    assert_eq!(code, 0, "{:?}", report["findings"]);
    assert_eq!(report["findings"], serde_json::json!([]));
    assert_eq!(report["verdict"]["kind"], "init", "{}", report["verdict"]);
    // The human output says so too.
    let o = nninit(&["doctor", &fixture("clean")]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("findings: 0 error(s), 0 warning(s), 0 info"), "{}", stdout(&o));
}

/// BERT as transformers writes it: the padding row of its word embeddings is
/// zero by design (`pad_token_id`), and its tied decoder is not stored.
#[test]
fn a_clean_bert_with_its_zero_padding_row_has_no_finding() {
    let (code, report) = doctor("clean-bert", &["--fail-on", "warning"]);
    assert_eq!(code, 0, "{:?}", report["findings"]);
    assert_eq!(report["verdict"]["kind"], "init", "{}", report["verdict"]);
    let t =
        report["tensors"].as_array().unwrap().iter().find(|t| t["name"] == "bert.embeddings.word_embeddings.weight");
    assert_eq!(t.unwrap()["stats"]["zeros"], 64, "the padding row");
}

#[test]
fn a_tied_head_that_differs_from_its_embedding() {
    let r = assert_lint(
        "tied-head-differs",
        "tied_head_differs",
        "error",
        &[HEAD],
        "differs from `model.embed_tokens.weight`",
    );
    let f = findings(&r, "tied_head_differs")[0];
    assert!(f["message"].as_str().unwrap().contains("in 4096 of 4096 values (first at index 0"), "{f}");
    assert!(f["fix"].as_str().unwrap().contains("\"tie_word_embeddings\": false"), "{f}");
}

#[test]
fn an_untied_head_left_at_the_linear_default() {
    let r =
        assert_lint("head-left-at-default", "head_scale", "error", &[HEAD], "its values follow torch-default's rule");
    assert_eq!(findings(&r, "head_scale").len(), 1);
    assert!(findings(&r, "rule_mismatch").is_empty(), "the head lint replaces the generic mismatch: {:?}", kinds(&r));
}

#[test]
fn norm_weights_drawn_with_the_matrices() {
    let r = assert_lint("norms-drawn", "norm_not_at_init", "error", &NORMS, "every scheme starts it at exactly 1");
    assert_eq!(findings(&r, "norm_not_at_init").len(), 3);
    assert!(findings(&r, "norm_not_at_init")[0]["message"].as_str().unwrap().contains("erases"));
}

#[test]
fn a_std_that_ignores_the_configs_initializer_range() {
    for (name, weights, config) in [("range-ignored-0.02", "0.0200", "0.01"), ("range-ignored-0.01", "0.0100", "0.02")]
    {
        let needle = format!("initializer_range = {weights}");
        let r = assert_lint(name, "initializer_range_ignored", "error", &[], &needle);
        let f = findings(&r, "initializer_range_ignored")[0];
        assert!(f["message"].as_str().unwrap().contains(&format!("the config says {config}")), "{f}");
        // The one finding explains every tensor: no per-tensor mismatch beside it.
        assert!(findings(&r, "rule_mismatch").is_empty(), "{name}: {:?}", kinds(&r));
    }
    let r = doctor("range-ignored-0.02", &[]).1;
    assert!(
        findings(&r, "initializer_range_ignored")[0]["message"].as_str().unwrap().contains("transformers' default")
    );
}

#[test]
fn memory_never_written_is_nan_inf_and_subnormal_garbage() {
    let r = assert_lint("garbage", "non_finite", "error", &[DOWN], "(first at index 4");
    let f = findings(&r, "non_finite")[0];
    // Rows 32.. of [64, 128] are garbage: index 4096 on.
    let first: u64 = f["message"]
        .as_str()
        .unwrap()
        .split("(first at index ")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(first >= 4096, "{f}");
    assert_lint("garbage", "subnormal", "error", &[DOWN], "memory that was never");
    let t = r["tensors"].as_array().unwrap().iter().find(|t| t["name"] == DOWN).unwrap();
    let s = &t["stats"];
    assert!(s["nan"].as_u64().unwrap() > 0 && s["subnormal"].as_u64().unwrap() > 0, "{s}");
    assert!(s["first_subnormal"].as_u64().unwrap() >= 4096, "{s}");
}

#[test]
fn exact_zeros_where_every_scheme_draws() {
    let r = assert_lint("zeros", "all_zero", "error", &[Q], "never initialized");
    assert_eq!(findings(&r, "all_zero").len(), 1);
    let r = assert_lint(
        "zeros",
        "zero_values",
        "error",
        &[EMBED],
        "1024 of 4096 values are exactly 0 (first at index 3072)",
    );
    assert_eq!(findings(&r, "zero_values").len(), 1, "{:?}", kinds(&r));
}

#[test]
fn trunc_normal_with_absolute_bounds_does_not_truncate() {
    let r = assert_lint(
        "untruncated",
        "truncation_missing",
        "error",
        &[EMBED, UP],
        "olmo-mitchell truncates at [-3.0σ, 3.0σ]",
    );
    let f = findings(&r, "truncation_missing")[0];
    assert!(f["fix"].as_str().unwrap().contains("a=-"), "{f}");
}

#[test]
fn a_llama_drawn_from_n01_explodes() {
    let r = assert_lint("normal-1", "signal_explosion", "error", &[Q, K, UP, DOWN, HEAD], "the layer scales the RMS");
    let g = |name: &str| {
        let t = r["tensors"].as_array().unwrap().iter().find(|t| t["name"] == name).unwrap();
        t["std_sqrt_fan_in"].as_f64().unwrap()
    };
    // std·√fan_in = √fan_in for N(0, 1): 8 at fan_in 64, 11.3 for down_proj's 128 (std within 2% here).
    assert!((g(Q) / 8.0 - 1.0).abs() < 0.05 && (g(DOWN) / 128f64.sqrt() - 1.0).abs() < 0.05, "{} {}", g(Q), g(DOWN));
    let q = findings(&r, "signal_explosion").into_iter().find(|f| f["tensor"] == Q).unwrap();
    assert!(q["message"].as_str().unwrap().contains("attention logits q·k grow with the square"), "{q}");
    assert!(
        findings(&r, "signal_explosion").iter().all(|f| f["tensor"] != EMBED),
        "N(0, 1) is nn.Embedding's own init"
    );
}

#[test]
fn a_std_far_below_every_scheme_vanishes() {
    let r = assert_lint("tiny-std", "signal_vanishing", "warning", &[Q, K, UP, DOWN], "below the smallest");
    assert!(findings(&r, "signal_vanishing").iter().all(|f| f["tensor"] != HEAD), "the head is at hf's 0.02");
    let (code, _) = doctor("tiny-std", &[]);
    assert_eq!(code, 0, "warnings do not fail under --fail-on error: {:?}", kinds(&r));
}

/// N(0, 1) everywhere is also hf at initializer_range 1.0: both findings stand.
#[test]
fn n01_everywhere_also_ignores_the_range() {
    let r = doctor("normal-1", &[]).1;
    let f = findings(&r, "initializer_range_ignored");
    assert_eq!(f.len(), 1, "{:?}", kinds(&r));
    assert!(f[0]["message"].as_str().unwrap().contains("the config says 0.02"), "{}", f[0]);
    // The 0.01 fixture, at exactly half hf's 0.02, is not called vanishing by chance.
    let r = doctor("range-ignored-0.01", &[]).1;
    assert_eq!(kinds(&r), ["initializer_range_ignored"]);
}

#[test]
fn the_human_output_gives_kind_and_fix() {
    let o = nninit(&["doctor", &fixture("norms-drawn")]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(text.contains("error   [norm_not_at_init] model.norm.weight: norm weight at mean"), "{text}");
    assert!(text.contains("fix: set the norm weights to 1"), "{text}");
}

#[test]
fn fail_on_takes_a_severity() {
    assert_bad_input(&["doctor", &fixture("clean"), "--fail-on", "sometimes"], "sometimes");
}
