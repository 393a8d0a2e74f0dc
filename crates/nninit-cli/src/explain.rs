//! `nninit explain`: one tensor, or a whole model's plan under a scheme.

use std::io::Write;

use anyhow::Result;
use clap::Args as ClapArgs;
use nninit::report::{ExplainReport, PlanReport};

use crate::model::ModelArgs;
use crate::rule::RuleArgs;

/// Arguments of `nninit explain`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    #[command(flatten)]
    rule: RuleArgs,
    #[command(flatten)]
    model: ModelArgs,
    /// Element type for a model's plan (sizes in the table).
    #[arg(long, default_value = "f32")]
    dtype: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn number(v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_string(), |v| format!("{v}"))
}

pub fn run(args: Args) -> Result<()> {
    let rule = &args.rule;
    match (rule.init.is_some() || rule.shape.is_some(), args.model.given()) {
        (true, true) => anyhow::bail!("give either an initializer with --shape, or --config/--preset, not both"),
        (false, true) => return run_plan(&args),
        (false, false) => anyhow::bail!(
            "give an initializer and --shape (nninit explain normal --shape 64,32), or --config/--preset with --scheme"
        ),
        (true, false) => {}
    }
    let spec = rule.spec()?;
    let init = rule.init()?;
    let report = ExplainReport::new(&init, &spec)?;
    if args.json {
        return crate::print_json(&report);
    }
    let x = &report.explanation;
    let fan = |v: Option<u64>| v.map_or_else(|| "— (rank < 2: pass --fan-in/--fan-out)".to_string(), |v| v.to_string());
    println!("{} on {} (layout {}, groups {})", x.init, spec.shape(), rule.layout, spec.groups());
    println!("  formula   {}", x.formula);
    println!("  fan_in    {}", fan(x.fan_in));
    println!("  fan_out   {}", fan(x.fan_out));
    println!("  gain      {}", number(x.gain));
    println!("  mean      {}", number(x.mean));
    println!("  std       {}", number(x.std));
    println!("  bound     {}", number(x.bound));
    println!("  same as   {}", x.equivalent);
    println!("  config    {}", serde_json::to_string(&init)?);
    Ok(())
}

/// A rule in a few words: `normal(0, 0.02)`, `xavier_normal(gain 0.3)`.
fn short_rule(init: &nninit::Init) -> String {
    let json = serde_json::to_value(init).unwrap_or_default();
    let mut parts = Vec::new();
    if let Some(map) = json.as_object() {
        for (k, v) in map {
            if k == "init" {
                continue;
            }
            let v = match v {
                serde_json::Value::Object(o) => {
                    o.values().map(|x| x.to_string().trim_matches('"').to_string()).collect::<Vec<_>>().join(" ")
                }
                other => other.to_string().trim_matches('"').to_string(),
            };
            parts.push(format!("{k} {v}"));
        }
    }
    if parts.is_empty() { init.name().to_string() } else { format!("{}({})", init.name(), parts.join(", ")) }
}

fn run_plan(args: &Args) -> Result<()> {
    let dtype = nninit::DType::parse(&args.dtype)?;
    let (_, plan, scheme) = args.model.plan(dtype)?;
    let report = PlanReport::new(&plan, &scheme)?;
    if args.json {
        return crate::print_json(&report);
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} ({}) under {}: {} tensors, {} parameters, {:.1} MB in {}",
        report.architecture,
        report.model_class,
        report.scheme,
        plan.tensors.len(),
        report.parameters,
        report.total_size as f64 / 1e6,
        dtype
    )?;
    let width = report.tensors.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    writeln!(out, "{:<width$}  {:<18}  {:<40}  {:<12}  why", "name", "shape", "rule", "std")?;
    for r in &report.tensors {
        let shape = format!("{:?}", r.shape);
        let (rule, std) = match (&r.rule, &r.tied_to) {
            (Some(rule), _) => (short_rule(rule), r.std.map_or_else(|| "—".into(), |s| format!("{s:.6}"))),
            (None, Some(source)) => (format!("tied to {source}"), "—".into()),
            (None, None) => ("—".into(), "—".into()),
        };
        let lr = r.lr_multiplier.map_or_else(String::new, |m| format!(" [lr × {m}]"));
        writeln!(out, "{:<width$}  {shape:<18}  {rule:<40}  {std:<12}  {}{lr}", r.name, r.why)?;
    }
    Ok(())
}
