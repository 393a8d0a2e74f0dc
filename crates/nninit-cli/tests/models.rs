//! `nninit explain` and `nninit materialize` on whole models: run the real binary.

mod common;

use std::path::Path;
use std::process::Command;

use common::{assert_bad_input, nninit, stderr, stdout};

fn ok(args: &[&str]) -> String {
    let out = nninit(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map_or_else(|_| Vec::new(), |d| d.map(|e| e.unwrap().file_name().into_string().unwrap()).collect());
    v.sort();
    v
}

/// One clear error line, exit code 2, no panic, nothing written under `out`.
fn assert_bad(args: &[&str], needle: &str, out: &Path) {
    assert_bad_input(args, needle);
    assert!(names(out).is_empty(), "{args:?} left {:?}", names(out));
}

const TINY: &str = r#"{"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 64,
  "intermediate_size": 160, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
  "vocab_size": 500}"#;

#[test]
fn explain_prints_the_plan_table_and_json() {
    let text = ok(&["explain", "--preset", "gpt2", "--scheme", "hf"]);
    assert!(text.contains("124439808 parameters"), "{text}");
    let c_proj = text.lines().find(|l| l.starts_with("transformer.h.0.attn.c_proj.weight")).unwrap();
    assert!(c_proj.contains("0.004082") && c_proj.contains("n_layer"), "{c_proj}");
    assert!(text.lines().any(|l| l.starts_with("lm_head.weight") && l.contains("tied to transformer.wte.weight")));
    let v: serde_json::Value =
        serde_json::from_str(&ok(&["explain", "--preset", "llama-8b", "--scheme", "mup", "--json"])).unwrap();
    assert_eq!(v["parameters"], 8_030_261_248u64);
    let q = v["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "model.layers.0.self_attn.q_proj.weight")
        .unwrap();
    assert_eq!(q["lr_multiplier"], 0.0625);
    assert_eq!(q["shape"], serde_json::json!([4096, 4096]));
    let k = v["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "model.layers.0.self_attn.k_proj.weight")
        .unwrap();
    assert_eq!(k["shape"], serde_json::json!([1024, 4096]), "GQA: 8 KV heads of 128");
}

#[test]
fn materialize_shards_by_rank_and_the_union_is_identical() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(&config, TINY).unwrap();
    let c = config.to_str().unwrap();
    let single = dir.path().join("single");
    let base = [
        "materialize",
        "--config",
        c,
        "--scheme",
        "small-init",
        "--seed",
        "9",
        "--dtype",
        "bf16",
        "--max-shard-size",
        "40KB",
    ];
    let mut args = base.to_vec();
    args.extend(["--out", single.to_str().unwrap(), "--json"]);
    let report: serde_json::Value = serde_json::from_str(&ok(&args)).unwrap();
    let shards = report["shards"].as_u64().unwrap();
    assert!(shards >= 3, "{report}");
    let files = names(&single);
    assert!(
        files.contains(&"model.safetensors.index.json".to_string())
            && files.contains(&"nninit-manifest.json".to_string())
    );
    assert_eq!(
        std::fs::read_to_string(single.join("config.json")).unwrap().parse::<serde_json::Value>().unwrap(),
        TINY.parse::<serde_json::Value>().unwrap()
    );
    let union = dir.path().join("union");
    for rank in ["2", "0", "1"] {
        let mut args = base.to_vec();
        args.extend(["--out", union.to_str().unwrap(), "--rank", rank, "--world-size", "3"]);
        ok(&args);
    }
    assert_eq!(names(&union), files);
    for f in &files {
        assert_eq!(std::fs::read(union.join(f)).unwrap(), std::fs::read(single.join(f)).unwrap(), "{f}");
    }
    // Every tensor reads back with the safetensors crate.
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(single.join("model.safetensors.index.json")).unwrap()).unwrap();
    for (name, file) in index["weight_map"].as_object().unwrap() {
        let raw = std::fs::read(single.join(file.as_str().unwrap())).unwrap();
        let st = safetensors::SafeTensors::deserialize(&raw).unwrap();
        assert_eq!(st.tensor(name).unwrap().dtype(), safetensors::Dtype::BF16);
    }
}

