//! LoRA-family adapters initialized from a base checkpoint, written in PEFT's format.
//!
//! [`init_adapter`] reads a base checkpoint (a safetensors file, a sharded folder or a Hugging
//! Face model folder), adapts the `nn.Linear` modules named by the targets, and writes a folder
//! that `peft.PeftModel.from_pretrained` loads (see [`crate::io::peft`] for the format):
//!
//! | [`Method`] | `lora_A` `[r, in]` | `lora_B` `[out, r]` | scaling | base | PEFT (`LoraConfig`) |
//! |---|---|---|---|---|---|
//! | `lora` | `kaiming_uniform_(a=√5)`: U(±1/√in) | 0 | α/r | unchanged | `init_lora_weights=True` |
//! | `rslora` | as `lora` | 0 | α/√r | unchanged | `use_rslora=True` |
//! | `pissa` | `diag(√(S_r/s))·V_rᵀ` | `U_r·diag(√(S_r/s))` | α/r | `W − U_r S_r V_rᵀ` | `init_lora_weights="pissa"` / `"pissa_niter_N"` |
//! | `olora` | `R[:r]` | `Q[:, :r]` | α/r | `W − s·Q_r R_r` | `init_lora_weights="olora"` |
//!
//! where `W = U S Vᵀ` is the SVD of the base weight (`[out, in]`), `W = Q R` its thin QR and
//! `s` the scaling. References: LoRA, Hu et al. 2021 (`microsoft/LoRA` `loralib/layers.py`);
//! rsLoRA, Kalajdzievski 2023; PiSSA, Meng, Wang and Zhang 2024; OLoRA, Büyükakyüz 2024; the
//! formulas as PEFT 0.21 implements them in `peft/tuners/lora/layer.py` (`update_layer`,
//! `reset_lora_parameters`, `pissa_init`, `olora_init`).
//!
//! PiSSA and OLoRA change the base: `B·A` takes part of `W`, and the base must lose it, so the
//! adapted model starts where the base model was. They write the residual base model into
//! `OUT/residual/` (a copy of the base checkpoint with the adapted weights replaced); load
//! that folder as the base and the adapter onto it.
//!
//! PiSSA's SVD is randomized by default ([`Svd::Randomized`]: Halko, Martinsson and Tropp
//! 2011, subspace iteration with oversampling), its test vectors drawn from nninit's Philox
//! stream keyed by (seed, module path), so the adapter is reproducible from the seed.
//! [`Svd::Exact`] takes faer's full thin SVD, as PEFT's `"pissa"` does.
//!
//! Memory: the base is memory-mapped and every adapted weight is decoded, factored and its
//! residual written one at a time, so the peak is about one weight in `f32` plus its factors,
//! whatever the model's size.

mod factor;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::arch::Model;
use crate::error::{self, Error, Result};
use crate::io::peft::{self, Factor, LoraConfig};
use crate::io::{self, Bytes, Checkpoint, StoredTensor, TensorData};
use crate::plan::Module;
use crate::stream::Philox;
use crate::tensor::DType;

/// The adapter methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// LoRA: `A` Kaiming-uniform, `B = 0`, scaling α/r.
    Lora,
    /// rsLoRA: as LoRA with scaling α/√r.
    RsLora,
    /// PiSSA: the leading singular triplets, the base minus them.
    Pissa,
    /// OLoRA: the leading QR factors, the base minus them.
    Olora,
}

impl Method {
    /// Every method's name, comma-separated.
    pub const NAMES: &'static str = "lora, rslora, pissa, olora";

    /// Parses `lora`, `rslora`, `pissa` or `olora`.
    ///
    /// # Errors
    /// [`Error::UnknownName`] otherwise.
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "lora" => Self::Lora,
            "rslora" => Self::RsLora,
            "pissa" => Self::Pissa,
            "olora" => Self::Olora,
            _ => {
                return Err(Error::UnknownName {
                    what: "adapter method",
                    name: name.to_string(),
                    known: Self::NAMES.into(),
                });
            }
        })
    }

    /// The method's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Lora => "lora",
            Self::RsLora => "rslora",
            Self::Pissa => "pissa",
            Self::Olora => "olora",
        }
    }

    /// Whether the method takes its factors from the base weights and writes a residual base.
    pub fn has_residual(self) -> bool {
        matches!(self, Self::Pissa | Self::Olora)
    }

    /// PEFT's scaling of `B·A`: `alpha / √rank` for rsLoRA, `alpha / rank` otherwise.
    pub fn scaling(self, alpha: f64, rank: usize) -> f64 {
        match self {
            Self::RsLora => alpha / (rank as f64).sqrt(),
            _ => alpha / rank as f64,
        }
    }
}

