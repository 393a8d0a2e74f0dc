//! PEFT's LoRA adapter format, and residual base checkpoints.
//!
//! An adapter folder as `peft` 0.21 writes it with `save_pretrained` and reads it with
//! `PeftModel.from_pretrained`:
//!
//! - `adapter_config.json`: the `LoraConfig` fields (`peft_type: "LORA"`, `r`, `lora_alpha`,
//!   `target_modules`, `use_rslora`, `init_lora_weights`, ...);
//! - `adapter_model.safetensors`: for every adapted `nn.Linear` at module path `P` of the base
//!   model, `base_model.model.P.lora_A.weight` (`[r, in]`) and `base_model.model.P.lora_B.weight`
//!   (`[out, r]`), in `f32`, with the metadata `format: pt` that `save_pretrained` writes.
//!
//! `init_lora_weights` is always `true` in the config written here, whatever method made the
//! weights: on loading, PEFT first initializes the adapter by that field and then overwrites it
//! with the file's weights, and a `"pissa"` or `"olora"` there would make it factor the (already
//! residual) base weights again and subtract a second time. PEFT's own PiSSA and OLoRA examples
//! set the field to `true` before saving for the same reason. The method is recorded in the
//! safetensors metadata instead (`nninit.method`, ...).
//!
//! A residual checkpoint ([`write_residual`]) is the base checkpoint with some tensors replaced:
//! the same shard files, tensor names, order, dtypes and shapes, and copies of the base folder's
//! other files (`config.json`, the index, tokenizer files), so `from_pretrained` loads it as the
//! base model. Shards are written one tensor at a time, each file atomically.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::materialize::MANIFEST_FILE;
use super::reader::{Checkpoint, StoredDType, StoredTensor};
use super::{AtomicFile, TensorData};
use crate::error::{Error, Result};
use crate::tensor::DType;

/// The adapter's configuration file.
pub const ADAPTER_CONFIG_FILE: &str = "adapter_config.json";
/// The adapter's weights.
pub const ADAPTER_WEIGHTS_FILE: &str = "adapter_model.safetensors";
/// The subfolder of an adapter folder that holds the residual base model (PiSSA, OLoRA).
pub const RESIDUAL_DIR: &str = "residual";

/// The adapter tensor name PEFT gives factor `A` or `B` of the LoRA on module `module`
/// (a base model's module path such as `model.layers.0.self_attn.q_proj`).
pub fn lora_tensor_name(module: &str, factor: Factor) -> String {
    let f = match factor {
        Factor::A => "lora_A",
        Factor::B => "lora_B",
    };
    format!("base_model.model.{module}.{f}.weight")
}

/// One of the two LoRA factors: `ΔW = scaling · B·A`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Factor {
    /// `lora_A`, `[r, in]`: applied first.
    A,
    /// `lora_B`, `[out, r]`.
    B,
}

/// The fields of PEFT's `LoraConfig` that an adapter made from a base checkpoint sets; every
/// other field is written with PEFT's default.
#[derive(Clone, Debug, PartialEq)]
pub struct LoraConfig {
    /// The rank `r`.
    pub r: usize,
    /// `lora_alpha` (PEFT's scaling is `alpha / r`, or `alpha / √r` with `use_rslora`).
    pub lora_alpha: f64,
    /// Module names (matched as PEFT does: equal to a module's path or its last components).
    pub target_modules: Vec<String>,
    /// rsLoRA's scaling `alpha / √r`.
    pub use_rslora: bool,
    /// Where the base model is (recorded, not read by PEFT when a model is passed).
    pub base_model_name_or_path: String,
    /// PEFT's task type (`CAUSAL_LM` for a `*ForCausalLM` base), `None` for a plain `PeftModel`.
    pub task_type: Option<String>,
}

#[derive(Serialize)]
struct ConfigJson<'a> {
    peft_type: &'static str,
    task_type: Option<&'a str>,
    base_model_name_or_path: &'a str,
    revision: Option<()>,
    inference_mode: bool,
    r: usize,
    lora_alpha: f64,
    target_modules: &'a [String],
    exclude_modules: Option<()>,
    lora_dropout: f64,
    fan_in_fan_out: bool,
    bias: &'static str,
    use_rslora: bool,
    modules_to_save: Option<()>,
    init_lora_weights: bool,
    layers_to_transform: Option<()>,
    layers_pattern: Option<()>,
    rank_pattern: BTreeMap<String, usize>,
    alpha_pattern: BTreeMap<String, f64>,
    use_dora: bool,
    lora_bias: bool,
}

