//! Port a PyTorch model to Rust and start it from PyTorch's very weights.
//!
//! The PyTorch original:
//!
//! ```python
//! torch.manual_seed(0)
//! model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
//! model(torch.arange(4.) / 4)   # tensor([ 0.3189, -0.5717])
//! ```
//!
//! Run: `cargo run --release -p nninit --example port_from_pytorch`.

use nninit::torch::{StateValues, TorchDType, TorchGenerator, state_dict_from_json};

/// The same modules, in construction order, with their `Sequential` indices as
/// names (the Tanh at index 1 has no parameters).
const MODULES: &str = r#"[
  {"type": "Linear", "name": "0", "in_features": 4, "out_features": 8},
  {"type": "Linear", "name": "2", "in_features": 8, "out_features": 2}
]"#;

/// `y = W x + b` for a PyTorch-layout weight `[out, in]`.
fn linear(w: &[f32], b: &[f32], x: &[f32]) -> Vec<f32> {
    b.iter()
        .enumerate()
        .map(|(o, bias)| bias + x.iter().enumerate().map(|(i, xi)| w[o * x.len() + i] * xi).sum::<f32>())
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // torch.manual_seed(0), then every module's reset_parameters() in PyTorch's order.
    let state = state_dict_from_json(MODULES, &mut TorchGenerator::new(0), TorchDType::F32)?;
    let tensor = |name: &str| -> Result<&[f32], String> {
        match state.iter().find(|t| t.name == name).map(|t| &t.data) {
            Some(StateValues::F32(values)) => Ok(values),
            _ => Err(format!("no f32 tensor `{name}`")),
        }
    };
    let x = [0.0f32, 0.25, 0.5, 0.75];
    let hidden: Vec<f32> = linear(tensor("0.weight")?, tensor("0.bias")?, &x).into_iter().map(f32::tanh).collect();
    let y = linear(tensor("2.weight")?, tensor("2.bias")?, &hidden);
    println!("0.weight[0] = {:?}", &tensor("0.weight")?[..4]);
    println!("y = {y:?}   (PyTorch: [0.31886595, -0.57169515])");
    // The weights are identical bit for bit; the forward pass may differ in the
    // last bits because the two sum in different orders.
    assert_eq!(tensor("0.weight")?[..4], [-0.003_743_41, 0.268_221_8, -0.411_522_57, -0.367_969_5]);
    assert!((y[0] - 0.318_865_95).abs() < 1e-6 && (y[1] + 0.571_695_15).abs() < 1e-6);
    Ok(())
}