/// How PiSSA computes its singular triplets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "svd")]
pub enum Svd {
    /// faer's full thin SVD, truncated (PEFT's `init_lora_weights="pissa"`).
    Exact,
    /// Randomized subspace iteration (HMT 2011, Algorithm 4.4): `rank + oversample` Gaussian
    /// test vectors and `power_iterations` passes (PEFT's `"pissa_niter_N"` is
    /// `torch.svd_lowrank(W, q=r, niter=N)`: no oversampling).
    Randomized {
        /// Test vectors beyond the rank.
        oversample: usize,
        /// Power iterations.
        power_iterations: usize,
    },
}

impl Svd {
    /// The default randomized SVD: 8 extra test vectors, 4 power iterations.
    pub const DEFAULT: Self = Self::Randomized { oversample: 8, power_iterations: 4 };

    /// The most test vectors beyond the rank.
    pub const MAX_OVERSAMPLE: usize = 1024;
    /// The most power iterations.
    pub const MAX_POWER_ITERATIONS: usize = 64;

    /// A randomized SVD.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] above [`Svd::MAX_OVERSAMPLE`] or [`Svd::MAX_POWER_ITERATIONS`].
    pub fn randomized(oversample: usize, power_iterations: usize) -> Result<Self> {
        check_count("--oversample", oversample, 0, Self::MAX_OVERSAMPLE)?;
        check_count("--niter", power_iterations, 0, Self::MAX_POWER_ITERATIONS)?;
        Ok(Self::Randomized { oversample, power_iterations })
    }

    /// A short label (`exact`, `randomized (p=8, q=4)`).
    pub fn label(self) -> String {
        match self {
            Self::Exact => "exact".into(),
            Self::Randomized { oversample, power_iterations } => {
                format!("randomized (oversample {oversample}, {power_iterations} power iterations)")
            }
        }
    }
}

fn check_count(what: &str, value: usize, min: usize, max: usize) -> Result<()> {
    if value < min || value > max {
        return Err(Error::OutOfRange { what: what.into(), value: value as i128, min: min as u64, max: max as u64 });
    }
    Ok(())
}

/// The largest rank accepted before any tensor is looked at (each target's own bound,
/// `min(in, out)`, is checked against its shape).
pub const MAX_RANK: usize = 1 << 16;

/// A validated adapter request.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    method: Method,
    rank: usize,
    alpha: f64,
    targets: Vec<String>,
    seed: u64,
    svd: Svd,
}

impl Options {
    /// An adapter of `method` with rank `rank` and `lora_alpha = alpha` on the modules named by
    /// `targets` (PEFT's `target_modules`: a module is adapted if its path equals a target or
    /// ends with `.target`), seeded by `seed`, with the default SVD ([`Svd::DEFAULT`]).
    ///
    /// # Errors
    /// [`Error::OutOfRange`] for rank 0 or above [`MAX_RANK`]; [`Error::InvalidParameter`]
    /// unless `alpha` is finite and > 0; [`Error::InvalidConfig`] for no targets, an empty
    /// target, one with characters other than letters, digits, `_` and `.`, or one given twice.
    pub fn new(method: Method, rank: usize, alpha: f64, targets: Vec<String>, seed: u64) -> Result<Self> {
        check_count("--rank", rank, 1, MAX_RANK)?;
        error::positive("alpha", alpha)?;
        if targets.is_empty() {
            return Err(Error::InvalidConfig { reason: "no target modules (--target q_proj,v_proj)".into() });
        }
        let mut seen = BTreeSet::new();
        for t in &targets {
            let valid = !t.is_empty()
                && !t.starts_with('.')
                && !t.ends_with('.')
                && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
            if !valid {
                return Err(Error::InvalidConfig {
                    reason: format!("target module `{t}` must be a module name such as q_proj or mlp.down_proj"),
                });
            }
            if !seen.insert(t.as_str()) {
                return Err(Error::InvalidConfig { reason: format!("target module `{t}` is given twice") });
            }
        }
        Ok(Self { method, rank, alpha, targets, seed, svd: Svd::DEFAULT })
    }

