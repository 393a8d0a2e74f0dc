//! The character-level GPT's architecture, without a backend: sizes, block form, head tying,
//! their checks, and the GPT-2 `config.json` that describes it to nninit.
//!
//! The lab never computes an initialization of its own for the GPT: [`GptSpec::config_json`]
//! is a Hugging Face GPT-2 config, [`GptSpec::model`] reads it back with nninit's own
//! [`nninit::arch::Model::from_config`], and [`GptSpec::plan`] is
//! [`Scheme::plan`] of that model, the plan `nninit explain --config config.json --scheme S`
//! prints and `nninit materialize` writes. The burn modules (`gpt.rs`, `burn` feature) have
//! exactly the plan's tensor names and shapes, and take every value from it.

use nninit::DType;
use nninit::arch::Model;
use nninit::plan::Plan;
use nninit::scheme::Scheme;
use serde_json::json;

use crate::error::{LabError, Result};
use crate::limits;

/// GPT-2's `initializer_range` (σ of the `hf` scheme), written into the config.
pub const INITIALIZER_RANGE: f64 = 0.02;

/// GPT-2's `layer_norm_epsilon`, the epsilon of every layer norm of the lab's GPT.
pub const LAYER_NORM_EPSILON: f64 = 1e-5;

/// How a transformer block wraps its two sublayers F (causal self-attention, then the MLP).
///
/// Each block has two norms, `ln_1` (around attention) and `ln_2` (around the MLP), and the
/// model a final `transformer.ln_f`; which of them the forward uses depends on the form.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BlockForm {
    /// Pre-LN, GPT-2 (Radford et al. 2019, §2.3; Xiong et al. 2020): `x ← x + F(LN(x))` for
    /// each sublayer, and `LN_f` after the last block. The equivalent of
    /// `transformers.GPT2LMHeadModel` and nanoGPT's `Block`.
    PreLn,
    /// Post-LN, the original Transformer (Vaswani et al. 2017): `x ← LN(x + F(x))` for each
    /// sublayer (`ln_1` after attention, `ln_2` after the MLP); no final norm (`ln_f` is not
    /// used: the last block already ends in a norm). PyTorch's
    /// `nn.TransformerDecoderLayer(norm_first=False)` without cross-attention.
    PostLn,
    /// DeepNorm (Wang et al. 2022, "DeepNet: Scaling Transformers to 1,000 Layers"):
    /// `x ← LN(α·x + F(x))` for each sublayer, post-LN with the residual up-weighted by α;
    /// no final norm, as [`PostLn`](Self::PostLn). torchscale's `DecoderLayer`
    /// (`torchscale/architecture/decoder.py`) with `deepnorm=True`:
    /// `residual_connection(x, residual) = residual * alpha + x`, then the norm, with
    /// `alpha = math.pow(2.0 * args.decoder_layers, 0.25)` for a decoder-only model. The paper's
    /// decoder-only α is (2L)^(1/4) for L blocks:
    /// [`GptSpec::deepnorm_alpha`] reads it from nninit's `deepnorm` scheme, whose β
    /// initializes the weights.
    DeepNorm {
        /// The residual multiplier α, in (0, 10⁶] ([`limits::DEEPNORM_ALPHA`]).
        alpha: f64,
    },
    /// No normalization at all, T-Fixup's setting (Huang et al. 2020, "Improving Transformer
    /// Optimization Through Better Initialization"): `x ← x + F(x)` for each sublayer, no final
    /// norm. The plan still lists `ln_1`, `ln_2` and `ln_f` (the GPT-2 config describes the
    /// tensors, not the forward), and the model holds them at the plan's values, but the
    /// forward never reads them, so they get no gradient and stay at 1 and 0. The token
    /// embeddings are not multiplied by √width in the forward (fairseq's `embed_scale`, which
    /// T-Fixup's code keeps): the lab's GPT is GPT-2's, and the plan's `t-fixup` embedding std
    /// d^(−1/2)·(9L)^(−1/4) is what the first block sees.
    NoNorm,
}

impl BlockForm {
    /// Every form's name, as [`name`](Self::name) gives it and [`GptSpec::with_form_named`] takes it.
    pub const NAMES: [&'static str; 4] = ["pre-ln", "post-ln", "deepnorm", "no-norm"];

    /// The form's name: `pre-ln`, `post-ln`, `deepnorm`, `no-norm` (written into the config as
    /// `nninit_block_form`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::PreLn => "pre-ln",
            Self::PostLn => "post-ln",
            Self::DeepNorm { .. } => "deepnorm",
            Self::NoNorm => "no-norm",
        }
    }
}

