use std::collections::BTreeMap;

use super::*;
use crate::io::{Bytes, SafetensorsFile, TensorData, write_safetensors};

/// A two-layer "model" with q/v projections, an embedding and a norm, in `dtype`.
fn base(dir: &Path, dtype: DType) -> PathBuf {
    let folder = dir.join("base");
    std::fs::create_dir_all(&folder).unwrap();
    let mut tensors = Vec::new();
    let mut add = |name: &str, shape: Vec<usize>| {
        let n: usize = shape.iter().product();
        let mut v = vec![0.0f32; n];
        Philox::new(9, name).normal_f32(0, &mut v, 0.0, 0.05);
        let bytes = match dtype {
            DType::BF16 => Bytes::from_slice(&v.iter().map(|&x| half::bf16::from_f32(x)).collect::<Vec<_>>(), shape),
            _ => Bytes::from_slice(&v, shape),
        };
        tensors.push(TensorData { name: name.into(), bytes });
    };
    add("model.embed_tokens.weight", vec![50, 16]);
    for l in 0..2 {
        add(&format!("model.layers.{l}.self_attn.q_proj.weight"), vec![16, 16]);
        add(&format!("model.layers.{l}.self_attn.v_proj.weight"), vec![8, 16]);
        add(&format!("model.layers.{l}.input_layernorm.weight"), vec![16]);
    }
    write_safetensors(&folder.join("model.safetensors"), &tensors, &BTreeMap::new()).unwrap();
    std::fs::write(folder.join("config.json"), r#"{"architectures": ["LlamaForCausalLM"]}"#).unwrap();
    folder
}

fn opts(method: Method, rank: usize) -> Options {
    Options::new(method, rank, 16.0, vec!["q_proj".into(), "v_proj".into()], 5).unwrap()
}

fn read_f32(file: &SafetensorsFile, name: &str) -> (Vec<usize>, Vec<f32>) {
    let t = file.header().tensors.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("{name} missing"));
    (t.shape.clone(), peft::decode_f32(t.dtype, &file.bytes()[t.bytes.clone()]).unwrap())
}

#[test]
fn every_method_writes_peft_s_names_and_config() {
    let dir = tempfile::tempdir().unwrap();
    let base = base(dir.path(), DType::F32);
    for method in [Method::Lora, Method::RsLora, Method::Pissa, Method::Olora] {
        let out = dir.path().join(method.name());
        let w = init_adapter(&base, &out, &opts(method, 4)).unwrap();
        assert_eq!(w.modules.len(), 4, "{method:?}");
        assert_eq!(w.parameters, 2 * 4 * (16 + 16) + 2 * 4 * (16 + 8));
        let file = SafetensorsFile::open(&out.join(peft::ADAPTER_WEIGHTS_FILE)).unwrap();
        let names: Vec<&str> = file.header().tensors.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names.len(), 8);
        let (shape, _) = read_f32(&file, "base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight");
        assert_eq!(shape, [4, 16]);
        let (shape, b) = read_f32(&file, "base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight");
        assert_eq!(shape, [8, 4]);
        assert_eq!(file.header().metadata["format"], "pt");
        assert_eq!(file.header().metadata["nninit.method"], method.name());
        let config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join(peft::ADAPTER_CONFIG_FILE)).unwrap()).unwrap();
        assert_eq!(config["use_rslora"], method == Method::RsLora);
        assert_eq!(config["task_type"], "CAUSAL_LM");
        assert_eq!(b.iter().all(|&x| x == 0.0), !method.has_residual(), "{method:?}: B = 0 only for LoRA");
        assert_eq!(out.join(peft::RESIDUAL_DIR).exists(), method.has_residual());
    }
}