#[test]
fn bad_input_is_one_line_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"model_type": "llama", "hidden_size": 100, "num_attention_heads": 3}"#).unwrap();
    let b = bad.to_str().unwrap();
    assert_bad(&["materialize", "--preset", "gpt5", "--scheme", "hf", "--out", o], "unknown preset `gpt5`", &out);
    assert_bad(&["materialize", "--preset", "gpt2", "--out", o], "--scheme is required", &out);
    assert_bad(&["materialize", "--preset", "gpt2", "--scheme", "nope", "--out", o], "unknown scheme", &out);
    assert_bad(
        &["materialize", "--preset", "mamba-130m", "--scheme", "deepnorm", "--out", o],
        "state-space mixer",
        &out,
    );
    assert_bad(&["materialize", "--config", b, "--scheme", "hf", "--out", o], "not divisible", &out);
    assert_bad(&["materialize", "--config", "/nonexistent.json", "--scheme", "hf", "--out", o], "cannot read", &out);
    assert_bad(
        &["materialize", "--preset", "gpt2", "--scheme", "hf", "--rank", "3", "--world-size", "2", "--out", o],
        "rank 3",
        &out,
    );
    assert_bad(
        &["materialize", "--preset", "gpt2", "--scheme", "hf", "--max-shard-size", "5XB", "--out", o],
        "max-shard-size",
        &out,
    );
    assert_bad(
        &["materialize", "--preset", "gpt2", "--scheme", "hf", "--dtype", "i64", "--out", o],
        "floating point",
        &out,
    );
    assert_bad(&["materialize", "--preset", "gpt2", "--scheme", "hf", "--rng", "torch", "--out", o], "Philox", &out);
    assert_bad(&["explain", "--preset", "gpt2", "--scheme", "hf", "normal", "--shape", "3,3"], "not both", &out);
}

#[test]
fn a_killed_run_leaves_nothing_that_looks_complete() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_nninit"))
        .args(["materialize", "--preset", "llama-1b", "--scheme", "hf", "--max-shard-size", "1GB", "--out"])
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    child.kill().unwrap();
    child.wait().unwrap();
    let left = names(&out);
    for f in &left {
        assert!(f.starts_with(".model-") && f.contains(".tmp-") || f.starts_with("model-0000"), "{f}: {left:?}");
    }
    assert!(!left.iter().any(|f| f.ends_with(".json") || f == "model.safetensors"), "{left:?}");
    // Every complete-looking shard is complete: it parses.
    for f in left.iter().filter(|f| f.starts_with("model-")) {
        safetensors::SafeTensors::deserialize(&std::fs::read(out.join(f)).unwrap()).unwrap();
    }
}

/// About 400 MB in f32, in some thirty 16 MB shards: long enough to be killed mid-way.
const MEDIUM: &str = r#"{"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 512,
  "intermediate_size": 1376, "num_hidden_layers": 24, "num_attention_heads": 8, "num_key_value_heads": 4,
  "vocab_size": 32000, "tie_word_embeddings": false}"#;

/// Finished (not hidden) shard files in `dir`.
fn finished_shards(dir: &Path) -> Vec<String> {
    names(dir).into_iter().filter(|f| f.starts_with("model-") && f.ends_with(".safetensors")).collect()
}

/// Identity of a file on disk: a rewrite renames a new file into place, which changes the inode.
fn identity(path: &Path) -> (u64, std::time::SystemTime) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).unwrap();
    (m.ino(), m.modified().unwrap())
}

