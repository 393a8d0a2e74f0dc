use super::rules::{Moments, test};
use super::stats::{encode_f32, spectral, stats};
use super::*;
use crate::init::{Init, Normal, Orthogonal, Uniform};
use crate::io::StoredDType;
use crate::stream::Philox;

fn draw(init: Init, dims: &[usize], name: &str) -> Vec<f32> {
    let spec = TensorSpec::new(Shape::new(dims.to_vec()).unwrap());
    let mut v = vec![0.0f32; spec.numel() as usize];
    init.fill(&spec, &Philox::new(7, name), &mut v).unwrap();
    v
}

fn normal(std: f64) -> Init {
    Init::Normal(Normal::new(0.0, std).unwrap())
}

#[test]
fn stats_match_a_direct_computation() {
    let mut v = draw(normal(0.5), &[10_001], "s");
    v[3] = 40.0; // far beyond 6 std
    let s = stats(StoredDType::F32, &encode_f32(&v));
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let var = v.iter().map(|&x| (f64::from(x) - mean).powi(2)).sum::<f64>() / n;
    let m4 = v.iter().map(|&x| (f64::from(x) - mean).powi(4)).sum::<f64>() / n;
    assert_eq!(s.count, 10_001);
    // The sums run in f32 lanes of at most 512 additions each (then f64), so the error
    // of the sum is at most 511·u·Σ|x| with u = 2⁻²⁴ (Higham, recursive summation):
    // about 1.2e-5 here, a third of what one typical element (|x| ≈ 0.4) moves the mean.
    let abs_sum = v.iter().map(|&x| f64::from(x).abs()).sum::<f64>();
    let mean_bound = 511.0 * f64::from(f32::EPSILON) / 2.0 * abs_sum / n;
    assert!((s.mean - mean).abs() <= mean_bound, "{s:?}: mean {mean} ± {mean_bound}");
    assert!((s.std - var.sqrt()).abs() < 1e-6 * var.sqrt(), "{s:?}: std {}", var.sqrt());
    let kurt = m4 / var / var - 3.0; // ≈ 4000 with the outlier: f32 lanes hold ~6 digits
    assert!((s.excess_kurtosis - kurt).abs() < 1e-5 * kurt.abs(), "{} vs {kurt}", s.excess_kurtosis);
    assert_eq!((s.max, s.beyond_6_std), (40.0, 1.0 / n));
    let mut bad = v.clone();
    bad[0] = f32::NAN;
    bad[1] = f32::INFINITY;
    bad[9000] = f32::NEG_INFINITY;
    let sb = stats(StoredDType::F32, &encode_f32(&bad));
    assert_eq!((sb.nan, sb.inf, sb.count), (1, 2, 9998));
    assert!(sb.mean.is_finite() && sb.std.is_finite());
    // bf16 bytes decode to the same statistics as their f32 values.
    let b: Vec<u8> = v.iter().flat_map(|&x| half::bf16::from_f32(x).to_le_bytes()).collect();
    let rounded: Vec<f32> = v.iter().map(|&x| half::bf16::from_f32(x).to_f32()).collect();
    assert_eq!(stats(StoredDType::BF16, &b), stats(StoredDType::F32, &encode_f32(&rounded)));
    // An unaligned f32 slice takes the decoding path and agrees.
    let mut shifted = vec![0u8];
    shifted.extend(encode_f32(&v));
    assert_eq!(stats(StoredDType::F32, &shifted[1..]), s);
}

#[test]
fn stats_count_rare_values_and_their_first_index() {
    let mut v = draw(normal(0.02), &[3 * 4096 + 17], "rare");
    v[5000] = 0.0;
    v[9000] = -0.0;
    v[4097] = 1e-40; // f32 subnormal
    v[12_000] = -3e-39;
    v[8200] = f32::NAN;
    v[10_000] = f32::INFINITY;
    v[12_300] = f32::NAN;
    let s = stats(StoredDType::F32, &encode_f32(&v));
    assert_eq!((s.zeros, s.first_zero), (2, Some(5000)));
    assert_eq!((s.subnormal, s.first_subnormal), (2, Some(4097)));
    assert_eq!((s.nan, s.first_nan, s.inf, s.first_inf), (2, Some(8200), 1, Some(10_000)));
    let clean = stats(StoredDType::F32, &encode_f32(&draw(normal(0.02), &[10_000], "clean")));
    assert_eq!((clean.zeros, clean.subnormal, clean.first_nan, clean.first_zero), (0, 0, None, None));
    // f16: subnormal below 2⁻¹⁴, decoded to f32 normals; the count follows the stored type.
    let h: Vec<u8> = [1e-5f32, 1e-3, 0.0, 3e-6].iter().flat_map(|&x| half::f16::from_f32(x).to_le_bytes()).collect();
    let sh = stats(StoredDType::F16, &h);
    assert_eq!((sh.subnormal, sh.first_subnormal, sh.zeros, sh.first_zero), (2, Some(0), 1, Some(2)));
}

