//! Integration tests of `nninit theory`: run the real binary.

mod common;

use common::{assert_bad_input, json, nninit, stderr, stdout};

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn theory_json_has_the_documented_keys() {
    let v = json(&["theory", "tanh", "--sigma-w2", "1.5", "--sigma-b2", "0.05", "--json"]);
    for key in ["q_star", "chi1", "xi_c", "xi_q", "phase", "trainable_depth", "verdict", "c_star", "gradient_growth"] {
        assert!(v.get(key).is_some(), "missing `{key}` in {v}");
    }
    assert_eq!(v["phase"], "ordered");
    assert!(f(&v["chi1"]) < 1.0);
    assert!((f(&v["trainable_depth"]) - 6.0 * f(&v["xi_c"])).abs() < 1e-9);
    assert!(v["verdict"].as_str().unwrap().starts_with("ordered: gradients shrink"));
}

#[test]
fn tanh_with_pytorch_gain_is_chaotic() {
    // The default σ_w² is PyTorch's gain squared: 25/9 for tanh.
    let v = json(&["theory", "tanh", "--json"]);
    assert!((f(&v["sigma_w2"]) - 25.0 / 9.0).abs() < 1e-12);
    assert_eq!(v["phase"], "chaotic");
    assert!((f(&v["chi1"]) - 1.209_831_320_382_8).abs() < 1e-9);
    let verdict = v["verdict"].as_str().unwrap();
    assert!(verdict.starts_with("chaotic: gradients grow 1.2098x per layer; at depth 100 that is"), "{verdict}");
}

#[test]
fn relu_he_point_is_critical_and_above_it_explodes() {
    let v = json(&["theory", "relu", "--sigma-w2", "2", "--json"]);
    assert_eq!(v["phase"], "critical");
    assert_eq!(f(&v["q_star"]), 1.0);
    assert!(v["xi_c"].is_null(), "∞ is null in JSON");
    let v = json(&["theory", "relu", "--sigma-w2", "3", "--json"]);
    assert!(v["q_star"].is_null());
    assert_eq!(v["fixed_point"]["outcome"], "diverges");
    assert!(v["verdict"].as_str().unwrap().starts_with("exploding"));
}

