//! The character-level GPT as burn modules, initialized from nninit's GPT-2 plan by parameter
//! path, with its forward pass and a training step.
//!
//! The module tree mirrors `transformers.GPT2LMHeadModel`, so every burn parameter path is the
//! plan's tensor name and every shape the plan's shape:
//!
//! | burn path | shape | what |
//! |---|---|---|
//! | `transformer.wte.weight` | `[vocab, width]` | token embedding (and the tied head) |
//! | `transformer.wpe.weight` | `[context, width]` | learned positions |
//! | `transformer.h.{i}.ln_1.weight`, `.bias` | `[width]` | the attention sublayer's norm |
//! | `transformer.h.{i}.attn.c_attn.weight`, `.bias` | `[width, 3·width]`, `[3·width]` | q, k, v fused along the output axis (burn's `Linear` `[in, out]`, HF's `Conv1D` layout) |
//! | `transformer.h.{i}.attn.c_proj.weight`, `.bias` | `[width, width]` | attention output (residual branch end) |
//! | `transformer.h.{i}.ln_2.weight`, `.bias` | `[width]` | the MLP sublayer's norm |
//! | `transformer.h.{i}.mlp.c_fc.weight`, `.bias` | `[width, mlp]` | MLP up |
//! | `transformer.h.{i}.mlp.c_proj.weight`, `.bias` | `[mlp, width]` | MLP down (residual branch end) |
//! | `transformer.ln_f.weight`, `.bias` | `[width]` | the final norm (pre-LN only) |
//! | `lm_head.weight` (untied head only) | `[vocab, width]` | `nn.Linear(width, vocab, bias=False)`'s weight |
//!
//! [`Gpt::init`] builds the modules with burn's lazy parameters and fills every one with
//! [`nninit_burn::Rules::from_plan`] and [`nninit_burn::init`], so each parameter equals the
//! plan's own fill ([`nninit::plan::PlannedTensor::fill_slice`]) and the bytes
//! `nninit materialize --config config.json --scheme S --seed SEED` writes. The tied head's
//! `lm_head.weight` is the plan's tied tensor: not a parameter of its own, the forward reads
//! `wte`.
//!
//! The layer norms are held in every block form (the plan lists them; they start at 1 and 0),
//! and [`BlockForm`] decides which the forward reads: [`BlockForm::NoNorm`] reads none.

use burn::module::{Module, Param};
use burn::nn::{Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::activation::softmax;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use nninit::plan::Plan;
use nninit::scheme::Scheme;
use nninit::stream::Philox;

use super::gpt_spec::{BlockForm, GptSpec, HeadTying, LAYER_NORM_EPSILON};
use crate::data::{TextDataset, TokenBatch};
use crate::error::{LabError, Result};
use crate::loss::{LossKind, batch_loss};

/// A layer norm with transformers' parameter names (`weight`, `bias`; burn's own `LayerNorm`
/// calls them `gamma`, `beta`): `y = (x − mean) / √(var + ε) · weight + bias` over the last
/// axis, ε = 1e-5 (PyTorch `nn.LayerNorm(width)`).
#[derive(Module, Debug)]
pub struct GptLayerNorm {
    /// The scale, `[width]`.
    pub weight: Param<Tensor<1>>,
    /// The shift, `[width]`.
    pub bias: Param<Tensor<1>>,
}

impl GptLayerNorm {
    fn new(width: usize, device: &Device) -> Self {
        Self { weight: Initializer::Ones.init([width], device), bias: Initializer::Zeros.init([width], device) }
    }

    /// Normalizes `x` over its last axis.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        burn::tensor::module::layer_norm(x, self.weight.val(), Some(self.bias.val()), LAYER_NORM_EPSILON)
    }
}

/// Multi-head causal self-attention, GPT-2's `GPT2Attention` (nanoGPT's
/// `CausalSelfAttention`): `softmax(q·kᵀ/√head_width + mask)·v` per head, the future masked.
#[derive(Module, Debug)]
pub struct GptAttention {
    /// q, k, v fused: `[width, 3·width]`, q in columns `0..width`, k next, v last.
    pub c_attn: Linear,
    /// The output projection `[width, width]`.
    pub c_proj: Linear,
}

impl GptAttention {
    /// `x` `[batch, time, width]` → `[batch, time, width]`; position t attends to positions ≤ t.
    pub fn forward(&self, x: Tensor<3>, heads: usize) -> Tensor<3> {
        let [batch, time, width] = x.dims();
        let head_width = width / heads;
        let qkv = self.c_attn.forward(x);
        let split = |i: usize| {
            qkv.clone().narrow(2, i * width, width).reshape([batch, time, heads, head_width]).swap_dims(1, 2)
        };
        let (q, k, v) = (split(0), split(1), split(2));
        let device = q.device();
        let scores = q.matmul(k.transpose()).div_scalar((head_width as f64).sqrt());
        // `tril_mask` is true above the diagonal: the future of each row's position.
        let future: Tensor<4, Bool> =
            Tensor::<2, Bool>::tril_mask([time, time], 0, &device).unsqueeze::<4>().expand([batch, heads, time, time]);
        let weights = softmax(scores.mask_fill(future, f32::NEG_INFINITY), 3);
        let y = weights.matmul(v).swap_dims(1, 2).reshape([batch, time, width]);
        self.c_proj.forward(y)
    }
}

/// The MLP, GPT-2's `GPT2MLP`: `c_proj(GELU_tanh(c_fc(x)))`, the tanh-approximate GELU
/// (transformers' `gelu_new`, PyTorch `nn.GELU(approximate="tanh")`; nninit's `gelu-tanh`).
#[derive(Module, Debug)]
pub struct GptMlp {
    /// Up: `[width, mlp_width]`.
    pub c_fc: Linear,
    /// Down: `[mlp_width, width]`.
    pub c_proj: Linear,
}