    /// The same request with PiSSA's SVD chosen.
    #[must_use]
    pub fn with_svd(mut self, svd: Svd) -> Self {
        self.svd = svd;
        self
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The rank.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// `lora_alpha`.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// The target module names.
    pub fn targets(&self) -> &[String] {
        &self.targets
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// PiSSA's SVD.
    pub fn svd(&self) -> Svd {
        self.svd
    }

    /// PEFT's scaling of `B·A` ([`Method::scaling`]).
    pub fn scaling(&self) -> f64 {
        self.method.scaling(self.alpha, self.rank)
    }
}

/// One adapted module.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AdaptedModule {
    /// The module path (`model.layers.0.self_attn.q_proj`).
    pub module: String,
    /// The base weight's shape, `[out, in]`.
    pub shape: [usize; 2],
    /// The share of `‖W‖²_F` that `scaling·B·A` holds (PiSSA, OLoRA).
    pub captured: Option<f64>,
}

/// What [`init_adapter`] wrote.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Written {
    /// The method.
    pub method: Method,
    /// The rank.
    pub rank: usize,
    /// `lora_alpha`.
    pub alpha: f64,
    /// PEFT's scaling of `B·A`.
    pub scaling: f64,
    /// The seed.
    pub seed: u64,
    /// PiSSA's SVD (`None` for the other methods).
    pub svd: Option<Svd>,
    /// The adapted modules, in the base checkpoint's order.
    pub modules: Vec<AdaptedModule>,
    /// The adapter's parameters (`r·(in + out)` per module).
    pub parameters: u64,
    /// The adapter's files.
    pub files: Vec<PathBuf>,
    /// The residual base model's folder (PiSSA, OLoRA).
    pub residual: Option<PathBuf>,
    /// The residual base model's files.
    pub residual_files: Vec<PathBuf>,
}

/// A target tensor found in the base.
struct Target {
    /// Index into the checkpoint's tensors.
    index: usize,
    /// The module path.
    module: String,
    /// `[out, in]`.
    shape: (usize, usize),
}

/// The module type of each tensor, from the base's `config.json` where nninit knows its
/// architecture.
fn module_types(base: &Checkpoint) -> BTreeMap<String, Module> {
    let Some(plan) =
        base.config_json().and_then(|j| Model::from_config_json(j).ok()).and_then(|m| m.plan(DType::F32).ok())
    else {
        return BTreeMap::new();
    };
    plan.tensors.iter().map(|t| (t.name.clone(), t.module)).collect()
}

/// Where the architecture is unknown: whether a module's name says it is an embedding table
/// (`embed_tokens`, `wte`, `wpe`, `word_embeddings`, ...).
fn looks_like_embedding(module: &str) -> bool {
    let last = module.rsplit('.').next().unwrap_or(module);
    last.contains("embed") || matches!(last, "wte" | "wpe" | "shared")
}

/// PEFT's `task_type` for the base's architecture (`CAUSAL_LM` for `*ForCausalLM`).
fn task_type(base: &Checkpoint) -> Option<String> {
    let config: serde_json::Value = serde_json::from_str(base.config_json()?).ok()?;
    let arch = config.get("architectures")?.as_array()?.first()?.as_str()?;
    arch.ends_with("ForCausalLM").then(|| "CAUSAL_LM".to_string())
}