#[test]
fn a_killed_run_is_resumed_keeping_its_finished_shards_and_cleaning_its_temporaries() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(&config, MEDIUM).unwrap();
    let base = ["materialize", "--config", config.to_str().unwrap(), "--scheme", "hf", "--seed", "4"];
    let run = |out: &Path, extra: &[&str]| -> serde_json::Value {
        let mut args = base.to_vec();
        args.extend(["--max-shard-size", "16MB", "--json", "--out", out.to_str().unwrap()]);
        args.extend(extra);
        serde_json::from_str(&ok(&args)).unwrap()
    };
    let reference = dir.path().join("reference");
    let report = run(&reference, &[]);
    let shards = report["shards"].as_u64().unwrap();
    assert!(shards >= 20, "{report}");

    // Killed once two shards are finished, long before the last.
    let out = dir.path().join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_nninit"))
        .args(base)
        .args(["--max-shard-size", "16MB", "--out"])
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while finished_shards(&out).len() < 2 {
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be killed");
        assert!(started.elapsed().as_secs() < 120, "no shard finished in two minutes");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be killed");
    child.kill().unwrap();
    child.wait().unwrap();
    let left = names(&out);
    assert!(!left.iter().any(|f| f.ends_with(".json")), "nothing that looks complete: {left:?}");
    let finished = finished_shards(&out);
    assert!(finished.len() < shards as usize, "{left:?}");
    let before: Vec<_> = finished.iter().map(|f| (f.clone(), identity(&out.join(f)))).collect();
    for f in &finished {
        assert_eq!(std::fs::read(out.join(f)).unwrap(), std::fs::read(reference.join(f)).unwrap(), "{f}");
    }
    // Temporaries of an earlier run of this plan's files go; other files, hidden or not, stay.
    let n = format!("{shards:05}");
    let stale = [format!(".model-00002-of-{n}.safetensors.tmp-4242"), ".config.json.tmp-17".to_string()];
    let foreign = [
        ".model-00001-of-99999.safetensors.tmp-4242".to_string(),
        ".notes.tmp-17".to_string(),
        format!(".model-00002-of-{n}.safetensors.tmp-17x"),
        "notes.txt".to_string(),
    ];
    for f in stale.iter().chain(&foreign) {
        std::fs::write(out.join(f), b"left by someone").unwrap();
    }

    let report = run(&out, &[]);
    let kept: Vec<String> = report["kept"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| Path::new(p.as_str().unwrap()).file_name().unwrap().to_str().unwrap().to_string())
        .collect();
    assert_eq!(kept, finished, "{report}");
    let removed = report["removed_temporaries"].as_array().unwrap();
    let tmp_of_killed_run = left.iter().filter(|f| f.contains(".tmp-")).count();
    assert_eq!(removed.len(), stale.len() + tmp_of_killed_run, "{report}");
    for (f, id) in &before {
        assert_eq!(identity(&out.join(f)), *id, "{f} was rewritten");
    }
    for f in &foreign {
        assert!(out.join(f).exists(), "{f} is not nninit's to remove");
        std::fs::remove_file(out.join(f)).unwrap();
    }
    assert_eq!(names(&out), names(&reference));
    for f in names(&reference) {
        assert_eq!(std::fs::read(out.join(&f)).unwrap(), std::fs::read(reference.join(&f)).unwrap(), "{f}");
    }

    // A shard damaged in place (same length, same header) is kept without --verify, and rewritten with it.
    let victim = out.join(&finished[0]);
    let mut bytes = std::fs::read(&victim).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(&victim, &bytes).unwrap();
    let trusting = run(&out, &[]);
    assert_eq!(trusting["kept"].as_array().unwrap().len(), shards as usize, "{trusting}");
    assert_eq!(std::fs::read(&victim).unwrap(), bytes);
    let verified = run(&out, &["--verify"]);
    assert_eq!(verified["rewritten"].as_array().unwrap().len(), 1, "{verified}");
    assert_eq!(verified["kept"].as_array().unwrap().len(), shards as usize - 1, "{verified}");
    for f in names(&reference) {
        assert_eq!(std::fs::read(out.join(&f)).unwrap(), std::fs::read(reference.join(&f)).unwrap(), "{f}");
    }
}

#[test]
fn the_manifest_records_each_shards_sha256() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(&config, TINY).unwrap();
    let c = config.to_str().unwrap();
    let out = dir.path().join("one");
    ok(&["materialize", "--config", c, "--scheme", "hf", "--max-shard-size", "40KB", "--out", out.to_str().unwrap()]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("nninit-manifest.json")).unwrap()).unwrap();
    let records = manifest["shards"].as_array().unwrap();
    assert_eq!(records.len(), finished_shards(&out).len());
    for r in records {
        let bytes = std::fs::read(out.join(r["file"].as_str().unwrap())).unwrap();
        assert_eq!(r["size"], bytes.len());
        let digest: String =
            <sha2::Sha256 as sha2::Digest>::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(r["sha256"], digest);
    }
}