impl LoraConfig {
    /// The `adapter_config.json` text (pretty JSON, as PEFT writes it).
    pub fn to_json(&self) -> String {
        let json = ConfigJson {
            peft_type: "LORA",
            task_type: self.task_type.as_deref(),
            base_model_name_or_path: &self.base_model_name_or_path,
            revision: None,
            inference_mode: true,
            r: self.r,
            lora_alpha: self.lora_alpha,
            target_modules: &self.target_modules,
            exclude_modules: None,
            lora_dropout: 0.0,
            fan_in_fan_out: false,
            bias: "none",
            use_rslora: self.use_rslora,
            modules_to_save: None,
            init_lora_weights: true,
            layers_to_transform: None,
            layers_pattern: None,
            rank_pattern: BTreeMap::new(),
            alpha_pattern: BTreeMap::new(),
            use_dora: false,
            lora_bias: false,
        };
        let mut text = serde_json::to_string_pretty(&json).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// Writes an adapter folder: `adapter_model.safetensors` (the tensors, with `format: pt` and
/// `metadata`) and `adapter_config.json`, each atomically. The folder must exist.
///
/// # Errors
/// [`Error::Io`] on write errors, [`Error::UnsupportedFile`] for tensors whose bytes do not
/// match their shapes or that share a name.
pub fn write_adapter(
    dir: &Path,
    config: &LoraConfig,
    tensors: &[TensorData],
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<PathBuf>> {
    let mut meta = metadata.clone();
    meta.insert("format".into(), "pt".into());
    let weights = dir.join(ADAPTER_WEIGHTS_FILE);
    super::write_safetensors(&weights, tensors, &meta)?;
    let config_path = dir.join(ADAPTER_CONFIG_FILE);
    AtomicFile::write(&config_path, config.to_json().as_bytes())?;
    Ok(vec![weights, config_path])
}

/// The element types a residual weight may be stored in: those PEFT factors (PiSSA and OLoRA
/// raise `TypeError` for the others).
pub fn residual_dtype(dtype: StoredDType) -> Option<DType> {
    match dtype {
        StoredDType::F32 => Some(DType::F32),
        StoredDType::BF16 => Some(DType::BF16),
        StoredDType::F16 => Some(DType::F16),
        _ => None,
    }
}

/// Decodes little-endian `f32`, `bf16`, `f16` or `f64` bytes into `f32` (`f64` rounded);
/// `None` for other element types or a length that is not a whole number of elements.
pub fn decode_f32(dtype: StoredDType, bytes: &[u8]) -> Option<Vec<f32>> {
    let size = dtype.size();
    if !bytes.len().is_multiple_of(size) {
        return None;
    }
    let out = match dtype {
        StoredDType::F32 => bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
        StoredDType::BF16 => bytes.chunks_exact(2).map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
        StoredDType::F16 => bytes.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
        StoredDType::F64 => bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32)
            .collect(),
        _ => return None,
    };
    Some(out)
}

/// Encodes `f32` values as little-endian `f32`, `bf16` or `f16` (round to nearest even, as
/// `Tensor.to(dtype)` does).
pub fn encode_f32(dtype: DType, values: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * dtype.size());
    match dtype {
        DType::BF16 => values.iter().for_each(|&v| out.extend_from_slice(&half::bf16::from_f32(v).to_le_bytes())),
        DType::F16 => values.iter().for_each(|&v| out.extend_from_slice(&half::f16::from_f32(v).to_le_bytes())),
        DType::F64 => values.iter().for_each(|&v| out.extend_from_slice(&f64::from(v).to_le_bytes())),
        DType::F32 | DType::I64 => values.iter().for_each(|&v| out.extend_from_slice(&v.to_le_bytes())),
    }
    out
}

/// The [`DType`] a stored tensor is written back in by [`write_residual`] (the header writer's
/// types: floats and `i64`).
fn header_dtype(path: &Path, t: &StoredTensor) -> Result<DType> {
    t.dtype.float().or((t.dtype == StoredDType::I64).then_some(DType::I64)).ok_or_else(|| Error::UnsupportedFile {
        path: path.to_path_buf(),
        reason: format!(
            "tensor `{}` is {}; a residual checkpoint copies f32, bf16, f16, f64 and i64 only",
            t.name,
            t.dtype.name()
        ),
    })
}

/// Writes the checkpoint `base` into the folder `out` with the tensors `replace` gives new
/// bytes for (`Some(bytes)`, same dtype and length) and the others copied, shard by shard and
/// tensor by tensor (only one replaced tensor is in memory at a time). Files of the base
/// folder other than its safetensors and nninit's manifest (whose digests would be wrong) are
/// copied. `metadata` is added to each shard's own. Returns the files written.
///
/// `out` must exist and differ from the base folder.
///
/// # Errors
/// [`Error::Io`] on read or write errors, [`Error::UnsupportedFile`] for a tensor whose
/// replacement has the wrong length or whose dtype the header writer does not know, and
/// whatever `replace` returns.
pub fn write_residual(
    base: &Checkpoint,
    out: &Path,
    metadata: &BTreeMap<String, String>,
    mut replace: impl FnMut(&StoredTensor, &[u8]) -> Result<Option<Vec<u8>>>,
) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (k, file) in base.files().iter().enumerate() {
        let name = file.path().file_name().ok_or_else(|| Error::UnsupportedFile {
            path: file.path().to_path_buf(),
            reason: "not a file name".into(),
        })?;
        let path = out.join(name);
        let tensors: Vec<&StoredTensor> = base.tensors().iter().filter(|t| t.file == k).collect();
        let dtypes = tensors.iter().map(|t| header_dtype(file.path(), t)).collect::<Result<Vec<_>>>()?;
        let mut meta = file.header().metadata.clone();
        meta.entry("format".into()).or_insert_with(|| "pt".into());
        meta.extend(metadata.iter().map(|(k, v)| (k.clone(), v.clone())));
        // `format` first, as `safetensors.torch.save_file` writes it.
        let ordered = std::iter::once(("format", meta["format"].as_str()))
            .chain(meta.iter().filter(|(k, _)| k.as_str() != "format").map(|(k, v)| (k.as_str(), v.as_str())));
        let head = super::safetensors::header(
            ordered,
            tensors.iter().zip(&dtypes).map(|(t, &d)| (t.name.as_str(), d, t.shape.as_slice())),
        );
        let mut sink = AtomicFile::create(&path)?;
        sink.write_all(&head)?;
        for t in tensors {
            let data = base.data(t);
            match replace(t, data)? {
                Some(bytes) if bytes.len() == data.len() => sink.write_all(&bytes)?,
                Some(bytes) => {
                    return Err(Error::UnsupportedFile {
                        path: path.clone(),
                        reason: format!("the new `{}` has {} bytes, the base's {}", t.name, bytes.len(), data.len()),
                    });
                }
                None => sink.write_all(data)?,
            }
        }
        sink.commit()?;
        written.push(path);
    }
    written.extend(copy_sidecars(base, out)?);
    Ok(written)
}

