//! The networks the lab trains: deep MLPs and plain CNNs, built from host-side weights that
//! nninit's rules filled, so every layer can take any rule of the catalogue; and a decoder-only
//! character-level GPT whose every parameter comes from nninit's GPT-2 plan under a scheme.
//!
//! The architectures ([`ModelSpec`], [`GptSpec`]) and their checks need no backend; the burn
//! modules ([`Network`] in `network.rs`, `Gpt` in `gpt.rs`) come with the `burn` feature.

use nninit::activation::Activation;
use serde::{Deserialize, Serialize};

use crate::error::{LabError, Result};
use crate::limits;
use crate::record::ModelKind;

#[cfg(feature = "burn")]
mod gpt;
mod gpt_spec;
#[cfg(feature = "burn")]
mod network;
#[cfg(feature = "burn")]
pub use gpt::{
    BLOW_UP_MARGIN_NATS, BLOW_UP_WINDOW, Gpt, GptAttention, GptBlock, GptHead, GptLayerNorm, GptMlp, GptTrainer,
    GptTrunk, TextEval, TextRun, TextTraining, diverged, train_on_text, validation_bits,
};
pub use gpt_spec::{BlockForm, GptSpec, HeadTying, INITIALIZER_RANGE, LAYER_NORM_EPSILON};
#[cfg(feature = "burn")]
pub use network::{Forward, Hidden, HostHidden, LayerWeights, Network, activate, host};

/// Whether the layers have biases.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bias {
    /// Every layer adds a bias.
    #[default]
    On,
    /// No layer has a bias.
    Off,
}

/// Whether hidden layers add their input back, and in which block form.
///
/// `On` is the lab's first residual form, one layer per block. The others are the two-layer
/// blocks of the residual-network papers, `h ← h + m·F(h)` with `F(h) = W₂ φ(W₁ h)`: there
/// [`ModelSpec::depth`] counts blocks, and block `i`'s two layers are the hidden layers
/// `hidden.{2i+1}` and `hidden.{2i+2}` after the stem `hidden.0` (which changes the width).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Residual {
    /// A plain stack.
    #[default]
    Off,
    /// Every hidden layer after the first (the first changes the width) is a residual block
    /// `h ← h + φ(W h + b)`.
    On,
    /// Two-layer blocks `h ← h + W₂ φ(W₁ h)`, no normalization: at He init the stream's
    /// variance grows by a constant factor per block.
    Plain,
    /// `h ← h + α·W₂ φ(W₁ h)` with one learned scalar `α` per block (SkipInit's and ReZero's
    /// multiplier, which their schemes start at 0).
    Scaled,
    /// Fixup's block: `h ← h + (s·W₂ (φ(W₁ (h + a₁) + b₁) + a₂) + b₂)` with learned scalar biases
    /// `a₁, b₁, a₂, b₂` (`bias1a`, `bias1b`, `bias2a`, `bias2b`, start 0) and multiplier `s`
    /// (start 1), as `hongyi-zhang/Fixup`'s BasicBlock.
    Fixup,
    /// The normalized reference: `h ← h + BN(W₂ φ(BN(W₁ h)))`, BatchNorm after each layer of
    /// the branch as ResNet's BasicBlock.
    BatchNorm,
}

impl Residual {
    /// Whether this is one of the two-layer block forms (`depth` counts blocks).
    pub fn has_branches(self) -> bool {
        matches!(self, Self::Plain | Self::Scaled | Self::Fixup | Self::BatchNorm)
    }

    /// Whether each block has a learned scalar multiplier at the end of its branch.
    pub fn has_multiplier(self) -> bool {
        matches!(self, Self::Scaled | Self::Fixup)
    }

    /// The name configs use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::On => "on",
            Self::Plain => "plain",
            Self::Scaled => "scaled",
            Self::Fixup => "fixup",
            Self::BatchNorm => "batch-norm",
        }
    }
}

/// Weight layers per branch of the two-layer block forms.
pub const LAYERS_PER_BRANCH: usize = 2;

