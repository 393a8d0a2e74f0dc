//! Mamba's initializations: the reference code's own (`mamba` scheme,
//! `state-spaces/mamba`) and transformers' `MambaPreTrainedModel._init_weights`
//! (the `hf` scheme on `mamba` models). `docs/schemes.md` gives the table and
//! where each formula comes from.

use super::{Rule, Scheme, normal, zero_bias};
use crate::activation::Activation;
use crate::arch::{Family, Model, TimeStep};
use crate::error::{Error, Result};
use crate::fan::FanMode;
use crate::init::{Constant, Distribution, Init, InverseSoftplusLogUniform, Uniform, VarianceScaling};
use crate::plan::{Part, PlannedTensor, Role};

/// The original code's embedding std (`mixer_seq_simple.py`, `_init_weights(initializer_range=0.02)`).
const MAMBA_EMBEDDING_STD: f64 = 0.02;

/// Which reference a Mamba rule follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Source {
    /// `state-spaces/mamba` (`mamba_simple.py`, `mixer_seq_simple.py`).
    Original,
    /// transformers' `MambaPreTrainedModel._init_weights`.
    Transformers,
}

/// Schemes without a rule for a state-space mixer refuse its tensors.
pub(super) fn refuse(scheme: &Scheme, t: &PlannedTensor) -> Error {
    Error::UnsupportedScheme {
        scheme: scheme.name(),
        tensor: t.name.clone(),
        reason: "it defines no rule for a state-space mixer (A_log, D, Δ, the depthwise conv); use `mamba` \
                 (the reference code's init), `hf` or `torch-default`"
            .into(),
    }
}

/// `kaiming_uniform_(w, a=√5)` (PyTorch's Linear/Conv default: U(±1/√fan_in)),
/// its variance divided by `divisor²`.
fn kaiming_uniform_sqrt5(divisor: f64) -> Result<Init> {
    if divisor == 1.0 {
        let a = Activation::LeakyRelu { negative_slope: 5f64.sqrt() };
        return Ok(VarianceScaling::kaiming_uniform(FanMode::FanIn, a)?.into());
    }
    // gain² = 2/(1 + a²) = 1/3, so Var = 1/(3·fan_in·divisor²).
    Ok(VarianceScaling::new(1.0 / (3.0 * divisor * divisor), FanMode::FanIn, Distribution::Uniform)?.into())
}

/// `dt_proj.weight`: U(±R^(−½)·scale) (`"random"`) or that constant (`"constant"`).
fn dt_weight(ts: TimeStep, reference: &str) -> Result<Rule> {
    let std = (ts.rank as f64).powf(-0.5) * ts.scale;
    let init = if ts.constant { Init::Constant(Constant::new(std)?) } else { Init::Uniform(Uniform::new(-std, std)?) };
    let how = if ts.constant { "constant_(dt_init_std)" } else { "uniform_(−dt_init_std, dt_init_std)" };
    Ok(Rule::new(init, format!("{reference}: dt_proj.weight {how}, dt_init_std = dt_rank^(−½)·dt_scale"))
        .num("dt_rank", ts.rank as f64)
        .num("dt_scale", ts.scale)
        .num("dt_init_std", std))
}

/// `dt_proj.bias`: softplus⁻¹ of dt ~ log-uniform in [dt_min, dt_max], floored.
fn dt_bias(ts: TimeStep, reference: &str) -> Result<Rule> {
    Ok(Rule::new(
        Init::InverseSoftplusLogUniform(InverseSoftplusLogUniform::new(ts.min, ts.max, ts.floor)?),
        format!(
            "{reference}: dt_proj.bias = dt + log(−expm1(−dt)) (inverse softplus), dt = exp(U(log dt_min, log \
             dt_max)).clamp(min=dt_init_floor)"
        ),
    )
    .num("dt_min", ts.min)
    .num("dt_max", ts.max)
    .num("dt_init_floor", ts.floor))
}

fn time_step(model: &Model, scheme: &'static str, t: &PlannedTensor) -> Result<TimeStep> {
    model.time_step().ok_or_else(|| Error::UnsupportedScheme {
        scheme,
        tensor: t.name.clone(),
        reason: format!("`{}` is not a Mamba model", model.model_type()),
    })
}