/// The largest sidecar file copied into a residual folder (tokenizers are tens of MB).
const MAX_SIDECAR_BYTES: u64 = 1 << 30;

/// Copies the regular files beside the base's shards (config, index, tokenizer) into `out`.
fn copy_sidecars(base: &Checkpoint, out: &Path) -> Result<Vec<PathBuf>> {
    let Some(folder) = base.files().first().and_then(|f| f.path().parent()) else { return Ok(Vec::new()) };
    let shards: Vec<&Path> = base.files().iter().map(|f| f.path()).collect();
    let io = |action, path: &Path, source| Error::Io { action, path: path.to_path_buf(), source };
    let mut copied = Vec::new();
    let entries = std::fs::read_dir(folder).map_err(|e| io("cannot list", folder, e))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let Some(name) = path.file_name() else { continue };
        let skip = !path.is_file()
            || shards.contains(&path.as_path())
            || path.extension().is_some_and(|e| e == "safetensors")
            || name == MANIFEST_FILE
            || name.to_string_lossy().starts_with('.');
        if skip {
            continue;
        }
        let len = std::fs::metadata(&path).map_err(|e| io("cannot read", &path, e))?.len();
        if len > MAX_SIDECAR_BYTES {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|e| io("cannot read", &path, e))?;
        let dest = out.join(name);
        AtomicFile::write(&dest, &bytes)?;
        copied.push(dest);
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_names_are_peft_s() {
        assert_eq!(
            lora_tensor_name("model.layers.0.self_attn.q_proj", Factor::A),
            "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"
        );
        assert_eq!(lora_tensor_name("fc", Factor::B), "base_model.model.fc.lora_B.weight");
    }

    #[test]
    fn config_json_has_peft_s_fields() {
        let c = LoraConfig {
            r: 8,
            lora_alpha: 16.0,
            target_modules: vec!["q_proj".into(), "v_proj".into()],
            use_rslora: true,
            base_model_name_or_path: "/m".into(),
            task_type: Some("CAUSAL_LM".into()),
        };
        let v: serde_json::Value = serde_json::from_str(&c.to_json()).unwrap();
        assert_eq!(v["peft_type"], "LORA");
        assert_eq!(v["r"], 8);
        assert_eq!(v["lora_alpha"], 16.0);
        assert_eq!(v["use_rslora"], true);
        assert_eq!(v["init_lora_weights"], true);
        assert_eq!(v["target_modules"], serde_json::json!(["q_proj", "v_proj"]));
        assert_eq!(v["task_type"], "CAUSAL_LM");
        assert!(v["modules_to_save"].is_null());
    }

    #[test]
    fn codecs_round_trip() {
        let v = [1.5f32, -0.25, 3.0e-3, 0.0];
        for d in [DType::F32, DType::BF16, DType::F16] {
            let st = match d {
                DType::F32 => StoredDType::F32,
                DType::BF16 => StoredDType::BF16,
                _ => StoredDType::F16,
            };
            let back = decode_f32(st, &encode_f32(d, &v)).unwrap();
            for (a, b) in v.iter().zip(&back) {
                assert!((a - b).abs() <= 1e-2 * a.abs().max(1e-3), "{d:?}: {a} vs {b}");
            }
        }
        assert!(decode_f32(StoredDType::I32, &[0; 4]).is_none());
        assert!(decode_f32(StoredDType::F32, &[0; 3]).is_none());
        assert_eq!(residual_dtype(StoredDType::F64), None);
    }
}