/// The architecture of one network.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelSpec {
    /// MLP or CNN.
    pub kind: ModelKind,
    /// Hidden layers (MLP) or convolutions (CNN), at least 1; residual blocks for the
    /// two-layer block forms of [`Residual`].
    pub depth: usize,
    /// Units per hidden layer (MLP) or channels (CNN), at least 1.
    pub width: usize,
    /// The nonlinearity after every hidden layer.
    pub activation: Activation,
    /// Biases on or off.
    pub bias: Bias,
    /// Residual connections and their block form (MLP only).
    pub residual: Residual,
    /// Input features (flattened pixels).
    pub features: usize,
    /// Input image height and width (one channel), for the CNN.
    pub image: (usize, usize),
    /// Output classes.
    pub classes: usize,
}

/// One layer's parameter geometry, in burn's layouts.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerShape {
    /// The layer's name, its burn module path: `hidden.3`, `conv.7` or `head`. Its weight is
    /// the burn parameter `<name>.weight`, whose path keys its nninit stream.
    pub name: String,
    /// The weight's dimensions as burn stores them: Linear `[in, out]`, Conv2d `[out, in, kh, kw]`
    /// (nninit-burn reads the fans from these layouts).
    pub weight_dims: Vec<usize>,
    /// Output units (the bias length).
    pub units: usize,
    /// Whether the layer is followed by the activation.
    pub role: LayerRole,
}

/// Where a layer sits: whether the activation follows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerRole {
    /// A hidden layer, followed by the activation.
    Hidden,
    /// A layer of residual block `block`'s branch: the activation follows all but its `last`.
    Branch {
        /// The block, from 0.
        block: usize,
        /// Whether this is the branch's last layer.
        last: bool,
    },
    /// The classifier head, whose outputs are the logits.
    Head,
}

impl ModelSpec {
    /// The tests' network: an MLP with biases and no residual blocks, on the embedded digits
    /// (64 features, 8 × 8 images, 10 classes).
    #[cfg(all(test, feature = "burn"))]
    pub(crate) fn digits_mlp(depth: usize, width: usize, activation: Activation) -> Self {
        ModelSpec {
            kind: ModelKind::Mlp,
            depth,
            width,
            activation,
            bias: Bias::On,
            residual: Residual::Off,
            features: 64,
            image: (8, 8),
            classes: 10,
        }
    }

    /// Checks that the network can be built, before anything is allocated.
    ///
    /// # Errors
    /// [`LabError::OutOfRange`] for a depth, width or parameter count outside its range in
    /// [`crate::limits`]; [`LabError::Model`] for a zero feature or class count, a residual
    /// CNN, or an activation burn cannot run.
    pub fn validate(&self) -> Result<()> {
        let bad = |reason: String| Err(LabError::Model { reason });
        limits::DEPTH.check_usize("model", self.depth)?;
        limits::WIDTH.check_usize("model", self.width)?;
        if self.features == 0 || self.classes < 2 {
            return bad(format!("need features > 0 and at least 2 classes (got {}, {})", self.features, self.classes));
        }
        if self.kind == ModelKind::Cnn {
            if self.residual != Residual::Off {
                return bad("residual connections are for MLPs; the CNN is a plain stack".into());
            }
            if self.image.0 * self.image.1 != self.features {
                return bad(format!(
                    "image {}x{} does not hold {} features",
                    self.image.0, self.image.1, self.features
                ));
            }
        }
        limits::PARAMETERS.check("model", self.parameters())?;
        supported(self.activation)
    }

    /// Weights and biases of the whole network, computed without overflow for any sizes.
    pub fn parameters(&self) -> u128 {
        let (layers, width) = (self.hidden_layers() as u128, self.width as u128);
        let (features, classes) = (self.features as u128, self.classes as u128);
        let hidden = match self.kind {
            ModelKind::Mlp => features * width + layers.saturating_sub(1) * width * width,
            ModelKind::Cnn => 9 * (width + layers.saturating_sub(1) * width * width),
        };
        let biases = if self.bias == Bias::On { layers * width + classes } else { 0 };
        let blocks = self.blocks() as u128;
        // Per block: α; Fixup's four biases and multiplier; BatchNorm's γ, β after both layers.
        let scalars = match self.residual {
            Residual::Scaled => blocks,
            Residual::Fixup => 5 * blocks,
            Residual::BatchNorm => 4 * width * blocks,
            Residual::Off | Residual::On | Residual::Plain => 0,
        };
        hidden + width * classes + biases + scalars
    }

