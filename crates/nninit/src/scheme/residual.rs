//! Initializations for residual networks without normalization: Fixup, SkipInit and ReZero.
//!
//! A residual network of `L` branches, `h ← h + m·F(h)`, each branch `F` a stack of `k` weight
//! layers, sums `L` branch outputs into its residual stream. At He init each branch has the
//! variance of its input, so the stream's variance at least doubles per block (`2^L`). The three
//! schemes make the sum start at (or near) the identity instead:
//!
//! | scheme | branch's inner layers | branch's last layer | classifier | multiplier `m` | scalar biases |
//! |---|---|---|---|---|---|
//! | [`Fixup`](ResidualScheme::Fixup) | He (fan_out) × `L^(−1/(2k−2))` | 0 | 0 | 1 | 0 |
//! | [`SkipInit`](ResidualScheme::SkipInit) | He (fan_in) | He (fan_in) | He (fan_in) | 0 | — |
//! | [`ReZero`](ResidualScheme::ReZero) | Xavier uniform | Xavier uniform | Xavier uniform | 0 | — |
//!
//! - **Fixup** (Zhang, Dauphin & Ma 2019, "Fixup Initialization: Residual Learning Without
//!   Normalization", §3; the authors' `hongyi-zhang/Fixup`, `fixup_resnet_cifar.py`): the layers
//!   of each branch but the last are He-initialized and rescaled by `L^(−1/(2k−2))` (k = 2:
//!   `L^(−1/2)`), the last layer of every branch and the classifier start at 0, a scalar bias
//!   (init 0) sits before each weight layer and activation, and a scalar multiplier (init 1)
//!   after the branch's last layer. The authors' code uses He's fan_out mode
//!   (`std = √(2 / (C_out·k²))`), which this module follows; for a square dense layer the two
//!   modes agree. PyTorch: `nn.init.normal_(fc1.weight, 0, math.sqrt(2 / fc1.weight.shape[0]) *
//!   L ** (-1 / (2 * k - 2)))`, `nn.init.zeros_(fc2.weight)`; JAX:
//!   `variance_scaling(2 * L ** (-1 / (k - 1)), "fan_out", "normal")` (untruncated).
//! - **SkipInit** (De & Smith 2020, "Batch Normalization Biases Residual Blocks Towards the
//!   Identity Function in Deep Networks", §4): normalization removed, a learned scalar at the
//!   end of every branch initialized to 0, the layers at their usual (He) init. PyTorch:
//!   `nn.init.kaiming_normal_(w, nonlinearity="relu")` and `alpha = nn.Parameter(torch.zeros(1))`.
//! - **ReZero** (Bachlechner et al. 2020, "ReZero is All You Need: Fast Convergence at Large
//!   Depth", §3–4; `majumderb/rezero`): `h ← h + α·F(h)` with one `α` per block initialized to 0;
//!   the paper's fully connected networks keep Xavier (Glorot) initialization for the layers
//!   (recalled from the paper, §4.1; its released code is the Transformer's, whose linear layers
//!   are `xavier_uniform_`). PyTorch: `nn.init.xavier_uniform_(w)`,
//!   `resweight = nn.Parameter(torch.zeros(1))`.
//!
//! ```
//! use nninit::activation::Activation;
//! use nninit::scheme::residual::{ResidualDepth, ResidualRole, ResidualScheme};
//! use nninit::{Fan, Init};
//! // 16 blocks of two layers: Fixup scales the first layer's He std by 16^(-1/2) = 1/4.
//! let depth = ResidualDepth::new(16, 2)?;
//! let Init::VarianceScaling(first) = ResidualScheme::Fixup.rule(depth, ResidualRole::BranchInner, Activation::Relu)? else {
//!     unreachable!()
//! };
//! let std = first.std(Fan::new(64, 64).unwrap());
//! assert!((std - (2.0f64 / 64.0).sqrt() / 4.0).abs() < 1e-15);
//! assert_eq!(ResidualScheme::Fixup.rule(depth, ResidualRole::BranchLast, Activation::Relu)?, Init::Zeros);
//! assert_eq!(ResidualScheme::SkipInit.rule(depth, ResidualRole::Multiplier, Activation::Relu)?, Init::Zeros);
//! # Ok::<(), nninit::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::error::{Error, Result};
use crate::fan::FanMode;
use crate::init::{Distribution, Init, VarianceScaling};

