//! The valid range of every count and size a user controls in the lab: in an experiment's TOML,
//! in `nninit lab run`'s overrides and in `nninit probe`'s flags. Each is checked before any
//! data is loaded, any weight is allocated or any step runs, and a value outside its range is
//! a [`LabError::OutOfRange`] that names the value and the range.
//!
//! | value | valid range | why the bound |
//! |---|---|---|
//! | `depth` | 1 ..= 1,000 | the deepest built-in experiment has 150 layers |
//! | `width` | 1 ..= 8,192 | |
//! | parameters of one network | 1 ..= 2²⁸ | 1 GiB of f32 weights |
//! | hidden values of one batch (`batch` × width × positions × depth) | 1 ..= 2²⁸ | 1 GiB of f32 activations, kept for the backward pass |
//! | `seeds` | 1 ..= 1,000 | |
//! | `steps` | 1 ..= 1,000,000 | |
//! | `batch`, `probe_batch` | 1 ..= 65,536 | |
//! | `eval_every` | 1 ..= 1,000,000 | |
//! | runs of one experiment (configurations × seeds) | 1 ..= 100,000 | |
//! | LSUV `max_iterations` | 1 ..= 1,000 | |
//! | points of a `mean-field` `sigma_w2` grid | 1 ..= 1,000 | |
//! | `jobs` | 1 ..= 1,024 | |
//! | `lr` | (0, 10⁶] | |
//! | `lr / depth` (`lr_scaling = "inverse-depth"`) | (0, 10⁶] | the rate each run trains with; a tiny `lr` divided by the depth can round to 0 |
//! | `momentum` | [0, 1) | |
//! | LSUV `tolerance` | (0, 1) | |
//! | `loss_criterion` | (0, 10³⁰⁰] | |
//! | `sigma_w2` | (0, 10⁶] | |
//! | `sigma_b2`, `bias_std` | [0, 10⁶] | |
//! | GPT `vocab` | 2 ..= 256 | character (byte) level: a byte corpus has at most 256 symbols |
//! | GPT `context` | 1 ..= 8,192 | attention scores grow as context² per head |
//! | GPT `heads` | 1 ..= 1,024 | and they must divide `width` |
//! | GPT `mlp_width` | 1 ..= 32,768 | four times the largest `width` |
//! | DeepNorm `alpha` | (0, 10⁶] | the paper's decoder-only α = (2L)^(1/4) is below 7 for L ≤ 1,000 |

use std::fmt;
use std::ops::{Bound, RangeBounds};

use crate::error::{LabError, Result};

/// An inclusive range of a count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CountLimit {
    /// The value's name, as the TOML key or flag says it.
    pub name: &'static str,
    /// The smallest valid value.
    pub min: u128,
    /// The largest valid value.
    pub max: u128,
}

impl CountLimit {
    /// `value`, if it is in the range.
    ///
    /// # Errors
    /// [`LabError::OutOfRange`] naming `what` (the file or command), the value and the range.
    pub fn check(self, what: &str, value: impl Into<u128>) -> Result<()> {
        let value = value.into();
        if (self.min..=self.max).contains(&value) {
            Ok(())
        } else {
            Err(LabError::OutOfRange {
                what: what.to_string(),
                name: self.name,
                value: value.to_string(),
                valid: self.to_string(),
            })
        }
    }

    /// As [`check`](Self::check), for a `usize`.
    ///
    /// # Errors
    /// As [`check`](Self::check).
    pub fn check_usize(self, what: &str, value: usize) -> Result<usize> {
        self.check(what, value as u128).map(|()| value)
    }
}