#[test]
fn p_limit_is_the_two_sided_tail_beyond_z_limit() {
    let p = 2.0 * (1.0 - crate::gaussian::cdf(Z_LIMIT));
    assert!((P_LIMIT / p - 1.0).abs() < 1e-5, "{p}");
}

#[test]
fn moments_of_the_rule_distributions() {
    let wide = Moments::truncated_normal(-40.0, 40.0);
    assert!((wide.m4 - 3.0).abs() < 1e-9 && (wide.m6 - 15.0).abs() < 1e-8 && (wide.m8 - 105.0).abs() < 1e-6);
    assert!((Moments::NORMAL.kurtosis_variance() - 24.0).abs() < 1e-12);
    // ±2σ truncation: std factor 0.8796 (TRUNCATED_2SIGMA_STD), kurtosis below 3.
    let t = Moments::truncated_normal(-2.0, 2.0);
    assert!(t.m4 > 2.0 && t.m4 < 3.0 && t.kurtosis_variance() > 0.0);
    assert!(Moments::UNIFORM.kurtosis_variance() > 0.0);
}

/// The scheme test and its sensitivity twin: a draw from N(0, σ²) with
/// n = 2¹⁸ passes; the same draw tested against a rule 3% wider (or
/// narrower) fails. At n = 2¹⁸ the variance test rejects a relative std
/// error δ once 2δ·√(n/2) > 5, i.e. δ > 0.69%.
#[test]
fn rule_test_accepts_the_rule_and_rejects_a_3_percent_error() {
    let dims = [512, 512];
    let spec = TensorSpec::new(Shape::new(dims.to_vec()).unwrap());
    for (init, std) in [(normal(0.02), 0.02), (Init::Uniform(Uniform::new(-0.1, 0.1).unwrap()), 0.2 / 12f64.sqrt())] {
        let v = draw(init, &dims, "w");
        let s = stats(StoredDType::F32, &encode_f32(&v));
        let ok = test("s", &init, &spec, StoredDType::F32, &s).unwrap();
        assert!(ok.consistent, "{ok:?}");
        assert!(ok.z_kurtosis.is_some());
        for factor in [1.03, 0.97] {
            let off = normal(std * factor);
            let t = test("s", &off, &spec, StoredDType::F32, &s).unwrap();
            assert!(!t.consistent, "{factor}: {t:?}");
        }
    }
    // Normal and uniform of the same std differ in kurtosis.
    let u = draw(Init::Uniform(Uniform::new(-0.1, 0.1).unwrap()), &dims, "u");
    let su = stats(StoredDType::F32, &encode_f32(&u));
    let t = test("s", &normal(0.2 / 12f64.sqrt()), &spec, StoredDType::F32, &su).unwrap();
    assert!(!t.consistent && t.why_not.unwrap().contains("kurtosis"));
    // Constants: exact.
    let ones = vec![1.0f32; 64];
    let s1 = stats(StoredDType::F32, &encode_f32(&ones));
    let spec1 = TensorSpec::new(Shape::new(vec![64]).unwrap());
    assert!(test("s", &Init::Ones, &spec1, StoredDType::F32, &s1).unwrap().consistent);
    assert!(!test("s", &Init::Zeros, &spec1, StoredDType::F32, &s1).unwrap().consistent);
}

fn exact_top_singular_value(v: &[f32], rows: usize, cols: usize) -> f64 {
    let m = faer::Mat::<f64>::from_fn(rows, cols, |i, j| f64::from(v[i * cols + j]));
    m.singular_values().unwrap().into_iter().fold(0.0, f64::max)
}

