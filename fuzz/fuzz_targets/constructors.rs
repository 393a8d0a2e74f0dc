//! Constructors never panic, every rule they accept fills small tensors with
//! finite values, and PyTorch's generator fills them or refuses with an
//! error. `cargo +nightly fuzz run constructors`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nninit::activation::Activation;
use nninit::stream::{Philox, TorchStream};
use nninit::{Fan, Init, InitParams, Layout, Shape, TensorSpec};

const NAMES: [&str; 21] = [
    "constant",
    "zeros",
    "ones",
    "uniform",
    "normal",
    "truncated_normal",
    "variance_scaling",
    "xavier_uniform",
    "xavier_normal",
    "glorot_normal",
    "kaiming_uniform",
    "kaiming_normal",
    "he_normal",
    "lecun_uniform",
    "lecun_normal",
    "orthogonal",
    "eye",
    "dirac",
    "delta_orthogonal",
    "sparse",
    "zero",
];
const ACTIVATIONS: [&str; 8] = ["relu", "leaky_relu", "tanh", "selu", "gelu", "elu", "softplus", "hardtanh"];

fuzz_target!(|data: &[u8]| {
    if data.len() < 40 {
        return;
    }
    let f = |i: usize| f64::from_le_bytes(data[i * 8..i * 8 + 8].try_into().unwrap());
    let name = NAMES[data[0] as usize % NAMES.len()];
    let pick = |b: u8, v: f64| (b & 1 == 1).then_some(v);
    let flags = &data[1..9];
    let activation = Activation::parse(ACTIVATIONS[data[9] as usize % ACTIVATIONS.len()], pick(flags[7], f(4))).ok();
    let params = InitParams {
        gain: pick(flags[0], f(1)),
        std: pick(flags[1], f(2)),
        mean: pick(flags[2], f(3)),
        low: pick(flags[3], -f(1).abs()),
        high: pick(flags[3], f(2).abs()),
        sparsity: pick(flags[4], f(3)),
        scale: pick(flags[5], f(4)),
        value: pick(flags[6], f(1)),
        nonlinearity: activation.filter(|_| flags[7] & 2 == 2),
        ..InitParams::default()
    };
    let Ok(init) = Init::parse(name, &params) else { return };
    // The JSON form round-trips through validation.
    let json = serde_json::to_string(&init).unwrap();
    assert_eq!(serde_json::from_str::<Init>(&json).unwrap(), init);
    let dims: Vec<usize> = data[10..13].iter().map(|b| 1 + (*b as usize % 6)).collect();
    let rank = 1 + data[13] as usize % 3;
    let Ok(shape) = Shape::new(dims[..rank].to_vec()) else { return };
    let layout = if data[14] & 1 == 1 { Layout::Jax } else { Layout::Torch };
    let mut spec = TensorSpec::new(shape).with_layout(layout);
    if rank < 2 {
        spec = spec.with_fan(Fan::new(3, 5).unwrap());
    }
    let mut out = vec![0.0f64; spec.numel() as usize];
    if init.fill(&spec, &Philox::new(u64::from(data[15]), "fuzz"), &mut out).is_ok() {
        assert!(out.iter().all(|v| v.is_finite()), "{init:?} gave a non-finite value");
    }
    // PyTorch's generator: the same rule gives values or an error, never a panic.
    if init.fill(&spec, &TorchStream::new(u64::from(data[15])), &mut out).is_ok() {
        assert!(out.iter().all(|v| v.is_finite()), "{init:?} on PyTorch's generator gave a non-finite value");
    }
});
