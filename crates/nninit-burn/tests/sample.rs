//! `nninit_burn::init` against `nninit sample`'s path: every parameter of a burn model with
//! one module of each kind equals, bit for bit, what nninit's rule draws from the Philox
//! stream of (seed, burn path) for the fans of burn's storage layout, written out here by hand
//! (not taken from the crate's layout table). And the values do not depend on the thread
//! count or on the device being an autodiff one.

use burn::module::{Module, Param};
use burn::nn::attention::{MultiHeadAttention, MultiHeadAttentionConfig};
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, Embedding, EmbeddingConfig, Gru, GruConfig, LayerNorm, LayerNormConfig, Linear,
    LinearConfig, Lstm, LstmConfig,
};
use burn::tensor::{Device, Tensor};
use nninit::init::{Init, Normal, VarianceScaling};
use nninit::plan::{Module as PlanModule, Plan, PlannedTensor, Role};
use nninit::stream::Philox;
use nninit::{DType, Fan, FanMode, Layout, Shape, TensorSpec};
use nninit_burn::{Error, Kind, Rules};

#[derive(Module, Debug)]
struct Zoo {
    lin: Linear,
    conv: Conv2d,
    up: ConvTranspose2d,
    emb: Embedding,
    norm: LayerNorm,
    bn: BatchNorm,
    attn: MultiHeadAttention,
    lstm: Lstm,
    gru: Gru,
}

fn zoo(device: &Device) -> Zoo {
    Zoo {
        lin: LinearConfig::new(5, 7).init(device),
        conv: Conv2dConfig::new([3, 4], [3, 3]).init(device),
        up: ConvTranspose2dConfig::new([4, 6], [2, 2]).init(device),
        emb: EmbeddingConfig::new(10, 3).init(device),
        norm: LayerNormConfig::new(7).init(device),
        bn: BatchNormConfig::new(4).init(device),
        attn: MultiHeadAttentionConfig::new(8, 2).init(device),
        lstm: LstmConfig::new(4, 6, true).init(device),
        gru: GruConfig::new(3, 5, true).init(device),
    }
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

/// Every float parameter of the zoo with its path, in burn's record layout.
fn params(z: &Zoo) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let mut out = Vec::new();
    let mut lin = |path: &str, l: &Linear| {
        out.push((format!("{path}.weight"), l.weight.dims().to_vec(), values(l.weight.val())));
        if let Some(b) = &l.bias {
            out.push((format!("{path}.bias"), b.dims().to_vec(), values(b.val())));
        }
    };
    lin("lin", &z.lin);
    for (name, l) in
        [("query", &z.attn.query), ("key", &z.attn.key), ("value", &z.attn.value), ("output", &z.attn.output)]
    {
        lin(&format!("attn.{name}"), l);
    }
    let gates = [
        ("input_gate", &z.lstm.input_gate),
        ("forget_gate", z.lstm.forget_gate.as_ref().unwrap()),
        ("output_gate", &z.lstm.output_gate),
        ("cell_gate", &z.lstm.cell_gate),
    ];
    for (name, g) in gates {
        lin(&format!("lstm.{name}.input_transform"), &g.input_transform);
        lin(&format!("lstm.{name}.hidden_transform"), &g.hidden_transform);
    }
    for (name, g) in
        [("update_gate", &z.gru.update_gate), ("reset_gate", &z.gru.reset_gate), ("new_gate", &z.gru.new_gate)]
    {
        lin(&format!("gru.{name}.input_transform"), &g.input_transform);
        lin(&format!("gru.{name}.hidden_transform"), &g.hidden_transform);
    }
    out.push(("conv.weight".into(), z.conv.weight.dims().to_vec(), values(z.conv.weight.val())));
    let conv_bias = z.conv.bias.as_ref().unwrap();
    out.push(("conv.bias".into(), conv_bias.dims().to_vec(), values(conv_bias.val())));
    out.push(("up.weight".into(), z.up.weight.dims().to_vec(), values(z.up.weight.val())));
    let up_bias = z.up.bias.as_ref().unwrap();
    out.push(("up.bias".into(), up_bias.dims().to_vec(), values(up_bias.val())));
    out.push(("emb.weight".into(), z.emb.weight.dims().to_vec(), values(z.emb.weight.val())));
    out.push(("norm.gamma".into(), vec![7], values(z.norm.gamma.val())));
    out.push(("norm.beta".into(), vec![7], values(z.norm.beta.as_ref().unwrap().val())));
    out.push(("bn.gamma".into(), vec![4], values(z.bn.gamma.val())));
    out.push(("bn.beta".into(), vec![4], values(z.bn.beta.val())));
    out.push(("bn.running_mean".into(), vec![4], values(z.bn.running_mean.value())));
    out.push(("bn.running_var".into(), vec![4], values(z.bn.running_var.value())));
    out
}

