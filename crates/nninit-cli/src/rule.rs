//! The options shared by every command that builds a rule for one tensor.

use anyhow::{Context, Result, bail};
use clap::Args as ClapArgs;
use nninit::activation::Activation;
use nninit::init::{Correction, Distribution};
use nninit::{Fan, FanMode, Init, InitParams, Layout, Shape, TensorSpec};

/// An initializer and the tensor it applies to.
#[derive(Debug, ClapArgs)]
pub struct RuleArgs {
    /// The initializer: normal, uniform, truncated_normal, xavier_uniform,
    /// kaiming_normal, lecun_normal, orthogonal, sparse, dirac, zero, ...
    pub init: Option<String>,
    /// Tensor shape, comma-separated: 64,32 or 128,64,3,3 (required with an initializer).
    #[arg(long, value_name = "DIMS")]
    pub shape: Option<String>,
    /// Storage layout: torch ([out, in, k...]), torch-transposed ([in, out/groups, k...]),
    /// jax ([k..., in, out]) or axes:IN;OUT (e.g. axes:0;1,2).
    #[arg(long, default_value = "torch")]
    pub layout: String,
    /// Groups of a grouped convolution (also dirac's groups).
    #[arg(long, default_value_t = 1)]
    pub groups: usize,
    /// Explicit fan-in (with --fan-out), for tensors of rank < 2 such as a bias.
    #[arg(long, requires = "fan_out")]
    pub fan_in: Option<u64>,
    /// Explicit fan-out (with --fan-in).
    #[arg(long, requires = "fan_in")]
    pub fan_out: Option<u64>,
    /// Fan mode: fan_in, fan_out or fan_avg (kaiming, variance_scaling).
    #[arg(long)]
    pub mode: Option<String>,
    /// Activation for the gain (kaiming): relu, leaky_relu, tanh, selu, gelu, silu, ...
    #[arg(long)]
    pub nonlinearity: Option<String>,
    /// The activation's parameter (leaky_relu's negative slope, elu's alpha, ...).
    #[arg(long, requires = "nonlinearity", allow_negative_numbers = true)]
    pub param: Option<f64>,
    /// Gain (xavier, orthogonal, delta_orthogonal).
    #[arg(long, allow_negative_numbers = true)]
    pub gain: Option<f64>,
    /// Scale (variance_scaling: std = √(scale / fan)).
    #[arg(long, allow_negative_numbers = true)]
    pub scale: Option<f64>,
    /// Distribution (variance_scaling): normal, uniform or truncated_normal.
    #[arg(long)]
    pub distribution: Option<String>,
    /// Mean (normal, truncated_normal).
    #[arg(long, allow_negative_numbers = true)]
    pub mean: Option<f64>,
    /// Standard deviation (normal, truncated_normal, sparse).
    #[arg(long, allow_negative_numbers = true)]
    pub std: Option<f64>,
    /// Lower end (uniform) or absolute lower bound (truncated_normal, PyTorch's a).
    #[arg(long, short = 'a', allow_negative_numbers = true)]
    pub low: Option<f64>,
    /// Upper end (uniform) or absolute upper bound (truncated_normal, PyTorch's b).
    #[arg(long, short = 'b', allow_negative_numbers = true)]
    pub high: Option<f64>,
    /// Lower truncation bound in units of σ (truncated_normal, JAX's lower).
    #[arg(long, allow_negative_numbers = true)]
    pub lower: Option<f64>,
    /// Upper truncation bound in units of σ (truncated_normal, JAX's upper).
    #[arg(long, allow_negative_numbers = true)]
    pub upper: Option<f64>,
    /// Variance correction for bounds in σ: none or preserve-std.
    #[arg(long)]
    pub correction: Option<String>,
    /// Value (constant).
    #[arg(long, allow_negative_numbers = true)]
    pub value: Option<f64>,
    /// Fraction of each column set to zero (sparse).
    #[arg(long, allow_negative_numbers = true)]
    pub sparsity: Option<f64>,
}

impl RuleArgs {
    /// The tensor's geometry.
    pub fn spec(&self) -> Result<TensorSpec> {
        let Some(shape) = &self.shape else { bail!("--shape is required (e.g. --shape 64,32)") };
        let shape = Shape::parse(shape).context("invalid --shape")?;
        let layout = Layout::parse(&self.layout)?;
        let mut spec = TensorSpec::new(shape).with_layout(layout).with_groups(self.groups);
        if let (Some(fan_in), Some(fan_out)) = (self.fan_in, self.fan_out) {
            spec = spec.with_fan(Fan::new(fan_in, fan_out)?);
        }
        Ok(spec)
    }

    /// The validated rule.
    pub fn init(&self) -> Result<Init> {
        let nonlinearity = match &self.nonlinearity {
            Some(name) => Some(Activation::parse(name, self.param)?),
            None => None,
        };
        let correction = self.correction.as_deref().map(Correction::parse).transpose()?;
        let params = InitParams {
            gain: self.gain,
            scale: self.scale,
            mode: self.mode.as_deref().map(FanMode::parse).transpose()?,
            nonlinearity,
            distribution: self.distribution.as_deref().map(Distribution::parse).transpose()?,
            mean: self.mean,
            std: self.std,
            low: self.low,
            high: self.high,
            lower: self.lower,
            upper: self.upper,
            correction,
            value: self.value,
            sparsity: self.sparsity,
            groups: (self.groups != 1).then_some(self.groups),
        };
        let Some(name) = &self.init else { bail!("give an initializer: normal, xavier_uniform, kaiming_normal, ...") };
        Ok(Init::parse(name, &params)?)
    }
}
