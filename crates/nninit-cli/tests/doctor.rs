//! `nninit doctor`: run the real binary on checkpoints nninit writes and on
//! hand-made damaged files.

mod common;

use std::path::{Path, PathBuf};

use common::{assert_bad_input, json, nninit, stderr, stdout};
use nninit::io::{Bytes, TensorData, write_safetensors};
use nninit::stream::Philox;
use nninit::{Init, Shape, TensorSpec};

/// GPT-2 with 3 layers of width 128: every weight has ≥ 16384 values, so the
/// variance test (|z| ≤ 5) catches a relative std error above 2.5·√(2/n) ≤ 2.8%
/// in each weight, and 1.0% in the 128000-value embedding.
const TINY_GPT2: &str = r#"{"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": 128, "n_layer": 3,
  "n_head": 4, "vocab_size": 1000, "n_positions": 256, "initializer_range": 0.02}"#;

fn materialize(dir: &Path, config: &str, scheme: &str) -> PathBuf {
    let cfg = dir.join(format!("{scheme}.json"));
    std::fs::write(&cfg, config).unwrap();
    let out = dir.join(scheme);
    let args = ["materialize", "--config", cfg.to_str().unwrap(), "--scheme", scheme, "--seed", "5", "--out"];
    let o = nninit(&[&args[..], &[out.to_str().unwrap()]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    out
}

/// Tiny Llama and Mamba configs for the training stacks' schemes and Mamba's.
const TINY_LLAMA: &str = r#"{"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 128,
  "intermediate_size": 256, "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2,
  "vocab_size": 1000, "initializer_range": 0.02}"#;
const TINY_MAMBA: &str = r#"{"model_type": "mamba", "architectures": ["MambaForCausalLM"], "hidden_size": 128,
  "num_hidden_layers": 3, "vocab_size": 1000, "state_size": 16}"#;

/// The doctor's candidates hold every scheme nninit writes: each is named on its own
/// output and `--expect` finds it followed (GPT-2 under T-Fixup and DeepNorm, whose c_attn
/// is drawn per part, too: schemes that were n/a on GPT-2 before parts existed now apply).
#[test]
fn names_the_scheme_nninit_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let gpt2 =
        ["hf", "small-init", "olmo-mitchell", "torch-default", "mup", "t-fixup", "deepnorm", "nanogpt", "spectral"];
    let llama = [
        "torchtitan",
        "torchtitan-no-depth",
        "olmo-core-llama",
        "olmo-core-llama-depth",
        "olmo-core-normalized",
        "depth-mup",
        "completep",
    ];
    let cases = gpt2
        .iter()
        .map(|s| (TINY_GPT2, "gpt2", *s))
        .chain(llama.iter().map(|s| (TINY_LLAMA, "llama", *s)))
        .chain(["mamba", "hf"].iter().map(|s| (TINY_MAMBA, "mamba", *s)));
    for (config, family, scheme) in cases {
        let sub = dir.path().join(family);
        std::fs::create_dir_all(&sub).unwrap();
        let out = materialize(&sub, config, scheme);
        let report = assert_named_and_followed(&out, scheme, family);
        let label = label(scheme);
        let fit = report["schemes"].as_array().unwrap().iter().find(|f| f["scheme"] == label.as_str()).unwrap();
        assert!(fit["not_applicable"].is_null(), "{family} {scheme}: {fit}");
    }
}

/// The label the doctor reports a scheme by (muP's with its base width).
fn label(scheme: &str) -> String {
    match scheme {
        "mup" | "depth-mup" | "completep" => format!("{scheme}:256"),
        s => s.to_string(),
    }
}