impl CountLimit {
    /// A count given as a number that may not be whole (a TOML float, a `--param` value).
    ///
    /// # Errors
    /// [`LabError::OutOfRange`] for a value that is not a whole number in the range.
    pub fn check_real(self, what: &str, value: f64) -> Result<usize> {
        let whole = value.fract() == 0.0 && value >= self.min as f64 && value <= self.max as f64;
        if whole {
            // In range, so it fits: max is far below usize::MAX.
            self.check_usize(what, value as usize)
        } else {
            Err(LabError::OutOfRange {
                what: what.to_string(),
                name: self.name,
                value: real(value),
                valid: format!("whole numbers {self}"),
            })
        }
    }
}

impl fmt::Display for CountLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ..= {}", self.min, self.max)
    }
}

/// A range of a real number, each end open or closed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RealLimit {
    /// The value's name, as the TOML key or flag says it.
    pub name: &'static str,
    /// The lower end.
    pub low: Bound<f64>,
    /// The upper end.
    pub high: Bound<f64>,
}

impl RealLimit {
    /// `value`, if it is in the range (never NaN).
    ///
    /// # Errors
    /// [`LabError::OutOfRange`] naming `what` (the file or command), the value and the range.
    pub fn check(self, what: &str, value: f64) -> Result<f64> {
        if (self.low, self.high).contains(&value) {
            Ok(value)
        } else {
            Err(LabError::OutOfRange {
                what: what.to_string(),
                name: self.name,
                value: real(value),
                valid: self.to_string(),
            })
        }
    }
}

impl fmt::Display for RealLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.low {
            Bound::Included(v) => write!(f, "[{}, ", real(v))?,
            Bound::Excluded(v) => write!(f, "({}, ", real(v))?,
            Bound::Unbounded => write!(f, "(-inf, ")?,
        }
        match self.high {
            Bound::Included(v) => write!(f, "{}]", real(v)),
            Bound::Excluded(v) => write!(f, "{})", real(v)),
            Bound::Unbounded => write!(f, "inf)"),
        }
    }
}

/// A real number as a person reads it: plain where short, `1e300` where plain would be long.
fn real(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && a.is_finite() && !(1e-4..1e16).contains(&a) { format!("{v:e}") } else { v.to_string() }
}

const fn count(name: &'static str, min: u128, max: u128) -> CountLimit {
    CountLimit { name, min, max }
}

/// Hidden layers (MLP) or convolutions (CNN).
pub const DEPTH: CountLimit = count("depth", 1, 1000);
/// Units per hidden layer (MLP) or channels (CNN).
pub const WIDTH: CountLimit = count("width", 1, 8192);
/// Weights and biases of one network.
pub const PARAMETERS: CountLimit = count("parameters", 1, 1 << 28);
/// Hidden values of one batch: examples × width × positions × depth.
pub const HIDDEN_VALUES: CountLimit = count("batch x hidden values", 1, 1 << 28);
/// Seeds per configuration.
pub const SEEDS: CountLimit = count("seeds", 1, 1000);
/// Training steps per run.
pub const STEPS: CountLimit = count("steps", 1, 1_000_000);
/// Examples per training step.
pub const BATCH: CountLimit = count("batch", 1, 65_536);
/// Examples in the probe's (and LSUV's) batch.
pub const PROBE_BATCH: CountLimit = count("probe_batch", 1, 65_536);
/// Steps between evaluations.
pub const EVAL_EVERY: CountLimit = count("eval_every", 1, 1_000_000);
/// Validation windows a GPT run reads at each measurement.
pub const VALIDATION_WINDOWS: CountLimit = count("validation_windows", 1, 1_000_000);
/// Runs of one experiment: configurations × seeds.
pub const RUNS: CountLimit = count("runs (configurations x seeds)", 1, 100_000);
/// Shards an experiment is split into (`--shard INDEX/COUNT`): at most one per run.
pub const SHARDS: CountLimit = count("shards", 1, 100_000);
/// LSUV's rescalings per layer at most.
pub const LSUV_ITERATIONS: CountLimit = count("max_iterations", 1, 1000);
/// Points of a mean-field σ_w² grid.
pub const GRID_POINTS: CountLimit = count("sigma_w2 points", 1, 1000);
/// Runs trained in parallel.
pub const JOBS: CountLimit = count("jobs", 1, 1024);

