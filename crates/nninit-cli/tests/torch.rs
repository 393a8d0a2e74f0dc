//! `--rng torch` and `materialize --torch-modules` against values printed by
//! real torch 2.15.0 (x86-64 wheel, AVX2 kernel):
//!
//! ```python
//! torch.manual_seed(7); w = torch.empty(64, 32); torch.nn.init.kaiming_normal_(w, nonlinearity='relu')
//! torch.manual_seed(2**40 + 3); nn.Sequential(nn.Linear(4, 3), nn.LSTM(3, 2)).state_dict()
//! ```

use std::process::Command;

fn nninit(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_nninit")).args(args).output().expect("the binary runs")
}

fn f32s(data: &[u8]) -> Vec<f32> {
    data.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()
}

#[test]
fn sample_with_torch_generator_matches_pytorch() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("w.safetensors");
    let o = nninit(&[
        "sample",
        "kaiming_normal",
        "--nonlinearity",
        "relu",
        "--shape",
        "64,32",
        "--seed",
        "7",
        "--name",
        "w",
        "--rng",
        "torch",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let raw = std::fs::read(&out).unwrap();
    let st = safetensors::SafeTensors::deserialize(&raw).unwrap();
    let w = f32s(st.tensor("w").unwrap().data());
    let bits: Vec<u32> = w[..4].iter().map(|v| v.to_bits()).collect();
    assert_eq!(bits, [0xbe51f456, 0x3dca902b, 0x3e661ede, 0xbeb1b738]);
    assert_eq!(w[100], 0.031_860_884);
}

#[test]
fn materialize_module_list_matches_pytorch() {
    let dir = tempfile::tempdir().unwrap();
    let modules = dir.path().join("model.json");
    std::fs::write(
        &modules,
        r#"[{"type": "Linear", "name": "0", "in_features": 4, "out_features": 3},
            {"type": "LSTM", "name": "1", "input_size": 3, "hidden_size": 2}]"#,
    )
    .unwrap();
    let out = dir.path().join("model.safetensors");
    let seed = (1u64 << 40) + 3;
    let o = nninit(&[
        "materialize",
        "--torch-modules",
        modules.to_str().unwrap(),
        "--rng",
        "torch",
        "--seed",
        &seed.to_string(),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let raw = std::fs::read(&out).unwrap();
    let st = safetensors::SafeTensors::deserialize(&raw).unwrap();
    let expect: [(&str, &[usize], [f32; 2]); 6] = [
        ("0.weight", &[3, 4], [-0.495_736_48, -0.394_430_64]),
        ("0.bias", &[3], [-0.350_159_1, -0.098_531_19]),
        ("1.weight_ih_l0", &[8, 3], [-0.057_409_655, -0.458_763_45]),
        ("1.weight_hh_l0", &[8, 2], [0.013_603_063, 0.116_562_42]),
        ("1.bias_ih_l0", &[8], [0.176_306_08, -0.253_650_78]),
        ("1.bias_hh_l0", &[8], [-0.313_416_1, -0.529_580_2]),
    ];
    for (name, shape, first) in expect {
        let t = st.tensor(name).unwrap();
        assert_eq!(t.shape(), shape, "{name}");
        assert_eq!(f32s(t.data())[..2], first, "{name}");
    }
    assert_eq!(st.len(), 6);
}

#[test]
fn torch_mode_refuses_what_pytorch_cannot_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("w.npy");
    for (args, needle) in [
        (vec!["sample", "lecun_normal", "--shape", "4,4", "--name", "w", "--rng", "torch"], "torch.nn.init has no"),
        (vec!["sample", "normal", "--shape", "4,4", "--name", "w", "--rng", "torch", "--dtype", "f16"], "bf16/f16"),
        (vec!["sample", "normal", "--shape", "4,4", "--name", "w", "--rng", "torch", "--layout", "jax"], "layout"),
        (
            vec!["sample", "normal", "--shape", "4,4", "--name", "w", "--rng", "torch", "--torch-kernel", "neon"],
            "kernel",
        ),
    ] {
        let mut args = args;
        args.extend(["--out", out.to_str().unwrap()]);
        let o = nninit(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle) && err.lines().count() == 1, "{args:?}: {err}");
    }
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"[{"type": "Linear", "in_features": 4}]"#).unwrap();
    let o = nninit(&[
        "materialize",
        "--torch-modules",
        bad.to_str().unwrap(),
        "--out",
        out.with_extension("safetensors").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&o.stderr).lines().count(), 1, "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "only bad.json");
}