impl GptMlp {
    /// `x` `[batch, time, width]` → `[batch, time, width]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.c_proj.forward(super::network::gelu_tanh(self.c_fc.forward(x)))
    }
}

/// One transformer block: attention, then the MLP, each wrapped as [`BlockForm`] says.
#[derive(Module, Debug)]
pub struct GptBlock {
    /// The attention sublayer's norm.
    pub ln_1: GptLayerNorm,
    /// Causal self-attention.
    pub attn: GptAttention,
    /// The MLP sublayer's norm.
    pub ln_2: GptLayerNorm,
    /// The MLP.
    pub mlp: GptMlp,
}

impl GptBlock {
    /// The block on `x` `[batch, time, width]`:
    ///
    /// - pre-LN: `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))`;
    /// - post-LN: `ln_1(x + attn(x))`, then `ln_2(x + mlp(x))`;
    /// - DeepNorm: `ln_1(α·x + attn(x))`, then `ln_2(α·x + mlp(x))`;
    /// - no norm: `x + attn(x)`, then `x + mlp(x)`.
    pub fn forward(&self, x: Tensor<3>, spec: &GptSpec) -> Tensor<3> {
        let heads = spec.heads();
        match spec.form() {
            BlockForm::PreLn => {
                let x = x.clone() + self.attn.forward(self.ln_1.forward(x), heads);
                x.clone() + self.mlp.forward(self.ln_2.forward(x))
            }
            BlockForm::PostLn => {
                let x = self.ln_1.forward(x.clone() + self.attn.forward(x, heads));
                self.ln_2.forward(x.clone() + self.mlp.forward(x))
            }
            BlockForm::DeepNorm { alpha } => {
                let x = self.ln_1.forward(x.clone().mul_scalar(alpha) + self.attn.forward(x, heads));
                self.ln_2.forward(x.clone().mul_scalar(alpha) + self.mlp.forward(x))
            }
            BlockForm::NoNorm => {
                let x = x.clone() + self.attn.forward(x, heads);
                x.clone() + self.mlp.forward(x)
            }
        }
    }
}

/// The trunk, transformers' `GPT2Model` (the `transformer.` prefix of every path).
#[derive(Module, Debug)]
pub struct GptTrunk {
    /// Token embedding `[vocab, width]`.
    pub wte: Embedding,
    /// Learned position embedding `[context, width]`.
    pub wpe: Embedding,
    /// The blocks.
    pub h: Vec<GptBlock>,
    /// The final norm, read under pre-LN only.
    pub ln_f: GptLayerNorm,
}

/// An untied output projection: `logits = h · weightᵀ`, `weight` `[vocab, width]` as
/// PyTorch's `nn.Linear(width, vocab, bias=False)` and the plan store it.
#[derive(Module, Debug)]
pub struct GptHead {
    /// `[vocab, width]`.
    pub weight: Param<Tensor<2>>,
}

/// The decoder-only GPT, `transformers.GPT2LMHeadModel`'s tree: build it with [`Gpt::init`].
#[derive(Module, Debug)]
pub struct Gpt {
    /// Embeddings, blocks and the final norm.
    pub transformer: GptTrunk,
    /// The untied head; `None` when the head is tied to `transformer.wte`.
    pub lm_head: Option<GptHead>,
}

impl Gpt {
    /// The modules on `device` with burn's lazy parameters: nothing is drawn or allocated until
    /// [`nninit_burn::init`] gives them values.
    pub fn build(spec: &GptSpec, device: &Device) -> Self {
        let (d, m) = (spec.width(), spec.mlp_width());
        let linear = |i: usize, o: usize| LinearConfig::new(i, o).with_bias(true).init(device);
        let h = (0..spec.depth())
            .map(|_| GptBlock {
                ln_1: GptLayerNorm::new(d, device),
                attn: GptAttention { c_attn: linear(d, 3 * d), c_proj: linear(d, d) },
                ln_2: GptLayerNorm::new(d, device),
                mlp: GptMlp { c_fc: linear(d, m), c_proj: linear(m, d) },
            })
            .collect();
        let transformer = GptTrunk {
            wte: EmbeddingConfig::new(spec.vocab(), d).init(device),
            wpe: EmbeddingConfig::new(spec.context(), d).init(device),
            h,
            ln_f: GptLayerNorm::new(d, device),
        };
        let lm_head = (spec.head() == HeadTying::Untied)
            .then(|| GptHead { weight: Initializer::Zeros.init([spec.vocab(), d], device) });
        Self { transformer, lm_head }
    }

    /// The GPT on `device`, every parameter drawn from `plan` (a plan of
    /// [`GptSpec::plan`]) with `seed`: [`nninit_burn::Rules::from_plan`] and
    /// [`nninit_burn::init`], each tensor from nninit's stream of (`seed`, its plan name), so
    /// the values are those `nninit materialize` writes, on every backend.
    ///
    /// The plan's tied `lm_head.weight` is left out: the tied head is `transformer.wte`.
    ///
    /// # Errors
    /// [`LabError::Burn`] when the plan does not fit the modules (a plan of another spec: a
    /// missing tensor or another shape) or a tensor has no rule.
    pub fn from_plan(spec: &GptSpec, plan: &Plan, seed: u64, device: &Device) -> Result<Self> {
        let mut stored = plan.clone();
        stored.tensors.retain(|t| t.is_stored());
        let rules = nninit_burn::Rules::from_plan(&stored)?;
        Ok(nninit_burn::init(Self::build(spec, device), &rules, seed)?)
    }

