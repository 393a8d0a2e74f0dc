//! `nninit theory`: mean-field signal propagation for one activation.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::Args as ClapArgs;
use nninit::activation::Activation;
use nninit::report::{self, EdgeReport, RecommendReport, TheoryReport, number as num};
use nninit::theory::{self, FixedPoint, MeanField};
use nninit_lab::report::{FigureFormat, phase_figure};
use serde::Serialize;

/// Arguments of `nninit theory`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// The activation: tanh, relu, leaky_relu, gelu, silu, selu, elu, sigmoid, ...
    activation: String,
    /// Its parameter (leaky_relu's negative slope, elu's alpha, softplus's beta, hardtanh's max).
    #[arg(long, allow_negative_numbers = true)]
    param: Option<f64>,
    /// σ_w², the weight variance times fan-in [default: PyTorch's gain squared, else the
    /// second-moment gain squared].
    #[arg(long = "sigma-w2", allow_negative_numbers = true)]
    sigma_w2: Option<f64>,
    /// σ_b², the bias variance.
    #[arg(long = "sigma-b2", default_value_t = 0.0, allow_negative_numbers = true)]
    sigma_b2: f64,
    /// The input length q⁰, the mean square of an input coordinate (1: unit-variance
    /// inputs): which fixed point the network reaches depends on it.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    q0: f64,
    /// The network's depth, for the verdict and --recommend.
    #[arg(long, default_value_t = 100)]
    depth: usize,
    /// Recommend (σ_w², σ_b²) and the nninit init rule for this activation and --depth.
    #[arg(long)]
    recommend: bool,
    /// Print the edge of chaos: the critical σ_w² for each σ_b² in [0, --sigma-b2-max].
    #[arg(long)]
    edge: bool,
    /// Draw the phase diagram (ξ_c over σ_w² and σ_b², with the critical line) to FILE.svg or FILE.png.
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
    /// Largest σ_w² of the phase diagram.
    #[arg(long = "sigma-w2-max", default_value_t = 4.0)]
    sigma_w2_max: f64,
    /// Largest σ_b² of the phase diagram and the edge table.
    #[arg(long = "sigma-b2-max", default_value_t = 0.3)]
    sigma_b2_max: f64,
    /// Points per axis of the phase diagram.
    #[arg(long, default_value_t = 100)]
    grid: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct PlotReport {
    activation: String,
    plot: PathBuf,
    grid: usize,
    seconds: f64,
}

pub fn run(args: Args) -> Result<()> {
    let activation = Activation::parse(&args.activation, args.param)?;
    report::check_theory_args(args.depth, args.sigma_w2_max, args.sigma_b2_max)?;
    if let Some(path) = &args.plot {
        return plot(activation, path, &args);
    }
    if args.edge {
        return edge(activation, &args);
    }
    if args.recommend {
        return recommend(activation, &args);
    }
    let sigma_w2 = args.sigma_w2.unwrap_or_else(|| report::default_sigma_w2(&activation));
    let report = TheoryReport::at(activation, sigma_w2, args.sigma_b2, args.q0, args.depth)?;
    if args.json {
        return crate::print_json(&report);
    }
    println!("{activation}  σ_w² = {sigma_w2}  σ_b² = {}  q⁰ = {}", args.sigma_b2, args.q0);
    print_point(&report);
    Ok(())
}

fn print_point(report: &TheoryReport) {
    println!(
        "  q*               {}   reached from q⁰ = {}{}",
        opt(report.q_star),
        report.q0,
        report.stability.map_or_else(String::new, |s| format!(", {}", s.name()))
    );
    if let FixedPoint::Diverges { growth, .. } = report.fixed_point {
        println!("                   (no fixed point: the length grows {growth:.4}x per layer)");
    }
    let list: Vec<String> = report
        .fixed_points
        .iter()
        .map(|p| format!("{} ({}, V′ = {:.4})", num(p.q_star), p.stability.name(), p.slope))
        .collect();
    println!("  fixed points     {}", if list.is_empty() { "none".to_string() } else { list.join(", ") });
    println!("  chi1             {}   gradient growth per layer", num(report.chi1));
    println!("  c*               {}", opt(report.c_star));
    println!("  xi_q             {}   layers", opt(report.xi_q));
    println!("  xi_c             {}   layers", opt(report.xi_c));
    println!("  phase            {}", report.phase.name());
    println!("  trainable depth  {}   (≈ 6 ξ_c, Schoenholz et al. 2017)", num(report.trainable_depth));
    match report.edge_sigma_w2 {
        Some(w) => println!("  edge of chaos    σ_w² = {} at σ_b² = {}", num(w), report.sigma_b2),
        None => println!(
            "  edge of chaos    none at σ_b² = {}: no σ_w² gives χ₁ = 1 at a stable fixed point reached from q⁰ = {}",
            report.sigma_b2, report.q0
        ),
    }
    println!("{}", report.verdict);
}