/// `--digest none`: the same shard bytes, a manifest without `sha256`, and `--verify` still
/// finds a damaged shard (it hashes for itself).
#[test]
fn digest_none_writes_the_same_bytes_and_no_sha256() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(&config, TINY).unwrap();
    let c = config.to_str().unwrap();
    let write = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let o = out.to_str().unwrap();
        let mut args = vec!["materialize", "--config", c, "--scheme", "hf", "--max-shard-size", "40KB", "--out", o];
        args.extend_from_slice(extra);
        ok(&args);
        out
    };
    let hashed = write("hashed", &[]);
    let plain = write("plain", &["--digest", "none"]);
    let shards = finished_shards(&hashed);
    assert!(shards.len() > 1);
    assert_eq!(finished_shards(&plain), shards);
    for f in &shards {
        assert_eq!(std::fs::read(plain.join(f)).unwrap(), std::fs::read(hashed.join(f)).unwrap(), "{f}");
    }
    let (with, without) = (manifest(&hashed), manifest(&plain));
    for (a, b) in with["shards"].as_array().unwrap().iter().zip(without["shards"].as_array().unwrap()) {
        assert_eq!(a["size"], b["size"]);
        assert!(a["sha256"].is_string() && b.get("sha256").is_none(), "{a} {b}");
    }

    let victim = plain.join(&shards[0]);
    let mut bytes = std::fs::read(&victim).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(&victim, &bytes).unwrap();
    write("plain", &["--digest", "none", "--verify"]);
    assert_eq!(std::fs::read(&victim).unwrap(), std::fs::read(hashed.join(&shards[0])).unwrap());
    assert!(manifest(&plain)["shards"][0].get("sha256").is_none());
}

#[test]
fn a_shape_too_large_to_build_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.npy");
    let o = out.to_str().unwrap();
    assert_bad_input(
        &["sample", "normal", "--std", "0.02", "--name", "w", "--shape", "100000000000,100000", "--out", o],
        "out of range",
    );
    assert!(!out.exists());
}

/// The `nninit-manifest.json` of a materialized folder.
fn manifest(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("nninit-manifest.json")).unwrap()).unwrap()
}

/// The entry `name` of a report's or a manifest's `tensors`.
/// Writes a 2-layer GPT-2 config (width 64, 4 heads) into `dir`; returns its path.
fn tiny_gpt2(dir: &Path) -> std::path::PathBuf {
    let config = dir.join("config.json");
    std::fs::write(
        &config,
        r#"{"model_type": "gpt2", "n_embd": 64, "n_layer": 2, "n_head": 4, "vocab_size": 100, "n_positions": 32}"#,
    )
    .unwrap();
    config
}

fn tensor<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["tensors"].as_array().unwrap().iter().find(|t| t["name"] == name).unwrap_or_else(|| panic!("{name}"))
}

#[test]
fn todays_presets_explain_under_todays_schemes() {
    let json = |args: &[&str]| -> serde_json::Value { serde_json::from_str(&ok(args)).unwrap() };
    let g = json(&["explain", "--preset", "gemma2-2b", "--scheme", "hf", "--json"]);
    assert_eq!(g["parameters"], 2_614_341_888u64);
    let norm = tensor(&g, "model.layers.0.pre_feedforward_layernorm.weight");
    assert_eq!(norm["rule"]["init"], "zeros", "{norm}");
    assert_eq!(tensor(&g, "model.embed_tokens.weight")["numbers"]["forward_multiplier"], 48.0);
    let m = json(&["explain", "--preset", "mixtral-8x7b", "--scheme", "torchtitan", "--json"]);
    assert_eq!(m["parameters"], 46_702_792_704u64);
    let router = tensor(&m, "model.layers.1.block_sparse_moe.gate.weight");
    assert_eq!((router["role"].as_str(), router["shape"].clone()), (Some("router"), serde_json::json!([8, 4096])));
    assert!((router["std"].as_f64().unwrap() - 0.01).abs() < 1e-12, "0.02/√(2·2): {router}");
    let q = json(&["explain", "--preset", "qwen3-0.6b", "--scheme", "olmo-core-llama-depth", "--json"]);
    assert_eq!(tensor(&q, "model.layers.0.self_attn.q_norm.weight")["shape"], serde_json::json!([128]));
    let down = tensor(&q, "model.layers.7.mlp.down_proj.weight");
    assert!((down["rule"]["std"].as_f64().unwrap() - 0.02 / 4.0).abs() < 1e-12, "σ/√(2·8), cut at ±3σ: {down}");
    let c = json(&["explain", "--preset", "qwen2-0.5b", "--scheme", "completep", "--json"]);
    assert_eq!(c["scheme"], "completep:256");
    for preset in ["mistral-7b", "llama-1b"] {
        for scheme in ["spectral", "nanogpt", "neox-wang", "torchtitan-no-depth", "olmo-core-normalized", "depth-mup"] {
            ok(&["explain", "--preset", preset, "--scheme", scheme]);
        }
    }
}