    /// The GPT on `device` under `scheme` with `seed`: [`from_plan`](Self::from_plan) of
    /// [`GptSpec::plan`].
    ///
    /// # Errors
    /// As [`GptSpec::plan`] and [`from_plan`](Self::from_plan).
    pub fn init(spec: &GptSpec, scheme: Scheme, seed: u64, device: &Device) -> Result<Self> {
        Self::from_plan(spec, &spec.plan(scheme)?, seed, device)
    }

    /// The token tensor `[batch, time]` of row-major ids.
    ///
    /// # Errors
    /// [`LabError::Model`] when `ids` is not `batch × time` long, `time` is not in
    /// 1..=context, or an id is not below the vocabulary size.
    pub fn tokens(spec: &GptSpec, ids: &[u32], batch: usize, time: usize, device: &Device) -> Result<Tensor<2, Int>> {
        let bad = |reason: String| Err(LabError::Model { reason });
        if time == 0 || time > spec.context() || batch.checked_mul(time) != Some(ids.len()) {
            return bad(format!(
                "gpt: {} ids for {batch} windows of {time} symbols (context {})",
                ids.len(),
                spec.context()
            ));
        }
        if let Some(&id) = ids.iter().find(|&&id| id as usize >= spec.vocab()) {
            return bad(format!("gpt: symbol id {id} is not below the vocabulary size {}", spec.vocab()));
        }
        let ids: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
        Ok(Tensor::from_data(TensorData::new(ids, [batch, time]), device))
    }

    /// The logits `[batch, time, vocab]` of tokens `[batch, time]` (time ≤ context): token
    /// plus position embedding, the blocks, `ln_f` under pre-LN, then the head (`wteᵀ` when
    /// tied). The logits at position t depend on the tokens at positions ≤ t only.
    pub fn forward(&self, spec: &GptSpec, tokens: Tensor<2, Int>) -> Tensor<3> {
        let [batch, time] = tokens.dims();
        let t = &self.transformer;
        let positions = t.wpe.weight.val().narrow(0, 0, time).unsqueeze::<3>();
        let mut x = t.wte.forward(tokens) + positions;
        for block in &t.h {
            x = block.forward(x, spec);
        }
        if spec.form() == BlockForm::PreLn {
            x = t.ln_f.forward(x);
        }
        let head = match &self.lm_head {
            Some(head) => head.weight.val(),
            None => t.wte.weight.val(),
        };
        let width = spec.width();
        x.reshape([batch * time, width]).matmul(head.transpose()).reshape([batch, time, spec.vocab()])
    }

    /// The mean next-symbol cross-entropy (nats per symbol) of a batch of windows: the lab's
    /// softmax cross-entropy ([`batch_loss`]) over every position of every window.
    ///
    /// # Errors
    /// As [`tokens`](Self::tokens), for the inputs and for the targets.
    pub fn loss(&self, spec: &GptSpec, batch: &TokenBatch, device: &Device) -> Result<Tensor<1>> {
        let tokens = Self::tokens(spec, &batch.inputs, batch.batch, batch.context, device)?;
        let targets = targets(spec, &batch.targets, batch.inputs.len())?;
        let logits = self.forward(spec, tokens).reshape([batch.batch * batch.context, spec.vocab()]);
        Ok(batch_loss(LossKind::CrossEntropy, logits, &targets, spec.vocab(), device))
    }
}

/// The targets as the class labels [`batch_loss`] takes (the vocabulary has at most 256
/// symbols, [`crate::limits::VOCAB`]).
fn targets(spec: &GptSpec, ids: &[u32], expected: usize) -> Result<Vec<u8>> {
    if ids.len() != expected {
        return Err(LabError::Model { reason: format!("gpt: {} targets for {expected} inputs", ids.len()) });
    }
    ids.iter()
        .map(|&id| {
            u8::try_from(id).ok().filter(|&b| usize::from(b) < spec.vocab()).ok_or_else(|| LabError::Model {
                reason: format!("gpt: target id {id} is not below the vocabulary size {}", spec.vocab()),
            })
        })
        .collect()
}

/// Adam on the GPT with a fixed learning rate and no warmup (the `transformer-depth` setting):
/// the lab's Adam (β₁ = 0.9, β₂ = 0.999, ε = 1e-8, PyTorch's defaults, as
/// [`crate::train::Optimizer::Adam`]).
pub struct GptTrainer {
    optim: ModuleOptimizer,
    lr: f64,
}

impl std::fmt::Debug for GptTrainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // burn's optimizer state has no Debug.
        f.debug_struct("GptTrainer").field("optimizer", &"adam").field("lr", &self.lr).finish_non_exhaustive()
    }
}

impl GptTrainer {
    /// Adam at learning rate `lr`.
    ///
    /// # Errors
    /// [`LabError::OutOfRange`] for an `lr` outside [`crate::limits::LR`].
    pub fn adam(lr: f64) -> Result<Self> {
        let lr = crate::limits::LR.check("gpt", lr)?;
        Ok(Self { optim: crate::train::optimizer(crate::train::Optimizer::Adam), lr })
    }

    /// One step on `batch`: the loss before the step (nats per symbol), and the model after
    /// it. `model` must live on `device`, an autodiff device.
    ///
    /// # Errors
    /// As [`Gpt::loss`].
    pub fn step(&mut self, spec: &GptSpec, model: Gpt, batch: &TokenBatch, device: &Device) -> Result<(Gpt, f64)> {
        let loss = model.loss(spec, batch, device)?;
        let value = f64::from(loss.clone().into_scalar::<f32>());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        Ok((self.optim.step(self.lr, model, grads), value))
    }
}