/// The fans of a parameter of the zoo as burn stores it, written out by hand: Linear `[in,
/// out]`; Conv2d `[out, in, kh, kw]`; ConvTranspose2d `[in, out, kh, kw]`; Embedding
/// `[n, d]` (PyTorch's reading: fan_in = d). A bias takes its weight's.
fn fans(path: &str, shape: &[usize]) -> Option<Fan> {
    let weight = path.replace(".bias", ".weight");
    let fan = |i, o| Some(Fan::new(i, o).unwrap());
    match weight.as_str() {
        "conv.weight" => fan(3 * 9, 4 * 9),
        "up.weight" => fan(4 * 4, 6 * 4),
        "emb.weight" => fan(3, 10),
        "lin.weight" => fan(5, 7),
        p if p.starts_with("attn.") => fan(8, 8),
        p if p.starts_with("lstm.") && p.contains("input_transform") => fan(4, 6),
        p if p.starts_with("lstm.") => fan(6, 6),
        p if p.starts_with("gru.") && p.contains("input_transform") => fan(3, 5),
        p if p.starts_with("gru.") => fan(5, 5),
        _ => {
            assert_eq!(shape.len(), 1, "{path}");
            None
        }
    }
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// `nninit sample`'s generation for one tensor: the rule's `fill_slice` on the whole tensor
/// from `Philox::new(seed, name)`.
fn sample(init: &Init, spec: &TensorSpec, seed: u64, name: &str) -> Vec<f32> {
    let mut v = vec![0f32; spec.numel() as usize];
    init.fill_slice(spec, &Philox::new(seed, name), 0, &mut v).unwrap();
    v
}

fn he_uniform() -> Init {
    Init::from(VarianceScaling::kaiming_uniform(FanMode::FanIn, nninit::activation::Activation::Relu).unwrap())
}

#[test]
fn every_parameter_equals_nninit_sample_for_its_path() {
    let device = Device::flex();
    let seed = 20_251_203;
    let rules = Rules::modules(VarianceScaling::he_normal(), he_uniform());
    let model = nninit_burn::init(zoo(&device), &rules, seed).unwrap();
    let got = params(&model);
    assert_eq!(got.len(), 2 + 8 + 16 + 12 + 4 + 1 + 2 + 4, "every parameter is listed");
    for (path, shape, values) in &got {
        let mut spec = TensorSpec::new(Shape::new(shape.clone()).unwrap());
        let init = match fans(path, shape) {
            Some(fan) => {
                spec = spec.with_fan(fan);
                if path.ends_with(".bias") { he_uniform() } else { Init::from(VarianceScaling::he_normal()) }
            }
            None if path.ends_with("gamma") || path.ends_with("running_var") => Init::Ones,
            None => Init::Zeros,
        };
        assert_eq!(bits(values), bits(&sample(&init, &spec, seed, path)), "{path} {shape:?}");
    }
    // The fans are burn's: a He-normal Linear weight [5, 7] has std √(2/5), not √(2/7).
    let lin = &got.iter().find(|(p, ..)| p == "lin.weight").unwrap().2;
    assert!(lin.iter().any(|&x| x != 0.0));
}

#[test]
fn values_do_not_depend_on_threads_or_autodiff() {
    let rules = Rules::modules(VarianceScaling::he_normal(), he_uniform());
    let run = |threads: usize, device: Device| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| params(&nninit_burn::init(zoo(&device), &rules, 7).unwrap()))
    };
    let one = run(1, Device::flex());
    assert_eq!(one, run(2, Device::flex()));
    assert_eq!(one, run(2, Device::flex().autodiff()));
}