#[test]
fn mamba_and_gpt2_parts_through_the_binary() {
    let json = |args: &[&str]| -> serde_json::Value { serde_json::from_str(&ok(args)).unwrap() };
    let m = json(&["explain", "--preset", "mamba-130m", "--scheme", "mamba", "--json"]);
    assert_eq!(m["parameters"], 129_135_360u64);
    assert_eq!(tensor(&m, "backbone.layers.5.mixer.A_log")["rule"]["init"], "s4d_real_log");
    assert_eq!(tensor(&m, "backbone.layers.5.mixer.dt_proj.bias")["rule"]["init"], "inverse_softplus_log_uniform");
    assert_eq!(tensor(&m, "lm_head.weight")["tied_to"], "backbone.embeddings.weight");
    // GPT-2 under T-Fixup: c_attn drawn per part; the manifest names each part's stream.
    let dir = tempfile::tempdir().unwrap();
    let config = tiny_gpt2(dir.path());
    let out = dir.path().join("out");
    let c = config.to_str().unwrap();
    ok(&["materialize", "--config", c, "--scheme", "t-fixup", "--seed", "1", "--out", out.to_str().unwrap()]);
    let manifest = manifest(&out);
    let c_attn = tensor(&manifest, "transformer.h.1.attn.c_attn.weight");
    let parts = c_attn["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 3, "{c_attn}");
    assert_eq!(parts[2]["stream_key"], "transformer.h.1.attn.c_attn.weight#v");
    assert_eq!((parts[2]["start"].as_u64(), parts[2]["fan_out"].as_u64()), (Some(128), Some(64)));
    // hf keeps c_attn whole: no parts in its manifest.
    let whole = dir.path().join("hf");
    ok(&["materialize", "--config", c, "--scheme", "hf", "--seed", "1", "--out", whole.to_str().unwrap()]);
    let manifest = std::fs::read_to_string(whole.join("nninit-manifest.json")).unwrap();
    assert!(!manifest.contains("\"parts\""));
}

/// Phi-3's fused projections through the binary: `explain --config` lists the parts of
/// qkv_proj and gate_up_proj where a scheme rules them apart (T-Fixup: v, gate and up scaled,
/// q and k not), the manifest names each part's stream, and hf writes both whole.
#[test]
fn phi3_parts_through_the_binary() {
    let json = |args: &[&str]| -> serde_json::Value { serde_json::from_str(&ok(args)).unwrap() };
    let p = json(&["explain", "--preset", "phi3-mini", "--scheme", "hf", "--json"]);
    assert_eq!(p["parameters"], 3_821_079_552u64);
    assert_eq!(tensor(&p, "model.layers.0.self_attn.qkv_proj.weight")["shape"], serde_json::json!([9216, 3072]));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        r#"{"model_type": "phi3", "architectures": ["Phi3ForCausalLM"], "hidden_size": 64, "intermediate_size": 96,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100}"#,
    )
    .unwrap();
    let c = config.to_str().unwrap();
    let e = json(&["explain", "--config", c, "--scheme", "t-fixup", "--json"]);
    let std = |name: &str| tensor(&e, name)["std"].as_f64().unwrap_or_else(|| panic!("{name}"));
    let (s, l0) = ((9.0f64 * 2.0).powf(-0.25), "model.layers.0");
    let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-12 * b, "{a} vs {b}");
    close(std(&format!("{l0}.self_attn.qkv_proj.weight#q")), (0.5f64 * 2.0 / 128.0).sqrt());
    close(std(&format!("{l0}.self_attn.qkv_proj.weight#k")), (0.5f64 * 2.0 / 96.0).sqrt());
    close(std(&format!("{l0}.self_attn.qkv_proj.weight#v")), s * (2.0f64 / 96.0).sqrt());
    for part in ["gate", "up"] {
        close(std(&format!("{l0}.mlp.gate_up_proj.weight#{part}")), s * (2.0f64 / 160.0).sqrt());
    }
    let text = ok(&["explain", "--config", c, "--scheme", "t-fixup"]);
    assert!(text.contains("model.layers.1.mlp.gate_up_proj.weight#up"), "{text}");
    let out = dir.path().join("out");
    ok(&["materialize", "--config", c, "--scheme", "t-fixup", "--seed", "1", "--out", out.to_str().unwrap()]);
    let manifest = manifest(&out);
    let gate_up = tensor(&manifest, "model.layers.1.mlp.gate_up_proj.weight");
    let parts = gate_up["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2, "{gate_up}");
    assert_eq!(parts[1]["stream_key"], "model.layers.1.mlp.gate_up_proj.weight#up");
    assert_eq!((parts[1]["start"].as_u64(), parts[1]["fan_out"].as_u64()), (Some(96), Some(96)));
    let whole = dir.path().join("hf");
    ok(&["materialize", "--config", c, "--scheme", "hf", "--seed", "1", "--out", whole.to_str().unwrap()]);
    let manifest = std::fs::read_to_string(whole.join("nninit-manifest.json")).unwrap();
    assert!(!manifest.contains("\"parts\"") && manifest.contains("qkv_proj"));
}