fn opt(x: Option<f64>) -> String {
    x.map_or_else(|| "—".into(), num)
}

fn edge(activation: Activation, args: &Args) -> Result<()> {
    let report = EdgeReport::new(activation, args.sigma_b2_max)?;
    if args.json {
        return crate::print_json(&report);
    }
    println!("edge of chaos for {activation} (χ₁ = 1)");
    println!("  {:>10}  {:>12}", "sigma_b2", "sigma_w2");
    for row in report.edge {
        println!("  {:>10.4}  {:>12}", row.sigma_b2, row.sigma_w2.map_or_else(|| "—".into(), |w| format!("{w:.6}")));
    }
    Ok(())
}

fn recommend(activation: Activation, args: &Args) -> Result<()> {
    let report = RecommendReport::new(activation, args.depth, args.q0)?;
    if args.json {
        return crate::print_json(&report);
    }
    let r = &report.recommendation;
    println!("{activation} at depth {}, inputs of length q⁰ = {}", r.depth, args.q0);
    println!("  sigma_w2     {:.6}", r.sigma_w2);
    println!("  sigma_b2     {}", r.sigma_b2);
    println!(
        "  weights      variance_scaling(scale = {:.6}, mode = fan_in, distribution = normal): std = √({:.6}/fan_in)",
        r.sigma_w2, r.sigma_w2
    );
    if r.sigma_b2 == 0.0 {
        println!("  biases       zeros");
    } else {
        println!("  biases       normal(mean = 0, std = {:.6})", r.sigma_b2.sqrt());
    }
    println!(
        "  PyTorch      nn.init.normal_(w, std=math.sqrt({:.6} / fan_in)); nn.init.normal_(b, std={:.6})",
        r.sigma_w2,
        r.sigma_b2.sqrt()
    );
    println!("  robust ξ_c   {} layers with σ_w² off by ±1%", num(r.robust_xi_c));
    println!("  why          {}", r.reason);
    if let Some(caveat) = r.caveat {
        println!("  caveat       {caveat}");
    }
    println!(
        "at this point (as `nninit theory {activation} --sigma-w2 {} --sigma-b2 {} --q0 {}`):",
        r.sigma_w2, r.sigma_b2, args.q0
    );
    print_point(&report.point);
    Ok(())
}

fn plot(activation: Activation, path: &Path, args: &Args) -> Result<()> {
    if FigureFormat::of(path).is_none() {
        bail!("unsupported plot file `{}`: the name must end in .svg or .png", path.display());
    }
    if args.grid < 2 || args.grid > 2000 {
        bail!("invalid grid = {}: must be between 2 and 2000", args.grid);
    }
    let n = args.grid;
    let start = std::time::Instant::now();
    let w: Vec<f64> = (1..=n).map(|i| args.sigma_w2_max * i as f64 / n as f64).collect();
    let b: Vec<f64> = (0..n).map(|i| args.sigma_b2_max * i as f64 / (n - 1) as f64).collect();
    let diagram = theory::phase_diagram(activation, &w, &b)?;
    let edge_b: Vec<f64> = (0..=40).map(|i| args.sigma_b2_max * i as f64 / 40.0).collect();
    let edge = MeanField::edge_of_chaos_curve(activation, &edge_b)?;
    let seconds = start.elapsed().as_secs_f64();
    phase_figure(&diagram, &edge, args.sigma_w2_max, args.sigma_b2_max, path)?;
    if args.json {
        return crate::print_json(&PlotReport {
            activation: activation.to_string(),
            plot: path.to_path_buf(),
            grid: n,
            seconds,
        });
    }
    println!("wrote {} ({n} x {n} phase diagram of {activation}, computed in {seconds:.2} s)", path.display());
    Ok(())
}
