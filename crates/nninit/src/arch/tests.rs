//! Plans against the state-dict keys `transformers` 5.24 saves
//! (fixtures written by scripts/dump-transformers-keys.py).

use super::*;

const FIXTURES: &str = include_str!("fixtures/transformers-keys.json");

fn stored(model: &Model) -> Vec<(String, Vec<usize>)> {
    let plan = model.plan(DType::F32).unwrap();
    plan.stored().map(|t| (t.name.clone(), t.spec.shape().dims().to_vec())).collect()
}

#[test]
fn every_fixture_matches_names_shapes_and_order() {
    let fixtures: serde_json::Value = serde_json::from_str(FIXTURES).unwrap();
    let models = fixtures["models"].as_object().unwrap();
    assert!(models.len() >= 15);
    for (name, case) in models {
        let model = Model::from_config(case["config"].clone()).unwrap();
        let mut want: Vec<(String, Vec<usize>)> = serde_json::from_value(case["keys"].clone()).unwrap();
        let mut got = stored(&model);
        if case["source"].as_str().unwrap().contains("sorted") {
            got.sort();
            want.sort();
        }
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn presets_are_the_fixture_configs() {
    let fixtures: serde_json::Value = serde_json::from_str(FIXTURES).unwrap();
    for (name, _, json) in PRESETS {
        let fixture = &fixtures["models"][name]["config"];
        assert_eq!(&serde_json::from_str::<serde_json::Value>(json).unwrap(), fixture, "{name}");
    }
}

#[test]
fn parameter_counts() {
    let count = |p: &str| Model::preset(p).unwrap().plan(DType::BF16).unwrap().parameters();
    assert_eq!(count("gpt2"), 124_439_808);
    assert_eq!(count("gpt2-medium"), 354_823_168);
    assert_eq!(count("llama-1b"), 953_223_168);
    assert_eq!(count("llama-8b"), 8_030_261_248);
    assert_eq!(count("vit-base"), 86_389_248);
    // transformers 5.24 on the meta device: sum(p.numel() for p in model.parameters())
    assert_eq!(count("qwen2-0.5b"), 494_032_768);
    assert_eq!(count("qwen3-0.6b"), 596_049_920);
    assert_eq!(count("mistral-7b"), 7_241_732_096);
    assert_eq!(count("gemma2-2b"), 2_614_341_888);
    assert_eq!(count("mixtral-8x7b"), 46_702_792_704);
    assert_eq!(count("mamba-130m"), 129_135_360);
    assert_eq!(count("phi3-mini"), 3_821_079_552);
}

#[test]
fn phi3_fuses_qkv_and_gate_up_with_parts_of_their_own_shapes() {
    let model = Model::preset("phi3-mini").unwrap();
    assert_eq!((model.family(), model.model_class()), (Family::Llama, "Phi3ForCausalLM"));
    let plan = model.plan(DType::BF16).unwrap();
    let qkv = plan.get("model.layers.4.self_attn.qkv_proj.weight").unwrap();
    assert_eq!((qkv.role, qkv.layer, qkv.spec.shape().dims()), (Role::AttentionQkv, Some(4), &[9216, 3072][..]));
    let parts: Vec<_> = qkv.parts.iter().map(|p| (p.name, p.axis, p.start, p.len, p.role)).collect();
    assert_eq!(
        parts,
        [
            ("q", 0, 0, 3072, Role::AttentionQuery),
            ("k", 0, 3072, 3072, Role::AttentionKey),
            ("v", 0, 6144, 3072, Role::AttentionValue)
        ]
    );
    let gate_up = plan.get("model.layers.4.mlp.gate_up_proj.weight").unwrap();
    assert_eq!((gate_up.role, gate_up.spec.shape().dims()), (Role::MlpGateUp, &[16384, 3072][..]));
    let parts: Vec<_> = gate_up.parts.iter().map(|p| (p.name, p.start, p.len, p.role)).collect();
    assert_eq!(parts, [("gate", 0, 8192, Role::MlpGate), ("up", 8192, 8192, Role::MlpUp)]);
    let fan = gate_up.parts[1].spec.fan().unwrap();
    assert_eq!((fan.fan_in(), fan.fan_out()), (3072, 8192), "the part's own fans");
    assert!(plan.get("lm_head.weight").unwrap().tied_to.is_none(), "untied");
    // Grouped-query attention: k and v are the smaller parts; attention biases are refused.
    let gqa = Model::from_config_json(
        r#"{"model_type": "phi3", "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 1,
        "num_attention_heads": 8, "num_key_value_heads": 2, "vocab_size": 100, "tie_word_embeddings": true}"#,
    )
    .unwrap();
    let plan = gqa.plan(DType::F32).unwrap();
    let qkv = plan.get("model.layers.0.self_attn.qkv_proj.weight").unwrap();
    assert_eq!(qkv.parts.iter().map(|p| p.len).collect::<Vec<_>>(), [64, 16, 16]);
    assert_eq!(plan.get("lm_head.weight").unwrap().tied_to.as_deref(), Some("model.embed_tokens.weight"));
    let biased = r#"{"model_type": "phi3", "hidden_size": 64, "num_attention_heads": 8, "attention_bias": true}"#;
    assert!(matches!(Model::from_config_json(biased), Err(Error::InvalidModelConfig { .. })));
}

#[test]
fn mamba_time_step_and_sizes_are_checked() {
    let base = r#""model_type": "mamba", "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 10"#;
    let model = |extra: &str| Model::from_config_json(&format!("{{{base}{extra}}}"));
    let m = model("").unwrap();
    assert_eq!(m.time_step().unwrap().rank, 4, "auto: ⌈64/16⌉");
    assert_eq!(m.dims().intermediate, 128);
    assert_eq!(m.rescale_prenorm_residual(), Some(false));
    assert_eq!(m.dims().initializer_range, 0.1);
    for bad in [
        r#", "time_step_rank": "half""#,
        r#", "time_step_rank": 0"#,
        r#", "time_step_min": 0.2"#,
        r#", "time_step_init_scheme": "normal""#,
        r#", "state_size": 0"#,
        r#", "expand": -1"#,
        r#", "architectures": ["MambaForSequenceClassification"]"#,
    ] {
        assert!(matches!(model(bad), Err(Error::InvalidModelConfig { .. })), "{bad}");
    }
    assert!(matches!(model(r#", "hidden_size": 33554432"#), Err(Error::OutOfRange { .. })));
}

#[test]
fn gemma2_norms_start_at_zero_and_its_embedding_scale_is_recorded() {
    let model = Model::preset("gemma2-2b").unwrap();
    assert_eq!(model.embedding_multiplier(), Some(48.0), "√2304");
    let mut plan = model.plan(DType::BF16).unwrap();
    crate::scheme::Scheme::Hf.apply(&model, &mut plan).unwrap();
    let norms: Vec<_> = plan.tensors.iter().filter(|t| t.role == Role::NormWeight).collect();
    assert_eq!(norms.len(), 26 * 4 + 1);
    assert!(norms.iter().all(|t| t.module == Module::OffsetRmsNorm && t.init == Some(crate::init::Init::Zeros)));
    let embed = plan.get("model.embed_tokens.weight").unwrap().provenance.clone().unwrap();
    assert_eq!(embed.numbers["forward_multiplier"], 48.0);
    let llama = Model::preset("llama-1b").unwrap();
    assert_eq!(llama.embedding_multiplier(), None);
}

#[test]
fn mixtral_lists_a_router_and_per_expert_matrices() {
    let model = Model::preset("mixtral-8x7b").unwrap();
    assert_eq!(model.experts(), Some(8));
    let plan = model.plan(DType::BF16).unwrap();
    let router = plan.get("model.layers.3.block_sparse_moe.gate.weight").unwrap();
    assert_eq!((router.role, router.layer, router.expert), (Role::Router, Some(3), None));
    assert_eq!(router.spec.shape().dims(), &[8, 4096]);
    let w2 = plan.get("model.layers.3.block_sparse_moe.experts.7.w2.weight").unwrap();
    assert_eq!((w2.role, w2.layer, w2.expert), (Role::MlpDown, Some(3), Some(7)));
    let fan = w2.spec.fan().unwrap();
    assert_eq!((fan.fan_in(), fan.fan_out()), (14336, 4096), "fans of one expert");
    assert_eq!(plan.tensors.iter().filter(|t| t.expert.is_some()).count(), 32 * 8 * 3);
}

#[test]
fn expert_counts_are_checked_before_anything_is_listed() {
    let mixtral = |extra: &str| {
        Model::from_config_json(&format!(
            r#"{{"model_type": "mixtral", "hidden_size": 64, "intermediate_size": 96, "num_attention_heads": 4,
            "num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 100{extra}}}"#
        ))
    };
    let err = mixtral(r#", "num_local_experts": 100000000"#).unwrap_err();
    assert!(
        matches!(&err, Error::OutOfRange { what, max, .. } if what.contains("num_local_experts") && *max == MAX_EXPERTS as u64),
        "{err}"
    );
    let err = mixtral(r#", "num_local_experts": 4096, "num_hidden_layers": 4096"#).unwrap_err();
    assert!(
        matches!(&err, Error::OutOfRange { what, value: 16_777_216, max, .. }
            if what.contains("num_local_experts") && *max == MAX_EXPERT_LAYERS as u64),
        "{err}"
    );
    let err = mixtral(r#", "num_local_experts": 2, "num_experts_per_tok": 3"#).unwrap_err();
    assert!(err.to_string().contains("num_experts_per_tok"), "{err}");
    assert!(mixtral(r#", "num_local_experts": 0"#).unwrap_err().to_string().contains("at least 1"));
    assert!(mixtral(r#", "attention_bias": true"#).unwrap_err().to_string().contains("no attention biases"));
    assert!(mixtral(r#", "num_local_experts": 16, "num_hidden_layers": 4096"#).is_ok(), "65536 expert MLPs");
}

#[test]
fn tied_heads_are_listed_but_not_stored() {
    let plan = Model::preset("gpt2").unwrap().plan(DType::F32).unwrap();
    let head = plan.get("lm_head.weight").unwrap();
    assert_eq!(head.tied_to.as_deref(), Some("transformer.wte.weight"));
    assert_eq!(head.role, Role::Head);
    assert!(!head.is_stored());
    let c_attn = plan.get("transformer.h.0.attn.c_attn.weight").unwrap();
    assert_eq!(c_attn.spec.shape().dims(), &[768, 2304]);
    assert_eq!(c_attn.spec.fan().unwrap().fan_in(), 768, "Conv1D is [in, out]");
    let bert = Model::preset("bert-base").unwrap().plan(DType::F32).unwrap();
    assert_eq!(bert.get("cls.predictions.decoder.bias").unwrap().tied_to.as_deref(), Some("cls.predictions.bias"));
}

#[test]
fn bad_configs_are_errors() {
    let err = |json: &str| Model::from_config_json(json).unwrap_err().to_string();
    assert!(err("{").contains("not valid JSON"));
    assert!(err("{}").contains("model_type"));
    assert!(err(r#"{"model_type": "t5"}"#).contains("unknown model_type `t5`"));
    assert!(err(r#"{"model_type": "gpt2", "n_embd": 100, "n_head": 12}"#).contains("not divisible"));
    assert!(err(r#"{"model_type": "llama", "num_hidden_layers": 0}"#).contains("at least 1"));
    assert!(err(r#"{"model_type": "gpt2", "n_layer": -1}"#).contains("invalid model config"));
    assert!(err(r#"{"model_type": "bert", "architectures": ["BertForQuestionAnswering"]}"#).contains("not `Bert"));
    assert!(err(r#"{"model_type": "gpt2", "initializer_range": 0}"#).contains("initializer_range"));
    assert!(Model::preset("gpt5").unwrap_err().to_string().contains("known: gpt2"));
}

#[test]
fn absurd_sizes_are_refused_before_any_tensor_is_listed() {
    let llama = |extra: &str| {
        Model::from_config_json(&format!(
            r#"{{"model_type": "llama", "hidden_size": 64, "intermediate_size": 160, "num_attention_heads": 4,
            "num_hidden_layers": 2, "vocab_size": 500{extra}}}"#
        ))
    };
    let started = std::time::Instant::now();
    let err = llama(r#", "num_hidden_layers": 1000000000000"#).unwrap_err();
    assert!(
        matches!(&err, Error::OutOfRange { what, value: 1_000_000_000_000, min: 1, max }
            if what.contains("num_hidden_layers") && *max == MAX_LAYERS as u64),
        "{err}"
    );
    assert!(started.elapsed().as_secs() < 1, "refused at once");
    let err = llama(r#", "hidden_size": 1073741824"#).unwrap_err();
    assert!(matches!(&err, Error::OutOfRange { what, .. } if what.contains("hidden_size")), "{err}");
    for (extra, needle) in [
        (r#", "num_hidden_layers": -3"#, "invalid value"),
        (r#", "hidden_size": 64.5"#, "invalid type"),
        (r#", "hidden_size": "64""#, "invalid type"),
        (r#", "num_attention_heads": 5"#, "not divisible"),
        (r#", "num_key_value_heads": 3"#, "not divisible"),
    ] {
        let err = llama(extra).unwrap_err();
        assert!(err.to_string().contains(needle), "{extra}: {err}");
    }
    let vit = Model::from_config_json(r#"{"model_type": "vit", "image_size": 16, "patch_size": 32}"#).unwrap_err();
    assert!(vit.to_string().contains("patch_size"), "{vit}");
    // Each size in range, the whole too large: refused by the plan's check, with the limit named.
    let huge = Model::from_config_json(
        r#"{"model_type": "gpt2", "n_embd": 4194304, "n_head": 1, "n_layer": 4096, "vocab_size": 16777216}"#,
    )
    .unwrap();
    let err = huge.plan(DType::F32).and_then(|p| p.validate()).unwrap_err();
    assert!(matches!(&err, Error::OutOfRange { max, .. } if *max == crate::plan::MAX_PLAN_BYTES), "{err}");
}
