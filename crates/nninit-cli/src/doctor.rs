//! `nninit doctor`: what a checkpoint's weights say, and what is wrong.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args as ClapArgs, ValueEnum};
use nninit::doctor::{self, Options, Report, Severity, Verdict};
use nninit::report::DoctorReport;
use nninit::scheme::Scheme;

/// Arguments of `nninit doctor`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// A .safetensors file, a sharded folder (model.safetensors.index.json),
    /// or a Hugging Face model folder (config.json + weights).
    path: PathBuf,
    /// The model's config.json, when it is not beside the weights.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Exit with code 1 when a tensor does not follow this scheme (one of
    /// [`nninit::scheme::SCHEME_NAMES`]).
    #[arg(long, value_name = "SCHEME",
          help = format!("Exit with code 1 when a tensor does not follow this scheme ({})", nninit::scheme::SCHEME_NAMES))]
    expect: Option<String>,
    /// Lanczos passes per matrix for the spectral norm (each reads the
    /// matrix once), 0 (skips spectra) to 1000.
    #[arg(long, default_value_t = doctor::SPECTRAL_ITERATIONS)]
    iterations: usize,
    /// Exit with code 1 when a finding at or above this severity is reported
    /// (`never`: only `--expect` sets the exit code).
    #[arg(long, value_enum, default_value_t = FailOn::Error, value_name = "SEVERITY")]
    fail_on: FailOn,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// The least severity that fails the run (`--fail-on`), as linters gate a pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Fail on errors.
    Error,
    /// Fail on warnings and errors.
    Warning,
    /// Never fail on findings.
    Never,
}

impl FailOn {
    /// The least severity that fails, if any does.
    fn severity(self) -> Option<Severity> {
        match self {
            Self::Error => Some(Severity::Error),
            Self::Warning => Some(Severity::Warning),
            Self::Never => None,
        }
    }
}

/// Runs the doctor; `Ok(false)` (exit 1) when the checkpoint does not follow
/// `--expect`, or when a finding at or above `--fail-on` is reported.
pub fn run(args: Args) -> Result<bool> {
    let expect = args.expect.as_deref().map(Scheme::parse).transpose()?;
    let options = Options { expect, iterations: args.iterations };
    let DoctorReport { report, seconds } = DoctorReport::examine(&args.path, args.config.as_deref(), &options)?;
    if args.json {
        crate::print_json(&serde_json::json!({ "report": report, "seconds": seconds }))?;
    } else {
        print_text(&report, seconds);
    }
    let failing = args.fail_on.severity().map_or(0, |s| report.count(s));
    Ok(report.expected_followed != Some(false) && failing == 0)
}

fn print_text(r: &Report, seconds: f64) {
    println!(
        "{}: {} tensors, {} parameters, {:.1} MB{} — examined in {seconds:.2} s",
        r.path,
        r.tensor_count,
        r.parameters,
        r.bytes as f64 / 1e6,
        r.model.as_ref().map(|m| format!(", model {m}")).unwrap_or_default()
    );
    match &r.verdict {
        Verdict::Init { scheme, also } if also.is_empty() => println!("verdict: initialized with `{scheme}`"),
        Verdict::Init { scheme, also } => {
            println!("verdict: initialized with `{scheme}` (same rules here: {})", also.join(", "))
        }
        Verdict::InitWithDeviations { scheme, parameter_fraction, deviating } => println!(
            "verdict: initialized with `{scheme}` ({:.1}% of parameters), {deviating} tensor(s) deviate",
            parameter_fraction * 100.0
        ),
        Verdict::Trained { evidence } => {
            println!("verdict: trained");
            for e in evidence {
                println!("  - {e}");
            }
        }
        Verdict::Unknown { reason } => println!("verdict: unknown: {reason}"),
    }
    if let Some(ok) = r.expected_followed {
        println!("expected scheme: {}", if ok { "followed" } else { "NOT followed" });
    }
    if !r.schemes.is_empty() {
        println!("\nscheme          consistent tensors   parameters");
        for f in &r.schemes {
            match &f.not_applicable {
                Some(why) => println!("{:<15} n/a: {why}", f.scheme),
                None => println!(
                    "{:<15} {:>8} / {:<8}   {:>6.1}%",
                    f.scheme,
                    f.consistent,
                    f.tested,
                    f.parameter_fraction * 100.0
                ),
            }
        }
    }
    let count = |s: Severity| r.findings.iter().filter(|f| f.severity == s).count();
    println!(
        "\nfindings: {} error(s), {} warning(s), {} info",
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info)
    );
    for f in &r.findings {
        let sev = f.severity.name();
        match &f.tensor {
            Some(t) => println!("  {sev:<7} [{}] {t}: {}", f.kind, f.message),
            None => println!("  {sev:<7} [{}] {}", f.kind, f.message),
        }
        println!("          fix: {}", f.fix);
    }
    println!(
        "\n{:<52} {:<5} {:<14} {:>10} {:>10} {:>10} {:>10} {:>7} {:>8} {:>9} {:>9} {:>6}  consistent with",
        "tensor", "dtype", "shape", "mean", "std", "min", "max", "nan/inf", ">6std", "std√fanin", "σ_max", "orth"
    );
    for t in &r.tensors {
        let shape = format!("{:?}", t.shape).replace(' ', "");
        let Some(s) = &t.stats else {
            println!("{:<52} {:<5} {:<14} (not analysed: not a float tensor)", t.name, t.dtype, shape);
            continue;
        };
        let opt = |v: Option<f64>, p: usize| v.map_or("-".to_string(), |v| format!("{v:.p$}"));
        println!(
            "{:<52} {:<5} {:<14} {:>10.3e} {:>10.3e} {:>10.3e} {:>10.3e} {:>7} {:>8.1e} {:>9} {:>9} {:>6}  {}",
            t.name,
            t.dtype,
            shape,
            s.mean,
            s.std,
            s.min,
            s.max,
            s.nan + s.inf,
            s.beyond_6_std,
            opt(t.std_sqrt_fan_in, 3),
            opt(t.spectral.map(|x| x.norm), 3),
            opt(t.spectral.map(|x| x.orthogonality), 2),
            if t.consistent_with.is_empty() { "-".to_string() } else { t.consistent_with.join(",") }
        );
    }
    for n in &r.notes {
        println!("note: {n}");
    }
    let skipped: Vec<&str> =
        r.tensors.iter().filter(|t| t.spectral_skipped.is_some()).map(|t| t.name.as_str()).collect();
    if !skipped.is_empty() {
        println!("note: no spectral analysis (too large) for: {}", skipped.join(", "));
    }
}