/// One of the residual-network initializations of this module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResidualScheme {
    /// Fixup (Zhang et al. 2019): rescaled He inner layers, zero last layers and classifier,
    /// scalar biases 0 and multiplier 1.
    Fixup,
    /// SkipInit (De & Smith 2020): He layers, branch multiplier 0.
    #[serde(rename = "skipinit")]
    SkipInit,
    /// ReZero (Bachlechner et al. 2020): Xavier layers, branch multiplier 0.
    #[serde(rename = "rezero")]
    ReZero,
}

/// Where a parameter sits in a residual network, as the schemes tell them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResidualRole {
    /// A weight before the first block (the layer that changes the width).
    Stem,
    /// A weight inside a branch, not its last.
    BranchInner,
    /// The last weight of a branch.
    BranchLast,
    /// The classifier's weight.
    Head,
    /// A layer's vector bias (every scheme starts them at 0).
    Bias,
    /// The learned scalar multiplier at the end of a branch (SkipInit's and ReZero's α,
    /// Fixup's `scale`).
    Multiplier,
    /// One of Fixup's learned scalar biases.
    ScalarBias,
}

/// The depth geometry a residual scheme needs: `L` branches of `k` weight layers each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ResidualDepth {
    branches: usize,
    layers_per_branch: usize,
}

impl ResidualDepth {
    /// Validates `branches` ≥ 1 and `layers_per_branch` ≥ 2 (Fixup's exponent −1/(2k−2) is
    /// undefined for one layer per branch).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the count out of range.
    pub fn new(branches: usize, layers_per_branch: usize) -> Result<Self> {
        if branches == 0 {
            return Err(Error::InvalidParameter { name: "branches", value: 0.0, expected: ">= 1" });
        }
        if layers_per_branch < 2 {
            return Err(Error::InvalidParameter {
                name: "layers_per_branch",
                value: layers_per_branch as f64,
                expected: ">= 2",
            });
        }
        Ok(Self { branches, layers_per_branch })
    }

    /// `L`, the residual branches.
    pub fn branches(&self) -> usize {
        self.branches
    }

    /// `k`, the weight layers per branch.
    pub fn layers_per_branch(&self) -> usize {
        self.layers_per_branch
    }

    /// Fixup's factor on the std of a branch's inner layers, `L^(−1/(2k−2))`.
    pub fn fixup_factor(&self) -> f64 {
        let exponent = -1.0 / (2.0 * self.layers_per_branch as f64 - 2.0);
        (self.branches as f64).powf(exponent)
    }
}

impl ResidualScheme {
    /// Every scheme.
    pub const ALL: [Self; 3] = [Self::Fixup, Self::SkipInit, Self::ReZero];

    /// The scheme's name as configs spell it: `fixup`, `skipinit`, `rezero`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Fixup => "fixup",
            Self::SkipInit => "skipinit",
            Self::ReZero => "rezero",
        }
    }

    /// A scheme by name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == text)
    }

    /// Whether the scheme adds Fixup's scalar biases (otherwise only the multiplier).
    pub fn has_scalar_biases(self) -> bool {
        self == Self::Fixup
    }

    /// The rule for a parameter in `role` of a network of `depth`, with `activation` after
    /// the hidden layers (its Kaiming gain is [`Activation::kaiming_gain`]).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when the activation's gain is not finite and > 0;
    /// [`Error::InvalidParameter`] for a [`ResidualRole::ScalarBias`] under a scheme without
    /// them.
    pub fn rule(self, depth: ResidualDepth, role: ResidualRole, activation: Activation) -> Result<Init> {
        use ResidualRole as R;
        let he_in = || VarianceScaling::kaiming_normal(FanMode::FanIn, activation).map(Init::from);
        Ok(match (self, role) {
            (_, R::Bias) => Init::Zeros,
            (Self::Fixup, R::Stem) => he_in()?,
            (Self::Fixup, R::BranchInner) => Init::from(VarianceScaling::with_gain(
                activation.kaiming_gain() * depth.fixup_factor(),
                FanMode::FanOut,
                Distribution::Normal,
            )?),
            (Self::Fixup, R::BranchLast | R::Head | R::ScalarBias) => Init::Zeros,
            (Self::Fixup, R::Multiplier) => Init::Ones,
            (Self::SkipInit | Self::ReZero, R::Multiplier) => Init::Zeros,
            (Self::SkipInit | Self::ReZero, R::ScalarBias) => return Err(no_scalar_biases(self)),
            (Self::SkipInit, R::Stem | R::BranchInner | R::BranchLast | R::Head) => he_in()?,
            (Self::ReZero, R::Stem | R::BranchInner | R::BranchLast | R::Head) => {
                Init::from(VarianceScaling::xavier_uniform(1.0)?)
            }
        })
    }
}

