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

/// Parts change nothing where the scheme gives every part one rule: every
/// preset under every scheme gets the same rules and reasons as the same plan
/// with its parts removed (the code path before parts existed), except T-Fixup
/// and DeepNorm on GPT-2, which refused it before.
#[test]
fn parts_change_no_existing_rule() {
    let schemes = SCHEME_NAMES.split(", ").map(|s| s.split(['[', ' ']).next().unwrap()).collect::<Vec<_>>();
    assert!(schemes.len() >= 19, "{schemes:?}");
    let mut fused = 0;
    for (preset, _, _) in crate::arch::PRESETS {
        let model = Model::preset(preset).unwrap();
        for scheme in &schemes {
            let scheme = Scheme::parse(scheme).unwrap();
            let mut with = model.plan(DType::F32).unwrap();
            let mut without = with.clone();
            without.tensors.iter_mut().for_each(|t| t.parts.clear());
            let (a, b) = (scheme.apply(&model, &mut with), scheme.apply(&model, &mut without));
            // Phi-3 came with its parts (no rule of it predates them): `phi3_parts_get_llamas_rules` tests it.
            if preset.starts_with("phi3") {
                continue;
            }
            if preset.starts_with("gpt2") && matches!(scheme, Scheme::TFixup | Scheme::DeepNorm) {
                assert!(a.is_ok() && b.is_err(), "{preset} {scheme}");
                continue;
            }
            assert_eq!(a.is_ok(), b.is_ok(), "{preset} {scheme}");
            for (x, y) in with.tensors.iter().zip(&without.tensors) {
                assert!(!x.has_part_rules(), "{preset} {scheme} {}", x.name);
                assert_eq!((&x.init, &x.provenance), (&y.init, &y.provenance), "{preset} {scheme} {}", x.name);
                fused += usize::from(!x.parts.is_empty());
            }
        }
    }
    assert!(fused > 0);
}

#[test]
fn t_fixup_and_deepnorm_rule_gpt2_c_attn_per_part() {
    let model = Model::preset("gpt2").unwrap();
    let s = (9.0f64 * 12.0).powf(-0.25);
    let beta = (8.0f64 * 12.0).powf(-0.25);
    for (scheme, qk, v) in [
        (
            "t-fixup",
            VarianceScaling::xavier_uniform(std::f64::consts::FRAC_1_SQRT_2).unwrap(),
            VarianceScaling::xavier_uniform(s).unwrap(),
        ),
        ("deepnorm", VarianceScaling::xavier_normal(1.0).unwrap(), VarianceScaling::xavier_normal(beta).unwrap()),
    ] {
        let mut p = model.plan(DType::F32).unwrap();
        Scheme::parse(scheme).unwrap().apply(&model, &mut p).unwrap();
        p.validate().unwrap();
        let t = p.get("transformer.h.3.attn.c_attn.weight").unwrap();
        assert!(t.init.is_none() && t.has_part_rules(), "{scheme}");
        let inits: Vec<Init> = t.parts.iter().map(|p| p.init.unwrap()).collect();
        assert_eq!(inits, vec![qk.into(), qk.into(), v.into()], "{scheme}");
        for part in &t.parts {
            let fan = part.spec.fan().unwrap();
            assert_eq!((fan.fan_in(), fan.fan_out()), (768, 768), "each part has its own fans");
        }
        // xavier on the part's fans: gain·√(2/(768 + 768)), not the whole tensor's √(2/(768 + 2304)).
        let v_std = t.parts[2].init.unwrap().explain(&t.parts[2].spec).unwrap().std.unwrap();
        let gain = if scheme == "t-fixup" { s } else { beta };
        close(v_std, gain * (2.0f64 / 1536.0).sqrt());
        assert!(t.provenance.as_ref().unwrap().reason.contains("fused"));
        let bias = p.get("transformer.h.3.attn.c_attn.bias").unwrap();
        assert_eq!(bias.init, Some(Init::Zeros));
    }
}