/// How to train the char-GPT on a text corpus ([`train_on_text`]).
#[derive(Clone, Debug, PartialEq)]
pub struct TextTraining {
    /// Adam steps, 1 ..= [`crate::limits::STEPS`].
    pub steps: usize,
    /// Windows of `context` symbols per step ([`GptSpec::check_batch`]).
    pub batch: usize,
    /// Adam's fixed learning rate (no warmup, no decay).
    pub lr: f64,
    /// The seed of the initialization (the plan's streams) and of the training windows (the
    /// stream `(seed, "lab.gpt.windows")`).
    pub seed: u64,
    /// Validation windows read at most, from the start of the validation split (all of them:
    /// `usize::MAX`); a whole number of batches of `batch` windows, the last possibly smaller.
    pub validation_windows: usize,
    /// Measure validation bits every this many steps (in [`crate::limits::EVAL_EVERY`]), as
    /// well as before the first step and after the last; `None`: only before and after.
    pub eval_every: Option<usize>,
}

/// One validation measurement of a text run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TextEval {
    /// Adam steps done before it (0: at initialization).
    pub step: usize,
    /// Mean validation cross-entropy, bits per character ([`validation_bits`]).
    pub bits: f64,
}

/// What one char-GPT run on a text produced.
#[derive(Clone, Debug, PartialEq)]
pub struct TextRun {
    /// The training loss (nats per symbol) of every step run, before its update.
    pub train_loss: Vec<f64>,
    /// Every validation measurement, in step order: the first at step 0, the last after the
    /// last step (unless the run diverged), and every [`TextTraining::eval_every`] steps.
    pub evals: Vec<TextEval>,
    /// The step at which the run was stopped as diverged ([`diverged`]), if it was.
    pub diverged_at: Option<usize>,
}

impl TextRun {
    /// Validation bits per character at initialization.
    pub fn initial_bits(&self) -> f64 {
        self.evals.first().map_or(f64::NAN, |e| e.bits)
    }

    /// Validation bits per character after the last step (`None` when the run diverged).
    pub fn validation_bits(&self) -> Option<f64> {
        match self.diverged_at {
            Some(_) => None,
            None => self.evals.last().map(|e| e.bits),
        }
    }
}

/// Training steps the blow-up rule of [`diverged`] averages the loss over.
pub const BLOW_UP_WINDOW: usize = 10;

/// Nats per symbol by which the averaged training loss must exceed its reference for
/// [`diverged`] to call a run blown up.
pub const BLOW_UP_MARGIN_NATS: f64 = 1.0;

/// Whether a char-GPT run whose training losses (nats per symbol, one per step, in order) are
/// `losses` has diverged at its last step, for a vocabulary of `vocab` symbols: its last loss
/// is not finite, or the mean of its last [`BLOW_UP_WINDOW`] losses exceeds
/// max(ln `vocab`, its first loss) by more than [`BLOW_UP_MARGIN_NATS`].
///
/// ln `vocab` is the loss of the uniform prediction, which every initialization with small
/// logits starts near; a model that is 1 nat per symbol worse than both that and its own
/// start (it gives the right symbol e ≈ 2.7 times less probability than guessing) has not
/// merely stalled but blown up, as post-LN transformers without warmup do (Liu et al. 2020).
/// The window keeps one noisy batch from counting.
pub fn diverged(losses: &[f64], vocab: usize) -> bool {
    let Some(&last) = losses.last() else { return false };
    if !last.is_finite() {
        return true;
    }
    if losses.len() < BLOW_UP_WINDOW {
        return false;
    }
    let recent = losses[losses.len() - BLOW_UP_WINDOW..].iter().sum::<f64>() / BLOW_UP_WINDOW as f64;
    recent > losses[0].max((vocab as f64).ln()) + BLOW_UP_MARGIN_NATS
}

/// Mean validation cross-entropy in bits per character of `model` over the first
/// `max_windows` validation windows of `data` (consecutive, non-overlapping windows of the
/// context, [`TextDataset::validation_windows`]), on the non-autodiff side of `device`.
///
/// # Errors
/// The window errors of the dataset ([`LabError::Data`]); [`LabError::Model`] when the
/// dataset's vocabulary is not the spec's.
pub fn validation_bits(
    spec: &GptSpec,
    model: &Gpt,
    data: &TextDataset,
    batch: usize,
    max_windows: usize,
    device: &Device,
) -> Result<f64> {
    check_vocab(spec, data)?;
    let valid = model.valid();
    let inner = device.clone().inner();
    let (mut nats, mut symbols) = (0f64, 0usize);
    let mut left = max_windows.max(1);
    for mut b in data.validation_windows(batch, spec.context())? {
        if left == 0 {
            break;
        }
        if b.batch > left {
            b.inputs.truncate(left * b.context);
            b.targets.truncate(left * b.context);
            b.batch = left;
        }
        left -= b.batch;
        let n = b.inputs.len();
        nats += f64::from(valid.loss(spec, &b, &inner)?.into_scalar::<f32>()) * n as f64;
        symbols += n;
    }
    Ok(nats / symbols.max(1) as f64 / std::f64::consts::LN_2)
}

fn check_vocab(spec: &GptSpec, data: &TextDataset) -> Result<()> {
    if data.vocab_size() == spec.vocab() {
        Ok(())
    } else {
        Err(LabError::Model {
            reason: format!("gpt: vocab = {} but the text has {} symbols", spec.vocab(), data.vocab_size()),
        })
    }
}