#[test]
fn residual_plus_adapter_is_the_base_and_the_rest_is_copied() {
    let dir = tempfile::tempdir().unwrap();
    for dtype in [DType::F32, DType::BF16] {
        let base = base(&dir.path().join(dtype.to_string()), dtype);
        for method in [Method::Pissa, Method::Olora] {
            let out = dir.path().join(format!("{dtype}-{}", method.name()));
            let o = opts(method, 3).with_svd(Svd::Exact);
            init_adapter(&base, &out, &o).unwrap();
            let original = SafetensorsFile::open(&base.join("model.safetensors")).unwrap();
            let residual = SafetensorsFile::open(&out.join("residual/model.safetensors")).unwrap();
            assert!(out.join("residual/config.json").is_file());
            let adapter = SafetensorsFile::open(&out.join(peft::ADAPTER_WEIGHTS_FILE)).unwrap();
            for t in &original.header().tensors {
                let r = residual.header().tensors.iter().find(|x| x.name == t.name).unwrap();
                assert_eq!((r.dtype, &r.shape), (t.dtype, &t.shape));
                let (_, w) = read_f32(&original, &t.name);
                let (_, res) = read_f32(&residual, &t.name);
                let Some(module) =
                    t.name.strip_suffix(".weight").filter(|m| m.ends_with("q_proj") || m.ends_with("v_proj"))
                else {
                    assert_eq!(
                        original.bytes()[t.bytes.clone()],
                        residual.bytes()[r.bytes.clone()],
                        "{} copied",
                        t.name
                    );
                    continue;
                };
                let (_, a) = read_f32(&adapter, &peft::lora_tensor_name(module, Factor::A));
                let (_, b) = read_f32(&adapter, &peft::lora_tensor_name(module, Factor::B));
                let (m, n, k) = (t.shape[0], t.shape[1], 3);
                let tol = if dtype == DType::BF16 { 2e-3 } else { 1e-5 };
                for i in 0..m {
                    for j in 0..n {
                        let ba: f32 = (0..k).map(|l| b[i * k + l] * a[l * n + j]).sum();
                        let back = res[i * n + j] + o.scaling() as f32 * ba;
                        assert!(
                            (back - w[i * n + j]).abs() < tol,
                            "{dtype} {method:?} {}: {back} vs {}",
                            t.name,
                            w[i * n + j]
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let base = base(dir.path(), DType::F32);
    let run = |name: &str, seed: u64, method: Method| {
        let out = dir.path().join(name);
        let o = Options::new(method, 2, 8.0, vec!["q_proj".into()], seed).unwrap();
        init_adapter(&base, &out, &o).unwrap();
        std::fs::read(out.join(peft::ADAPTER_WEIGHTS_FILE)).unwrap()
    };
    for method in [Method::Lora, Method::Pissa] {
        assert_eq!(run("a", 1, method), run("b", 1, method), "{method:?}");
        assert_ne!(run("c", 1, method), run("d", 2, method), "{method:?}");
    }
}

#[test]
fn bad_requests_are_typed_errors_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let base = base(dir.path(), DType::F32);
    let out = dir.path().join("out");
    let err = |o: &Options| init_adapter(&base, &out, o).unwrap_err();
    assert!(matches!(
        err(&Options::new(Method::Lora, 2, 1.0, vec!["k_proj".into()], 0).unwrap()),
        Error::UnknownName { what: "target module", .. }
    ));
    match err(&opts(Method::Pissa, 9)) {
        Error::OutOfRange { max: 8, value: 9, .. } => {}
        e => panic!("{e}"),
    }
    // An embedding is refused by its name where the architecture is unknown (PEFT adapts it
    // with lora_embedding_A/B, another format).
    assert!(matches!(
        err(&Options::new(Method::Lora, 2, 1.0, vec!["embed_tokens".into()], 0).unwrap()),
        Error::UnsupportedShape { .. }
    ));
    assert!(matches!(
        err(&Options::new(Method::Lora, 2, 1.0, vec!["input_layernorm".into()], 0).unwrap()),
        Error::UnsupportedShape { .. }
    ));
    assert!(!out.exists(), "nothing written for a bad request");
    let missing = init_adapter(&dir.path().join("nope"), &out, &opts(Method::Lora, 2)).unwrap_err();
    assert!(matches!(missing, Error::Io { .. }), "{missing}");

    assert!(matches!(Options::new(Method::Lora, 0, 1.0, vec!["q".into()], 0), Err(Error::OutOfRange { .. })));
    for alpha in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            Options::new(Method::Lora, 1, alpha, vec!["q".into()], 0),
            Err(Error::InvalidParameter { .. })
        ));
    }
    for targets in [vec![], vec!["".to_string()], vec!["a b".into()], vec!["q".into(), "q".into()]] {
        assert!(matches!(Options::new(Method::Lora, 1, 1.0, targets, 0), Err(Error::InvalidConfig { .. })));
    }
    assert!(matches!(Method::parse("dora"), Err(Error::UnknownName { .. })));
    assert!(matches!(Svd::randomized(0, 65), Err(Error::OutOfRange { .. })));
}

#[test]
fn non_finite_base_weights_are_refused_before_the_adapter_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("nan");
    std::fs::create_dir_all(&folder).unwrap();
    let mut v = vec![0.5f32; 16];
    v[3] = f32::NAN;
    write_safetensors(
        &folder.join("model.safetensors"),
        &[TensorData { name: "fc.weight".into(), bytes: Bytes::from_slice(&v, vec![4, 4]) }],
        &BTreeMap::new(),
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = Options::new(Method::Pissa, 1, 1.0, vec!["fc".into()], 0).unwrap();
    let e = init_adapter(&folder, &out, &o).unwrap_err();
    assert!(matches!(e, Error::NonFiniteTensor { count: 1, .. }), "{e}");
    assert!(!out.join(peft::ADAPTER_WEIGHTS_FILE).exists());
    assert!(!out.join("residual/model.safetensors").exists());
}