/// Whether the output projection is the token embedding (GPT-2) or a matrix of its own
/// (`tied`, `untied` in an experiment file).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeadTying {
    /// `logits = h · wteᵀ`: the head is `transformer.wte.weight` (GPT-2, nanoGPT's weight
    /// tying; `tie_word_embeddings = true`). The plan lists `lm_head.weight` as tied, not stored.
    #[default]
    Tied,
    /// `logits = h · lm_headᵀ` with its own `lm_head.weight` `[vocab, width]`, no bias
    /// (`tie_word_embeddings = false`; PyTorch `nn.Linear(width, vocab, bias=False)`).
    Untied,
}

/// A decoder-only character-level GPT: the sizes, the block form and the head.
///
/// Build it with [`GptSpec::new`] (every size checked against [`crate::limits`] before anything
/// is allocated); the fields are read-only after that.
#[derive(Clone, Debug, PartialEq)]
pub struct GptSpec {
    vocab: usize,
    context: usize,
    width: usize,
    heads: usize,
    depth: usize,
    mlp_width: usize,
    head: HeadTying,
    form: BlockForm,
}

impl GptSpec {
    /// A GPT with `vocab` symbols, `context` positions, `depth` blocks of `width` (`n_embd`)
    /// with `heads` attention heads, an MLP of inner width 4·`width` (GPT-2's default), a
    /// tied head, in block form `form`.
    ///
    /// # Errors
    /// [`LabError::OutOfRange`] for a size outside its range in [`crate::limits`] (vocab,
    /// context, width, heads, depth, the MLP width, the parameter count, DeepNorm's α);
    /// [`LabError::Model`] when `heads` does not divide `width`.
    pub fn new(
        vocab: usize,
        context: usize,
        width: usize,
        heads: usize,
        depth: usize,
        form: BlockForm,
    ) -> Result<Self> {
        limits::WIDTH.check_usize("gpt", width)?;
        let mlp_width = limits::MLP_WIDTH.check_usize("gpt", width.saturating_mul(4))?;
        let spec = Self { vocab, context, width, heads, depth, mlp_width, head: HeadTying::Tied, form };
        spec.validate()?;
        Ok(spec)
    }

    /// The same GPT with an MLP of inner width `mlp_width` (`n_inner`).
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_mlp_width(self, mlp_width: usize) -> Result<Self> {
        let spec = Self { mlp_width, ..self };
        spec.validate()?;
        Ok(spec)
    }

    /// The same GPT with the head tied or untied.
    ///
    /// # Errors
    /// As [`new`](Self::new) (an untied head adds `vocab × width` parameters).
    pub fn with_head(self, head: HeadTying) -> Result<Self> {
        let spec = Self { head, ..self };
        spec.validate()?;
        Ok(spec)
    }

    /// The same GPT in another block form.
    ///
    /// # Errors
    /// As [`new`](Self::new) (DeepNorm's α is checked).
    pub fn with_form(self, form: BlockForm) -> Result<Self> {
        let spec = Self { form, ..self };
        spec.validate()?;
        Ok(spec)
    }

    /// Checks every size, before anything is allocated.
    fn validate(&self) -> Result<()> {
        limits::VOCAB.check_usize("gpt", self.vocab)?;
        limits::CONTEXT.check_usize("gpt", self.context)?;
        limits::WIDTH.check_usize("gpt", self.width)?;
        limits::HEADS.check_usize("gpt", self.heads)?;
        limits::DEPTH.check_usize("gpt", self.depth)?;
        limits::MLP_WIDTH.check_usize("gpt", self.mlp_width)?;
        if !self.width.is_multiple_of(self.heads) {
            return Err(LabError::Model {
                reason: format!("gpt: heads = {} do not divide width = {}", self.heads, self.width),
            });
        }
        if let BlockForm::DeepNorm { alpha } = self.form {
            limits::DEEPNORM_ALPHA.check("gpt", alpha)?;
        }
        limits::PARAMETERS.check("gpt", self.parameters())
    }

    /// Symbols of the vocabulary.
    pub fn vocab(&self) -> usize {
        self.vocab
    }

    /// Positions of the context window (`n_positions`).
    pub fn context(&self) -> usize {
        self.context
    }

    /// The model width (`n_embd`).
    pub fn width(&self) -> usize {
        self.width
    }

    /// Attention heads per block (`n_head`).
    pub fn heads(&self) -> usize {
        self.heads
    }