/// The rule of a Mamba tensor under `source` (norms are handled by the caller).
pub(super) fn rule(source: Source, model: &Model, t: &PlannedTensor) -> Result<Rule> {
    let scheme = match source {
        Source::Original => "mamba",
        Source::Transformers => "hf",
    };
    if model.family() != Family::Mamba {
        return Err(Error::UnsupportedScheme {
            scheme,
            tensor: t.name.clone(),
            reason: format!("it is the init of Mamba's selective state-space mixer; `{}` has none", model.model_type()),
        });
    }
    let (simple, seq, hf) = (
        "state-spaces/mamba mamba_simple.py Mamba.__init__",
        "state-spaces/mamba mixer_seq_simple.py _init_weights",
        "MambaPreTrainedModel._init_weights",
    );
    let mixer = match source {
        Source::Original => simple,
        Source::Transformers => hf,
    };
    let l = model.dims().layers as f64;
    let sigma = model.dims().initializer_range;
    Ok(match (t.role, t.part) {
        (Role::SsmStateLog, _) => Rule::new(
            Init::S4dRealLog,
            format!("{mixer}: S4D-Real, A_log = log(arange(1, d_state + 1)) repeated over the d_inner channels"),
        ),
        (Role::SsmSkip, _) => Rule::new(Init::Ones, format!("{mixer}: D = ones (the skip connection)")),
        (Role::SsmTimeStep, Part::Weight) => dt_weight(time_step(model, scheme, t)?, mixer)?,
        (Role::SsmTimeStep, Part::Bias) => dt_bias(time_step(model, scheme, t)?, mixer)?,
        (Role::SsmConv, Part::Weight) => {
            let why = match source {
                Source::Original => "nn.Conv1d reset_parameters (left alone by _init_weights)",
                Source::Transformers => "MambaPreTrainedModel._init_weights",
            };
            Rule::new(kaiming_uniform_sqrt5(1.0)?, format!("{why}: conv1d.weight kaiming_uniform_(a=√5) = U(±1/√k)"))
        }
        (Role::SsmConv, Part::Bias) => match source {
            Source::Original => {
                let bound = crate::torch::linear_bias_bound(t.spec.fan()?);
                Rule::new(
                    Init::Uniform(Uniform::new(-bound, bound)?),
                    "nn.Conv1d reset_parameters: bias U(±1/√fan_in); _init_weights zeroes only nn.Linear biases",
                )
                .num("fan_in", t.spec.fan()?.fan_in() as f64)
            }
            Source::Transformers => Rule::new(Init::Zeros, format!("{hf}: conv1d.bias zeros")),
        },
        (_, Part::Bias) => zero_bias(match source {
            Source::Original => "mixer_seq_simple.py _init_weights zeroes nn.Linear biases",
            Source::Transformers => "MambaPreTrainedModel._init_weights zeroes nn.Linear biases",
        }),
        (Role::MixerOut, _) => {
            let divisor = match source {
                Source::Original => l.sqrt(),
                Source::Transformers if model.rescale_prenorm_residual() == Some(true) => l.sqrt(),
                Source::Transformers => 1.0,
            };
            let how = match source {
                Source::Original => format!(
                    "{seq} (rescale_prenorm_residual, n_residuals_per_layer = 1): out_proj kaiming_uniform_(a=√5) \
                     then /√n_layer"
                ),
                Source::Transformers if divisor > 1.0 => {
                    format!("{hf}: out_proj kaiming_uniform_(a=√5), /√num_hidden_layers (rescale_prenorm_residual)")
                }
                Source::Transformers => {
                    format!("{hf}: out_proj kaiming_uniform_(a=√5) (rescale_prenorm_residual false: not depth-scaled)")
                }
            };
            Rule::new(kaiming_uniform_sqrt5(divisor)?, how).num("n_layer", l).num("divisor", divisor)
        }
        (Role::Embedding | Role::Head, _) => match source {
            Source::Original if t.role == Role::Embedding => Rule::new(
                normal(MAMBA_EMBEDDING_STD)?,
                format!("{seq}: nn.Embedding normal_(std=initializer_range = 0.02)"),
            )
            .num("std", MAMBA_EMBEDDING_STD),
            Source::Original => Rule::new(
                kaiming_uniform_sqrt5(1.0)?,
                "an untied lm_head keeps nn.Linear's default (_init_weights touches only Linear biases)",
            ),
            Source::Transformers => Rule::new(normal(sigma)?, format!("{hf}: normal_(std=initializer_range)"))
                .num("initializer_range", sigma),
        },
        // in_proj, x_proj (and any other Linear).
        _ => match source {
            Source::Original => Rule::new(
                kaiming_uniform_sqrt5(1.0)?,
                format!("nn.Linear reset_parameters, left alone by {seq}: kaiming_uniform_(a=√5) = U(±1/√fan_in)"),
            ),
            Source::Transformers => {
                Rule::new(normal(sigma)?, format!("{hf}: nn.Linear normal_(std=initializer_range)"))
                    .num("initializer_range", sigma)
            }
        },
    })
}