    /// Residual blocks of the two-layer forms (0 for the others).
    pub fn blocks(&self) -> usize {
        if self.residual.has_branches() { self.depth } else { 0 }
    }

    /// Hidden weight layers: `depth`, or the stem and two per block for the two-layer forms
    /// (saturating, so an absurd depth is caught by [`limits::PARAMETERS`], not an overflow).
    pub fn hidden_layers(&self) -> usize {
        if self.residual.has_branches() {
            self.depth.saturating_mul(LAYERS_PER_BRANCH).saturating_add(1)
        } else {
            self.depth
        }
    }

    /// Hidden values (pre-activations) of one example through the whole network: what a batch
    /// holds per example for the backward pass.
    pub fn hidden_values_per_example(&self) -> u128 {
        let positions = match self.kind {
            ModelKind::Mlp => 1,
            ModelKind::Cnn => {
                let s = self.first_stride();
                (self.image.0.div_ceil(s) * self.image.1.div_ceil(s)).max(1) as u128
            }
        };
        self.hidden_layers() as u128 * self.width as u128 * positions
    }

    /// Checks that a batch of `examples` fits in [`limits::HIDDEN_VALUES`], before anything runs.
    ///
    /// # Errors
    /// [`LabError::OutOfRange`] naming `what` (the experiment or the command).
    pub fn check_batch(&self, what: &str, examples: usize) -> Result<()> {
        limits::HIDDEN_VALUES.check(what, examples as u128 * self.hidden_values_per_example())
    }

    /// The parameter geometry of every layer, from the input; the head is last.
    ///
    /// # Errors
    /// As [`validate`](Self::validate).
    pub fn layers(&self) -> Result<Vec<LayerShape>> {
        self.validate()?;
        let mut out = Vec::with_capacity(self.hidden_layers() + 1);
        let dense = |name: String, fan_in: usize, units: usize, role: LayerRole| LayerShape {
            name,
            weight_dims: vec![fan_in, units],
            units,
            role,
        };
        match self.kind {
            ModelKind::Mlp => {
                for l in 0..self.hidden_layers() {
                    let fan_in = if l == 0 { self.features } else { self.width };
                    let role = match l.checked_sub(1) {
                        Some(k) if self.residual.has_branches() => LayerRole::Branch {
                            block: k / LAYERS_PER_BRANCH,
                            last: k % LAYERS_PER_BRANCH == LAYERS_PER_BRANCH - 1,
                        },
                        _ => LayerRole::Hidden,
                    };
                    out.push(dense(format!("hidden.{l}"), fan_in, self.width, role));
                }
            }
            ModelKind::Cnn => {
                for l in 0..self.depth {
                    let channels_in = if l == 0 { 1 } else { self.width };
                    out.push(LayerShape {
                        name: format!("conv.{l}"),
                        weight_dims: vec![self.width, channels_in, 3, 3],
                        units: self.width,
                        role: LayerRole::Hidden,
                    });
                }
            }
        }
        out.push(dense("head".into(), self.width, self.classes, LayerRole::Head));
        Ok(out)
    }

    /// Stride of the first convolution: 2 for images larger than 16 pixels a side (MNIST's
    /// 28x28 becomes 14x14, which makes 40-layer CNNs affordable on a CPU), else 1.
    pub fn first_stride(&self) -> usize {
        if self.image.0.max(self.image.1) > 16 { 2 } else { 1 }
    }
}

/// Whether burn can run `activation` (every activation nninit knows).
fn supported(activation: Activation) -> Result<()> {
    match activation {
        Activation::Linear
        | Activation::Sigmoid
        | Activation::Tanh
        | Activation::Relu
        | Activation::LeakyRelu { .. }
        | Activation::Elu { .. }
        | Activation::Selu
        | Activation::Gelu
        | Activation::GeluTanh
        | Activation::Silu
        | Activation::Mish
        | Activation::Softplus { .. }
        | Activation::Hardtanh { .. }
        | Activation::Sin => Ok(()),
        #[allow(unreachable_patterns)]
        other => Err(LabError::Model { reason: format!("the lab cannot run activation `{}` yet", other.name()) }),
    }
}
