//! `nninit adapter`: the real binary on a base made by `nninit materialize`.

mod common;

use std::path::{Path, PathBuf};

use common::{assert_bad_input, json, nninit, stderr};

const CONFIG: &str = r#"{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 32,
 "intermediate_size": 88, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
 "vocab_size": 64, "max_position_embeddings": 32, "initializer_range": 0.02, "tie_word_embeddings": false}"#;

/// A small Llama in two or more shards.
fn base(dir: &Path) -> PathBuf {
    let config = dir.join("config.json");
    std::fs::write(&config, CONFIG).unwrap();
    let out = dir.join("base");
    let c = config.to_str().unwrap();
    let o = out.to_str().unwrap();
    json(&["materialize", "--config", c, "--scheme", "hf", "--max-shard-size", "20KB", "--out", o, "--json"]);
    out
}

fn tensors(path: &Path) -> Vec<(String, Vec<usize>, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut out: Vec<_> =
        st.tensors().into_iter().map(|(n, t)| (n.to_string(), t.shape().to_vec(), t.data().to_vec())).collect();
    out.sort();
    out
}

#[test]
fn every_method_writes_a_peft_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let base = base(dir.path());
    let b = base.to_str().unwrap();
    assert!(
        std::fs::read_dir(&base)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "safetensors"))
            .count()
            >= 2
    );
    for method in ["lora", "rslora", "pissa", "olora"] {
        let out = dir.path().join(method);
        let o = out.to_str().unwrap();
        let args = [
            "adapter",
            "--base",
            b,
            "--method",
            method,
            "--rank",
            "4",
            "--alpha",
            "8",
            "--target",
            "q_proj,v_proj,down_proj",
            "--seed",
            "3",
            "--out",
            o,
            "--json",
        ];
        let report = json(&args);
        assert_eq!(report["adapter"]["modules"].as_array().unwrap().len(), 6, "{method}");
        let adapter = tensors(&out.join("adapter_model.safetensors"));
        assert_eq!(adapter.len(), 12);
        let a = adapter.iter().find(|t| t.0 == "base_model.model.model.layers.0.mlp.down_proj.lora_A.weight").unwrap();
        assert_eq!(a.1, [4, 88]);
        let b_ =
            adapter.iter().find(|t| t.0 == "base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight").unwrap();
        assert_eq!(b_.1, [16, 4]);
        let config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("adapter_config.json")).unwrap()).unwrap();
        assert_eq!(config["peft_type"], "LORA");
        assert_eq!(config["r"], 4);
        assert_eq!(config["use_rslora"], method == "rslora");
        assert_eq!(config["target_modules"], serde_json::json!(["q_proj", "v_proj", "down_proj"]));
        let residual = out.join("residual");
        assert_eq!(residual.is_dir(), method == "pissa" || method == "olora", "{method}");
        if residual.is_dir() {
            assert!(residual.join("config.json").is_file());
            assert!(residual.join("model.safetensors.index.json").is_file());
            assert!(!residual.join("nninit-manifest.json").exists(), "the base's digests would be wrong");
            // Same files, names and shapes as the base; the adapted weights differ, the rest is copied.
            for entry in std::fs::read_dir(&base).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_none_or(|x| x != "safetensors") {
                    continue;
                }
                let theirs = tensors(&path);
                let ours = tensors(&residual.join(path.file_name().unwrap()));
                assert_eq!(theirs.len(), ours.len());
                for (t, o) in theirs.iter().zip(&ours) {
                    assert_eq!((&t.0, &t.1), (&o.0, &o.1));
                    let adapted =
                        ["q_proj", "v_proj", "down_proj"].iter().any(|m| t.0.ends_with(&format!("{m}.weight")));
                    assert_eq!(t.2 != o.2, adapted, "{method} {}", t.0);
                }
            }
        }
        // The same command gives the same bytes.
        let again = dir.path().join(format!("{method}-again"));
        let mut args2 = args;
        args2[14] = again.to_str().unwrap();
        json(&args2);
        assert_eq!(adapter, tensors(&again.join("adapter_model.safetensors")), "{method}");
    }
    // Text output names the files.
    let out = dir.path().join("text");
    let run = nninit(&[
        "adapter",
        "--base",
        b,
        "--method",
        "pissa",
        "--svd",
        "exact",
        "--rank",
        "2",
        "--target",
        "q_proj",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(text.contains("pissa adapter, rank 2") && text.contains("residual"), "{text}");
}

#[test]
fn bad_inputs_are_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let base = base(dir.path());
    let b = base.to_str().unwrap();
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    let run = |extra: &[&str], needle: &str| {
        let mut args = vec!["adapter", "--out", o];
        args.extend_from_slice(extra);
        assert_bad_input(&args, needle);
    };
    let missing = dir.path().join("missing");
    run(&["--base", missing.to_str().unwrap(), "--method", "lora", "--rank", "2", "--target", "q_proj"], "cannot open");
    run(&["--base", b, "--method", "lora", "--rank", "2", "--target", "qq_proj"], "unknown target module `qq_proj`");
    run(
        &["--base", b, "--method", "pissa", "--rank", "17", "--target", "v_proj"],
        "--rank for `model.layers.0.self_attn.v_proj` ([16, 32])",
    );
    run(&["--base", b, "--method", "lora", "--rank", "0", "--target", "q_proj"], "--rank = 0 is out of range");
    run(&["--base", b, "--method", "lora", "--rank", "2", "--alpha", "0", "--target", "q_proj"], "invalid alpha = 0");
    run(&["--base", b, "--method", "lora", "--rank", "2", "--alpha", "-1", "--target", "q_proj"], "invalid alpha = -1");
    run(
        &["--base", b, "--method", "lora", "--rank", "2", "--alpha", "nan", "--target", "q_proj"],
        "invalid alpha = NaN",
    );
    run(
        &["--base", b, "--method", "lora", "--rank", "2", "--alpha", "inf", "--target", "q_proj"],
        "invalid alpha = inf",
    );
    run(&["--base", b, "--method", "dora", "--rank", "2", "--target", "q_proj"], "unknown adapter method `dora`");
    run(&["--base", b, "--method", "lora", "--rank", "2", "--target", "embed_tokens"], "embedding");
    run(&["--base", b, "--method", "lora", "--rank", "2", "--target", "input_layernorm"], "not a 2-D");
    run(&["--base", b, "--method", "lora", "--rank", "2", "--target", "q_proj,q_proj"], "given twice");
    run(&["--base", b, "--method", "pissa", "--rank", "2", "--niter", "65", "--target", "q_proj"], "--niter = 65");
    run(&["--base", b, "--method", "lora", "--rank", "2"], "--target");
    assert!(!out.exists(), "a bad request writes nothing");
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    assert_bad_input(
        &[
            "adapter",
            "--base",
            b,
            "--method",
            "lora",
            "--rank",
            "2",
            "--target",
            "q_proj",
            "--out",
            file.to_str().unwrap(),
        ],
        "is a file",
    );
    // The base's own folder as --out for a residual method.
    assert_bad_input(
        &["adapter", "--base", b, "--method", "olora", "--rank", "2", "--target", "q_proj", "--out", b],
        "base checkpoint's folder",
    );
}