/// Finds and checks every target: each target name must match at least one `*.weight` of
/// the base, and each match must be a 2-D linear weight with `rank ≤ min(out, in)`.
fn resolve(base: &Checkpoint, opts: &Options) -> Result<Vec<Target>> {
    let kinds = module_types(base);
    let matches = |module: &str, target: &str| module == target || module.ends_with(&format!(".{target}"));
    let mut found = Vec::new();
    let mut hits: BTreeMap<&str, usize> = opts.targets.iter().map(|t| (t.as_str(), 0)).collect();
    for (index, t) in base.tensors().iter().enumerate() {
        let Some(module) = t.name.strip_suffix(".weight") else { continue };
        let mut any = false;
        for target in &opts.targets {
            if matches(module, target) {
                *hits.get_mut(target.as_str()).expect("every target is counted") += 1;
                any = true;
            }
        }
        if !any {
            continue;
        }
        let unsupported = |reason: String| Error::UnsupportedShape {
            init: opts.method.name(),
            shape: t.shape.clone(),
            reason: format!("`{}` {reason}", t.name),
        };
        let [out, inp] = t.shape[..] else {
            return Err(unsupported("is not a 2-D nn.Linear weight; LoRA adapts linear layers".into()));
        };
        match kinds.get(&t.name) {
            Some(Module::Embedding) => {
                return Err(unsupported(
                    "is an embedding (PEFT adapts nn.Embedding with lora_embedding_A/B): nninit adapts nn.Linear \
                     weights only"
                        .into(),
                ));
            }
            None if looks_like_embedding(module) => {
                return Err(unsupported(
                    "is named like an embedding (PEFT adapts nn.Embedding with lora_embedding_A/B): nninit adapts \
                     nn.Linear weights only"
                        .into(),
                ));
            }
            None | Some(Module::Linear) => {}
            Some(Module::Conv1D) => {
                return Err(unsupported(
                    "is a transformers Conv1D ([in, out], GPT-2): nninit adapts nn.Linear weights only".into(),
                ));
            }
            Some(other) => return Err(unsupported(format!("belongs to a {other:?} module, not an nn.Linear"))),
        }
        if t.dtype.float().is_none() {
            return Err(unsupported(format!("is {}, not floating point", t.dtype.name())));
        }
        if opts.method.has_residual() && peft::residual_dtype(t.dtype).is_none() {
            return Err(unsupported(format!(
                "is {}; {} factors f32, bf16 and f16 weights (as PEFT)",
                t.dtype.name(),
                opts.method.name()
            )));
        }
        let most = out.min(inp);
        if opts.rank > most {
            return Err(Error::OutOfRange {
                what: format!("--rank for `{module}` ([{out}, {inp}])"),
                value: opts.rank as i128,
                min: 1,
                max: most as u64,
            });
        }
        io::check_write_elements(&t.name, t.numel())?;
        found.push(Target { index, module: module.to_string(), shape: (out, inp) });
    }
    if let Some((target, _)) = hits.iter().find(|(_, n)| **n == 0) {
        let mut known: BTreeSet<&str> = BTreeSet::new();
        for t in base.tensors().iter().filter(|t| t.shape.len() == 2) {
            if let Some(module) = t.name.strip_suffix(".weight") {
                known.insert(module.rsplit('.').next().unwrap_or(module));
            }
        }
        return Err(Error::UnknownName {
            what: "target module",
            name: (*target).to_string(),
            known: known.into_iter().collect::<Vec<_>>().join(", "),
        });
    }
    Ok(found)
}

