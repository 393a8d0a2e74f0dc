//! `init_torch` against real PyTorch: burn models mirroring the PyTorch modules of
//! `crates/nninit/tests/fixtures/torch/avx2.json` (made by `scripts/golden/torch_cpu.py` with
//! torch 2.15.0) get PyTorch's `torch.manual_seed(s)` default weights, bit for bit. The burn
//! tensors are put back into PyTorch's layout with burn's own ops and compared with the
//! fixture's bits or SHA-256.

use burn::module::Module;
use burn::nn::attention::{MultiHeadAttention, MultiHeadAttentionConfig};
use burn::nn::conv::{
    Conv1d, Conv1dConfig, Conv2d, Conv2dConfig, Conv3d, Conv3dConfig, ConvTranspose1d, ConvTranspose1dConfig,
    ConvTranspose2d, ConvTranspose2dConfig, ConvTranspose3d, ConvTranspose3dConfig,
};
use burn::nn::{
    Embedding, EmbeddingConfig, Gru, GruConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig, Lstm, LstmConfig,
};
use burn::tensor::{Device, Tensor};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn fixture() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../nninit/tests/fixtures/torch/avx2.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The fixture's state dict of case `id` at `seed` (float32): key → expected entry.
fn expected(id: &str, seed: u64) -> Vec<Value> {
    let f = fixture();
    let case = f["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id && c["seed"] == seed && c["dtype"] == "float32")
        .unwrap_or_else(|| panic!("no fixture {id} seed {seed}"))
        .clone();
    case["outputs"][0].as_array().unwrap().clone()
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

/// Compares `got` (PyTorch layout) with the fixture entry `key`.
fn check(want: &[Value], key: &str, shape: &[usize], got: &[f32]) {
    let w = want.iter().find(|w| w["key"] == key).unwrap_or_else(|| panic!("fixture has no {key}"));
    let wshape: Vec<usize> = w["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
    assert_eq!(wshape, shape, "{key}: shape");
    let bits: Vec<u32> = got.iter().map(|x| x.to_bits()).collect();
    if let Some(b) = w.get("bits") {
        let b: Vec<u32> =
            b.as_array().unwrap().iter().map(|h| u32::from_str_radix(h.as_str().unwrap(), 16).unwrap()).collect();
        assert_eq!(bits, b, "{key}: bits");
    } else {
        for s in w["samples"].as_array().unwrap() {
            let i = s[0].as_u64().unwrap() as usize;
            assert_eq!(format!("{:08x}", bits[i]), s[1].as_str().unwrap(), "{key}[{i}]");
        }
        let bytes: Vec<u8> = bits.iter().flat_map(|x| x.to_le_bytes()).collect();
        let hash: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hash, w["sha256"].as_str().unwrap(), "{key}: SHA-256 of {} values", got.len());
    }
}

/// A burn Linear's weight in PyTorch's `[out, in]` layout.
fn torch_weight(l: &Linear) -> Tensor<2> {
    l.weight.val().transpose()
}

fn check_linear(want: &[Value], key: &str, l: &Linear) {
    let [d_in, d_out] = l.weight.dims();
    check(want, &format!("{key}.weight"), &[d_out, d_in], &values(torch_weight(l)));
    if let Some(b) = &l.bias {
        check(want, &format!("{key}.bias"), &[d_out], &values(b.val()));
    }
}

fn check_param<const D: usize>(want: &[Value], key: &str, t: Tensor<D>) {
    let shape = t.dims().to_vec();
    check(want, key, &shape, &values(t));
}

/// `nn.Sequential(Conv2d(3, 16, 3), ReLU, Flatten, Linear(14400, 64), LayerNorm(64),
/// Linear(64, 10, bias=False), Embedding(100, 8), Linear(8, 3), ...)`: the fixture's
/// `Bilinear` comes last and has no burn counterpart, so the burn model stops before it.
#[derive(Module, Debug)]
struct Sequential {
    conv: Conv2d,
    fc: Linear,
    norm: LayerNorm,
    out: Linear,
    emb: Embedding,
    small: Linear,
}

#[test]
fn a_sequential_of_conv_linear_norm_embedding_matches_pytorch() {
    let device = Device::flex();
    for seed in [0u64, (1 << 40) + 3] {
        let model = Sequential {
            conv: Conv2dConfig::new([3, 16], [3, 3]).init(&device),
            fc: LinearConfig::new(14400, 64).init(&device),
            norm: LayerNormConfig::new(64).init(&device),
            out: LinearConfig::new(64, 10).with_bias(false).init(&device),
            emb: EmbeddingConfig::new(100, 8).init(&device),
            small: LinearConfig::new(8, 3).init(&device),
        };
        let m = nninit_burn::init_torch(model, seed).unwrap();
        let want = expected("modules_sequential_s3", seed);
        check_param(&want, "0.weight", m.conv.weight.val());
        check_param(&want, "0.bias", m.conv.bias.as_ref().unwrap().val());
        check_linear(&want, "3", &m.fc);
        check_param(&want, "4.weight", m.norm.gamma.val());
        check_param(&want, "4.bias", m.norm.beta.as_ref().unwrap().val());
        check_linear(&want, "5", &m.out);
        check_param(&want, "6.weight", m.emb.weight.val());
        check_linear(&want, "7", &m.small);
    }
}

#[derive(Module, Debug)]
struct Attention {
    attn: MultiHeadAttention,
}

#[test]
fn multi_head_attention_matches_pytorch() {
    let device = Device::flex();
    for seed in [0u64, (1 << 40) + 3] {
        let model = Attention { attn: MultiHeadAttentionConfig::new(16, 4).init(&device) };
        let m = nninit_burn::init_torch(model, seed).unwrap();
        let want = expected("modules_mha", seed);
        let a = &m.attn;
        let in_proj = Tensor::cat(vec![torch_weight(&a.query), torch_weight(&a.key), torch_weight(&a.value)], 0);
        check(&want, "attn.in_proj_weight", &[48, 16], &values(in_proj));
        let bias = |l: &Linear| l.bias.as_ref().unwrap().val();
        let in_bias = Tensor::cat(vec![bias(&a.query), bias(&a.key), bias(&a.value)], 0);
        check(&want, "attn.in_proj_bias", &[48], &values(in_bias));
        check_linear(&want, "attn.out_proj", &a.output);
    }
}

/// `nn.LSTM(10, 20, num_layers=2)` draws its layers one after the other, as two burn Lstms.
#[derive(Module, Debug)]
struct Stacked {
    l0: Lstm,
    l1: Lstm,
}

fn lstm_tensors(l: &Lstm) -> [Tensor<2>; 4] {
    let gates = [&l.input_gate, l.forget_gate.as_ref().unwrap(), &l.cell_gate, &l.output_gate];
    let cat = |f: &dyn Fn(&burn::nn::GateController) -> Tensor<2>| Tensor::cat(gates.iter().map(|g| f(g)).collect(), 0);
    [
        cat(&|g| torch_weight(&g.input_transform)),
        cat(&|g| torch_weight(&g.hidden_transform)),
        cat(&|g| g.input_transform.bias.as_ref().unwrap().val().unsqueeze()),
        cat(&|g| g.hidden_transform.bias.as_ref().unwrap().val().unsqueeze()),
    ]
}

#[test]
fn lstm_matches_pytorch() {
    let device = Device::flex();
    for seed in [0u64, (1 << 40) + 3] {
        let model = Stacked {
            l0: LstmConfig::new(10, 20, true).init(&device),
            l1: LstmConfig::new(20, 20, true).init(&device),
        };
        let m = nninit_burn::init_torch(model, seed).unwrap();
        let want = expected("modules_lstm", seed);
        for (layer, l) in [&m.l0, &m.l1].into_iter().enumerate() {
            let [ih, hh, bih, bhh] = lstm_tensors(l);
            check_param(&want, &format!("lstm.weight_ih_l{layer}"), ih);
            check_param(&want, &format!("lstm.weight_hh_l{layer}"), hh);
            check(&want, &format!("lstm.bias_ih_l{layer}"), &[80], &values(bih));
            check(&want, &format!("lstm.bias_hh_l{layer}"), &[80], &values(bhh));
        }
    }
}

#[derive(Module, Debug)]
struct Recurrent {
    gru: Gru,
}

#[test]
fn gru_matches_pytorch() {
    let device = Device::flex();
    for seed in [0u64, (1 << 40) + 3] {
        let m = nninit_burn::init_torch(Recurrent { gru: GruConfig::new(7, 9, false).init(&device) }, seed).unwrap();
        let want = expected("modules_gru", seed);
        let g = &m.gru;
        let gates = [&g.reset_gate, &g.update_gate, &g.new_gate];
        let ih = Tensor::cat(gates.iter().map(|c| torch_weight(&c.input_transform)).collect(), 0);
        let hh = Tensor::cat(gates.iter().map(|c| torch_weight(&c.hidden_transform)).collect(), 0);
        check_param(&want, "gru.weight_ih_l0", ih);
        check_param(&want, "gru.weight_hh_l0", hh);
    }
}

#[derive(Module, Debug)]
struct Convs {
    c1: Conv1d,
    c3: Conv3d,
    t1: ConvTranspose1d,
    t2: ConvTranspose2d,
    t3: ConvTranspose3d,
    g: Conv2d,
}

#[test]
fn convolutions_and_transposed_convolutions_match_pytorch() {
    let device = Device::flex();
    for seed in [0u64, (1 << 40) + 3] {
        let model = Convs {
            c1: Conv1dConfig::new(4, 6, 5).init(&device),
            c3: Conv3dConfig::new([2, 4], [1, 2, 3]).with_bias(false).init(&device),
            t1: ConvTranspose1dConfig::new([3, 5], 2).init(&device),
            t2: ConvTranspose2dConfig::new([4, 6], [3, 3]).with_groups(2).init(&device),
            t3: ConvTranspose3dConfig::new([2, 2], [2, 2, 2]).init(&device),
            g: Conv2dConfig::new([8, 4], [3, 1]).with_groups(4).init(&device),
        };
        let m = nninit_burn::init_torch(model, seed).unwrap();
        let want = expected("modules_convs", seed);
        check_param(&want, "c1.weight", m.c1.weight.val());
        check_param(&want, "c1.bias", m.c1.bias.as_ref().unwrap().val());
        check_param(&want, "c3.weight", m.c3.weight.val());
        check_param(&want, "t1.weight", m.t1.weight.val());
        check_param(&want, "t1.bias", m.t1.bias.as_ref().unwrap().val());
        check_param(&want, "t2.weight", m.t2.weight.val());
        check_param(&want, "t2.bias", m.t2.bias.as_ref().unwrap().val());
        check_param(&want, "t3.weight", m.t3.weight.val());
        check_param(&want, "t3.bias", m.t3.bias.as_ref().unwrap().val());
        check_param(&want, "g.weight", m.g.weight.val());
        check_param(&want, "g.bias", m.g.bias.as_ref().unwrap().val());
    }
}

/// A parameter outside every module nninit mirrors is refused, naming it.
#[derive(Module, Debug)]
struct Bare {
    scale: burn::module::Param<Tensor<1>>,
}

#[test]
fn a_bare_parameter_is_refused_by_the_torch_path() {
    let device = Device::flex();
    let model = Bare { scale: burn::module::Param::from_tensor(Tensor::ones([3], &device)) };
    match nninit_burn::init_torch(model, 0) {
        Err(nninit_burn::Error::TorchUnsupported { path, .. }) => assert_eq!(path, "scale"),
        other => panic!("{other:?}"),
    }
}

/// The porting guide's burn example (docs/porting-from-pytorch.md, 2c): `nn.Sequential(
/// nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))` after `torch.manual_seed(0)` is the
/// state dict nninit replays for the guide's module list, each weight transposed into burn's
/// `[in, out]`.
#[derive(Module, Debug)]
struct Net {
    fc1: Linear,
    fc2: Linear,
}

#[test]
fn the_porting_guides_burn_example_gets_the_replayed_state_dict() {
    use nninit::torch::{StateValues, TorchDType, TorchGenerator, state_dict_from_json};
    let device = Device::flex();
    let net = Net { fc1: LinearConfig::new(4, 8).init(&device), fc2: LinearConfig::new(8, 2).init(&device) };
    let net = nninit_burn::init_torch(net, 0).unwrap();
    let modules = r#"[{"type": "Linear", "name": "0", "in_features": 4, "out_features": 8},
                      {"type": "Linear", "name": "2", "in_features": 8, "out_features": 2}]"#;
    let state = state_dict_from_json(modules, &mut TorchGenerator::new(0), TorchDType::F32).unwrap();
    let got = [
        values(torch_weight(&net.fc1)),
        values(net.fc1.bias.as_ref().unwrap().val()),
        values(torch_weight(&net.fc2)),
        values(net.fc2.bias.as_ref().unwrap().val()),
    ];
    for (t, got) in state.iter().zip(got) {
        let StateValues::F32(want) = &t.data else { panic!("{}", t.name) };
        assert_eq!(
            want.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            "{}",
            t.name
        );
    }
}