/// Asserts that the doctor's verdict on `out` is an init naming `scheme` (or tied with it) and
/// that `--expect scheme` finds it followed; returns the report.
fn assert_named_and_followed(out: &Path, scheme: &str, what: &str) -> serde_json::Value {
    let v = json(&["doctor", out.to_str().unwrap(), "--json"]);
    let verdict = &v["report"]["verdict"];
    assert_eq!(verdict["kind"], "init", "{what} {scheme}: {verdict}");
    let named: Vec<&str> = std::iter::once(&verdict["scheme"])
        .chain(verdict["also"].as_array().unwrap())
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(named.contains(&label(scheme).as_str()), "{what} {scheme}: {verdict}");
    let o = nninit(&["doctor", out.to_str().unwrap(), "--expect", scheme]);
    assert_eq!(o.status.code(), Some(0), "{what} {scheme}: {}", stdout(&o));
    assert!(stdout(&o).contains("expected scheme: followed"));
    v["report"].clone()
}

/// The twin: GPT-2 drawn under `hf` is not T-Fixup (its per-part xavier rules are
/// tested and rejected, not n/a), and T-Fixup's output with v drawn at q's rule
/// fails `--expect t-fixup`.
#[test]
fn t_fixup_on_gpt2_is_tested_per_part_and_a_wrong_v_fails() {
    let dir = tempfile::tempdir().unwrap();
    let hf = materialize(dir.path(), TINY_GPT2, "hf");
    let v = json(&["doctor", hf.to_str().unwrap(), "--json"]);
    let fit = v["report"]["schemes"].as_array().unwrap().iter().find(|f| f["scheme"] == "t-fixup").unwrap();
    assert!(fit["not_applicable"].is_null(), "{fit}");
    assert!(fit["deviating"].as_array().unwrap().iter().any(|n| n.as_str().unwrap().ends_with("c_attn.weight")));
    let tf = materialize(dir.path(), TINY_GPT2, "t-fixup");
    // Rewrite layer 0's c_attn with v drawn like q (xavier_uniform(1/√2) on 128×128 parts).
    let file = tf.join("model.safetensors");
    let mut bytes = std::fs::read(&file).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    let offsets = &header["transformer.h.0.attn.c_attn.weight"]["data_offsets"];
    let start = 8 + header_len + offsets[0].as_u64().unwrap() as usize;
    let bound = (1.0f64 / 2f64.sqrt()) * (6.0f64 / 256.0).sqrt();
    let init = Init::Uniform(nninit::init::Uniform::new(-bound, bound).unwrap());
    let spec = TensorSpec::new(Shape::new(vec![128 * 128]).unwrap());
    let mut v_part = vec![0.0f32; 128 * 128];
    init.fill(&spec, &Philox::new(9, "v"), &mut v_part).unwrap();
    for row in 0..128 {
        for col in 0..128 {
            let at = start + 4 * (row * 384 + 256 + col);
            bytes[at..at + 4].copy_from_slice(&v_part[row * 128 + col].to_le_bytes());
        }
    }
    std::fs::write(&file, &bytes).unwrap();
    let o = nninit(&["doctor", tf.to_str().unwrap(), "--expect", "t-fixup"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("part v"), "{}", stdout(&o));
}

/// Phi-3 with q, k, v fused in qkv_proj and gate, up in gate_up_proj: the smallest part (k, v:
/// 64 × 128 = 8192 values) bounds a relative std error of 2.5·√(2/8192) ≤ 3.9% at |z| ≤ 5.
const TINY_PHI3: &str = r#"{"model_type": "phi3", "architectures": ["Phi3ForCausalLM"], "hidden_size": 128,
  "intermediate_size": 256, "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2,
  "vocab_size": 1000, "initializer_range": 0.02, "tie_word_embeddings": false}"#;

/// Every scheme that applies to Llama applies to Phi-3's fused tensors: the doctor names
/// each on its own output, judges the fused tensors (per part where their parts have rules
/// of their own), answers no scheme "n/a", and `--expect` finds it followed.
#[test]
fn names_every_scheme_nninit_wrote_on_phi3_and_none_is_not_applicable() {
    let dir = tempfile::tempdir().unwrap();
    // Every scheme but Mamba's (which refuses a model without state-space mixers).
    let schemes = nninit::scheme::Scheme::all(256)
        .into_iter()
        .map(|s| s.name())
        .filter(|s| !matches!(*s, "mamba"))
        .collect::<Vec<_>>();
    assert!(schemes.len() >= 18, "{schemes:?}");
    for scheme in schemes {
        let out = materialize(dir.path(), TINY_PHI3, scheme);
        let report = assert_named_and_followed(&out, scheme, "phi3");
        for fit in report["schemes"].as_array().unwrap() {
            if fit["scheme"] != "mamba" {
                assert!(fit["not_applicable"].is_null(), "{scheme}: {fit}");
            }
        }
    }
}