#[test]
fn parameters_keep_their_gradient_setting() {
    let device = Device::flex().autodiff();
    let rules = Rules::modules(VarianceScaling::he_normal(), Init::Zeros);
    let m = nninit_burn::init(zoo(&device), &rules, 0).unwrap();
    assert!(m.lin.weight.val().is_require_grad());
    assert!(m.attn.output.bias.as_ref().unwrap().val().is_require_grad());
    assert!(!m.bn.running_mean.value().is_require_grad());
}

#[derive(Module, Debug)]
struct Pair {
    lin: Linear,
    norm: LayerNorm,
}

fn pair(device: &Device) -> Pair {
    Pair { lin: LinearConfig::new(5, 7).init(device), norm: LayerNormConfig::new(7).init(device) }
}

#[test]
fn rules_by_pattern_and_module_first_match_wins() {
    let device = Device::flex();
    let small = Normal::new(0.0, 0.01).unwrap();
    let rules = Rules::new()
        .path("lin.weight", small)
        .module(Kind::Linear, "weight", Init::Ones)
        .module(Kind::Linear, "bias", Init::Zeros)
        .keep("norm.*");
    let m = nninit_burn::init(pair(&device), &rules, 3).unwrap();
    let spec = TensorSpec::new(Shape::new(vec![5, 7]).unwrap());
    assert_eq!(bits(&values(m.lin.weight.val())), bits(&sample(&Init::from(small), &spec, 3, "lin.weight")));
    assert_eq!(values(m.lin.bias.as_ref().unwrap().val()), vec![0.0; 7]);
    assert_eq!(values(m.norm.gamma.val()), vec![1.0; 7], "kept as burn made it");
}

#[test]
fn errors_name_the_parameter() {
    let device = Device::flex();
    match nninit_burn::init(pair(&device), &Rules::new().path("lin.*", Init::Zeros), 0) {
        Err(Error::NoRule { path, shape }) => assert_eq!((path.as_str(), shape), ("norm.gamma", vec![7])),
        other => panic!("{other:?}"),
    }
    // One fan-based rule for all: the norm's gamma has no weight to take fans from.
    match nninit_burn::init(pair(&device), &Rules::all(VarianceScaling::he_normal()), 0) {
        Err(Error::Refused { path, rule, .. }) => assert_eq!((path.as_str(), rule), ("norm.gamma", "he_normal")),
        other => panic!("{other:?}"),
    }
    match nninit_burn::init(pair(&device), &Rules::new().path("lin..weight", Init::Zeros), 0) {
        Err(Error::BadPattern { pattern, .. }) => assert_eq!(pattern, "lin..weight"),
        other => panic!("{other:?}"),
    }
    // An orthogonal rule refuses a vector.
    let ortho = nninit::init::Orthogonal::new(1.0).unwrap();
    match nninit_burn::init(pair(&device), &Rules::new().path("norm.*", Init::Ones).path("*", ortho), 0) {
        Err(Error::Refused { path, .. }) => assert_eq!(path, "lin.bias"),
        other => panic!("{other:?}"),
    }
}

fn plan(dims: Vec<usize>, extra: Option<&str>) -> Plan {
    let w = PlannedTensor::new("lin.weight", dims, Layout::Jax, Role::Dense, PlanModule::Linear).unwrap();
    let fan = w.spec.fan().unwrap();
    let mut tensors = vec![
        PlannedTensor { init: Some(Init::from(VarianceScaling::lecun_normal())), ..w },
        PlannedTensor {
            init: Some(he_uniform()),
            ..PlannedTensor::new("lin.bias", vec![7], Layout::Torch, Role::Dense, PlanModule::Linear)
                .unwrap()
                .bias_of(fan)
        },
    ];
    if let Some(name) = extra {
        tensors.push(PlannedTensor {
            init: Some(Init::Zeros),
            ..PlannedTensor::new(name, vec![7], Layout::Torch, Role::NormBias, PlanModule::LayerNorm).unwrap()
        });
    }
    Plan { architecture: "pair".into(), model_class: "Pair".into(), dtype: DType::F32, scheme: None, tensors }
}