/// The stated accuracy: on i.i.d. matrices (no spectral gap, the hard case)
/// the estimate is a lower bound within SPECTRAL_ACCURACY; an orthogonal
/// matrix gives norm 1 and distance 0; i.i.d. gives distance ≈ √(m/n).
#[test]
fn spectral_norm_and_orthogonality_against_an_exact_svd() {
    for (rows, cols) in [(256, 256), (128, 512), (512, 128)] {
        let v = draw(normal(0.05), &[rows, cols], "g");
        let exact = exact_top_singular_value(&v, rows, cols);
        let sumsq: f64 = v.iter().map(|&x| f64::from(x).powi(2)).sum();
        let s = spectral(StoredDType::F32, &encode_f32(&v), rows, cols, sumsq, SPECTRAL_ITERATIONS, "g").unwrap();
        let rel = 1.0 - s.norm / exact;
        assert!((-1e-5..=SPECTRAL_ACCURACY).contains(&rel), "{rows}x{cols}: {} vs {exact}", s.norm);
        let m = rows.min(cols) as f64;
        let want = (m / rows.max(cols) as f64).sqrt();
        assert!((s.orthogonality - want).abs() < 0.15 * want, "{rows}x{cols}: {}", s.orthogonality);
        assert!((s.edge_ratio - 1.0).abs() < 0.12, "{}", s.edge_ratio);
    }
    let q = draw(Init::Orthogonal(Orthogonal::new(2.0).unwrap()), &[200, 300], "q");
    let sumsq: f64 = q.iter().map(|&x| f64::from(x).powi(2)).sum();
    let s = spectral(StoredDType::F32, &encode_f32(&q), 200, 300, sumsq, SPECTRAL_ITERATIONS, "q").unwrap();
    assert!((s.norm - 2.0).abs() < 1e-3 && s.orthogonality < 1e-2, "{s:?}");
    // A planted direction (rank-one spike) is found almost exactly.
    let mut w = draw(normal(0.01), &[256, 256], "p");
    for i in 0..256 {
        for j in 0..256 {
            w[i * 256 + j] += 0.02 * ((i % 7) as f32 - 3.0) * ((j % 5) as f32 - 2.0) / 16.0;
        }
    }
    let exact = exact_top_singular_value(&w, 256, 256);
    let sumsq: f64 = w.iter().map(|&x| f64::from(x).powi(2)).sum();
    let s = spectral(StoredDType::F32, &encode_f32(&w), 256, 256, sumsq, SPECTRAL_ITERATIONS, "p").unwrap();
    assert!((1.0 - s.norm / exact).abs() < 1e-3, "{} vs {exact}", s.norm);
    assert!(spectral(StoredDType::F32, &encode_f32(&[0.0; 16]), 4, 4, 0.0, 8, "z").is_none());
}

const TINY_GPT2: &str = r#"{"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": 128, "n_layer": 3,
  "n_head": 4, "vocab_size": 1000, "n_positions": 256}"#;

fn materialized(scheme: &str) -> (tempfile::TempDir, Model) {
    let model = Model::from_config_json(TINY_GPT2).unwrap();
    let mut plan = model.plan(DType::F32).unwrap();
    Scheme::parse(scheme).unwrap().apply(&model, &mut plan).unwrap();
    let dir = tempfile::tempdir().unwrap();
    crate::io::materialize(&plan, model.config(), dir.path(), &crate::io::Options::new(3), &|_| {}).unwrap();
    (dir, model)
}

#[test]
fn examine_names_the_scheme_and_expect_checks_it() {
    for scheme in ["hf", "small-init", "olmo-mitchell", "torch-default"] {
        let (dir, model) = materialized(scheme);
        let ck = Checkpoint::open(dir.path()).unwrap();
        let opts = Options { expect: Some(Scheme::parse(scheme).unwrap()), ..Options::default() };
        let r = examine(&ck, Some(&model), &opts).unwrap();
        match &r.verdict {
            Verdict::Init { scheme: s, also } => assert!(s == scheme || also.iter().any(|a| a == scheme), "{r:?}"),
            other => panic!("{scheme}: {other:?}"),
        }
        assert_eq!(r.expected_followed, Some(true));
        assert_eq!(r.count(Severity::Error), 0, "{:?}", r.findings);
        let other = if scheme == "hf" { "small-init" } else { "hf" };
        let opts = Options { expect: Some(Scheme::parse(other).unwrap()), ..Options::default() };
        let r = examine(&ck, Some(&model), &opts).unwrap();
        assert_eq!(r.expected_followed, Some(false), "{scheme} checked as {other}");
        assert!(r.findings.iter().any(|f| f.kind == "expected_scheme" && f.severity == Severity::Error));
    }
}