/// Symbols of a character-level GPT's vocabulary (bytes: at most 256).
pub const VOCAB: CountLimit = count("vocab", 2, 256);
/// Positions of a GPT's context window (learned positions, causal attention over them).
pub const CONTEXT: CountLimit = count("context", 1, 8192);
/// Attention heads of a GPT block.
pub const HEADS: CountLimit = count("heads", 1, 1024);
/// Inner width of a GPT block's MLP.
pub const MLP_WIDTH: CountLimit = count("mlp_width", 1, 32_768);

/// DeepNorm's residual multiplier α of `x ← LN(α·x + F(x))`.
pub const DEEPNORM_ALPHA: RealLimit =
    RealLimit { name: "alpha", low: Bound::Excluded(0.0), high: Bound::Included(1e6) };

/// The learning rate.
pub const LR: RealLimit = RealLimit { name: "lr", low: Bound::Excluded(0.0), high: Bound::Included(1e6) };
/// The learning rate a run trains with under `lr_scaling = "inverse-depth"`: `lr / depth`.
pub const LR_PER_DEPTH: RealLimit = RealLimit { name: "lr / depth", ..LR };
/// SGD's momentum.
pub const MOMENTUM: RealLimit = RealLimit { name: "momentum", low: Bound::Included(0.0), high: Bound::Excluded(1.0) };
/// LSUV's |Var − 1| at which a layer is done.
pub const TOLERANCE: RealLimit = RealLimit { name: "tolerance", low: Bound::Excluded(0.0), high: Bound::Excluded(1.0) };
/// The smoothed loss whose first crossing is recorded.
pub const LOSS_CRITERION: RealLimit =
    RealLimit { name: "loss_criterion", low: Bound::Excluded(0.0), high: Bound::Included(1e300) };
/// The weight variance times fan-in of a mean-field initialization.
pub const SIGMA_W2: RealLimit = RealLimit { name: "sigma_w2", low: Bound::Excluded(0.0), high: Bound::Included(1e6) };
/// The bias variance of a mean-field initialization.
pub const SIGMA_B2: RealLimit = RealLimit { name: "sigma_b2", low: Bound::Included(0.0), high: Bound::Included(1e6) };
/// The standard deviation of normal biases.
pub const BIAS_STD: RealLimit = RealLimit { name: "bias_std", low: Bound::Included(0.0), high: Bound::Included(1e6) };

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_name_the_value_and_the_range() {
        let err = DEPTH.check("t.toml", 100_000_000u64).unwrap_err().to_string();
        assert_eq!(err, "t.toml: depth = 100000000 is out of range (valid: 1 ..= 1000)");
        assert!(DEPTH.check("t", 1u8).is_ok() && DEPTH.check("t", 1000u16).is_ok());
        assert!(DEPTH.check("t", 0u8).is_err() && DEPTH.check("t", 1001u16).is_err());
        let err = LR.check("t.toml", f64::NAN).unwrap_err().to_string();
        assert_eq!(err, "t.toml: lr = NaN is out of range (valid: (0, 1000000])");
        assert!(LR.check("t", 0.0).is_err() && LR.check("t", 1e6).is_ok() && LR.check("t", f64::INFINITY).is_err());
        assert!(MOMENTUM.check("t", 0.0).is_ok() && MOMENTUM.check("t", 1.0).is_err());
        let err = LR.check("t", 1e300).unwrap_err().to_string();
        assert_eq!(err, "t: lr = 1e300 is out of range (valid: (0, 1000000])");
        let err = LSUV_ITERATIONS.check_real("t", 2.5).unwrap_err().to_string();
        assert_eq!(err, "t: max_iterations = 2.5 is out of range (valid: whole numbers 1 ..= 1000)");
        assert_eq!(LSUV_ITERATIONS.check_real("t", 10.0).unwrap(), 10);
    }
}
