//! What a rule will do to a tensor, before it does it.

use serde::Serialize;

use super::Initializer;
use crate::error::{Error, Result};
use crate::fan::{Fan, FanMode};
use crate::spec::TensorSpec;

/// The numbers behind one initialization: formula, fans, gain, std and bound.
///
/// `std` is the standard deviation of the values the rule produces (the RMS
/// for deterministic and structured rules), `bound` the largest magnitude it
/// can produce, `None` where unbounded.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    /// The rule's canonical name.
    pub init: &'static str,
    /// The formula with this tensor's numbers substituted.
    pub formula: String,
    /// Inputs per output unit, where the fans are known.
    pub fan_in: Option<u64>,
    /// Outputs per input unit, where the fans are known.
    pub fan_out: Option<u64>,
    /// The gain, for rules that have one.
    pub gain: Option<f64>,
    /// Mean of the values.
    pub mean: Option<f64>,
    /// Standard deviation of the values.
    pub std: Option<f64>,
    /// Largest magnitude a value can take.
    pub bound: Option<f64>,
    /// The equivalent calls in PyTorch, JAX and Keras, and any difference
    /// ([`Initializer::equivalent`]).
    pub equivalent: String,
}

pub(super) fn mode_formula(mode: FanMode) -> &'static str {
    match mode {
        FanMode::FanIn => "gain / √fan_in",
        FanMode::FanOut => "gain / √fan_out",
        FanMode::FanAvg => "gain · √(2 / (fan_in + fan_out))",
    }
}

impl Explanation {
    /// The explanation of `rule` for `spec` before the rule's own numbers: its
    /// name and counterparts, the fans where they are known, mean 0, and the
    /// fans themselves for the rule to use.
    ///
    /// # Errors
    /// [`Error::RankTooSmall`] when the rule [needs fans](Initializer::needs_fan)
    /// and `spec` has rank < 2 without explicit ones; the other errors of
    /// [`TensorSpec::fan`].
    pub(crate) fn start(rule: &(impl Initializer + ?Sized), spec: &TensorSpec) -> Result<(Self, Option<Fan>)> {
        let fan = match spec.fan() {
            Ok(fan) => Some(fan),
            Err(e @ Error::RankTooSmall { .. }) if rule.needs_fan() => return Err(e),
            Err(Error::RankTooSmall { .. }) => None,
            Err(e) => return Err(e),
        };
        let x = Self {
            init: rule.name(),
            formula: String::new(),
            fan_in: fan.map(|f| f.fan_in()),
            fan_out: fan.map(|f| f.fan_out()),
            gain: None,
            mean: Some(0.0),
            std: None,
            bound: None,
            equivalent: rule.equivalent().to_string(),
        };
        Ok((x, fan))
    }
}

/// `Σ_{j<n} (−1)^popcount(i & j)`, the sum of the first `n` entries of row
/// `i` of a Sylvester–Hadamard matrix, in O(log n) instead of O(n): split
/// `0..n` into the blocks `prefix + [0, 2^b)` of the set bits b of n; over a
/// block the low bits run through all 2^b patterns, which sum to 2^b when `i`
/// has no bit below b and cancel otherwise.
pub(super) fn hadamard_row_sum(i: usize, n: usize) -> i64 {
    let mut sum = 0i64;
    let mut prefix = 0usize;
    for b in (0..usize::BITS).rev() {
        let bit = 1usize << b;
        if n & bit != 0 {
            if i & (bit - 1) == 0 {
                let sign = if (i & prefix).count_ones().is_multiple_of(2) { 1 } else { -1 };
                sum += sign * bit as i64;
            }
            prefix |= bit;
        }
    }
    sum
}

#[cfg(test)]
#[test]
fn hadamard_row_sum_matches_the_direct_sum() {
    for i in 0..70 {
        for n in 0..70 {
            let direct: i64 = (0..n).map(|j: usize| if (i & j).count_ones().is_multiple_of(2) { 1 } else { -1 }).sum();
            assert_eq!(hadamard_row_sum(i, n), direct, "i = {i}, n = {n}");
        }
    }
}