#[test]
fn expect_without_a_model_is_an_error_and_no_model_still_reports_stats() {
    let (dir, _) = materialized("hf");
    let ck = Checkpoint::open(&dir.path().join("model.safetensors")).unwrap();
    let opts = Options { expect: Some(Scheme::Hf), ..Options::default() };
    assert!(matches!(examine(&ck, None, &opts), Err(Error::InvalidConfig { .. })));
    let r = examine(&ck, None, &Options::default()).unwrap();
    assert!(r.schemes.is_empty() && matches!(r.verdict, Verdict::Unknown { .. }));
    assert!(r.tensors.iter().all(|t| t.stats.is_some()));
}

#[test]
fn spectra_read_the_layer_matrix_whatever_the_layout() {
    // One [out 8, in 4, k 3] convolution stored three ways.
    let (out, inp, k) = (8usize, 4usize, 3usize);
    let torch = draw(normal(1.0), &[out, inp, k], "conv");
    let at = |o: usize, i: usize, t: usize| torch[(o * inp + i) * k + t];
    let mut transposed = Vec::new(); // [in, out, k]
    let mut jax = Vec::new(); // [k, in, out]
    for i in 0..inp {
        for o in 0..out {
            transposed.extend((0..k).map(|t| at(o, i, t)));
        }
    }
    for t in 0..k {
        for i in 0..inp {
            jax.extend((0..out).map(|o| at(o, i, t)));
        }
    }
    let exact = {
        let m = faer::Mat::<f64>::from_fn(out, inp * k, |r, c| f64::from(torch[r * inp * k + c]));
        m.singular_values().unwrap().into_iter().fold(0.0, f64::max)
    };
    for (values, dims, layout) in [
        (&torch, vec![out, inp, k], Layout::Torch),
        (&transposed, vec![inp, out, k], Layout::TorchTransposed),
        (&jax, vec![k, inp, out], Layout::Jax),
    ] {
        let spec = TensorSpec::new(Shape::new(dims.clone()).unwrap()).with_layout(layout.clone());
        let n = values.len() * 4;
        let stored = StoredTensor { name: "conv".into(), dtype: StoredDType::F32, shape: dims, file: 0, bytes: 0..n };
        let bytes = encode_f32(values);
        let sumsq = values.iter().map(|&x| f64::from(x).powi(2)).sum();
        let sp = layer_spectral(&spec, &stored, &bytes, sumsq, 300).unwrap();
        assert_eq!((sp.rows, sp.cols), (out, inp * k), "{layout:?}");
        assert!((sp.norm - exact).abs() < 1e-3 * exact, "{layout:?}: {} vs {exact}", sp.norm);
    }
}

/// Real checkpoints: written by `materialize` under `hf`, then altered as training or a
/// bug would alter them, through the library's own reader and writer.
mod real_inputs {
    use super::*;
    use crate::arch::Model;
    use crate::io::{self, Bytes, TensorData};
    use crate::scheme::Scheme;

