//! Scheme numbers against shared/reference/schemes.md.

use super::*;
use crate::DType;

fn plan(preset: &str, scheme: &str) -> Plan {
    let model = Model::preset(preset).unwrap();
    let mut plan = model.plan(DType::F32).unwrap();
    Scheme::parse(scheme).unwrap().apply(&model, &mut plan).unwrap();
    plan.validate().unwrap();
    plan
}

fn std_of(plan: &Plan, name: &str) -> f64 {
    let t = plan.get(name).unwrap_or_else(|| panic!("{name}"));
    t.init.unwrap().explain(&t.spec).unwrap().std.unwrap()
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() <= 1e-12 * b.abs().max(1e-300), "{a} vs {b}");
}

#[test]
fn every_scheme_applies_to_every_preset_except_fused_qkv() {
    for (preset, _, _) in crate::arch::PRESETS {
        for scheme in
            ["torch-default", "hf", "megatron", "olmo-mitchell", "small-init", "mup", "zero", "t-fixup", "deepnorm"]
        {
            let model = Model::preset(preset).unwrap();
            let mut p = model.plan(DType::F32).unwrap();
            let result = Scheme::parse(scheme).unwrap().apply(&model, &mut p);
            if preset.starts_with("gpt2") && matches!(scheme, "t-fixup" | "deepnorm") {
                let err = result.unwrap_err().to_string();
                assert!(err.contains("c_attn") && err.contains("fused"), "{err}");
            } else {
                result.unwrap_or_else(|e| panic!("{preset} {scheme}: {e}"));
                p.validate().unwrap();
            }
        }
    }
}

#[test]
fn gpt2_hf_scales_c_proj_by_sqrt_2_n_layer() {
    let p = plan("gpt2", "hf");
    close(std_of(&p, "transformer.h.0.attn.c_proj.weight"), 0.02 / 24f64.sqrt());
    close(std_of(&p, "transformer.h.11.mlp.c_proj.weight"), 0.02 / 24f64.sqrt());
    close(std_of(&p, "transformer.h.0.attn.c_attn.weight"), 0.02);
    close(std_of(&p, "transformer.wpe.weight"), 0.02);
    assert_eq!(p.get("transformer.h.0.attn.c_attn.bias").unwrap().init, Some(Init::Zeros));
    assert_eq!(p.get("transformer.ln_f.weight").unwrap().init, Some(Init::Ones));
    let medium = plan("gpt2-medium", "hf");
    close(std_of(&medium, "transformer.h.0.attn.c_proj.weight"), 0.02 / 48f64.sqrt());
}

#[test]
fn torch_default_is_reset_parameters() {
    let p = plan("llama-1b", "torch-default");
    let q = p.get("model.layers.0.self_attn.q_proj.weight").unwrap();
    let x = q.init.unwrap().explain(&q.spec).unwrap();
    close(x.bound.unwrap(), 1.0 / 2048f64.sqrt());
    close(std_of(&p, "model.embed_tokens.weight"), 1.0);
    let vit = plan("vit-base", "torch-default");
    let b = vit.get("embeddings.patch_embeddings.projection.bias").unwrap();
    close(b.init.unwrap().explain(&b.spec).unwrap().bound.unwrap(), 1.0 / 768f64.sqrt());
    let g = plan("gpt2", "torch-default");
    close(std_of(&g, "transformer.h.0.mlp.c_fc.weight"), 0.02);
}

#[test]
fn megatron_small_init_and_mitchell_numbers() {
    let m = plan("llama-1b", "megatron");
    close(std_of(&m, "model.layers.3.mlp.down_proj.weight"), 0.02 / 32f64.sqrt());
    close(std_of(&m, "model.layers.3.mlp.up_proj.weight"), 0.02);
    let s = plan("llama-1b", "small-init");
    close(std_of(&s, "model.layers.0.self_attn.q_proj.weight"), (2.0 / (5.0 * 2048.0f64)).sqrt());
    close(std_of(&s, "model.layers.0.self_attn.o_proj.weight"), 2.0 / (16.0 * 2048f64.sqrt()));
    let o = plan("llama-1b", "olmo-mitchell");
    let t = o.get("model.layers.2.self_attn.o_proj.weight").unwrap();
    match t.init.unwrap() {
        Init::TruncatedNormal(tn) => {
            close(tn.sigma(), 1.0 / (2.0 * 2048.0 * 3.0f64).sqrt());
            let (lo, hi) = tn.bounds();
            close(hi, 3.0 * tn.sigma());
            close(lo, -3.0 * tn.sigma());
        }
        other => panic!("{other:?}"),
    }
    let down = o.get("model.layers.0.mlp.down_proj.weight").unwrap();
    assert!(
        matches!(down.init, Some(Init::TruncatedNormal(tn)) if (tn.sigma() - 1.0 / (2.0 * 5632.0f64).sqrt()).abs() < 1e-15)
    );
}