#[test]
fn every_scheme_applies_to_every_preset_but_mamba() {
    for (preset, _, _) in crate::arch::PRESETS {
        for scheme in
            ["torch-default", "hf", "megatron", "olmo-mitchell", "small-init", "mup", "zero", "t-fixup", "deepnorm"]
        {
            let model = Model::preset(preset).unwrap();
            let mut p = model.plan(DType::F32).unwrap();
            let result = Scheme::parse(scheme).unwrap().apply(&model, &mut p);
            if preset.starts_with("mamba") && !matches!(scheme, "torch-default" | "hf") {
                let err = result.unwrap_err().to_string();
                assert!(err.contains("state-space mixer"), "{err}");
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

fn init_of(plan: &Plan, name: &str) -> Init {
    plan.get(name).unwrap_or_else(|| panic!("{name}")).init.unwrap()
}

fn sigma_and_bounds(init: Init) -> (f64, (f64, f64)) {
    match init {
        Init::TruncatedNormal(t) => (t.sigma(), t.bounds()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn torchtitan_follows_llama3_init_weights() {
    let p = plan("llama-1b", "torchtitan");
    close(std_of(&p, "model.embed_tokens.weight"), 1.0);
    for name in ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "mlp.gate_proj"] {
        let (s, bounds) = sigma_and_bounds(init_of(&p, &format!("model.layers.5.{name}.weight")));
        close(s, 0.02);
        assert_eq!(bounds, (-2.0, 2.0), "PyTorch's absolute default bounds");
    }
    // depth_init: 0.02/√(2·(layer_id+1)) on wo, w2 and w3 (up_proj)
    for name in ["self_attn.o_proj", "mlp.up_proj", "mlp.down_proj"] {
        close(sigma_and_bounds(init_of(&p, &format!("model.layers.5.{name}.weight"))).0, 0.02 / 12f64.sqrt());
        close(sigma_and_bounds(init_of(&p, &format!("model.layers.0.{name}.weight"))).0, 0.02 / 2f64.sqrt());
    }
    let (s, (lo, hi)) = sigma_and_bounds(init_of(&p, "lm_head.weight"));
    close(s, 2048f64.powf(-0.5));
    close(hi, 3.0 * s);
    close(lo, -3.0 * s);
    let n = plan("llama-1b", "torchtitan-no-depth");
    close(sigma_and_bounds(init_of(&n, "model.layers.5.mlp.down_proj.weight")).0, 0.02 / 32f64.sqrt());
    close(sigma_and_bounds(init_of(&n, "model.layers.0.self_attn.o_proj.weight")).0, 0.02 / 32f64.sqrt());
    // Qwen2's q/k/v biases keep nn.Linear's default (torchtitan never touches them).
    let q = plan("qwen2-0.5b", "torchtitan");
    let b = q.get("model.layers.0.self_attn.q_proj.bias").unwrap();
    assert!(matches!(b.init, Some(Init::Uniform(u)) if (u.high() - 896f64.powf(-0.5)).abs() < 1e-15));
    let err = Scheme::Torchtitan
        .apply(&Model::preset("gpt2").unwrap(), &mut Model::preset("gpt2").unwrap().plan(DType::F32).unwrap());
    assert!(err.unwrap_err().to_string().contains("Llama"));
}

#[test]
fn olmo_core_methods_follow_init_py() {
    let l = plan("llama-1b", "olmo-core-llama");
    close(std_of(&l, "model.embed_tokens.weight"), 1.0);
    let cut = |plan: &Plan, name: &str| {
        let (s, (lo, hi)) = sigma_and_bounds(init_of(plan, name));
        close(hi, 3.0 * s);
        close(lo, -3.0 * s);
        s
    };
    close(cut(&l, "model.layers.4.self_attn.q_proj.weight"), 0.02);
    close(cut(&l, "model.layers.4.mlp.gate_proj.weight"), 0.02);
    for name in ["self_attn.o_proj", "mlp.up_proj", "mlp.down_proj"] {
        close(cut(&l, &format!("model.layers.4.{name}.weight")), 0.02 / 32f64.sqrt());
    }
    close(cut(&l, "lm_head.weight"), 2048f64.powf(-0.5));
    let d = plan("llama-1b", "olmo-core-llama-depth");
    close(cut(&d, "model.layers.4.mlp.down_proj.weight"), 0.02 / 10f64.sqrt());
    let n = plan("llama-1b", "olmo-core-normalized");
    let r = 2048f64.powf(-0.5);
    close(std_of(&n, "model.embed_tokens.weight"), r);
    close(cut(&n, "model.layers.4.self_attn.k_proj.weight"), r);
    close(cut(&n, "model.layers.4.mlp.up_proj.weight"), r);
    close(cut(&n, "model.layers.4.mlp.down_proj.weight"), r / 32f64.sqrt());
    close(cut(&n, "model.layers.4.self_attn.o_proj.weight"), r / 32f64.sqrt());
    // MoE: router and experts share the depth-scaled std (init_feed_forward_moe).
    let m = plan("mixtral-8x7b", "olmo-core-llama-depth");
    for name in ["gate", "experts.0.w1", "experts.7.w2", "experts.3.w3"] {
        close(cut(&m, &format!("model.layers.2.block_sparse_moe.{name}.weight")), 0.02 / 6f64.sqrt());
    }
}

#[test]
fn nanogpt_and_spectral_numbers() {
    let g = plan("gpt2", "nanogpt");
    close(std_of(&g, "transformer.h.3.attn.c_proj.weight"), 0.02 / 24f64.sqrt());
    close(std_of(&g, "transformer.h.3.mlp.c_fc.weight"), 0.02);
    close(std_of(&g, "transformer.wpe.weight"), 0.02);
    assert_eq!(init_of(&g, "transformer.h.3.attn.c_attn.bias"), Init::Zeros);
    let s = plan("llama-1b", "spectral");
    // q_proj 2048 → 2048: 1/√2048; up_proj 2048 → 5632: 1/√2048 (min 1); down 5632 → 2048: √2048/5632
    close(std_of(&s, "model.layers.0.self_attn.q_proj.weight"), 2048f64.powf(-0.5));
    close(std_of(&s, "model.layers.0.mlp.up_proj.weight"), 2048f64.powf(-0.5));
    close(std_of(&s, "model.layers.0.mlp.down_proj.weight"), 5632f64.powf(-0.5) * (2048.0f64 / 5632.0).sqrt());
    close(std_of(&s, "model.embed_tokens.weight"), 1.0);
    // k_proj of llama-8b: 4096 → 1024, so √(1/4)/√4096
    let k = plan("llama-8b", "spectral");
    close(std_of(&k, "model.layers.0.self_attn.k_proj.weight"), 0.5 / 64.0);
}

#[test]
fn depth_mup_and_completep_scale_branches_by_depth() {
    let (m, l) = (2048.0f64 / 256.0, 16.0f64);
    for (scheme, alpha) in [("depth-mup", 0.5), ("completep", 1.0)] {
        let p = plan("llama-1b", scheme);
        let base = 0.02 / m.sqrt();
        close(std_of(&p, "model.layers.0.self_attn.q_proj.weight"), base);
        close(std_of(&p, "model.layers.0.self_attn.o_proj.weight"), base * l.powf(-alpha));
        close(std_of(&p, "model.layers.9.mlp.down_proj.weight"), base * l.powf(-alpha));
        let q = p.get("model.layers.0.self_attn.q_proj.weight").unwrap().provenance.clone().unwrap();
        close(q.lr_multiplier.unwrap(), l.powf(alpha - 1.0) / m);
        let norm = p.get("model.norm.weight").unwrap().provenance.clone().unwrap();
        assert_eq!(norm.lr_multiplier, Some(1.0));
        assert_eq!(Scheme::parse(&format!("{scheme}:128")).unwrap().label(), format!("{scheme}:128"));
    }
    // muP itself is unchanged by the depth variants.
    close(std_of(&plan("llama-1b", "mup"), "model.layers.0.self_attn.o_proj.weight"), 0.02 / m.sqrt());
}

#[test]
fn moe_router_and_experts_under_hf_and_torchtitan() {
    let h = plan("mixtral-8x7b", "hf");
    close(std_of(&h, "model.layers.0.block_sparse_moe.gate.weight"), 0.02);
    close(std_of(&h, "model.layers.0.block_sparse_moe.experts.5.w2.weight"), 0.02);
    let t = plan("mixtral-8x7b", "torchtitan");
    close(sigma_and_bounds(init_of(&t, "model.layers.1.block_sparse_moe.gate.weight")).0, 0.02 / 2.0);
    close(sigma_and_bounds(init_of(&t, "model.layers.1.block_sparse_moe.experts.5.w1.weight")).0, 0.02);
    close(sigma_and_bounds(init_of(&t, "model.layers.1.block_sparse_moe.experts.5.w3.weight")).0, 0.02 / 2.0);
}

#[test]
fn new_schemes_apply_to_every_llama_family_preset() {
    for preset in ["llama-1b", "qwen2-0.5b", "qwen3-0.6b", "mistral-7b", "gemma2-2b", "mixtral-8x7b", "phi3-mini"] {
        for scheme in [
            "torchtitan",
            "torchtitan-no-depth",
            "olmo-core-llama",
            "olmo-core-llama-depth",
            "olmo-core-normalized",
            "nanogpt",
            "spectral",
            "depth-mup",
            "completep",
            "neox-wang",
        ] {
            plan(preset, scheme);
        }
    }
    for preset in ["gpt2", "bert-base", "vit-base"] {
        for scheme in ["nanogpt", "spectral", "depth-mup", "completep"] {
            plan(preset, scheme);
        }
    }
    assert_eq!(Scheme::parse("neox-wang").unwrap(), Scheme::SmallInit);
}

#[test]
fn mamba_schemes_follow_their_reference_code() {
    let m = plan("mamba-130m", "mamba");
    let l0 = "backbone.layers.0.mixer";
    let get = |p: &Plan, n: &str| p.get(&format!("{l0}.{n}")).unwrap().init.unwrap();
    assert_eq!(get(&m, "A_log"), Init::S4dRealLog);
    assert_eq!(get(&m, "D"), Init::Ones);
    assert_eq!(get(&m, "dt_proj.weight"), Init::Uniform(Uniform::new(-48f64.powf(-0.5), 48f64.powf(-0.5)).unwrap()));
    assert!(matches!(get(&m, "dt_proj.bias"), Init::InverseSoftplusLogUniform(_)));
    // PyTorch's defaults: U(±1/√fan_in), conv1d's bias too (fan_in = k = 4); out_proj ÷ √24.
    close(std_of(&m, &format!("{l0}.in_proj.weight")), 1.0 / (3.0 * 768.0f64).sqrt());
    close(std_of(&m, &format!("{l0}.conv1d.weight")), 0.5 / 3f64.sqrt());
    close(std_of(&m, &format!("{l0}.conv1d.bias")), 0.5 / 3f64.sqrt());
    close(std_of(&m, &format!("{l0}.out_proj.weight")), 1.0 / (3.0 * 1536.0 * 24.0f64).sqrt());
    close(std_of(&m, "backbone.embeddings.weight"), 0.02);
    assert!(m.get("lm_head.weight").unwrap().tied_to.is_some());
    // transformers: Linear N(0, initializer_range = 0.1), conv bias 0, out_proj not depth-scaled.
    let h = plan("mamba-130m", "hf");
    close(std_of(&h, &format!("{l0}.in_proj.weight")), 0.1);
    close(std_of(&h, &format!("{l0}.x_proj.weight")), 0.1);
    close(std_of(&h, "backbone.embeddings.weight"), 0.1);
    assert_eq!(get(&h, "conv1d.bias"), Init::Zeros);
    close(std_of(&h, &format!("{l0}.out_proj.weight")), 1.0 / (3.0 * 1536.0f64).sqrt());
    assert_eq!(get(&h, "dt_proj.bias"), get(&m, "dt_proj.bias"));
    // torch-default: A_log and D as MambaMixer.__init__ creates them.
    let t = plan("mamba-130m", "torch-default");
    assert_eq!(get(&t, "A_log"), Init::S4dRealLog);
    close(std_of(&t, "backbone.embeddings.weight"), 1.0);
    // The mamba scheme refuses transformers.
    let gpt2 = Model::preset("gpt2").unwrap();
    let mut p = gpt2.plan(DType::F32).unwrap();
    let err = Scheme::Mamba.apply(&gpt2, &mut p).unwrap_err().to_string();
    assert!(err.contains("state-space"), "{err}");
}

/// The distribution a fused tensor's part is drawn from: its own rule on its own
/// shape, or (drawn whole) the tensor's rule on the tensor's shape, as a sampler
/// (fans applied) for element-wise rules, else the rule and the shape.
fn drawn(init: &Init, spec: &crate::spec::TensorSpec) -> String {
    match init.elementwise_sampler(spec.fan().ok()) {
        Some(s) => format!("{:?}", s.unwrap()),
        None => format!("{init:?} on {:?}", spec.shape().dims()),
    }
}

/// Phi-3 is Llama with q, k, v and gate, up fused: under every scheme, each part
/// of qkv_proj and gate_up_proj is drawn from the distribution (and gets the
/// learning-rate multiplier) the same scheme gives Llama's separate projection,
/// with per-part fans (grouped-query attention makes k and v smaller than q, so
/// spectral's and Xavier's stds differ between parts); every other tensor gets
/// Llama's rule. ZerO is the exception: its identities are drawn on the fused
/// module as one matrix (as on GPT-2's c_attn), not per part.
#[test]
fn phi3_parts_get_llamas_rules() {
    let dims = r#""hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 3, "num_attention_heads": 8,
        "num_key_value_heads": 2, "vocab_size": 100, "tie_word_embeddings": false"#;
    let phi3 = Model::from_config_json(&format!(r#"{{"model_type": "phi3", {dims}}}"#)).unwrap();
    let llama = Model::from_config_json(&format!(r#"{{"model_type": "llama", {dims}}}"#)).unwrap();
    let mut per_part = 0;
    for scheme in Scheme::all(16) {
        let (a, b) = (scheme.plan(&phi3, DType::F32), scheme.plan(&llama, DType::F32));
        assert_eq!(a.is_ok(), b.is_ok(), "{scheme}");
        let (Ok(a), Ok(b)) = (a, b) else { continue };
        let rule_of = |name: &str| {
            let t = b.get(name).unwrap_or_else(|| panic!("{name}"));
            (drawn(t.init.as_ref().unwrap(), &t.spec), t.provenance.as_ref().unwrap().lr_multiplier)
        };
        for t in &a.tensors {
            let llama_name = |part: &str| {
                let stem = t.name.rsplit_once(".weight").unwrap().0;
                match part {
                    "gate" | "up" => format!("{}.{part}_proj.weight", stem.rsplit_once('.').unwrap().0),
                    _ => format!("{}.{part}_proj.weight", stem.rsplit_once('.').unwrap().0),
                }
            };
            if t.parts.is_empty() {
                if t.tied_to.is_none() {
                    let got = (drawn(t.init.as_ref().unwrap(), &t.spec), t.provenance.as_ref().unwrap().lr_multiplier);
                    assert_eq!(got, rule_of(&t.name), "{scheme} {}", t.name);
                }
                continue;
            }
            per_part += usize::from(t.has_part_rules());
            for p in &t.parts {
                let got = if t.has_part_rules() {
                    (drawn(p.init.as_ref().unwrap(), &p.spec), p.provenance.as_ref().unwrap().lr_multiplier)
                } else {
                    (drawn(t.init.as_ref().unwrap(), &t.spec), t.provenance.as_ref().unwrap().lr_multiplier)
                };
                if scheme == Scheme::Zero {
                    assert!(!t.has_part_rules() && t.init == Some(Init::Zero), "{}", t.name);
                    continue;
                }
                assert_eq!(got, rule_of(&llama_name(p.name)), "{scheme} {} part {}", t.name, p.name);
            }
        }
    }
    assert!(per_part > 0);
}

/// T-Fixup and DeepNorm scale v, gate and up (and not q, k) on Phi-3's fused
/// projections, each part on its own fans; hf draws both fused tensors whole.
#[test]
fn t_fixup_and_deepnorm_rule_phi3_parts() {
    let s = (9.0f64 * 32.0).powf(-0.25);
    let beta = (8.0f64 * 32.0).powf(-0.25);
    for (scheme, gain, qk_gain) in [("t-fixup", s, std::f64::consts::FRAC_1_SQRT_2), ("deepnorm", beta, 1.0)] {
        let p = plan("phi3-mini", scheme);
        let qkv = p.get("model.layers.2.self_attn.qkv_proj.weight").unwrap();
        let gate_up = p.get("model.layers.2.mlp.gate_up_proj.weight").unwrap();
        assert!(qkv.has_part_rules() && gate_up.has_part_rules(), "{scheme}");
        let std = |part: &crate::plan::TensorPart| part.init.unwrap().explain(&part.spec).unwrap().std.unwrap();
        // xavier: gain·√(2/(fan_in + fan_out)) of each part.
        close(std(&qkv.parts[0]), qk_gain * (2.0f64 / 6144.0).sqrt());
        close(std(&qkv.parts[1]), qk_gain * (2.0f64 / 6144.0).sqrt());
        close(std(&qkv.parts[2]), gain * (2.0f64 / 6144.0).sqrt());
        for part in &gate_up.parts {
            close(std(part), gain * (2.0f64 / (3072.0 + 8192.0)).sqrt());
        }
    }
    let h = plan("phi3-mini", "hf");
    for name in ["model.layers.0.self_attn.qkv_proj.weight", "model.layers.0.mlp.gate_up_proj.weight"] {
        assert!(!h.get(name).unwrap().has_part_rules(), "{name}");
        close(std_of(&h, name), 0.02);
    }
    let embed = h.get("model.embed_tokens.weight").unwrap().provenance.clone().unwrap();
    assert!(embed.reason.contains("padding row"), "{}", embed.reason);
}

/// The comparison that keeps a fused tensor whole looks at the drawn distribution, not
/// only the rule: Xavier on q alone is not Xavier on [q; k; v] (the twin of keeping
/// kaiming_uniform's fan_in rule whole, which is the same on every part along the output axis).
#[test]
fn a_fan_dependent_rule_is_the_same_on_a_part_only_with_the_same_fans() {
    use crate::fan::Layout;
    let t = PlannedTensor::new("qkv.weight", vec![12, 4], Layout::Torch, Role::AttentionQkv, Module::Linear)
        .unwrap()
        .fused(0, &[("q", 4, Role::AttentionQuery), ("k", 4, Role::AttentionKey), ("v", 4, Role::AttentionValue)])
        .unwrap();
    let xavier = xavier_uniform(1.0).unwrap();
    assert!(!same_elements(&xavier, &t, &xavier, &t.parts[0]));
    let kaiming: Init = VarianceScaling::kaiming_uniform(FanMode::FanIn, Activation::Relu).unwrap().into();
    assert!(same_elements(&kaiming, &t, &kaiming, &t.parts[0]));
    assert!(same_elements(&Init::Zero, &t, &Init::Zero, &t.parts[0]));
    assert!(!same_elements(&kaiming, &t, &xavier, &t.parts[0]));
}

/// GPT-2's fused c_attn bias `[3d]` is not declared in parts: every scheme that applies to
/// GPT-2 zeroes it (Conv1D's own init included), so q, k and v biases could get no different
/// rules. (The only non-zero Linear bias rule, nn.Linear's U(±1/√fan_in), depends on fan_in
/// alone, which fusing along the output axis keeps: it too is one rule for every part.)
#[test]
fn gpt2_c_attn_bias_is_zero_under_every_scheme_so_it_needs_no_parts() {
    let model = Model::preset("gpt2").unwrap();
    let mut applied = 0;
    for scheme in Scheme::all(256) {
        let Ok(p) = scheme.plan(&model, DType::F32) else { continue };
        applied += 1;
        for layer in 0..12 {
            let bias = p.get(&format!("transformer.h.{layer}.attn.c_attn.bias")).unwrap();
            assert!(bias.parts.is_empty());
            assert_eq!(bias.init, Some(Init::Zeros), "{scheme}");
        }
    }
    assert!(applied >= 13, "{applied}");
}

/// A GPT-2 small enough to draw whole in a test, large enough that the residual projections
/// hold 1.3 M values: 4 blocks of width 256.
const GPT2_4X256: &str = r#"{"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": 256, "n_layer": 4,
  "n_head": 4, "vocab_size": 512, "n_positions": 64, "initializer_range": 0.02}"#;

/// Every stored tensor of `plan` drawn in f32 under `seed`, by name.
fn drawn_f32(plan: &Plan, seed: u64) -> Vec<(String, Vec<f32>)> {
    plan.stored()
        .map(|t| {
            let mut v = vec![0f32; t.numel() as usize];
            t.fill_slice(seed, 0, &mut v).unwrap();
            (t.name.clone(), v)
        })
        .collect()
}

/// Whether N values drawn i.i.d. from N(0, std²) could have the mean square `mean_square`:
/// under that law the mean square has mean std² and variance 2·std⁴/N (the mean square of
/// N standard normals is χ²_N/N), close to normal at these N; rejected beyond |z| = 6
/// (a false alarm once in 5·10⁸).
fn mean_square_fits(mean_square: f64, n: usize, std: f64) -> bool {
    let z = (mean_square / (std * std) - 1.0) / (2.0 / n as f64).sqrt();
    z.abs() <= 6.0
}

/// `hf-unscaled` is `hf` byte for byte on every tensor but the residual projections (the
/// same rules draw from the same streams), and those are `hf`'s values times √(2·n_layer):
/// the same stream at std σ instead of σ/√(2L). Their mean square fits σ = 0.02 and fails
/// at 1 % off either way (the twin), and at hf's σ/√8.
#[test]
fn hf_unscaled_is_hf_but_for_the_residual_projections() {
    let model = Model::from_config_json(GPT2_4X256).unwrap();
    let hf = Scheme::Hf.plan(&model, DType::F32).unwrap();
    let unscaled = Scheme::parse("hf-unscaled").unwrap().plan(&model, DType::F32).unwrap();
    assert_eq!(unscaled.scheme.as_deref(), Some("hf-unscaled"));
    let (a, b) = (drawn_f32(&hf, 7), drawn_f32(&unscaled, 7));
    assert_eq!(a.len(), b.len());
    let factor = 8f64.sqrt();
    let (mut projections, mut others) = (0, 0);
    let (mut sum_sq, mut n) = (0f64, 0usize);
    for ((name, x), (name_b, y)) in a.iter().zip(&b) {
        assert_eq!(name, name_b);
        if name.ends_with("c_proj.weight") {
            projections += 1;
            let t = unscaled.get(name).unwrap();
            assert!(t.provenance.as_ref().unwrap().reason.contains("#47458"), "{name}");
            for (&h, &u) in x.iter().zip(y) {
                let expected = f64::from(h) * factor;
                assert!((f64::from(u) - expected).abs() <= 1e-6 * expected.abs() + 1e-12, "{name}: {u} vs {h}·√8");
                sum_sq += f64::from(u) * f64::from(u);
            }
            n += y.len();
        } else {
            others += 1;
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert!(bits(x) == bits(y), "{name} differs from hf");
            assert_eq!(hf.get(name).unwrap().init, unscaled.get(name).unwrap().init, "{name}");
        }
    }
    assert_eq!(projections, 8, "attn and mlp c_proj in 4 blocks");
    assert!(others > 20, "{others}");
    assert_eq!(n, 4 * (256 * 256 + 1024 * 256));
    let mean_square = sum_sq / n as f64;
    eprintln!("hf-unscaled residual projections: {n} values, rms {:.6} (expected 0.02)", mean_square.sqrt());
    assert!(mean_square_fits(mean_square, n, 0.02), "rms {}", mean_square.sqrt());
    // The twins: 1 % off either way, and hf's scaled std, are rejected.
    for off in [0.02 * 1.01, 0.02 * 0.99, 0.02 / factor] {
        assert!(!mean_square_fits(mean_square, n, off), "std {off} accepted for rms {}", mean_square.sqrt());
    }
}

#[test]
fn hf_unscaled_rules_gpt2_and_refuses_other_families() {
    let p = plan("gpt2", "hf-unscaled");
    for name in ["transformer.h.0.attn.c_proj.weight", "transformer.h.11.mlp.c_proj.weight"] {
        close(std_of(&p, name), 0.02);
        let numbers = &p.get(name).unwrap().provenance.as_ref().unwrap().numbers;
        assert_eq!((numbers["std"], numbers["n_layer"]), (0.02, 12.0), "{name}");
    }
    close(std_of(&p, "transformer.h.0.attn.c_attn.weight"), 0.02);
    assert_eq!(p.get("transformer.h.0.attn.c_proj.bias").unwrap().init, Some(Init::Zeros));
    assert_eq!(Scheme::parse("HF_unscaled").unwrap(), Scheme::HfUnscaled);
    assert_eq!(Scheme::HfUnscaled.label(), "hf-unscaled");
    assert!(SCHEME_NAMES.contains("hf-unscaled"));
    assert!(!Scheme::all(256).contains(&Scheme::HfUnscaled), "a named deviation, not a doctor candidate");
    assert!(Scheme::parse("hf-unscaled:3").is_err());
    let mut refused = 0;
    for (preset, _, _) in crate::arch::PRESETS {
        let model = Model::preset(preset).unwrap();
        let result = Scheme::HfUnscaled.plan(&model, DType::F32);
        if model.family() == Family::Gpt2 {
            result.unwrap_or_else(|e| panic!("{preset}: {e}"));
            continue;
        }
        let err = result.unwrap_err().to_string();
        assert!(
            err.contains("hf-unscaled") && err.contains("use `hf`") || err.contains("state-space"),
            "{preset}: {err}"
        );
        refused += 1;
    }
    assert!(refused >= 5, "{refused}");
}
