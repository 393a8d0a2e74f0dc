//! `nninit theory`: mean-field signal propagation for one activation.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::Args as ClapArgs;
use nninit::activation::Activation;
use nninit::theory::{self, Analysis, FixedPoint, MeanField, Phase, Recommendation};
use nninit_lab::report::{self, FigureFormat};
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

/// The `--json` output for one point.
#[derive(Serialize)]
struct Report {
    activation: String,
    sigma_w2: f64,
    sigma_b2: f64,
    q_star: Option<f64>,
    chi1: f64,
    c_star: Option<f64>,
    xi_q: Option<f64>,
    xi_c: Option<f64>,
    phase: Phase,
    gradient_growth: f64,
    trainable_depth: f64,
    depth: usize,
    /// χ₁^depth: how much gradients change over the whole network.
    gradient_factor_at_depth: f64,
    fixed_point: FixedPoint,
    /// The critical σ_w² at this σ_b².
    edge_sigma_w2: Option<f64>,
    verdict: String,
}

#[derive(Serialize)]
struct EdgeRow {
    sigma_b2: f64,
    sigma_w2: Option<f64>,
}

#[derive(Serialize)]
struct EdgeReport {
    activation: String,
    edge: Vec<EdgeRow>,
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
    if args.depth == 0 {
        bail!("invalid depth = 0: must be at least 1");
    }
    if !(args.sigma_b2_max.is_finite() && args.sigma_b2_max >= 0.0) {
        bail!("invalid sigma_b2_max = {}: must be finite and >= 0", args.sigma_b2_max);
    }
    if !(args.sigma_w2_max.is_finite() && args.sigma_w2_max > 0.0) {
        bail!("invalid sigma_w2_max = {}: must be finite and > 0", args.sigma_w2_max);
    }
    if let Some(path) = &args.plot {
        return plot(activation, path, &args);
    }
    if args.edge {
        return edge(activation, &args);
    }
    if args.recommend {
        return recommend(activation, &args);
    }
    let sigma_w2 = args.sigma_w2.unwrap_or_else(|| default_sigma_w2(&activation));
    let mf = MeanField::new(activation, sigma_w2, args.sigma_b2)?;
    let a = mf.analyze();
    let edge = MeanField::edge_of_chaos(activation, args.sigma_b2)?;
    let report = Report {
        activation: activation.to_string(),
        sigma_w2,
        sigma_b2: args.sigma_b2,
        q_star: a.q_star,
        chi1: a.chi1,
        c_star: a.c_star,
        xi_q: a.xi_q,
        xi_c: a.xi_c,
        phase: a.phase,
        gradient_growth: a.gradient_growth,
        trainable_depth: a.trainable_depth,
        depth: args.depth,
        gradient_factor_at_depth: a.chi1.powf(args.depth as f64),
        fixed_point: a.fixed_point,
        edge_sigma_w2: edge,
        verdict: verdict(&a, args.depth, edge),
    };
    if args.json {
        return crate::print_json(&report);
    }
    println!("{activation}  σ_w² = {sigma_w2}  σ_b² = {}", args.sigma_b2);
    println!("  q*               {}", opt(report.q_star));
    if let FixedPoint::Diverges { growth, .. } = a.fixed_point {
        println!("                   (no fixed point: the length grows {growth:.4}x per layer)");
    }
    println!("  chi1             {}   gradient growth per layer", num(a.chi1));
    println!("  c*               {}", opt(a.c_star));
    println!("  xi_q             {}   layers", opt(a.xi_q));
    println!("  xi_c             {}   layers", opt(a.xi_c));
    println!("  phase            {}", a.phase.name());
    println!("  trainable depth  {}   (≈ 6 ξ_c, Schoenholz et al. 2017)", num(a.trainable_depth));
    println!("  edge of chaos    σ_w² = {} at σ_b² = {}", opt(edge), args.sigma_b2);
    println!("{}", report.verdict);
    Ok(())
}

/// PyTorch's gain squared where PyTorch has one, else the second-moment gain squared.
fn default_sigma_w2(activation: &Activation) -> f64 {
    activation.torch_gain().unwrap_or_else(|| activation.second_moment_gain()).powi(2)
}