#[test]
fn human_output_has_a_verdict() {
    let out = nninit(&["theory", "gelu", "--sigma-w2", "2.2", "--depth", "50"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for needle in ["q*", "chi1", "xi_c", "phase", "trainable depth", "edge of chaos", "depth 50"] {
        assert!(text.contains(needle), "`{needle}` not in {text}");
    }
}

#[test]
fn recommend_gives_the_rule() {
    let v = json(&["theory", "relu", "--recommend", "--depth", "40", "--json"]);
    assert_eq!((f(&v["sigma_w2"]), f(&v["sigma_b2"])), (2.0, 0.0));
    assert_eq!(v["weight_init"]["init"], "variance_scaling");
    assert_eq!(v["weight_init"]["mode"], "fan_in");
    assert_eq!(v["bias_init"]["init"], "zeros");
    let v = json(&["theory", "tanh", "--recommend", "--depth", "100", "--json"]);
    assert!((f(&v["analysis"]["chi1"]) - 1.0).abs() < 1e-9);
    assert!(f(&v["sigma_b2"]) > 0.0);
    assert!((f(&v["weight_init"]["scale"]) - f(&v["sigma_w2"])).abs() < 1e-9);
    assert!((f(&v["bias_init"]["std"]) - f(&v["sigma_b2"]).sqrt()).abs() < 1e-12);
    let out = nninit(&["theory", "tanh", "--recommend", "--depth", "100"]);
    assert!(stdout(&out).contains("variance_scaling(scale = "), "{}", stdout(&out));
}

#[test]
fn edge_table_and_json() {
    let v = json(&["theory", "tanh", "--edge", "--sigma-b2-max", "0.12", "--json"]);
    let rows = v["edge"].as_array().unwrap();
    assert_eq!(rows.len(), 13);
    assert!((f(&rows[0]["sigma_w2"]) - 1.0).abs() < 1e-9);
    // σ_b² = 0.05 is row 5 of 0, 0.01, ...
    assert!((f(&rows[5]["sigma_b2"]) - 0.05).abs() < 1e-12);
    assert!((f(&rows[5]["sigma_w2"]) - 1.760_955).abs() < 1e-6);
    let ws: Vec<f64> = rows.iter().map(|r| f(&r["sigma_w2"])).collect();
    assert!(ws.windows(2).all(|w| w[0] < w[1]), "the critical σ_w² grows with σ_b²: {ws:?}");
    let out = nninit(&["theory", "tanh", "--edge"]);
    assert!(stdout(&out).contains("sigma_b2"), "{}", stdout(&out));
}

#[test]
fn plot_svg_and_png_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("phase.svg");
    let png = dir.path().join("phase.png");
    let out = nninit(&["theory", "tanh", "--plot", svg.to_str().unwrap(), "--grid", "20"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg") && text.contains("σ_w²"), "{}", &text[..200.min(text.len())]);
    let out = nninit(&["theory", "relu", "--plot", png.to_str().unwrap(), "--grid", "20"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(&std::fs::read(&png).unwrap()[..8], b"\x89PNG\r\n\x1a\n");
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names.len(), 2, "no temporary file left: {names:?}");
}

#[test]
fn bad_input_is_one_line() {
    assert_bad_input(&["theory", "conv9d"], "unknown activation `conv9d`");
    assert_bad_input(&["theory", "tanh", "--sigma-w2", "-1"], "invalid sigma_w2 = -1");
    assert_bad_input(&["theory", "tanh", "--sigma-w2", "NaN"], "invalid sigma_w2 = NaN");
    assert_bad_input(&["theory", "tanh", "--sigma-b2", "-0.5"], "invalid sigma_b2 = -0.5");
    assert_bad_input(&["theory", "tanh", "--depth", "0"], "invalid depth = 0");
    assert_bad_input(&["theory", "tanh", "--recommend", "--depth", "0"], "invalid depth = 0");
    assert_bad_input(&["theory", "elu", "--param", "-1"], "invalid alpha = -1");
    assert_bad_input(&["theory", "tanh", "--plot", "/nonexistent-nninit-dir/p.svg"], "cannot write");
    assert_bad_input(&["theory", "tanh", "--plot", "p.jpg"], "must end in .svg or .png");
    assert_bad_input(&["theory", "tanh", "--depth", "x"], "invalid value");
}

/// `--recommend` and the one-point report agree: for the smooth ReLU-like activations the
/// recommended point is critical at a stable fixed point reached from unit-variance inputs,
/// and asking for that point by its numbers gives the same q*, χ₁ and phase.
#[test]
fn the_recommendation_and_the_point_report_agree() {
    for activation in ["gelu", "silu", "mish", "tanh", "elu"] {
        let rec = json(&["theory", activation, "--recommend", "--depth", "100", "--json"]);
        let point = &rec["point"];
        assert_eq!(point["stability"], "stable", "{activation}: {point}");
        assert_eq!(point["phase"], "critical", "{activation}: {point}");
        let (w, b) = (f(&rec["sigma_w2"]), f(&rec["sigma_b2"]));
        let again = json(&["theory", activation, "--sigma-w2", &w.to_string(), "--sigma-b2", &b.to_string(), "--json"]);
        for key in ["q_star", "chi1"] {
            assert!(
                (f(&again[key]) - f(&point[key])).abs() <= 1e-9 * f(&point[key]).abs(),
                "{activation} {key}: {again}"
            );
        }
        assert_eq!(again["phase"], point["phase"], "{activation}");
        assert_eq!(again["fixed_points"], point["fixed_points"], "{activation}");
    }
}

/// The point recommended before the fixed points were sorted out (GELU, σ_w² = 2.3515,
/// σ_b² = 10⁻⁴) sits above an unstable fixed point just below q⁰ = 1: the report lists both
/// fixed points and says the length diverges, as a width-1000 network does.
#[test]
fn an_unstable_fixed_point_is_listed_and_never_used() {
    let v = json(&["theory", "gelu", "--sigma-w2", "2.3515", "--sigma-b2", "1e-4", "--json"]);
    let points = v["fixed_points"].as_array().expect("a list of fixed points");
    let stabilities: Vec<&str> = points.iter().map(|p| p["stability"].as_str().unwrap()).collect();
    assert_eq!(stabilities, ["stable", "unstable"], "{v}");
    assert_eq!(v["fixed_point"]["outcome"], "diverges", "{v}");
    assert_ne!(v["phase"], "critical");
}
