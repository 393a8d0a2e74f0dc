//! Integration tests: run the real `nninit` binary.

mod common;

use common::{assert_bad_input, json, nninit, stderr, stdout};
use std::path::Path;

#[test]
fn explain_json_has_the_documented_keys() {
    let v = json(&["explain", "kaiming_normal", "--shape", "64,32", "--nonlinearity", "relu", "--json"]);
    assert_eq!(v["fan_in"], 32);
    assert_eq!(v["fan_out"], 64);
    assert_eq!(v["gain"].as_f64().unwrap(), 2f64.sqrt());
    assert_eq!(v["std"].as_f64().unwrap(), 2f64.sqrt() / 32f64.sqrt());
    assert!(v["bound"].is_null());
    assert!(v["formula"].as_str().unwrap().contains("fan_in"));
}

#[test]
fn explain_knows_layouts_and_groups() {
    // nn.ConvTranspose2d(16, 32, 3, groups=4).weight is [16, 8, 3, 3].
    let v = json(&[
        "explain",
        "xavier_uniform",
        "--shape",
        "16,8,3,3",
        "--layout",
        "torch-transposed",
        "--groups",
        "4",
        "--json",
    ]);
    assert_eq!((v["fan_in"].as_u64(), v["fan_out"].as_u64()), (Some(36), Some(72)));
    let v = json(&["explain", "lecun_normal", "--shape", "3,3,16,32", "--layout", "jax", "--json"]);
    assert_eq!(v["fan_in"], 144);
    let bound = v["bound"].as_f64().unwrap();
    assert!((bound - 2.0 / 144f64.sqrt() / 0.879_625_661_034_239_8).abs() < 1e-15);
}

#[test]
fn explain_bias_with_explicit_fans() {
    let v = json(&["explain", "uniform", "--shape", "64", "-a", "-0.125", "-b", "0.125", "--json"]);
    assert!(v["fan_in"].is_null());
    assert_eq!(v["bound"], 0.125);
    let v = json(&["explain", "kaiming_uniform", "--shape", "64", "--fan-in", "32", "--fan-out", "64", "--json"]);
    assert_eq!(v["fan_in"], 32);
}

#[test]
fn explain_human_output() {
    let out = nninit(&["explain", "orthogonal", "--shape", "128,64", "--gain", "1.4142"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("orthogonal on [128, 64]"), "{text}");
    assert!(text.contains("Wᵀ·W"), "{text}");
}

#[test]
fn gain_json() {
    let v = json(&["gain", "relu", "--json"]);
    assert_eq!(v["torch"].as_f64().unwrap(), 2f64.sqrt());
    assert!((v["second_moment"].as_f64().unwrap() - 2f64.sqrt()).abs() < 1e-9);
    let v = json(&["gain", "gelu", "--json"]);
    assert!(v["torch"].is_null());
    assert!(v["second_moment"].as_f64().unwrap() > 1.0);
    let v = json(&["gain", "leaky_relu", "--param", "0.2", "--json"]);
    assert_eq!(v["torch"].as_f64().unwrap(), (2.0f64 / (1.0 + 0.2f64.powi(2))).sqrt());
}

fn read_safetensors(path: &Path, name: &str) -> (Vec<usize>, Vec<u8>, std::collections::HashMap<String, String>) {
    let raw = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&raw).unwrap();
    let t = st.tensor(name).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&raw).unwrap();
    (t.shape().to_vec(), t.data().to_vec(), meta.metadata().clone().unwrap_or_default())
}

#[test]
fn sample_slices_equal_the_whole() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole.safetensors");
    let part = dir.path().join("part.safetensors");
    let base = ["sample", "kaiming_normal", "--shape", "300,200", "--seed", "5", "--name", "enc.0.w"];
    let run = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let out = nninit(&args);
        assert!(out.status.success(), "{}", stderr(&out));
    };
    run(&["--out", whole.to_str().unwrap()]);
    run(&["--slice", "1001:2999", "--out", part.to_str().unwrap()]);
    let (shape, data, meta) = read_safetensors(&whole, "enc.0.w");
    assert_eq!(shape, vec![300, 200]);
    assert_eq!(meta["nninit.seed"], "5");
    let (pshape, pdata, pmeta) = read_safetensors(&part, "enc.0.w");
    assert_eq!(pshape, vec![1998]);
    assert_eq!(pmeta["nninit.slice"], "1001:2999");
    assert_eq!(pdata, data[1001 * 4..2999 * 4]);
    // The same command gives the same file, header and metadata included, byte for byte.
    let again = dir.path().join("again.safetensors");
    run(&["--out", again.to_str().unwrap()]);
    assert_eq!(std::fs::read(&again).unwrap(), std::fs::read(&whole).unwrap());
}