    const LLAMA: &str = r#"{"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 256,
      "intermediate_size": 688, "num_hidden_layers": 2, "num_attention_heads": 8, "num_key_value_heads": 4,
      "vocab_size": 1000, "tie_word_embeddings": false}"#;

    fn examined(alter: impl Fn(&str, &mut Vec<f32>)) -> Report {
        let model = Model::from_config_json(LLAMA).unwrap();
        let mut plan = model.plan(DType::F32).unwrap();
        Scheme::Hf.apply(&model, &mut plan).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let written = dir.path().join("written");
        io::materialize(&plan, model.config(), &written, &io::Options::new(0), &|_| {}).unwrap();
        let checkpoint = Checkpoint::open(&written).unwrap();
        let tensors: Vec<TensorData> = checkpoint
            .tensors()
            .iter()
            .map(|t| {
                let mut v: Vec<f32> =
                    checkpoint.data(t).chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
                alter(&t.name, &mut v);
                TensorData { name: t.name.clone(), bytes: Bytes::from_slice(&v, t.shape.clone()) }
            })
            .collect();
        let altered = dir.path().join("altered");
        std::fs::create_dir(&altered).unwrap();
        io::write_safetensors(&altered.join("model.safetensors"), &tensors, &Default::default()).unwrap();
        std::fs::copy(written.join("config.json"), altered.join("config.json")).unwrap();
        examine(&Checkpoint::open(&altered).unwrap(), Some(&model), &Options::default()).unwrap()
    }

    fn kinds_on<'a>(report: &'a Report, tensor: &str) -> Vec<&'a str> {
        report.findings.iter().filter(|f| f.tensor.as_deref() == Some(tensor)).map(|f| f.kind).collect()
    }

    const Q: &str = "model.layers.0.self_attn.q_proj.weight";
    const UP: &str = "model.layers.1.mlp.up_proj.weight";
    const GATE: &str = "model.layers.0.mlp.gate_proj.weight";

    #[test]
    fn an_untouched_checkpoint_is_its_scheme() {
        let report = examined(|_, _| {});
        assert!(matches!(&report.verdict, Verdict::Init { scheme, .. } if scheme == "hf"), "{:?}", report.verdict);
        assert_eq!(report.count(Severity::Warning), 0, "{:?}", report.findings);
    }

    #[test]
    fn a_tensor_drawn_under_another_rule_is_a_rule_mismatch() {
        let report = examined(|name, v| {
            if name == Q {
                *v = draw(normal(0.05), &[256, 256], "other rule");
            }
        });
        assert!(
            // mup:256 gives hf's rules at base width 256 = hidden: either may be named.
            matches!(&report.verdict, Verdict::InitWithDeviations { deviating: 1, parameter_fraction, .. }
                if *parameter_fraction > 0.9),
            "{:?}",
            report.verdict
        );
        assert_eq!(kinds_on(&report, Q), ["rule_mismatch"], "{:?}", report.findings);
    }

    #[test]
    fn planted_outliers_are_found() {
        let report = examined(|name, v| {
            if name == UP {
                // Three values at 40σ of hf's N(0, 0.02), as a broken sampler leaves them.
                for (i, sign) in [(17, 1.0), (40_000, -1.0), (150_001, 1.0)] {
                    v[i] = sign * 0.8;
                }
            }
        });
        assert!(kinds_on(&report, UP).contains(&"outliers"), "{:?}", report.findings);
        let f = report.findings.iter().find(|f| f.kind == "outliers").unwrap();
        assert!(f.message.starts_with("3 values beyond 6 std"), "{}", f.message);
        assert_eq!(report.findings.iter().filter(|f| f.kind == "outliers").count(), 1);
    }

    #[test]
    fn a_rescaled_hidden_matrix_is_signal_explosion() {
        let report = examined(|name, v| {
            if name == GATE {
                v.iter_mut().for_each(|x| *x *= 15.0); // std·√fan_in = 0.3·16 = 4.8
            }
        });
        let kinds = kinds_on(&report, GATE);
        // The specific lint replaces the generic rule mismatch.
        assert_eq!(kinds, ["signal_explosion"], "{kinds:?}");
        let f = report.findings.iter().find(|f| f.kind == "signal_explosion").unwrap();
        assert_eq!(f.severity, Severity::Error);
        let t = report.tensors.iter().find(|t| t.name == GATE).unwrap();
        assert!((t.std_sqrt_fan_in.unwrap() - 4.8).abs() < 0.05, "{t:?}");
        // The other hidden matrices grow nothing.
        assert_eq!(report.findings.iter().filter(|f| f.kind == "signal_explosion").count(), 1);
    }

    /// The zero-count threshold and its twin: in the 256 000-value embedding
    /// (λ = n·2⁻²³ = 0.031 zeros by chance), 3 exact zeros have P ≥ 2·10⁻⁵
    /// (no finding) and 4 have P ≤ 1.8·10⁻⁷ < P_LIMIT (a finding).
    #[test]
    fn four_zeros_in_a_drawn_embedding_are_a_finding_three_are_not() {
        const EMBED: &str = "model.embed_tokens.weight";
        for (planted, found) in [(3usize, false), (4, true)] {
            let report = examined(|name, v| {
                if name == EMBED {
                    (0..planted).for_each(|i| v[1000 + 7919 * i] = 0.0);
                }
            });
            assert_eq!(kinds_on(&report, EMBED).contains(&"zero_values"), found, "{planted}: {:?}", report.findings);
        }
    }

    #[test]
    fn weights_changed_as_training_changes_them_are_trained() {
        let report = examined(|name, v| {
            if name.ends_with("norm.weight") {
                // Norm scales drift away from 1.
                let drift = draw(normal(0.1), &[v.len()], name);
                v.iter_mut().zip(drift).for_each(|(x, d)| *x += d);
            } else {
                // Heavy tails: each weight scaled by e^g, g ~ N(0, 1), a Gaussian scale mixture.
                let g = draw(normal(1.0), &[v.len()], name);
                v.iter_mut().zip(g).for_each(|(x, g)| *x *= g.exp());
            }
        });
        let Verdict::Trained { evidence } = &report.verdict else { panic!("{:?}", report.verdict) };
        assert!(evidence.iter().any(|e| e.contains("heavy-tailed")), "{evidence:?}");
        assert!(evidence.iter().any(|e| e.contains("norm weights moved")), "{evidence:?}");
    }
}