    /// Blocks (`n_layer`).
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// The MLP's inner width (`n_inner`).
    pub fn mlp_width(&self) -> usize {
        self.mlp_width
    }

    /// Tied or untied head.
    pub fn head(&self) -> HeadTying {
        self.head
    }

    /// The block form.
    pub fn form(&self) -> BlockForm {
        self.form
    }

    /// Stored parameters (the untied head included, the tied one not), without overflow for
    /// any sizes; equal to the plan's [`Plan::parameters`].
    pub fn parameters(&self) -> u128 {
        let (v, t, d, l, m) =
            (self.vocab as u128, self.context as u128, self.width as u128, self.depth as u128, self.mlp_width as u128);
        let norm = 2 * d;
        // ln_1, c_attn (3d² + 3d), c_proj (d² + d), ln_2, c_fc (dm + m), mlp.c_proj (md + d).
        let block = norm + 3 * d * d + 3 * d + d * d + d + norm + d * m + m + m * d + d;
        let head = if self.head == HeadTying::Untied { v * d } else { 0 };
        v * d + t * d + l * block + norm + head
    }

    /// Values one window (one example of `context` symbols) keeps for the backward pass, as
    /// an estimate: per block and position the sublayers' inputs and outputs (10·width), the
    /// MLP's two inner tensors (2·mlp_width) and the attention scores and weights
    /// (2·heads·context); and the logits (vocab per position).
    pub fn hidden_values_per_example(&self) -> u128 {
        let (t, d, m, h) = (self.context as u128, self.width as u128, self.mlp_width as u128, self.heads as u128);
        let block = 10 * d + 2 * m + 2 * h * t;
        t * (self.depth as u128 * block + self.vocab as u128)
    }

    /// Checks that a batch of `windows` fits in [`limits::HIDDEN_VALUES`], before anything runs.
    ///
    /// # Errors
    /// [`LabError::OutOfRange`] naming `what` (the experiment or the command).
    pub fn check_batch(&self, what: &str, windows: usize) -> Result<()> {
        limits::BATCH.check_usize(what, windows)?;
        limits::HIDDEN_VALUES.check(what, windows as u128 * self.hidden_values_per_example())
    }

    /// The Hugging Face GPT-2 `config.json` of this GPT (`model_type = "gpt2"`,
    /// `GPT2LMHeadModel`): `vocab_size`, `n_positions` (and `n_ctx`), `n_embd`, `n_layer`,
    /// `n_head`, `n_inner`, `initializer_range` 0.02, `layer_norm_epsilon` 1e-5,
    /// `tie_word_embeddings`, `activation_function = "gelu_new"` (GPT-2's tanh GELU, the one
    /// the lab's MLP runs) and no dropout. `nninit_block_form` (and `nninit_deepnorm_alpha`)
    /// record the block form, which no weight shows: transformers ignores these keys and
    /// would build a pre-LN GPT-2 from this file, with the same tensors.
    ///
    /// `nninit explain --config config.json --scheme S` of this file prints the plan the lab
    /// trains ([`plan`](Self::plan)).
    pub fn config_json(&self) -> serde_json::Value {
        let mut config = json!({
            "model_type": "gpt2",
            "architectures": ["GPT2LMHeadModel"],
            "vocab_size": self.vocab,
            "n_positions": self.context,
            "n_ctx": self.context,
            "n_embd": self.width,
            "n_layer": self.depth,
            "n_head": self.heads,
            "n_inner": self.mlp_width,
            "activation_function": "gelu_new",
            "initializer_range": INITIALIZER_RANGE,
            "layer_norm_epsilon": LAYER_NORM_EPSILON,
            "tie_word_embeddings": self.head == HeadTying::Tied,
            "resid_pdrop": 0.0,
            "embd_pdrop": 0.0,
            "attn_pdrop": 0.0,
            "nninit_block_form": self.form.name(),
        });
        if let (BlockForm::DeepNorm { alpha }, Some(map)) = (self.form, config.as_object_mut()) {
            map.insert("nninit_deepnorm_alpha".into(), json!(alpha));
        }
        config
    }

    /// nninit's model of [`config_json`](Self::config_json), read back by
    /// [`Model::from_config`] exactly as `nninit explain --config` reads the file.
    ///
    /// # Errors
    /// [`LabError::Init`] if nninit refuses the config (it cannot for a spec that
    /// [`new`](Self::new) accepted, whose limits are inside nninit's).
    pub fn model(&self) -> Result<Model> {
        Ok(Model::from_config(self.config_json())?)
    }