fn no_scalar_biases(scheme: ResidualScheme) -> Error {
    Error::InvalidParameter {
        name: match scheme {
            ResidualScheme::SkipInit => "skipinit scalar bias",
            _ => "rezero scalar bias",
        },
        value: f64::NAN,
        expected: "none: only Fixup has scalar biases",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Fan;

    fn std_of(init: Init, fan: Fan) -> f64 {
        match init {
            Init::VarianceScaling(v) => v.std(fan),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn fixup_factor_is_l_to_the_minus_one_over_2k_minus_2() {
        // By hand: 16^(-1/2) = 0.25; 81^(-1/4) = 1/3; 64^(-1/2) = 0.125.
        assert_eq!(ResidualDepth::new(16, 2).unwrap().fixup_factor(), 0.25);
        assert!((ResidualDepth::new(81, 3).unwrap().fixup_factor() - 1.0 / 3.0).abs() < 1e-15);
        assert_eq!(ResidualDepth::new(64, 2).unwrap().fixup_factor(), 0.125);
        assert_eq!(ResidualDepth::new(1, 2).unwrap().fixup_factor(), 1.0);
    }

    #[test]
    fn fixup_rules_match_the_authors_code() {
        let depth = ResidualDepth::new(64, 2).unwrap();
        let fan = Fan::new(128, 32).unwrap();
        let rule = |role| ResidualScheme::Fixup.rule(depth, role, Activation::Relu).unwrap();
        // fan_out He: √(2/32) × 64^(-1/2).
        let inner = std_of(rule(ResidualRole::BranchInner), fan);
        assert!((inner - (2.0f64 / 32.0).sqrt() / 8.0).abs() < 1e-15, "{inner}");
        // The stem is plain He (fan_in), not rescaled.
        assert!((std_of(rule(ResidualRole::Stem), fan) - (2.0f64 / 128.0).sqrt()).abs() < 1e-15);
        for role in [ResidualRole::BranchLast, ResidualRole::Head, ResidualRole::ScalarBias, ResidualRole::Bias] {
            assert_eq!(rule(role), Init::Zeros, "{role:?}");
        }
        assert_eq!(rule(ResidualRole::Multiplier), Init::Ones);
    }

    #[test]
    fn skipinit_and_rezero_zero_the_multiplier_only() {
        let depth = ResidualDepth::new(8, 2).unwrap();
        let fan = Fan::new(50, 200).unwrap();
        for role in [ResidualRole::Stem, ResidualRole::BranchInner, ResidualRole::BranchLast, ResidualRole::Head] {
            let he = std_of(ResidualScheme::SkipInit.rule(depth, role, Activation::Relu).unwrap(), fan);
            assert!((he - (2.0f64 / 50.0).sqrt()).abs() < 1e-15, "{role:?} {he}");
            let xavier = ResidualScheme::ReZero.rule(depth, role, Activation::Relu).unwrap();
            // Xavier uniform: std √(2/(fan_in+fan_out)).
            assert!((std_of(xavier, fan) - (2.0f64 / 250.0).sqrt()).abs() < 1e-15, "{role:?}");
        }
        for scheme in [ResidualScheme::SkipInit, ResidualScheme::ReZero] {
            assert_eq!(scheme.rule(depth, ResidualRole::Multiplier, Activation::Relu).unwrap(), Init::Zeros);
            assert_eq!(scheme.rule(depth, ResidualRole::Bias, Activation::Relu).unwrap(), Init::Zeros);
            assert!(matches!(
                scheme.rule(depth, ResidualRole::ScalarBias, Activation::Relu),
                Err(Error::InvalidParameter { .. })
            ));
        }
    }

    #[test]
    fn depth_counts_are_validated_and_names_round_trip() {
        assert!(matches!(ResidualDepth::new(0, 2), Err(Error::InvalidParameter { name: "branches", .. })));
        assert!(matches!(ResidualDepth::new(4, 1), Err(Error::InvalidParameter { name: "layers_per_branch", .. })));
        for s in ResidualScheme::ALL {
            assert_eq!(ResidualScheme::parse(s.name()), Some(s));
        }
        assert_eq!(ResidualScheme::parse("he"), None);
    }
}
