use std::collections::BTreeMap;

use candle_core::{DType, Device, Tensor};

use super::*;

const GPT2: &str =
    r#"{"model_type": "gpt2", "vocab_size": 50, "n_positions": 16, "n_embd": 8, "n_layer": 1, "n_head": 2}"#;

const LLAMA: &str = r#"{"model_type": "llama", "hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 1,
    "num_attention_heads": 2, "vocab_size": 40, "max_position_embeddings": 32, "tie_word_embeddings": true}"#;

fn backend(config: &str) -> PlanBackend {
    PlanBackend::from_config_json(config, "hf", 42).unwrap()
}

fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

#[test]
fn tensors_are_nninits_fill_of_the_plan_rule_and_stream() {
    let b = backend(LLAMA);
    let name = "model.layers.0.mlp.up_proj.weight";
    let t = b.tensor(name, &[24, 16], DType::F32, &Device::Cpu).unwrap();
    let planned = b.plan().get(name).unwrap();
    let mut want = vec![0f32; 24 * 16];
    planned.init.unwrap().fill(&planned.spec, &Philox::new(42, name), &mut want).unwrap();
    assert_eq!(values(&t), want);
    // hf: N(0, 0.02²) for a Llama projection, so not all zero.
    assert!(want.iter().any(|&v| v != 0.0));
}

#[test]
fn unknown_names_are_refused_with_nninits_message() {
    let b = backend(LLAMA);
    let vb = b.var_builder(DType::F32, &Device::Cpu);
    let e = vb.pp("model").get((40, 16), "wte").unwrap_err();
    assert!(e.to_string().contains("the LlamaForCausalLM plan has no tensor `model.wte`"), "{e}");
    assert!(!vb.contains_tensor("model.wte"));
    assert!(vb.contains_tensor("model.embed_tokens.weight"));
    let refused = b.refused();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].name, "model.wte");
    assert!(b.refused().is_empty(), "refused() takes them out");
    assert!(matches!(
        b.tensor("nope", &[1], DType::F32, &Device::Cpu),
        Err(Error::UnknownTensor { name, .. }) if name == "nope"
    ));
}

#[test]
fn other_shapes_and_types_are_typed_errors() {
    let b = backend(LLAMA);
    let e = b.tensor("model.norm.weight", &[17], DType::F32, &Device::Cpu).unwrap_err();
    assert!(matches!(&e, Error::Shape { requested, planned, .. } if requested == &[17] && planned == &[16]), "{e}");
    let e = b.tensor("model.norm.weight", &[16], DType::U32, &Device::Cpu).unwrap_err();
    assert!(matches!(e, Error::DType { dtype: DType::U32, .. }), "{e}");
    let vb = b.var_builder(DType::U8, &Device::Cpu);
    let e = vb.get(16, "model.norm.weight").unwrap_err();
    assert!(e.to_string().contains("nninit fills f32, f64, bf16 and f16"), "{e}");
    assert!(b.served().is_empty());
}

#[test]
fn bad_configs_and_schemes_are_typed_errors() {
    let e = PlanBackend::from_config_json("{}", "hf", 0).unwrap_err();
    assert!(matches!(&e, Error::Nninit { what, .. } if what == "the config"), "{e}");
    let e = PlanBackend::from_config_json(LLAMA, "no-such-scheme", 0).unwrap_err();
    assert!(matches!(&e, Error::Nninit { what, .. } if what == "the scheme"), "{e}");
    let mut plan = backend(LLAMA).plan().clone();
    plan.tensors[0].init = None;
    assert!(matches!(PlanBackend::new(plan, 0), Err(Error::Nninit { .. })));
}

#[test]
fn a_name_asked_twice_is_one_tensor_and_ties_share_values() {
    let b = backend(LLAMA);
    let vb = b.var_builder(DType::F32, &Device::Cpu);
    let first = vb.get((40, 16), "model.embed_tokens.weight").unwrap();
    let again = vb.get((40, 16), "model.embed_tokens.weight").unwrap();
    assert_eq!(first.id(), again.id(), "the same tensor, the same storage");
    assert_eq!(b.served().len(), 1);
    // lm_head is tied to the embedding in the plan: the same values, drawn from its stream.
    let head = vb.get((40, 16), "lm_head.weight").unwrap();
    assert_eq!(values(&head), values(&first));
    // Another dtype is drawn anew, in that type.
    let bf = b.tensor("model.embed_tokens.weight", &[40, 16], DType::BF16, &Device::Cpu).unwrap();
    assert_eq!(bf.dtype(), DType::BF16);
    assert_eq!(b.served().len(), 2, "lm_head is listed; the bf16 copy of a served name is not");
}

