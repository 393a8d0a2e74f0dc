//! `nninit theory`: mean-field signal propagation for one activation.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::Args as ClapArgs;
use nninit::activation::Activation;
use nninit::theory::{self, Analysis, FixedPoint, LengthFixedPoint, MeanField, Phase, Recommendation, Stability};
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
    /// The input length the network starts from.
    q0: f64,
    /// What the length does from q⁰: the fixed point used for everything above.
    fixed_point: FixedPoint,
    /// That fixed point's stability.
    stability: Option<Stability>,
    /// Every fixed point of the length map, the one used among them.
    fixed_points: Vec<LengthFixedPoint>,
    /// The critical σ_w² at this σ_b²: χ₁ = 1 at a stable fixed point reached from q⁰.
    edge_sigma_w2: Option<f64>,
    verdict: String,
}

/// The `--json` output of `--recommend`: the recommendation and the same report as
/// `nninit theory A --sigma-w2 X --sigma-b2 Y --q0 Q` at its point.
#[derive(Serialize)]
struct RecommendReport<'a> {
    #[serde(flatten)]
    recommendation: &'a Recommendation,
    point: Report,
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
    let report = point(activation, sigma_w2, args.sigma_b2, args.q0, args.depth)?;
    if args.json {
        return crate::print_json(&report);
    }
    println!("{activation}  σ_w² = {sigma_w2}  σ_b² = {}  q⁰ = {}", args.sigma_b2, args.q0);
    print_point(&report);
    Ok(())
}

/// The theory at one point, from q⁰: the one report `theory` and `--recommend` share.
fn point(activation: Activation, sigma_w2: f64, sigma_b2: f64, q0: f64, depth: usize) -> Result<Report> {
    let mf = MeanField::new(activation, sigma_w2, sigma_b2)?;
    let a = mf.analyze_from(q0)?;
    let edge = MeanField::edge_of_chaos_from(activation, sigma_b2, q0)?;
    let fixed_points = mf.fixed_points();
    Ok(Report {
        activation: activation.to_string(),
        sigma_w2,
        sigma_b2,
        q_star: a.q_star,
        chi1: a.chi1,
        c_star: a.c_star,
        xi_q: a.xi_q,
        xi_c: a.xi_c,
        phase: a.phase,
        gradient_growth: a.gradient_growth,
        trainable_depth: a.trainable_depth,
        depth,
        gradient_factor_at_depth: a.chi1.powf(depth as f64),
        q0,
        fixed_point: a.fixed_point,
        stability: a.stability,
        verdict: verdict(&a, depth, edge, &fixed_points),
        fixed_points,
        edge_sigma_w2: edge,
    })
}

fn print_point(report: &Report) {
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

/// Kaiming's gain squared ([`Activation::kaiming_gain`]).
fn default_sigma_w2(activation: &Activation) -> f64 {
    activation.kaiming_gain().powi(2)
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
fn verdict(a: &Analysis, depth: usize, edge: Option<f64>, points: &[LengthFixedPoint]) -> String {
    let total = a.chi1.powf(depth as f64);
    if a.stability == Some(Stability::Unstable) {
        return format!(
            "unstable: q⁰ = {} is itself an unstable fixed point (V′ > 1); a finite network leaves it at once, for the next stable fixed point or for divergence, so nothing here describes a real network; start from another q⁰ or move σ_w²",
            a.q0
        );
    }
    let others = points
        .iter()
        .filter(|p| p.stability == Stability::Unstable && a.q_star.is_some_and(|q| p.q_star > q))
        .map(|p| p.q_star)
        .fold(f64::INFINITY, f64::min);
    let basin = if others.is_finite() {
        format!("; inputs of length above {} (an unstable fixed point) leave this fixed point", num(others))
    } else {
        String::new()
    };
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
    if a.q_star == Some(0.0) && a.phase == Phase::Critical {
        return format!(
            "critical but degenerate: the length decays to q* = 0, where every layer acts like its linearization φ′(0)·x, so the network computes close to a linear function of its input and depth adds no expressivity (gradients keep their scale, χ₁ = {:.6}); add a bias (σ_b² > 0) to sit at a nonzero q*{toward}",
            a.chi1
        );
    }
    let verdict = match a.phase {
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
            match (a.trainable_depth >= depth as f64, edge) {
                (true, _) => String::new(),
                (false, Some(_)) => format!(": raise sigma_w2{toward}"),
                // Raising σ_w² would not reach χ₁ = 1 here: the length loses its fixed point first.
                (false, None) =>
                    "; no σ_w² reaches χ₁ = 1 at a stable fixed point at this σ_b², and past the largest σ_w² with a fixed point the length grows without bound".to_owned(),
            }
        ),
        Phase::Chaotic => format!(
            "chaotic: gradients grow {:.4}x per layer; at depth {depth} that is x{}, and nearby inputs decorrelate over ξ_c = {:.1} layers; {trainable}{}",
            a.chi1,
            factor(total),
            a.xi_c.unwrap_or(f64::INFINITY),
            if a.trainable_depth >= depth as f64 { String::new() } else { format!(": lower sigma_w2{toward}") }
        ),
    };
    format!("{verdict}{basin}")
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
    let r = Recommendation::for_depth_from(activation, args.depth, args.q0)?;
    let report = point(activation, r.sigma_w2, r.sigma_b2, args.q0, r.depth)?;
    if args.json {
        return crate::print_json(&RecommendReport { recommendation: &r, point: report });
    }
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
    print_point(&report);
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