/// Writes an adapter of `opts` for the base checkpoint at `base` into the folder `out`
/// (created if missing): `adapter_config.json`, `adapter_model.safetensors` and, for PiSSA
/// and OLoRA, the residual base model in `out/residual/`. Every file is written atomically,
/// and every target is checked before anything is written.
///
/// # Errors
/// [`Error::Io`] for a missing or unreadable base or an unwritable `out`;
/// [`Error::DamagedFile`] for a damaged base; [`Error::UnknownName`] for a target that names
/// no module; [`Error::UnsupportedShape`] for a target that is not a 2-D float linear weight;
/// [`Error::OutOfRange`] for a rank above a target's `min(out, in)`;
/// [`Error::NonFiniteTensor`] for a PiSSA/OLoRA target holding NaN or ±inf;
/// [`Error::UnsupportedFile`] if `out` is a file or the base folder itself.
pub fn init_adapter(base: &Path, out: &Path, opts: &Options) -> Result<Written> {
    let checkpoint = Checkpoint::open(base)?;
    let targets = resolve(&checkpoint, opts)?;
    if out.is_file() {
        return Err(Error::UnsupportedFile { path: out.to_path_buf(), reason: "is a file; --out is a folder".into() });
    }
    let base_folder = checkpoint.files().first().and_then(|f| f.path().parent()).map(Path::to_path_buf);
    let mkdir = |dir: &Path| {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            action: "cannot create",
            path: dir.to_path_buf(),
            source,
        })
    };
    mkdir(out)?;
    let residual_dir = out.join(peft::RESIDUAL_DIR);
    if opts.method.has_residual() {
        let same = |a: &Path, b: &Path| a.canonicalize().ok().zip(b.canonicalize().ok()).is_some_and(|(a, b)| a == b);
        if base_folder.as_deref().is_some_and(|b| same(b, out) || same(b, &residual_dir)) {
            return Err(Error::UnsupportedFile {
                path: out.to_path_buf(),
                reason: "is the base checkpoint's folder; write the adapter elsewhere".into(),
            });
        }
        mkdir(&residual_dir)?;
    }

    let scaling = opts.scaling();
    let mut factors: BTreeMap<usize, (factor::Factors, &Target)> = BTreeMap::new();
    let stream_of = |t: &Target| Philox::new(opts.seed, &peft::lora_tensor_name(&t.module, Factor::A));
    let mut residual_files = Vec::new();
    if opts.method.has_residual() {
        let by_index: BTreeMap<usize, &Target> = targets.iter().map(|t| (t.index, t)).collect();
        let index_of =
            |t: &StoredTensor| checkpoint.tensors().iter().position(|c| c.name == t.name && c.file == t.file);
        let metadata = BTreeMap::from([
            ("nninit.version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
            (
                "nninit.residual_of".to_string(),
                format!("{} adapter, rank {}, alpha {}", opts.method.name(), opts.rank, opts.alpha),
            ),
        ]);
        residual_files = peft::write_residual(&checkpoint, &residual_dir, &metadata, |stored, bytes| {
            let Some(target) = index_of(stored).and_then(|i| by_index.get(&i)) else { return Ok(None) };
            let dtype = peft::residual_dtype(stored.dtype).expect("checked by resolve");
            let mut w = peft::decode_f32(stored.dtype, bytes).expect("a float tensor of whole elements");
            let f = factor::factors(opts, &stored.name, Some(&mut w), target.shape, &stream_of(target))?;
            factors.insert(target.index, (f, target));
            Ok(Some(peft::encode_f32(dtype, &w)))
        })?;
    } else {
        for t in &targets {
            let f = factor::factors(opts, &t.module, None, t.shape, &stream_of(t))?;
            factors.insert(t.index, (f, t));
        }
    }

    let mut tensors = Vec::with_capacity(2 * factors.len());
    let mut modules = Vec::with_capacity(factors.len());
    let mut parameters = 0u64;
    for (f, t) in factors.into_values() {
        let (out_dim, in_dim) = t.shape;
        let r = f.a.len() / in_dim;
        parameters += (f.a.len() + f.b.len()) as u64;
        tensors.push(TensorData {
            name: peft::lora_tensor_name(&t.module, Factor::A),
            bytes: Bytes::from_slice(&f.a, vec![r, in_dim]),
        });
        tensors.push(TensorData {
            name: peft::lora_tensor_name(&t.module, Factor::B),
            bytes: Bytes::from_slice(&f.b, vec![out_dim, r]),
        });
        modules.push(AdaptedModule { module: t.module.clone(), shape: [out_dim, in_dim], captured: f.captured });
    }
    let svd = (opts.method == Method::Pissa).then_some(opts.svd);
    let mut metadata = BTreeMap::from([
        ("nninit.version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
        ("nninit.method".to_string(), opts.method.name().to_string()),
        ("nninit.seed".to_string(), opts.seed.to_string()),
        ("nninit.base".to_string(), base.display().to_string()),
    ]);
    if let Some(svd) = svd {
        metadata.insert("nninit.svd".to_string(), svd.label());
    }
    if opts.method.has_residual() {
        metadata.insert("nninit.residual".to_string(), peft::RESIDUAL_DIR.to_string());
    }
    let config = LoraConfig {
        r: opts.rank,
        lora_alpha: opts.alpha,
        target_modules: opts.targets.clone(),
        use_rslora: opts.method == Method::RsLora,
        base_model_name_or_path: if opts.method.has_residual() {
            residual_dir.display().to_string()
        } else {
            base.display().to_string()
        },
        task_type: task_type(&checkpoint),
    };
    let files = peft::write_adapter(out, &config, &tensors, &metadata)?;
    Ok(Written {
        method: opts.method,
        rank: opts.rank,
        alpha: opts.alpha,
        scaling,
        seed: opts.seed,
        svd,
        modules,
        parameters,
        files,
        residual: opts.method.has_residual().then_some(residual_dir),
        residual_files,
    })
}

#[cfg(test)]
mod tests;