fn num(x: f64) -> String {
    if x.is_infinite() { "∞".into() } else { format!("{x:.6}") }
}

fn opt(x: Option<f64>) -> String {
    x.map_or_else(|| "—".into(), num)
}

/// A factor such as 1.2e9 or 3.4e-5, readable.
fn factor(x: f64) -> String {
    if x.is_infinite() || x > 1e300 {
        "more than 1e300".into()
    } else if (1e-3..1e4).contains(&x) {
        format!("{x:.3}")
    } else {
        format!("{x:.2e}")
    }
}

/// One sentence a practitioner can act on.
fn verdict(a: &Analysis, depth: usize, edge: Option<f64>) -> String {
    let total = a.chi1.powf(depth as f64);
    let toward = edge.map_or_else(String::new, |w| format!("; the edge of chaos at this σ_b² is σ_w² = {w:.4}"));
    let trainable = if a.trainable_depth >= depth as f64 {
        format!("depth {depth} is within the trainable depth ≈ {}", num(a.trainable_depth))
    } else {
        format!("depth {depth} is beyond the trainable depth ≈ {:.1}", a.trainable_depth)
    };
    if let FixedPoint::Diverges { growth, .. } = a.fixed_point {
        return format!(
            "exploding: pre-activations grow {growth:.3}x per layer with no fixed point, and gradients change {:.3}x per layer (x{} at depth {depth}); lower sigma_w2{toward}",
            a.chi1,
            factor(total)
        );
    }
    match a.phase {
        Phase::Critical => format!(
            "critical (edge of chaos): gradients keep their scale (χ₁ = {:.6}, x{} at depth {depth}) and signals propagate through any depth; {trainable}",
            a.chi1,
            factor(total)
        ),
        Phase::Ordered => format!(
            "ordered: gradients shrink {:.4}x per layer; at depth {depth} that is x{}, and inputs become indistinguishable over ξ_c = {:.1} layers; {trainable}{}",
            a.chi1,
            factor(total),
            a.xi_c.unwrap_or(f64::INFINITY),
            if a.trainable_depth >= depth as f64 { String::new() } else { format!(": raise sigma_w2{toward}") }
        ),
        Phase::Chaotic => format!(
            "chaotic: gradients grow {:.4}x per layer; at depth {depth} that is x{}, and nearby inputs decorrelate over ξ_c = {:.1} layers; {trainable}{}",
            a.chi1,
            factor(total),
            a.xi_c.unwrap_or(f64::INFINITY),
            if a.trainable_depth >= depth as f64 { String::new() } else { format!(": lower sigma_w2{toward}") }
        ),
    }
}

fn edge(activation: Activation, args: &Args) -> Result<()> {
    let steps = 12;
    let b: Vec<f64> = (0..=steps).map(|i| args.sigma_b2_max * i as f64 / steps as f64).collect();
    let curve = MeanField::edge_of_chaos_curve(activation, &b)?;
    let rows: Vec<EdgeRow> = curve.into_iter().map(|(sigma_b2, sigma_w2)| EdgeRow { sigma_b2, sigma_w2 }).collect();
    if args.json {
        return crate::print_json(&EdgeReport { activation: activation.to_string(), edge: rows });
    }
    println!("edge of chaos for {activation} (χ₁ = 1)");
    println!("  {:>10}  {:>12}", "sigma_b2", "sigma_w2");
    for row in rows {
        println!("  {:>10.4}  {:>12}", row.sigma_b2, row.sigma_w2.map_or_else(|| "—".into(), |w| format!("{w:.6}")));
    }
    Ok(())
}

fn recommend(activation: Activation, args: &Args) -> Result<()> {
    let r = Recommendation::for_depth(activation, args.depth)?;
    if args.json {
        return crate::print_json(&r);
    }
    let a = &r.analysis;
    println!("{activation} at depth {}", r.depth);
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
    println!("  phase        {} (χ₁ = {:.6}, q* = {})", a.phase.name(), a.chi1, opt(a.q_star));
    println!("  robust ξ_c   {} layers with σ_w² off by ±1%", num(r.robust_xi_c));
    println!("  why          {}", r.reason);
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
    report::phase_figure(&diagram, &edge, args.sigma_w2_max, args.sigma_b2_max, path)?;
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