    /// The plan of this GPT under `scheme` in f32: [`Scheme::plan`] of [`model`](Self::model),
    /// every tensor's name, shape, rule and stream, the same plan `nninit explain --config
    /// config.json --scheme S` prints.
    ///
    /// # Errors
    /// [`LabError::Init`] where the scheme cannot initialize GPT-2 (for example `mamba`).
    pub fn plan(&self, scheme: Scheme) -> Result<Plan> {
        Ok(scheme.plan(&self.model()?, DType::F32)?)
    }

    /// DeepNorm's α for this depth, as nninit's `deepnorm` scheme records it in the plan (the
    /// paper's decoder-only table: α = (2L)^(1/4) with β = (8L)^(−1/4) for the weights); not a
    /// second copy of the formula.
    ///
    /// # Errors
    /// [`LabError::Init`] from the plan; [`LabError::Model`] if no tensor of the plan records
    /// α.
    pub fn deepnorm_alpha(&self) -> Result<f64> {
        let plan = self.plan(Scheme::DeepNorm)?;
        plan.tensors
            .iter()
            .flat_map(|t| t.provenance.iter().chain(t.parts.iter().filter_map(|p| p.provenance.as_ref())))
            .find_map(|p| p.numbers.get("alpha").copied())
            .ok_or_else(|| LabError::Model { reason: "the deepnorm plan records no alpha".into() })
    }

    /// The same GPT in the block form named `name` (one of [`BlockForm::NAMES`]); `deepnorm`
    /// with the paper's α for this depth ([`with_deepnorm`](Self::with_deepnorm)).
    ///
    /// # Errors
    /// [`LabError::Model`] for an unknown name; as [`with_form`](Self::with_form) and
    /// [`with_deepnorm`](Self::with_deepnorm).
    pub fn with_form_named(self, name: &str) -> Result<Self> {
        match name {
            "pre-ln" => self.with_form(BlockForm::PreLn),
            "post-ln" => self.with_form(BlockForm::PostLn),
            "deepnorm" => self.with_deepnorm(),
            "no-norm" => self.with_form(BlockForm::NoNorm),
            other => Err(LabError::Model {
                reason: format!("unknown block form `{other}` (known: {})", BlockForm::NAMES.join(", ")),
            }),
        }
    }