#[test]
fn sample_npy_in_every_numpy_dtype() {
    let dir = tempfile::tempdir().unwrap();
    for dtype in ["f32", "f64", "f16"] {
        let path = dir.path().join(format!("w_{dtype}.npy"));
        let v = json(&[
            "sample",
            "normal",
            "--std",
            "0.02",
            "--shape",
            "64,32",
            "--name",
            "w",
            "--dtype",
            dtype,
            "--out",
            path.to_str().unwrap(),
            "--json",
        ]);
        assert_eq!(v["shape"], serde_json::json!([64, 32]));
        let bytes = nninit::io::read_npy(&path).unwrap();
        assert_eq!(bytes.shape, vec![64, 32]);
        assert!((v["std"].as_f64().unwrap() - 0.02).abs() < 0.005);
    }
}

#[test]
fn bad_input_is_one_line_exit_2_and_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.npy");
    let o = out.to_str().unwrap();
    assert_bad_input(&["sample", "normal", "--std", "NaN", "--shape", "4,4", "--name", "w", "--out", o], "std");
    assert_bad_input(&["sample", "normal", "--std", "-1", "--shape", "4,4", "--name", "w", "--out", o], "std");
    assert_bad_input(
        &["sample", "uniform", "-a", "1", "-b", "0", "--shape", "4,4", "--name", "w", "--out", o],
        "interval",
    );
    assert_bad_input(
        &["sample", "sparse", "--sparsity", "1.5", "--shape", "4,4", "--name", "w", "--out", o],
        "sparsity",
    );
    assert_bad_input(&["explain", "kaiming_normal", "--shape", "4", "--nonlinearity", "relu"], "rank-1");
    assert_bad_input(
        &["explain", "kaiming_normal", "--shape", "4,4", "--nonlinearity", "swishy"],
        "unknown activation",
    );
    assert_bad_input(&["gain", "swishy"], "unknown activation");
    assert_bad_input(&["explain", "normal", "--shape", "4,0"], "zero dimension");
    assert_bad_input(&["explain", "normal", "--shape", "4294967296,4294967296"], "64 bits");
    assert_bad_input(&["explain", "xavier", "--shape", "4,4"], "unknown initializer");
    assert_bad_input(&["explain", "normal", "--shape", "4,4", "--gain", "2"], "does not take --gain");
    assert_bad_input(&["explain", "normal", "--shape", "4,4", "--layout", "nchw"], "unknown layout");
    assert_bad_input(&["explain", "xavier_uniform", "--shape", "30,4,3,3", "--groups", "4"], "groups");
    assert_bad_input(&["sample", "normal", "--shape", "4,4", "--name", "w", "--slice", "10:2", "--out", o], "slice");
    assert_bad_input(&["sample", "normal", "--shape", "4,4", "--name", "w", "--slice", "0:17", "--out", o], "slice");
    assert_bad_input(
        &["sample", "normal", "--shape", "4,4", "--name", "w", "--out", "/nonexistent-dir/x.npy"],
        "cannot write",
    );
    assert_bad_input(&["sample", "normal", "--shape", "4,4", "--name", "w", "--dtype", "bf16", "--out", o], "bfloat16");
    assert_bad_input(
        &["sample", "normal", "--shape", "4,4", "--name", "w", "--out", dir.path().join("x.txt").to_str().unwrap()],
        ".npy or .safetensors",
    );
    assert_bad_input(&["sample", "normal", "--shape", "4,4", "--out", o], "--name");
    assert_bad_input(&["frobnicate"], "unrecognized subcommand");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no file may be left behind");
}

#[test]
fn unwritable_destination_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the file should go: the rename fails after the data was written.
    let target = dir.path().join("taken.npy");
    std::fs::create_dir(&target).unwrap();
    let out = nninit(&["sample", "normal", "--shape", "8,8", "--name", "w", "--out", target.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "only the pre-existing directory remains");
}