/// The accuracy table of docs/doctor.md, at sizes of real layers too slow for a debug
/// build's exact SVD: `cargo test --release -p nninit --lib -- --ignored
/// lanczos_accuracy_table --nocapture` prints 1 − estimate/σ_max after 1 to 8 passes and
/// checks the stated accuracy at the default.
#[test]
#[ignore]
fn lanczos_accuracy_table() {
    for (rows, cols) in [(256, 256), (128, 512), (512, 128), (1024, 1024), (512, 2048), (2048, 512)] {
        let v = draw(normal(0.05), &[rows, cols], "g");
        let exact = exact_top_singular_value(&v, rows, cols);
        let sumsq: f64 = v.iter().map(|&x| f64::from(x).powi(2)).sum();
        let row: Vec<String> = (1..=8)
            .map(|k| {
                let s = spectral(StoredDType::F32, &encode_f32(&v), rows, cols, sumsq, k, "g").unwrap();
                format!("{:.4}", 1.0 - s.norm / exact)
            })
            .collect();
        println!("{rows}x{cols}: {}", row.join(" "));
        let s = spectral(StoredDType::F32, &encode_f32(&v), rows, cols, sumsq, SPECTRAL_ITERATIONS, "g").unwrap();
        assert!((-1e-5..=SPECTRAL_ACCURACY).contains(&(1.0 - s.norm / exact)), "{rows}x{cols}");
    }
}

/// The AVX2 statistics kernels give the portable loops' bits: every length up to 67 (the
/// chunks of eight and their remainder), values with NaN, ±∞, signed zeros and
/// subnormals, and a whole block.
#[cfg(target_arch = "x86_64")]
#[test]
fn avx2_statistics_kernels_equal_the_portable_loops() {
    use super::stats::{beyond_lanes_portable, central_lanes_portable, dot_lanes_portable, first_lanes_portable};
    if !super::simd::available() {
        return;
    }
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let data = draw(normal(0.05), &[4096], "k");
    let specials = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0, 1e-40, -1e-41, 3.0];
    let mut with_specials = data.clone();
    for (i, &x) in specials.iter().enumerate() {
        with_specials[7 * i + 3] = x;
    }
    for xs in [&data, &with_specials] {
        for len in (0..=67).chain([4095, 4096]) {
            let xs = &xs[..len];
            let tiny = f32::MIN_POSITIVE;
            let ([sum, min, max], bad, small) = super::simd::first_lanes(xs, tiny).unwrap();
            let p = first_lanes_portable(xs, tiny);
            assert_eq!((bits(&sum), bits(&min), bits(&max)), (bits(&p.sum), bits(&p.min), bits(&p.max)), "len {len}");
            assert_eq!((bad, small), (p.bad, p.small), "len {len}");
            let [a, b, c] = super::simd::central_lanes(xs, 0.01).unwrap();
            let [pa, pb, pc] = central_lanes_portable(xs, 0.01);
            assert_eq!((bits(&a), bits(&b), bits(&c)), (bits(&pa), bits(&pb), bits(&pc)), "len {len}");
            let v = &data[..len];
            assert_eq!(bits(&super::simd::dot_lanes(xs, v).unwrap()), bits(&dot_lanes_portable(xs, v)), "len {len}");
            let (mut y, mut py) = (data[..len].to_vec(), data[..len].to_vec());
            let done = super::simd::axpy(0.3, xs, &mut y);
            py[..done].iter_mut().zip(xs).for_each(|(p, &x)| *p += 0.3 * x);
            assert_eq!((done, bits(&y)), (len / 8 * 8, bits(&py)), "len {len}");
            let limit = 0.1f32 * 0.1;
            assert_eq!(super::simd::beyond_lanes(xs, 0.01, limit).unwrap(), beyond_lanes_portable(xs, 0.01, limit));
        }
    }
    // The sample has values of every kind the flags look for.
    let p = first_lanes_portable(&with_specials[..64], f32::MIN_POSITIVE);
    assert!(p.bad && p.small);
}
