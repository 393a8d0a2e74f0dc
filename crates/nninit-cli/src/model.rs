//! The options shared by commands that take a whole model: `--config FILE`
//! or `--preset NAME`, and `--scheme S`.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args as ClapArgs;
use nninit::DType;
use nninit::arch::Model;
use nninit::plan::Plan;
use nninit::scheme::Scheme;

/// A model and the scheme that initializes it.
#[derive(Debug, ClapArgs)]
pub struct ModelArgs {
    /// A Hugging Face config.json (its `model_type`: one of [`nninit::arch::MODEL_TYPES`]).
    #[arg(long, value_name = "FILE", conflicts_with = "preset",
          help = format!("A Hugging Face config.json (model_type {})", nninit::arch::MODEL_TYPES))]
    pub config: Option<PathBuf>,
    /// A built-in model (one of [`nninit::arch::PRESETS`]).
    #[arg(long, value_name = "NAME", help = format!("A built-in model: {}", nninit::arch::preset_names()))]
    pub preset: Option<String>,
    /// The scheme (one of [`nninit::scheme::SCHEME_NAMES`]).
    #[arg(long, value_name = "S", help = format!("The scheme: {}", nninit::scheme::SCHEME_NAMES))]
    pub scheme: Option<String>,
}

impl ModelArgs {
    /// Whether a model was asked for.
    pub fn given(&self) -> bool {
        self.config.is_some() || self.preset.is_some()
    }

    /// The model, its plan under the scheme, and the scheme.
    pub fn plan(&self, dtype: DType) -> Result<(Model, Plan, Scheme)> {
        if !self.given() {
            bail!("give --config FILE or --preset NAME");
        }
        let model = nninit::report::model(self.config.as_deref(), self.preset.as_deref())?;
        let Some(scheme) = &self.scheme else {
            bail!("--scheme is required with --config/--preset (known: {})", nninit::scheme::SCHEME_NAMES)
        };
        let scheme = Scheme::parse(scheme)?;
        let plan = scheme.plan(&model, dtype)?;
        Ok((model, plan, scheme))
    }
}