#[test]
fn a_plan_gives_its_rules_by_name() {
    let device = Device::flex();
    let rules = Rules::from_plan(&plan(vec![5, 7], None))
        .unwrap()
        .path("norm.gamma", Init::Ones)
        .path("norm.beta", Init::Zeros);
    let m = nninit_burn::init(pair(&device), &rules, 11).unwrap();
    let p = plan(vec![5, 7], None);
    for (t, got) in p.tensors.iter().zip([values(m.lin.weight.val()), values(m.lin.bias.as_ref().unwrap().val())]) {
        assert_eq!(bits(&got), bits(&sample(&t.init.unwrap(), &t.spec, 11, &t.name)), "{}", t.name);
    }
    let shape = Rules::from_plan(&plan(vec![7, 5], None)).unwrap().path("norm.*", Init::Ones);
    assert!(matches!(nninit_burn::init(pair(&device), &shape, 0), Err(Error::PlanShape { .. })));
    let missing = Rules::from_plan(&plan(vec![5, 7], Some("norm.bias"))).unwrap().path("norm.*", Init::Ones);
    match nninit_burn::init(pair(&device), &missing, 0) {
        Err(Error::PlanMissing { name }) => assert_eq!(name, "norm.bias"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_fused_plan_tensor_is_drawn_part_by_part() {
    // `lin.weight` [5, 7] fused along its output axis: parts of 3 and 4 columns with rules of
    // their own (as T-Fixup's and DeepNorm's GPT-2 `c_attn`), each from its `#part` stream.
    let device = Device::flex();
    let mut p = plan(vec![5, 7], None);
    let fused = p.tensors[0].clone().fused(1, &[("a", 3, Role::AttentionQuery), ("b", 4, Role::AttentionValue)]);
    p.tensors[0] = PlannedTensor { init: None, ..fused.unwrap() };
    let unruled = p.clone();
    p.tensors[0].parts[0].init = Some(Init::Normal(Normal::new(0.0, 0.1).unwrap()));
    p.tensors[0].parts[1].init = Some(Init::Normal(Normal::new(0.0, 10.0).unwrap()));
    let rules = Rules::from_plan(&p).unwrap().path("norm.*", Init::Ones);
    let m = nninit_burn::init(pair(&device), &rules, 11).unwrap();
    let mut want = vec![0f32; 35];
    p.tensors[0].fill_slice(11, 0, &mut want).unwrap();
    let got = values(m.lin.weight.val());
    assert_eq!(bits(&got), bits(&want));
    // Column 0 is part a (std 0.1), column 6 part b (std 10).
    assert!(got.chunks(7).all(|row| row[0].abs() < 1.0) && got.chunks(7).any(|row| row[6].abs() > 1.0), "{got:?}");
    // A fused tensor with neither a rule nor rules on its parts is refused.
    match Rules::from_plan(&unruled) {
        Err(Error::PlanUnruled { name }) => assert_eq!(name, "lin.weight"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_initialized_parameter_is_replaced_too() {
    let device = Device::flex();
    let mut model = pair(&device);
    model.lin.weight = Param::from_tensor(Tensor::zeros([5, 7], &device));
    let m = nninit_burn::init(model, &Rules::modules(VarianceScaling::he_normal(), Init::Zeros), 1).unwrap();
    let spec = TensorSpec::new(Shape::new(vec![5, 7]).unwrap()).with_layout(Layout::Jax);
    let he = Init::from(VarianceScaling::he_normal());
    assert_eq!(bits(&values(m.lin.weight.val())), bits(&sample(&he, &spec, 1, "lin.weight")));
}