/// The twin: T-Fixup's Phi-3 with layer 0's `up` part of gate_up_proj drawn at q's gain
/// (xavier_uniform(1/√2) instead of (9L)^(−1/4) = 0.44 on its 128 → 256 fans, ×1.6 the std)
/// fails `--expect t-fixup`, and the report names the part.
#[test]
fn t_fixup_on_phi3_with_a_wrong_up_part_fails() {
    let dir = tempfile::tempdir().unwrap();
    let tf = materialize(dir.path(), TINY_PHI3, "t-fixup");
    let o = nninit(&["doctor", tf.to_str().unwrap(), "--expect", "t-fixup"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let file = tf.join("model.safetensors");
    let mut bytes = std::fs::read(&file).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    let offsets = &header["model.layers.0.mlp.gate_up_proj.weight"]["data_offsets"];
    // Linear [2·256, 128]: the up rows 256..512 are the second half.
    let start = 8 + header_len + offsets[0].as_u64().unwrap() as usize + 4 * 256 * 128;
    let bound = (1.0f64 / 2f64.sqrt()) * (6.0f64 / (128.0 + 256.0)).sqrt();
    let init = Init::Uniform(nninit::init::Uniform::new(-bound, bound).unwrap());
    let spec = TensorSpec::new(Shape::new(vec![256 * 128]).unwrap());
    let mut up = vec![0.0f32; 256 * 128];
    init.fill(&spec, &Philox::new(9, "up"), &mut up).unwrap();
    for (i, x) in up.iter().enumerate() {
        bytes[start + 4 * i..start + 4 * i + 4].copy_from_slice(&x.to_le_bytes());
    }
    std::fs::write(&file, &bytes).unwrap();
    let o = nninit(&["doctor", tf.to_str().unwrap(), "--expect", "t-fixup"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("part up"), "{}", stdout(&o));
}

/// The twin of `names_the_scheme_nninit_wrote`: the same checkpoint against a config whose
/// initializer_range is 3% off must fail the hf test (exit 1).
#[test]
fn a_std_3_percent_off_is_not_the_scheme() {
    let dir = tempfile::tempdir().unwrap();
    let out = materialize(dir.path(), TINY_GPT2, "hf");
    for range in ["0.0206", "0.0194"] {
        let off = dir.path().join(format!("off-{range}.json"));
        std::fs::write(&off, TINY_GPT2.replace("0.02}", &format!("{range}}}"))).unwrap();
        let o = nninit(&["doctor", out.to_str().unwrap(), "--config", off.to_str().unwrap(), "--expect", "hf"]);
        assert_eq!(o.status.code(), Some(1), "{range}: {}", stdout(&o));
        assert!(stdout(&o).contains("expected scheme: NOT followed"));
    }
}

/// transformers#47458: GPT-2's c_proj drawn at σ instead of σ/√(2·n_layer).
#[test]
fn expect_fails_when_c_proj_lacks_the_depth_scaling() {
    let dir = tempfile::tempdir().unwrap();
    let out = materialize(dir.path(), TINY_GPT2, "hf");
    let file = out.join("model.safetensors");
    let raw = std::fs::read(&file).unwrap();
    let st = safetensors::SafeTensors::deserialize(&raw).unwrap();
    let mut tensors = Vec::new();
    for (name, view) in st.tensors() {
        let mut data = view.data().to_vec();
        if name.ends_with("c_proj.weight") {
            let spec = TensorSpec::new(Shape::new(view.shape().to_vec()).unwrap());
            let mut v = vec![0.0f32; spec.numel() as usize];
            let unscaled = Init::Normal(nninit::init::Normal::new(0.0, 0.02).unwrap());
            unscaled.fill(&spec, &Philox::new(5, &name), &mut v).unwrap();
            data = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        }
        let bytes = Bytes { dtype: nninit::DType::F32, shape: view.shape().to_vec(), data };
        tensors.push(TensorData { name, bytes });
    }
    drop(st);
    write_safetensors(&file, &tensors, &Default::default()).unwrap();
    let o = nninit(&["doctor", out.to_str().unwrap(), "--expect", "hf"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let text = stdout(&o);
    assert!(text.contains("depth scaling was never applied"), "{text}");
    // Without --expect the errors still fail the run (--fail-on error, the default) ...
    let o = nninit(&["doctor", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    // ... and with --fail-on never the findings are reported and the exit code is 0.
    let v = json(&["doctor", out.to_str().unwrap(), "--json", "--fail-on", "never"]);
    let r = &v["report"];
    assert_eq!(r["verdict"]["kind"], "init_with_deviations");
    assert_eq!(r["verdict"]["scheme"], "hf");
    let findings = r["findings"].as_array().unwrap();
    let scaled: Vec<&serde_json::Value> = findings.iter().filter(|f| f["kind"] == "depth_scaling_missing").collect();
    assert_eq!(scaled.len(), 6, "2 c_proj × 3 layers: {findings:?}");
    assert!(scaled.iter().all(|f| f["severity"] == "error"));
    assert_eq!(findings[0]["severity"], "error", "most severe first");
}

#[test]
fn json_has_the_documented_shape() {
    let dir = tempfile::tempdir().unwrap();
    let out = materialize(dir.path(), TINY_GPT2, "hf");
    let v = json(&["doctor", out.join("model.safetensors").to_str().unwrap(), "--json"]);
    let r = &v["report"];
    assert!(v["seconds"].as_f64().unwrap() >= 0.0);
    for key in ["path", "model", "tensor_count", "parameters", "bytes", "verdict", "schemes", "findings", "notes"] {
        assert!(!r[key].is_null(), "{key} missing: {r}");
    }
    let wte = r["tensors"].as_array().unwrap().iter().find(|t| t["name"] == "transformer.wte.weight").unwrap();
    assert_eq!(wte["dtype"], "f32");
    assert_eq!(wte["shape"], serde_json::json!([1000, 128]));
    assert_eq!(wte["role"], "embedding");
    for key in ["count", "mean", "std", "min", "max", "nan", "inf", "beyond_6_std", "excess_kurtosis", "rms"] {
        assert!(wte["stats"][key].is_number(), "stats.{key}: {wte}");
    }
    assert!(wte["std_sqrt_fan_in"].is_number());
    let spectral = &wte["spectral"];
    assert!(spectral["norm"].as_f64().unwrap() > 0.0 && spectral["orthogonality"].is_number());
    let test = &wte["tests"][0];
    for key in ["scheme", "rule", "expected_mean", "expected_std", "z_mean", "z_std", "consistent"] {
        assert!(!test[key].is_null(), "tests[0].{key}: {test}");
    }
    let fit = &r["schemes"][0];
    assert_eq!(fit["scheme"], "hf");
    assert_eq!(fit["parameter_fraction"], 1.0);
}

#[test]
fn a_checkpoint_without_config_reports_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("w.safetensors");
    let t = TensorData { name: "w".into(), bytes: Bytes::from_slice(&[f32::NAN, 1.0, 2.0, 3.0], vec![2, 2]) };
    write_safetensors(&file, &[t], &Default::default()).unwrap();
    // The NaN is an error finding: exit 1 under the default --fail-on error, 0 under never.
    let o = nninit(&["doctor", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("1 NaN (first at index 0)"), "{text}");
    let o = nninit(&["doctor", file.to_str().unwrap(), "--fail-on", "never"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_bad_input(&["doctor", file.to_str().unwrap(), "--expect", "hf"], "needs the model's config.json");
    assert_bad_input(&["doctor", file.to_str().unwrap(), "--expect", "nope"], "unknown scheme");
}

/// A header (JSON text) and a data section as a file.
fn st_file(dir: &Path, name: &str, header: &str, data: &[u8]) -> String {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    let path = dir.join(name);
    std::fs::write(&path, out).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn every_damage_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = r#"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#;
    let whole = std::fs::read(st_file(d, "good.safetensors", good, &[0; 16])).unwrap();
    let truncated = d.join("truncated.safetensors");
    std::fs::write(&truncated, &whole[..whole.len() - 5]).unwrap();
    let cut_header = d.join("cut-header.safetensors");
    std::fs::write(&cut_header, &whole[..30]).unwrap();
    let tiny = d.join("tiny.safetensors");
    std::fs::write(&tiny, [1u8, 2, 3]).unwrap();
    let huge = d.join("huge.safetensors");
    std::fs::write(&huge, [&(1u64 << 40).to_le_bytes()[..], b"{}"].concat()).unwrap();
    let cases = [
        (truncated.to_str().unwrap().to_string(), "outside the"),
        (cut_header.to_str().unwrap().to_string(), "runs past the end"),
        (tiny.to_str().unwrap().to_string(), "too short"),
        (huge.to_str().unwrap().to_string(), "larger than the 100000000-byte limit"),
        (st_file(d, "json.safetensors", "{\"w\": [", &[]), "invalid JSON"),
        (
            st_file(d, "dtype.safetensors", r#"{"w":{"dtype":"F24","shape":[2],"data_offsets":[0,6]}}"#, &[0; 6]),
            "unknown dtype `F24`",
        ),
        (
            st_file(d, "offsets.safetensors", r#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, &[0; 8]),
            "outside the 8-byte data section",
        ),
        (
            st_file(d, "size.safetensors", r#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}"#, &[0; 16]),
            "holds 16 bytes but its shape and dtype need 12",
        ),
        (
            st_file(
                d,
                "overlap.safetensors",
                r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                &[0; 12],
            ),
            "overlap",
        ),
        (d.join("missing.safetensors").to_str().unwrap().to_string(), "cannot open"),
    ];
    for (path, needle) in &cases {
        assert_bad_input(&["doctor", path], needle);
        assert_bad_input(&["doctor", path, "--json"], needle);
    }
    // A sharded folder whose index names a tensor its shard lacks.
    let sharded = d.join("sharded");
    std::fs::create_dir(&sharded).unwrap();
    std::fs::copy(d.join("good.safetensors"), sharded.join("model-00001-of-00001.safetensors")).unwrap();
    std::fs::write(
        sharded.join("model.safetensors.index.json"),
        r#"{"weight_map":{"w":"model-00001-of-00001.safetensors","v":"model-00001-of-00001.safetensors"}}"#,
    )
    .unwrap();
    assert_bad_input(&["doctor", sharded.to_str().unwrap()], "tensor `v` is not in its shard");
    // A bad config beside good weights is bad input too.
    std::fs::write(sharded.join("config.json"), "{").unwrap();
    std::fs::write(
        sharded.join("model.safetensors.index.json"),
        r#"{"weight_map":{"w":"model-00001-of-00001.safetensors"}}"#,
    )
    .unwrap();
    assert_bad_input(&["doctor", sharded.to_str().unwrap()], "config.json");
}

/// A report is the same bits on one thread and on three (the sums are split into pieces
/// that do not depend on the threads, and merged in order), `seconds` aside.
#[test]
fn the_report_does_not_depend_on_the_threads() {
    let dir = tempfile::tempdir().unwrap();
    let out = materialize(dir.path(), TINY_GPT2, "hf");
    let report = |threads: &str| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_nninit"))
            .args(["doctor", out.to_str().unwrap(), "--json"])
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v.as_object_mut().unwrap().remove("seconds");
        v
    };
    let one = report("1");
    assert!(one["report"]["tensors"].as_array().unwrap().iter().any(|t| t["spectral"].is_object()));
    assert_eq!(one, report("3"));
}