#[test]
fn deepnorm_beta_and_t_fixup_constants() {
    let d = plan("llama-1b", "deepnorm");
    let v = d.get("model.layers.0.self_attn.v_proj.weight").unwrap();
    close(v.provenance.as_ref().unwrap().numbers["beta"], (8.0 * 16.0f64).powf(-0.25));
    close(v.provenance.as_ref().unwrap().numbers["alpha"], (2.0 * 16.0f64).powf(0.25));
    assert_eq!(v.init, Some(Init::from(VarianceScaling::xavier_normal((128.0f64).powf(-0.25)).unwrap())));
    assert_eq!(
        d.get("model.layers.0.self_attn.q_proj.weight").unwrap().init,
        Some(Init::from(VarianceScaling::xavier_normal(1.0).unwrap()))
    );
    let b = plan("bert-base", "deepnorm");
    close(
        b.get("bert.encoder.layer.0.output.dense.weight").unwrap().provenance.as_ref().unwrap().numbers["beta"],
        96f64.powf(-0.25),
    );

    let t = plan("llama-1b", "t-fixup");
    let s = (9.0 * 16.0f64).powf(-0.25);
    assert_eq!(
        t.get("model.layers.0.mlp.down_proj.weight").unwrap().init,
        Some(Init::from(VarianceScaling::xavier_uniform(s).unwrap()))
    );
    close(std_of(&t, "model.embed_tokens.weight"), 2048f64.powf(-0.5) * s);
    let e = plan("bert-base", "t-fixup");
    let s = 0.67 * 12f64.powf(-0.25);
    assert_eq!(
        e.get("bert.encoder.layer.0.attention.self.value.weight").unwrap().init,
        Some(Init::from(VarianceScaling::xavier_uniform(s).unwrap()))
    );
}

#[test]
fn mup_records_learning_rate_multipliers() {
    let p = plan("llama-1b", "mup:256");
    let m = 2048.0 / 256.0;
    let q = p.get("model.layers.0.self_attn.q_proj.weight").unwrap();
    close(q.provenance.as_ref().unwrap().lr_multiplier.unwrap(), 1.0 / m);
    close(std_of(&p, "model.layers.0.self_attn.q_proj.weight"), 0.02 / m.sqrt());
    let e = p.get("model.embed_tokens.weight").unwrap();
    assert_eq!(e.provenance.as_ref().unwrap().lr_multiplier, Some(1.0));
    close(std_of(&p, "lm_head.weight"), 0.02);
    assert!(
        plan("gpt2", "hf").get("transformer.wte.weight").unwrap().provenance.as_ref().unwrap().lr_multiplier.is_none()
    );
    assert!(Scheme::parse("mup:0").is_err());
    assert!(Scheme::parse("hf:3").is_err());
    assert!(Scheme::parse("xavier").unwrap_err().to_string().contains("known: torch-default"));
}

#[test]
fn zero_and_vit_hf() {
    let z = plan("llama-1b", "zero");
    assert_eq!(z.get("model.layers.0.mlp.down_proj.weight").unwrap().init, Some(Init::Zeros));
    assert_eq!(z.get("model.layers.0.mlp.up_proj.weight").unwrap().init, Some(Init::Zero));
    let v = plan("vit-base", "hf");
    assert!(matches!(v.get("embeddings.cls_token").unwrap().init, Some(Init::TruncatedNormal(_))));
    close(std_of(&v, "encoder.layer.0.attention.attention.query.weight"), 0.02);
}
