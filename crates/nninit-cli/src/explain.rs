//! `nninit explain`.

use anyhow::Result;
use clap::Args as ClapArgs;
use serde::Serialize;

use crate::rule::RuleArgs;

/// Arguments of `nninit explain`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    #[command(flatten)]
    rule: RuleArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Report {
    shape: Vec<usize>,
    layout: nninit::Layout,
    groups: usize,
    #[serde(flatten)]
    explanation: nninit::init::Explanation,
    rule: nninit::Init,
}

fn number(v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_string(), |v| format!("{v}"))
}

pub fn run(args: Args) -> Result<()> {
    let spec = args.rule.spec()?;
    let init = args.rule.init()?;
    let explanation = init.explain(&spec)?;
    if args.json {
        let report = Report {
            shape: spec.shape().dims().to_vec(),
            layout: spec.layout().clone(),
            groups: spec.groups(),
            explanation,
            rule: init,
        };
        return crate::print_json(&report);
    }
    let x = &explanation;
    let fan = |v: Option<u64>| v.map_or_else(|| "— (rank < 2: pass --fan-in/--fan-out)".to_string(), |v| v.to_string());
    println!("{} on {} (layout {}, groups {})", x.init, spec.shape(), args.rule.layout, spec.groups());
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
