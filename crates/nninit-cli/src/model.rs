//! The options shared by commands that take a whole model: `--config FILE`
//! or `--preset NAME`, and `--scheme S`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args as ClapArgs;
use nninit::DType;
use nninit::arch::Model;
use nninit::plan::Plan;
use nninit::scheme::Scheme;

/// A model and the scheme that initializes it.
#[derive(Debug, ClapArgs)]
pub struct ModelArgs {
    /// A Hugging Face config.json (gpt2, llama, mistral, qwen2, bert, vit).
    #[arg(long, value_name = "FILE", conflicts_with = "preset")]
    pub config: Option<PathBuf>,
    /// A built-in model: gpt2, gpt2-medium, bert-base, vit-base, llama-1b, llama-8b.
    #[arg(long, value_name = "NAME")]
    pub preset: Option<String>,
    /// The scheme: torch-default, hf, megatron, olmo-mitchell, small-init,
    /// t-fixup, deepnorm, mup[:BASE_WIDTH], zero.
    #[arg(long, value_name = "S")]
    pub scheme: Option<String>,
}

impl ModelArgs {
    /// Whether a model was asked for.
    pub fn given(&self) -> bool {
        self.config.is_some() || self.preset.is_some()
    }

    /// The model, its plan under the scheme, and the scheme.
    pub fn plan(&self, dtype: DType) -> Result<(Model, Plan, Scheme)> {
        let model = match (&self.config, &self.preset) {
            (Some(path), _) => {
                let json =
                    std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))?;
                Model::from_config_json(&json).with_context(|| format!("in `{}`", path.display()))?
            }
            (None, Some(name)) => Model::preset(name)?,
            (None, None) => bail!("give --config FILE or --preset NAME"),
        };
        let Some(scheme) = &self.scheme else {
            bail!("--scheme is required with --config/--preset (known: {})", nninit::scheme::SCHEME_NAMES)
        };
        let scheme = Scheme::parse(scheme)?;
        let plan = scheme.plan(&model, dtype)?;
        Ok((model, plan, scheme))
    }
}