    /// The same GPT in DeepNorm form with the paper's α ([`deepnorm_alpha`](Self::deepnorm_alpha)).
    ///
    /// # Errors
    /// As [`deepnorm_alpha`](Self::deepnorm_alpha).
    pub fn with_deepnorm(self) -> Result<Self> {
        let alpha = self.deepnorm_alpha()?;
        self.with_form(BlockForm::DeepNorm { alpha })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny(form: BlockForm) -> GptSpec {
        GptSpec::new(11, 16, 32, 4, 2, form).unwrap()
    }

    #[test]
    fn gpt_spec_rejects_bad_sizes_before_allocating() {
        let out_of_range = [
            (GptSpec::new(0, 16, 32, 4, 2, BlockForm::PreLn), "vocab"),
            (GptSpec::new(1, 16, 32, 4, 2, BlockForm::PreLn), "vocab"),
            (GptSpec::new(257, 16, 32, 4, 2, BlockForm::PreLn), "vocab"),
            (GptSpec::new(11, 0, 32, 4, 2, BlockForm::PreLn), "context"),
            (GptSpec::new(11, 1 << 20, 32, 4, 2, BlockForm::PreLn), "context"),
            (GptSpec::new(11, 16, 0, 4, 2, BlockForm::PreLn), "width"),
            (GptSpec::new(11, 16, usize::MAX, 4, 2, BlockForm::PreLn), "width"),
            (GptSpec::new(11, 16, 32, 0, 2, BlockForm::PreLn), "heads"),
            (GptSpec::new(11, 16, 32, 4, 0, BlockForm::PreLn), "depth"),
            (GptSpec::new(11, 16, 32, 4, 1001, BlockForm::PreLn), "depth"),
            (tiny(BlockForm::PreLn).with_mlp_width(0), "mlp_width"),
            (tiny(BlockForm::PreLn).with_mlp_width(usize::MAX), "mlp_width"),
            // 1000 blocks of width 4096: each size is in range, the network is not.
            (GptSpec::new(256, 1024, 4096, 32, 1000, BlockForm::PreLn), "parameters"),
            (GptSpec::new(11, 16, 32, 4, 2, BlockForm::DeepNorm { alpha: 0.0 }), "alpha"),
            (GptSpec::new(11, 16, 32, 4, 2, BlockForm::DeepNorm { alpha: f64::NAN }), "alpha"),
            (tiny(BlockForm::PreLn).with_form(BlockForm::DeepNorm { alpha: f64::INFINITY }), "alpha"),
        ];
        for (spec, what) in out_of_range {
            match spec {
                Err(LabError::OutOfRange { name, .. }) => assert_eq!(name, what),
                other => panic!("{what}: {other:?}"),
            }
        }
        for (width, heads) in [(32, 5), (30, 4), (4, 8)] {
            match GptSpec::new(11, 16, width, heads, 2, BlockForm::PreLn) {
                Err(LabError::Model { reason }) => assert!(reason.contains("divide"), "{reason}"),
                other => panic!("{width}/{heads}: {other:?}"),
            }
        }
        let err = tiny(BlockForm::PreLn).check_batch("t", 1 << 20).unwrap_err();
        assert!(matches!(err, LabError::OutOfRange { name: "batch", .. }), "{err:?}");
        let err = GptSpec::new(256, 8192, 1024, 16, 4, BlockForm::PreLn).unwrap().check_batch("t", 64).unwrap_err();
        assert!(matches!(err, LabError::OutOfRange { name: "batch x hidden values", .. }), "{err:?}");
        assert!(tiny(BlockForm::PreLn).check_batch("t", 8).is_ok());
    }

    #[test]
    fn gpt_config_reads_back_as_the_same_gpt2_plan() {
        for head in [HeadTying::Tied, HeadTying::Untied] {
            let spec = tiny(BlockForm::PostLn).with_head(head).unwrap().with_mlp_width(48).unwrap();
            let model = spec.model().unwrap();
            let dims = model.dims();
            assert_eq!((dims.hidden, dims.layers, dims.heads, dims.intermediate), (32, 2, 4, 48));
            assert_eq!(model.model_class(), "GPT2LMHeadModel");
            let plan = spec.plan(Scheme::Hf).unwrap();
            assert_eq!(u128::from(plan.parameters()), spec.parameters(), "{head:?}");
            let lm = plan.get("lm_head.weight").unwrap();
            assert_eq!(lm.tied_to.is_some(), head == HeadTying::Tied);
            assert_eq!(lm.spec.shape().dims(), &[11, 32]);
            // The file, read as `nninit explain --config FILE --scheme S` reads it
            // (`nninit::report::model`, then `Scheme::plan` in f32), gives the same plan under
            // every scheme `transformer-depth` names.
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("config.json");
            std::fs::write(&path, serde_json::to_string_pretty(&spec.config_json()).unwrap()).unwrap();
            let from_file = nninit::report::model(Some(&path), None).unwrap();
            for name in ["torch-default", "hf", "hf-unscaled", "deepnorm", "t-fixup", "small-init"] {
                let scheme = Scheme::parse(name).unwrap();
                let explained = scheme.plan(&from_file, DType::F32).unwrap();
                assert_eq!(explained, spec.plan(scheme).unwrap(), "{name}");
            }
            assert_eq!(Scheme::Hf.plan(&from_file, DType::F32).unwrap(), plan);
        }
        assert_eq!(tiny(BlockForm::NoNorm).config_json()["nninit_block_form"], "no-norm");
    }

    #[test]
    fn every_block_form_name_reads_back_as_that_form() {
        for name in BlockForm::NAMES {
            let spec = tiny(BlockForm::PreLn).with_form_named(name).unwrap();
            assert_eq!(spec.form().name(), name);
        }
        let deep = tiny(BlockForm::PreLn).with_form_named("deepnorm").unwrap();
        assert_eq!(deep, tiny(BlockForm::PreLn).with_deepnorm().unwrap());
        match tiny(BlockForm::PreLn).with_form_named("sandwich") {
            Err(LabError::Model { reason }) => {
                assert!(reason.contains("sandwich") && reason.contains("no-norm"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn deepnorm_alpha_is_the_papers_decoder_only_value() {
        for depth in [1, 2, 6, 48] {
            let spec = GptSpec::new(11, 16, 32, 4, depth, BlockForm::PreLn).unwrap().with_deepnorm().unwrap();
            let BlockForm::DeepNorm { alpha } = spec.form() else { panic!("{:?}", spec.form()) };
            // Wang et al. 2022, decoder-only (M layers): α = (2M)^(1/4).
            let paper = (2.0 * depth as f64).powf(0.25);
            assert!((alpha - paper).abs() < 1e-12, "{depth}: {alpha} vs {paper}");
            assert_eq!(spec.config_json()["nninit_deepnorm_alpha"], alpha);
        }
    }
}