#[test]
fn a_mixtral_is_materialized_with_per_expert_names_and_absurd_expert_counts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        r#"{"model_type": "mixtral", "architectures": ["MixtralForCausalLM"], "hidden_size": 32,
        "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "vocab_size": 100, "num_local_experts": 3, "num_experts_per_tok": 2}"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let (c, o) = (config.to_str().unwrap(), out.to_str().unwrap());
    ok(&["materialize", "--config", c, "--scheme", "olmo-core-llama", "--seed", "1", "--out", o]);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("nninit-manifest.json")).unwrap()).unwrap();
    let text = manifest.to_string();
    for name in ["model.layers.1.block_sparse_moe.gate.weight", "model.layers.1.block_sparse_moe.experts.2.w3.weight"] {
        assert!(text.contains(name), "{name}");
    }
    assert!(!text.contains("gate_up_proj"));
    std::fs::write(
        &config,
        r#"{"model_type": "mixtral", "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 4096,
        "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100, "num_local_experts": 4096}"#,
    )
    .unwrap();
    let fresh = dir.path().join("fresh");
    assert_bad(
        &["materialize", "--config", c, "--scheme", "hf", "--out", fresh.to_str().unwrap()],
        "num_local_experts",
        &fresh,
    );
}

/// `hf-unscaled` through the binary: a GPT-2 is materialized with c_proj at N(0, σ) (not
/// σ/√(2L)) and every other tensor byte-identical to `hf`; another family is one error line, exit 2.
#[test]
fn hf_unscaled_materializes_gpt2_and_refuses_other_families() {
    let dir = tempfile::tempdir().unwrap();
    let config = tiny_gpt2(dir.path());
    let c = config.to_str().unwrap();
    let (unscaled, hf) = (dir.path().join("unscaled"), dir.path().join("hf"));
    ok(&["materialize", "--config", c, "--scheme", "hf-unscaled", "--seed", "3", "--out", unscaled.to_str().unwrap()]);
    ok(&["materialize", "--config", c, "--scheme", "hf", "--seed", "3", "--out", hf.to_str().unwrap()]);
    let e: serde_json::Value =
        serde_json::from_str(&ok(&["explain", "--config", c, "--scheme", "hf-unscaled", "--json"])).unwrap();
    for layer in 0..2 {
        for proj in ["attn", "mlp"] {
            assert_eq!(tensor(&e, &format!("transformer.h.{layer}.{proj}.c_proj.weight"))["std"], 0.02);
        }
    }
    let read = |d: &Path| std::fs::read(d.join("model.safetensors")).unwrap();
    let (a, b) = (read(&unscaled), read(&hf));
    let (a, b) =
        (safetensors::SafeTensors::deserialize(&a).unwrap(), safetensors::SafeTensors::deserialize(&b).unwrap());
    let mut names = a.names();
    names.sort();
    assert_eq!(names, {
        let mut n = b.names();
        n.sort();
        n
    });
    for name in names {
        let same = a.tensor(name).unwrap().data() == b.tensor(name).unwrap().data();
        assert_eq!(same, !name.ends_with("c_proj.weight"), "{name}");
    }
    // The preset itself works.
    let preset: serde_json::Value =
        serde_json::from_str(&ok(&["explain", "--preset", "gpt2", "--scheme", "hf-unscaled", "--json"])).unwrap();
    assert_eq!(tensor(&preset, "transformer.h.11.mlp.c_proj.weight")["std"], 0.02);
    let out = dir.path().join("refused");
    let llama = dir.path().join("llama.json");
    std::fs::write(&llama, TINY).unwrap();
    assert_bad(
        &[
            "materialize",
            "--config",
            llama.to_str().unwrap(),
            "--scheme",
            "hf-unscaled",
            "--out",
            out.to_str().unwrap(),
        ],
        "GPT-2's `hf` init",
        &out,
    );
    assert_bad(
        &["materialize", "--preset", "bert-base", "--scheme", "hf-unscaled", "--out", out.to_str().unwrap()],
        "hf-unscaled",
        &out,
    );
}