#[test]
fn unrequested_lists_stored_tensors_no_request_reached() {
    let b = backend(LLAMA);
    let all = b.unrequested();
    assert_eq!(all.len(), b.plan().stored().count());
    // Asking for the tied head counts for the embedding it is tied to.
    b.tensor("lm_head.weight", &[40, 16], DType::F32, &Device::Cpu).unwrap();
    assert!(!b.unrequested().contains(&"model.embed_tokens.weight".to_string()));
    assert_eq!(b.unrequested().len(), all.len() - 1);
}

#[test]
fn conv1d_weights_are_served_transposed_for_linear_models() {
    let stored = backend(GPT2);
    let linear = backend(GPT2).with_conv1d_layout(Conv1dLayout::OutIn);
    let dev = Device::Cpu;
    for (name, plan_dims) in
        [("transformer.h.0.attn.c_attn.weight", [8, 24]), ("transformer.h.0.attn.c_proj.weight", [8, 8])]
    {
        let a = stored.tensor(name, &plan_dims, DType::F32, &dev).unwrap();
        let b = linear.tensor(name, &[plan_dims[1], plan_dims[0]], DType::F32, &dev).unwrap();
        // Square ones too: the layout, not the shape, decides.
        assert_eq!(values(&b.t().unwrap().contiguous().unwrap()), values(&a), "{name}");
    }
    let e = linear.tensor("transformer.h.0.attn.c_attn.weight", &[8, 24], DType::F32, &dev).unwrap_err();
    assert!(matches!(&e, Error::Shape { planned, .. } if planned == &[24, 8]), "{e}");
    // Biases and other modules are as planned.
    let bias = linear.tensor("transformer.h.0.attn.c_attn.bias", &[24], DType::F32, &dev).unwrap();
    assert_eq!(
        values(&bias),
        values(&stored.tensor("transformer.h.0.attn.c_attn.bias", &[24], DType::F32, &dev).unwrap())
    );
    linear.tensor("transformer.wte.weight", &[50, 8], DType::F32, &dev).unwrap();
}

#[test]
fn save_writes_what_was_served_atomically() {
    let b = backend(LLAMA);
    let vb = b.var_builder(DType::BF16, &Device::Cpu);
    let w = vb.get((24, 16), "model.layers.0.mlp.up_proj.weight").unwrap();
    vb.get(16, "model.norm.weight").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    let meta = BTreeMap::from([("nninit.seed".to_string(), "42".to_string())]);
    save_safetensors(&path, &b.served(), &meta).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let view = st.tensor("model.layers.0.mlp.up_proj.weight").unwrap();
    assert_eq!(view.dtype(), safetensors::Dtype::BF16);
    assert_eq!(view.shape(), &[24, 16]);
    let want: Vec<half::bf16> = w.flatten_all().unwrap().to_vec1().unwrap();
    assert_eq!(view.data(), bytemuck::cast_slice::<half::bf16, u8>(&want));
    assert_eq!(st.names().len(), 2);
    // A view (not contiguous) is copied first; an integer tensor is refused, nothing written.
    let t = Tensor::arange(0f32, 6.0, &Device::Cpu).unwrap().reshape((2, 3)).unwrap().t().unwrap();
    let other = dir.path().join("t.safetensors");
    save_safetensors(&other, &[("t".into(), t)], &BTreeMap::new()).unwrap();
    let bytes = std::fs::read(&other).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.tensor("t").unwrap().data(), bytemuck::cast_slice::<f32, u8>(&[0.0, 3.0, 1.0, 4.0, 2.0, 5.0]));
    let ints = Tensor::new(&[1u32, 2], &Device::Cpu).unwrap();
    let bad = dir.path().join("bad.safetensors");
    assert!(matches!(save_safetensors(&bad, &[("i".into(), ints)], &BTreeMap::new()), Err(Error::DType { .. })));
    assert!(!bad.exists());
}