/// Trains the char-GPT `spec` initialized under `scheme` on `data` (for example
/// [`crate::data::load_shakespeare`]) with Adam at a fixed learning rate, and measures
/// validation bits per character before, every [`TextTraining::eval_every`] steps and after:
/// one run of the `transformer-depth` experiment. The run stops, marked diverged, at the
/// first step [`diverged`] calls so (a non-finite loss, or the training loss blown up), or at
/// a non-finite validation measurement. `progress` hears each step done (counted from 1).
///
/// # Errors
/// [`LabError::OutOfRange`] for steps, batch, lr or eval_every out of range, before anything
/// runs; the errors of [`Gpt::init`], [`validation_bits`] and of the dataset's windows.
pub fn train_on_text(
    spec: &GptSpec,
    scheme: Scheme,
    data: &TextDataset,
    cfg: &TextTraining,
    device: &Device,
    progress: &mut dyn FnMut(usize),
) -> Result<TextRun> {
    crate::limits::STEPS.check_usize("gpt", cfg.steps)?;
    if let Some(every) = cfg.eval_every {
        crate::limits::EVAL_EVERY.check_usize("gpt", every)?;
    }
    spec.check_batch("gpt", cfg.batch)?;
    check_vocab(spec, data)?;
    let mut trainer = GptTrainer::adam(cfg.lr)?;
    let mut model = Gpt::init(spec, scheme, cfg.seed, device)?;
    let bits = |model: &Gpt| validation_bits(spec, model, data, cfg.batch, cfg.validation_windows, device);
    let mut evals = vec![TextEval { step: 0, bits: bits(&model)? }];
    let windows = Philox::new(cfg.seed, "lab.gpt.windows");
    let mut train_loss = Vec::with_capacity(cfg.steps);
    for step in 1..=cfg.steps {
        let batch = data.train_windows(&windows, step as u64 - 1, cfg.batch, spec.context())?;
        let (next, loss) = trainer.step(spec, model, &batch, device)?;
        model = next;
        train_loss.push(loss);
        progress(step);
        if diverged(&train_loss, spec.vocab()) {
            return Ok(TextRun { train_loss, evals, diverged_at: Some(step) });
        }
        if step == cfg.steps || cfg.eval_every.is_some_and(|e| step.is_multiple_of(e)) {
            let b = bits(&model)?;
            evals.push(TextEval { step, bits: b });
            if !b.is_finite() {
                return Ok(TextRun { train_loss, evals, diverged_at: Some(step) });
            }
        }
    }
    Ok(TextRun { train_loss, evals, diverged_at: None })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::host;

    fn tiny(form: BlockForm) -> GptSpec {
        GptSpec::new(11, 16, 32, 4, 2, form).unwrap()
    }

    fn values(p: &Param<Tensor<2>>) -> Vec<f32> {
        host(p.val().to_data())
    }

    /// The plan's own fill of tensor `name`.
    fn planned(plan: &Plan, name: &str, seed: u64) -> Vec<f32> {
        let t = plan.get(name).unwrap();
        let mut v = vec![0f32; t.numel() as usize];
        t.fill_slice(seed, 0, &mut v).unwrap();
        v
    }

    #[test]
    fn gpt_parameters_are_the_plans_fills_bit_for_bit() {
        let device = Device::flex();
        let spec = tiny(BlockForm::PreLn).with_head(HeadTying::Untied).unwrap();
        let plan = spec.plan(Scheme::Hf).unwrap();
        let gpt = Gpt::from_plan(&spec, &plan, 7, &device).unwrap();
        let b0 = &gpt.transformer.h[0];
        let b1 = &gpt.transformer.h[1];
        let checks: [(&str, Vec<f32>); 6] = [
            ("transformer.wte.weight", values(&gpt.transformer.wte.weight)),
            ("transformer.wpe.weight", values(&gpt.transformer.wpe.weight)),
            ("transformer.h.0.attn.c_attn.weight", values(&b0.attn.c_attn.weight)),
            ("transformer.h.0.mlp.c_fc.weight", values(&b0.mlp.c_fc.weight)),
            ("transformer.h.1.mlp.c_proj.weight", values(&b1.mlp.c_proj.weight)),
            ("lm_head.weight", values(&gpt.lm_head.as_ref().unwrap().weight)),
        ];
        for (name, got) in &checks {
            let want = planned(&plan, name, 7);
            assert_eq!(
                got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "{name}"
            );
        }
        // Another seed gives other values (the test would catch a model ignoring the seed).
        assert_ne!(planned(&plan, "transformer.h.0.mlp.c_fc.weight", 8), checks[3].1);
        // hf: N(0, 0.02) everywhere, N(0, 0.02/√(2·depth)) on the residual c_proj: the scaling shows.
        let std = |v: &[f32]| (v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
        let (fc, proj) = (std(&checks[3].1), std(&checks[4].1));
        assert!((fc - 0.02).abs() < 0.002, "{fc}");
        let scaled = 0.02 / (2.0 * 2.0f64).sqrt();
        assert!((proj - scaled).abs() < 0.1 * scaled, "{proj} vs {scaled}");
        let rule = plan.get("transformer.h.1.attn.c_proj.weight").unwrap().init.unwrap();
        let planned_std = rule.explain(&plan.get("transformer.h.1.attn.c_proj.weight").unwrap().spec).unwrap().std;
        assert_eq!(planned_std, Some(scaled));
        // Biases and norms: zeros and ones, as the plan says.
        assert!(host(b0.attn.c_attn.bias.as_ref().unwrap().val().to_data()).iter().all(|&v| v == 0.0));
        assert!(host(b1.ln_2.weight.val().to_data()).iter().all(|&v| v == 1.0));
        assert!(host(gpt.transformer.ln_f.bias.val().to_data()).iter().all(|&v| v == 0.0));
    }

    /// Every parameter of `gpt` with its path, listed by hand from the module tree (not from
    /// nninit-burn's walk, which the test checks).
    fn named(gpt: &Gpt) -> Vec<(String, Vec<f32>)> {
        let v1 = |p: &Param<Tensor<1>>| host(p.val().to_data());
        let lin = |out: &mut Vec<(String, Vec<f32>)>, name: String, l: &Linear| {
            out.push((format!("{name}.weight"), values(&l.weight)));
            out.push((format!("{name}.bias"), v1(l.bias.as_ref().unwrap())));
        };
        let norm = |out: &mut Vec<(String, Vec<f32>)>, name: String, n: &GptLayerNorm| {
            out.push((format!("{name}.weight"), v1(&n.weight)));
            out.push((format!("{name}.bias"), v1(&n.bias)));
        };
        let t = &gpt.transformer;
        let mut out = vec![
            ("transformer.wte.weight".to_string(), values(&t.wte.weight)),
            ("transformer.wpe.weight".to_string(), values(&t.wpe.weight)),
        ];
        for (i, b) in t.h.iter().enumerate() {
            let h = format!("transformer.h.{i}");
            norm(&mut out, format!("{h}.ln_1"), &b.ln_1);
            lin(&mut out, format!("{h}.attn.c_attn"), &b.attn.c_attn);
            lin(&mut out, format!("{h}.attn.c_proj"), &b.attn.c_proj);
            norm(&mut out, format!("{h}.ln_2"), &b.ln_2);
            lin(&mut out, format!("{h}.mlp.c_fc"), &b.mlp.c_fc);
            lin(&mut out, format!("{h}.mlp.c_proj"), &b.mlp.c_proj);
        }
        norm(&mut out, "transformer.ln_f".into(), &t.ln_f);
        if let Some(head) = &gpt.lm_head {
            out.push(("lm_head.weight".into(), values(&head.weight)));
        }
        out
    }

    #[test]
    fn gpt_every_parameter_is_its_plan_tensor_in_every_scheme() {
        let device = Device::flex();
        for head in [HeadTying::Tied, HeadTying::Untied] {
            let spec = tiny(BlockForm::PostLn).with_head(head).unwrap();
            for scheme in [Scheme::TorchDefault, Scheme::Hf, Scheme::HfUnscaled, Scheme::DeepNorm, Scheme::TFixup] {
                let plan = spec.plan(scheme).unwrap();
                let gpt = Gpt::from_plan(&spec, &plan, 2, &device).unwrap();
                assert_eq!(gpt.num_params() as u64, plan.parameters(), "{scheme:?} {head:?}");
                let got = named(&gpt);
                let stored: Vec<&str> = plan.stored().map(|t| t.name.as_str()).collect();
                assert_eq!(got.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), stored, "{scheme:?}");
                for (name, values) in &got {
                    let want = planned(&plan, name, 2);
                    let same = values.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits());
                    assert!(same && values.len() == want.len(), "{scheme:?} {head:?}: {name}");
                }
            }
        }
    }

    #[test]
    fn gpt_fused_parts_with_their_own_rules_come_from_the_plan() {
        // T-Fixup and DeepNorm rule q, k and v apart: c_attn is drawn part by part from the
        // streams `c_attn.weight#q`, `#k`, `#v`.
        let device = Device::flex();
        for (scheme, form) in
            [(Scheme::TFixup, BlockForm::NoNorm), (Scheme::DeepNorm, BlockForm::DeepNorm { alpha: 1.5 })]
        {
            let spec = tiny(form);
            let plan = spec.plan(scheme).unwrap();
            let name = "transformer.h.1.attn.c_attn.weight";
            assert!(plan.get(name).unwrap().has_part_rules(), "{scheme:?}");
            let gpt = Gpt::from_plan(&spec, &plan, 3, &device).unwrap();
            let got = values(&gpt.transformer.h[1].attn.c_attn.weight);
            let want = planned(&plan, name, 3);
            assert_eq!(
                got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "{scheme:?}"
            );
            // v's columns (the last third of each row) are scaled apart from q's.
            let rms = |cols: std::ops::Range<usize>| {
                let v: Vec<f64> =
                    got.chunks(96).flat_map(|row| row[cols.clone()].iter().map(|&x| f64::from(x).powi(2))).collect();
                (v.iter().sum::<f64>() / v.len() as f64).sqrt()
            };
            assert!(rms(64..96) < 0.8 * rms(0..32), "{scheme:?}: v {} q {}", rms(64..96), rms(0..32));
            let proj = values(&gpt.transformer.h[0].mlp.c_proj.weight);
            assert_eq!(proj, planned(&plan, "transformer.h.0.mlp.c_proj.weight", 3));
        }
    }

    #[test]
    fn gpt_a_plan_of_another_spec_is_refused() {
        let device = Device::flex();
        let plan = tiny(BlockForm::PreLn).plan(Scheme::Hf).unwrap();
        let wider = GptSpec::new(11, 16, 64, 4, 2, BlockForm::PreLn).unwrap();
        assert!(matches!(Gpt::from_plan(&wider, &plan, 0, &device), Err(LabError::Burn(_))));
        let deeper = GptSpec::new(11, 16, 32, 4, 3, BlockForm::PreLn).unwrap();
        assert!(matches!(Gpt::from_plan(&deeper, &plan, 0, &device), Err(LabError::Burn(_))));
        let untied = tiny(BlockForm::PreLn).with_head(HeadTying::Untied).unwrap();
        assert!(matches!(Gpt::from_plan(&untied, &plan, 0, &device), Err(LabError::Burn(_))));
    }

    fn sequence(batch: usize, time: usize, salt: u32) -> Vec<u32> {
        (0..(batch * time) as u32).map(|i| (i * 7 + salt + i / 5) % 11).collect()
    }

    #[test]
    fn gpt_logits_at_t_do_not_see_the_future() {
        let device = Device::flex();
        for form in [BlockForm::PreLn, BlockForm::PostLn, BlockForm::DeepNorm { alpha: 2.0 }, BlockForm::NoNorm] {
            let spec = tiny(form);
            let gpt = Gpt::init(&spec, Scheme::Hf, 1, &device).unwrap();
            let (batch, time) = (2, 16);
            let ids = sequence(batch, time, 0);
            let logits = |ids: &[u32]| {
                host(gpt.forward(&spec, Gpt::tokens(&spec, ids, batch, time, &device).unwrap()).to_data())
            };
            let base = logits(&ids);
            assert_eq!(base.len(), batch * time * 11);
            for t in [0, 5, 14] {
                let mut changed = ids.clone();
                for b in 0..batch {
                    for s in t + 1..time {
                        changed[b * time + s] = (changed[b * time + s] + 3) % 11;
                    }
                }
                let other = logits(&changed);
                for b in 0..batch {
                    let row = |v: &[f32], s: usize| v[(b * time + s) * 11..(b * time + s + 1) * 11].to_vec();
                    // Exactly: a masked score's weight is exp(−∞) = 0, and adding 0·v changes no sum.
                    for s in 0..=t {
                        assert_eq!(row(&base, s), row(&other, s), "{form:?}: t = {t}, s = {s}");
                    }
                    // And the future does change (the comparison can fail).
                    assert_ne!(row(&base, t + 1), row(&other, t + 1), "{form:?}: t + 1 = {}", t + 1);
                }
            }
        }
    }

    #[test]
    fn gpt_block_forms_give_different_outputs() {
        let device = Device::flex();
        let forms = [BlockForm::PreLn, BlockForm::PostLn, BlockForm::DeepNorm { alpha: 2.0 }, BlockForm::NoNorm];
        let ids = sequence(2, 16, 1);
        let outputs: Vec<Vec<f32>> = forms
            .iter()
            .map(|&form| {
                let spec = tiny(form);
                // The same weights in every form (the plan does not depend on the form).
                let gpt = Gpt::init(&spec, Scheme::Hf, 5, &device).unwrap();
                let out = host(gpt.forward(&spec, Gpt::tokens(&spec, &ids, 2, 16, &device).unwrap()).to_data());
                assert!(out.iter().all(|v| v.is_finite()), "{form:?}");
                out
            })
            .collect();
        for i in 0..forms.len() {
            for j in i + 1..forms.len() {
                let diff = outputs[i].iter().zip(&outputs[j]).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
                assert!(diff > 1e-4, "{:?} and {:?} differ by {diff}", forms[i], forms[j]);
            }
        }
    }

    #[test]
    fn gpt_tokens_are_checked() {
        let device = Device::flex();
        let spec = tiny(BlockForm::PreLn);
        assert!(Gpt::tokens(&spec, &[0; 17], 1, 17, &device).is_err());
        assert!(Gpt::tokens(&spec, &[0; 15], 1, 16, &device).is_err());
        assert!(Gpt::tokens(&spec, &[11], 1, 1, &device).is_err());
        assert!(Gpt::tokens(&spec, &[10], 1, 1, &device).is_ok());
        assert!(targets(&spec, &[11], 1).is_err() && targets(&spec, &[256], 1).is_err());
        assert!(GptTrainer::adam(0.0).is_err());
    }

    #[test]
    fn gpt_trains_on_a_text_and_reports_validation_bits() {
        // A short synthetic text (unit test): the periodic phrase is learnable in a few steps.
        let text: Vec<u8> = b"to be or not to be, ".iter().copied().cycle().take(2000).collect();
        let data = TextDataset::new(&text).unwrap();
        let spec = GptSpec::new(data.vocab_size(), 16, 32, 4, 2, BlockForm::PreLn).unwrap();
        let cfg = TextTraining { steps: 40, batch: 8, lr: 3e-3, seed: 0, validation_windows: 8, eval_every: Some(20) };
        let device = Device::flex().autodiff();
        let run = train_on_text(&spec, Scheme::Hf, &data, &cfg, &device, &mut |_| {}).unwrap();
        assert_eq!((run.train_loss.len(), run.diverged_at), (40, None));
        // At init, about log2(vocab) bits; after training, far fewer.
        let uniform = (data.vocab_size() as f64).log2();
        assert!((run.initial_bits() - uniform).abs() < 0.5, "{} vs {uniform}", run.initial_bits());
        let bits = run.validation_bits().unwrap();
        assert!(bits < 0.6 * run.initial_bits(), "{} -> {bits}", run.initial_bits());
        // Measured at initialization, every eval_every steps, and after the last step.
        assert_eq!(run.evals.iter().map(|e| e.step).collect::<Vec<_>>(), [0, 20, 40]);
        assert!(run.evals[1].bits < run.evals[0].bits, "{:?}", run.evals);
        // The same seed gives the same run.
        let again =
            train_on_text(&spec, Scheme::Hf, &data, &TextTraining { steps: 3, ..cfg.clone() }, &device, &mut |_| {})
                .unwrap();
        assert_eq!(again.train_loss[..], run.train_loss[..3]);
        // An lr that blows up is a diverged run, not an error.
        let wild = TextTraining { steps: 30, lr: 1e5, ..cfg.clone() };
        let spec_nonorm = spec.clone().with_form(BlockForm::NoNorm).unwrap();
        let run = train_on_text(&spec_nonorm, Scheme::Hf, &data, &wild, &device, &mut |_| {}).unwrap();
        assert!(run.diverged_at.is_some() || run.validation_bits().is_some_and(|b| b > bits), "{run:?}");
        // A vocabulary that is not the text's is refused.
        let other = GptSpec::new(data.vocab_size() + 1, 16, 32, 4, 2, BlockForm::PreLn).unwrap();
        assert!(matches!(
            train_on_text(&other, Scheme::Hf, &data, &cfg, &device, &mut |_| {}),
            Err(LabError::Model { .. })
        ));
    }

    /// ~50 steps on the real Shakespeare corpus (`nninit data fetch shakespeare` first).
    #[test]
    #[ignore = "needs the Shakespeare corpus in the data folder (nninit data fetch shakespeare)"]
    fn gpt_trains_on_shakespeare() {
        let data = crate::data::load_shakespeare(None).unwrap();
        assert_eq!(data.vocab_size(), 84);
        let spec = GptSpec::new(84, 64, 64, 4, 2, BlockForm::PreLn).unwrap();
        let cfg = TextTraining { steps: 50, batch: 16, lr: 3e-3, seed: 0, validation_windows: 256, eval_every: None };
        let run = train_on_text(&spec, Scheme::Hf, &data, &cfg, &Device::flex().autodiff(), &mut |_| {}).unwrap();
        let bits = run.validation_bits().unwrap();
        eprintln!("shakespeare, 50 steps: {:.3} -> {bits:.3} bits per character", run.initial_bits());
        // Uniform over 84 symbols is 6.39 bits; character frequencies alone give about 4.4.
        assert!((run.initial_bits() - 84f64.log2()).abs() < 0.5, "{}", run.initial_bits());
        assert!(bits < run.initial_bits() - 1.0, "{} -> {bits}", run.initial_bits());
    }

    #[test]
    fn gpt_divergence_is_a_non_finite_or_blown_up_loss() {
        let ln_v = 84f64.ln();
        assert!(!diverged(&[], 84));
        assert!(diverged(&[ln_v, f64::NAN], 84));
        assert!(diverged(&[f64::INFINITY], 84));
        // Under the window, a high loss is not yet counted.
        assert!(!diverged(&[ln_v + 5.0; BLOW_UP_WINDOW - 1], 84));
        // Ten steps a little above 1 nat over the uniform loss: blown up; a little below: not.
        let mut high = vec![ln_v];
        high.extend(vec![ln_v + 1.01; BLOW_UP_WINDOW]);
        assert!(diverged(&high, 84));
        let mut stalled = vec![ln_v];
        stalled.extend(vec![ln_v + 0.99; BLOW_UP_WINDOW]);
        assert!(!diverged(&stalled, 84));
        // A start above the uniform loss is the reference instead.
        let mut from_high = vec![ln_v + 3.0];
        from_high.extend(vec![ln_v + 3.5; BLOW_UP_WINDOW]);
        assert!(!diverged(&from_high, 84));
        from_high.extend(vec![ln_v + 4.5; BLOW_UP_WINDOW]);
        assert!(diverged(&from_high, 84));
    }

    #[test]
    fn gpt_adam_steps_lower_the_training_loss() {
        let device = Device::flex().autodiff();
        let cases = [
            (BlockForm::PreLn, HeadTying::Tied, Scheme::Hf),
            (BlockForm::PostLn, HeadTying::Untied, Scheme::Hf),
            (BlockForm::NoNorm, HeadTying::Tied, Scheme::TFixup),
        ];
        for (form, head, scheme) in cases {
            let spec = tiny(form).with_head(head).unwrap();
            let mut gpt = Gpt::init(&spec, scheme, 0, &device).unwrap();
            // A fixed periodic sequence: the next symbol is a function of the current one.
            let stream: Vec<u32> = (0..4 * 16 + 1).map(|i| (i * 3) % 11).collect();
            let mut inputs = Vec::new();
            let mut targets = Vec::new();
            for w in 0..4 {
                inputs.extend_from_slice(&stream[w * 16..w * 16 + 16]);
                targets.extend_from_slice(&stream[w * 16 + 1..w * 16 + 17]);
            }
            let batch = TokenBatch { batch: 4, context: 16, inputs, targets };
            let mut trainer = GptTrainer::adam(3e-3).unwrap();
            let mut losses = Vec::new();
            for _ in 0..30 {
                let (next, loss) = trainer.step(&spec, gpt, &batch, &device).unwrap();
                gpt = next;
                losses.push(loss);
            }
            // At init the logits are near 0: the loss is near ln 11.
            assert!((losses[0] - 11f64.ln()).abs() < 0.3, "{form:?}: {}", losses[0]);
            let last = *losses.last().unwrap();
            assert!(last < 0.5 * losses[0], "{form:?}: {losses:?}");
            // The norms the form reads train; the ones it does not (NoNorm: all of them; ln_f
            // outside pre-LN) get no gradient and stay at the plan's ones.
            let ones = |n: &GptLayerNorm| host(n.weight.val().to_data()).iter().all(|&v| v == 1.0);
            let t = &gpt.transformer;
            assert_eq!(ones(&t.h[0].ln_1), form == BlockForm::NoNorm, "{form:?}");
            assert_eq!(ones(&t.ln_f), form != BlockForm::PreLn, "{form:?}");
        }
    }
}
