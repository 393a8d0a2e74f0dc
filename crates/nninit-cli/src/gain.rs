//! `nninit gain`.

use anyhow::Result;
use clap::Args as ClapArgs;
use nninit::activation::Activation;
use nninit::report::GainReport;

/// Arguments of `nninit gain`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// The activation: linear, relu, leaky_relu, elu, selu, gelu, gelu_tanh,
    /// silu, mish, softplus, tanh, sigmoid, hardtanh, sin, conv2d, ...
    activation: String,
    /// Its parameter (leaky_relu's negative slope, elu's alpha, softplus's beta, hardtanh's max).
    #[arg(long, allow_negative_numbers = true)]
    param: Option<f64>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<()> {
    let activation = Activation::parse(&args.activation, args.param)?;
    let report = GainReport::new(&activation);
    if args.json {
        return crate::print_json(&report);
    }
    let gains = report.gains;
    let torch = gains.torch.map_or_else(|| "— (PyTorch's calculate_gain has no entry)".into(), |g| format!("{g}"));
    println!("{activation}");
    println!("  torch          {torch}   torch.nn.init.calculate_gain");
    println!("  second_moment  {}   1/√E[φ(z)²]: keeps E[x²] through a layer", gains.second_moment);
    println!("  variance       {}   1/√Var[φ(z)]", gains.variance);
    println!("  derivative     {}   1/√E[φ'(z)²]: keeps gradient variance (χ₁ = 1)", gains.derivative);
    let slope = gains.slope.map_or_else(|| "— (φ'(0) is 0 or undefined)".into(), |g| format!("{g}"));
    println!("  slope          {slope}   1/|φ'(0)| (Kumar 2017)");
    Ok(())
}
