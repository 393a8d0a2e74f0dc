//! The README's "With burn" example: initialize a burn MLP with nninit in one call, run it, and
//! get PyTorch's own default weights for the same model in another call.
//!
//! ```text
//! cargo run -p nninit-burn --example with_burn
//! ```
//!
//! It also prints how much the process's peak memory grew during `init` against the model's
//! size: each filled buffer becomes burn's tensor without a second copy (and burn's own lazy
//! initializers never run). `-- 4096` makes the hidden layers 4096 wide (80 MB of weights).

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Distribution, Tensor};
use nninit::init::{Init, Normal, VarianceScaling};
use nninit_burn::Rules;

#[derive(Module, Debug)]
struct Mlp {
    hidden: Vec<Linear>,
    head: Linear,
}

impl Mlp {
    fn new(sizes: &[usize], classes: usize, device: &Device) -> Self {
        let hidden = sizes.windows(2).map(|w| LinearConfig::new(w[0], w[1]).init(device)).collect();
        Mlp { hidden, head: LinearConfig::new(sizes[sizes.len() - 1], classes).init(device) }
    }

    fn forward(&self, mut x: Tensor<2>) -> Tensor<2> {
        for layer in &self.hidden {
            x = relu(layer.forward(x));
        }
        self.head.forward(x)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let width: usize = std::env::args().nth(1).map_or(Ok(1024), |w| w.parse())?;
    let device = Device::flex();
    let model = Mlp::new(&[784, width, width], 10, &device);
    let before = peak_rss();

    // He-normal weights with burn's [in, out] fans, zero biases, a small classifier.
    // Every parameter is drawn from nninit's stream of (seed, its path): `hidden.0.weight` is
    // `nninit sample he_normal --shape 784,1024 --layout jax --seed 42 --name hidden.0.weight --out w.npy`.
    let rules = Rules::modules(VarianceScaling::he_normal(), Init::Zeros).path("head.weight", Normal::new(0.0, 0.01)?);
    let model = nninit_burn::init(model, &rules, 42)?;
    if let (Some(before), Some(after)) = (before, peak_rss()) {
        let size = model.num_params() as f64 * 4.0 / 1e6;
        println!("{size:.1} MB of parameters; peak RSS grew by {:.1} MB during init", (after - before) as f64 / 1e6);
    }

    for (i, layer) in model.hidden.iter().enumerate() {
        let [fan_in, _] = layer.weight.dims();
        let w = layer.weight.val();
        let std: f32 = w.var(0).mean().sqrt().into_scalar();
        println!("hidden.{i}.weight: std {std:.5}, He's √(2/{fan_in}) = {:.5}", (2.0 / fan_in as f64).sqrt());
    }
    let x = Tensor::<2>::random([32, 784], Distribution::Normal(0.0, 1.0), &device);
    println!("logits {:?}", model.forward(x).dims());

    // The same architecture with PyTorch's default init after torch.manual_seed(0), bit for bit:
    // torch.manual_seed(0); nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024),
    // nn.ReLU(), nn.Linear(1024, 10)).
    let torch = nninit_burn::init_torch(Mlp::new(&[784, width, width], 10, &device), 0)?;
    // burn stores [in, out]; PyTorch's weight[0][0..3] is column 0 here.
    let first: Vec<f32> = torch.hidden[0].weight.val().slice([0..3, 0..1]).into_data().try_to_vec()?;
    println!("PyTorch's 0.weight[0, :3] = {first:?}");
    Ok(())
}

/// The process's peak resident set (Linux `VmHWM`), in bytes.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kb| kb * 1024)
}
