//! Whole models streamed into (sharded) safetensors, as Hugging Face saves them.
//!
//! [`materialize`] writes a [`Plan`] to a folder:
//! - `model.safetensors`, or shards `model-00001-of-0000N.safetensors` and
//!   `model.safetensors.index.json` (`metadata.total_size` and `weight_map`),
//!   split as `huggingface_hub`'s `split_state_dict_into_shards_factory`
//!   splits: tensors in plan order, a new shard when the next tensor would
//!   pass `max_shard_size`, and a tensor larger than that alone in its own shard;
//! - `config.json`, the model's config;
//! - `nninit-manifest.json`: per tensor the rule (JSON), its std, the
//!   scheme's reason and numbers, and the stream key (the tensor's name),
//!   plus seed, scheme and nninit version.
//!
//! **Streaming.** Each shard's safetensors header is computed from the plan
//! alone, then the data are generated chunk by chunk (a few MiB, filled in
//! parallel with [`Init::fill_slice`]) on one thread while the previous
//! chunk is written on another. Memory is bounded by two chunks,
//! independently of the model's size; a structured rule (orthogonal, ZerO)
//! needs its whole tensor, so then by the largest such tensor.
//!
//! **Atomic.** Every file is written under a temporary name and renamed when
//! complete; the config, manifest and index come last. An interrupted run
//! leaves at most hidden `.NAME.tmp-PID` files and complete shards, never a
//! file that looks complete but is not, nor an index without its shards
//! (on one machine).
//!
//! **Many machines.** Element `i` of a tensor depends only on (seed, name,
//! `i`), so with [`Ranks`] `(r, w)` a process writes only the shards `k`
//! (0-based) with `k mod w = r`; the union over ranks is byte-identical to
//! one process writing all. Rank 0 also writes config, manifest and index.

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use serde::Serialize;

use super::AtomicFile;
use crate::error::{Error, Result};
use crate::init::Init;
use crate::plan::Plan;
use crate::stream::Philox;
use crate::tensor::{DType, Element};

/// `transformers`' default `max_shard_size` (5 GB, decimal).
pub const DEFAULT_MAX_SHARD_SIZE: u64 = 5_000_000_000;

/// Bytes generated and written per step (8 MiB).
pub const DEFAULT_CHUNK_BYTES: usize = 8 << 20;

/// The single-file name.
pub const SINGLE_FILE: &str = "model.safetensors";
/// The index of a sharded model.
pub const INDEX_FILE: &str = "model.safetensors.index.json";
/// The manifest nninit writes beside the weights.
pub const MANIFEST_FILE: &str = "nninit-manifest.json";
/// The model config.
pub const CONFIG_FILE: &str = "config.json";

/// Parses a size as `transformers` does (`5GB` = 5·10⁹, `500MB`, `10KB`,
/// `1TB`), plus binary units (`KiB`, `MiB`, `GiB`, `TiB`) and plain bytes.
///
/// # Errors
/// [`Error::InvalidConfig`] for anything else, or zero.
pub fn parse_size(text: &str) -> Result<u64> {
    let t = text.trim();
    let bad = || Error::InvalidConfig {
        reason: format!("size `{text}`: expected bytes or a number with KB, MB, GB, TB, KiB, MiB, GiB, TiB (e.g. 5GB)"),
    };
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let unit_bytes: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "KIB" => 1 << 10,
        "MIB" => 1 << 20,
        "GIB" => 1 << 30,
        "TIB" => 1 << 40,
        _ => return Err(bad()),
    };
    let value: f64 = number.parse().map_err(|_| bad())?;
    let bytes = value * unit_bytes as f64;
    if !(bytes.is_finite() && bytes >= 1.0 && bytes < u64::MAX as f64) {
        return Err(bad());
    }
    Ok(bytes as u64)
}

/// One output file and the tensors (indices into [`Plan::tensors`]) it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Shard {
    /// File name (`model.safetensors` or `model-00001-of-00004.safetensors`).
    pub file: String,
    /// Indices into the plan's tensors, in write order.
    pub tensors: Vec<usize>,
    /// Data bytes (without the header).
    pub bytes: u64,
}

/// Splits the stored tensors into shards as `huggingface_hub` does.
pub fn shard_plan(plan: &Plan, max_shard_size: u64) -> Vec<Shard> {
    let size = plan.dtype.size() as u64;
    let mut shards: Vec<(Vec<usize>, u64)> = Vec::new();
    let (mut current, mut current_size) = (Vec::new(), 0u64);
    for (i, t) in plan.tensors.iter().enumerate().filter(|(_, t)| t.is_stored()) {
        let bytes = t.numel() * size;
        if bytes > max_shard_size {
            shards.push((vec![i], bytes));
            continue;
        }
        if current_size + bytes > max_shard_size {
            shards.push((std::mem::take(&mut current), current_size));
            current_size = 0;
        }
        current.push(i);
        current_size += bytes;
    }
    if !current.is_empty() {
        shards.push((current, current_size));
    }
    let n = shards.len();
    shards
        .into_iter()
        .enumerate()
        .map(|(k, (tensors, bytes))| Shard {
            file: if n == 1 { SINGLE_FILE.to_string() } else { format!("model-{:05}-of-{n:05}.safetensors", k + 1) },
            tensors,
            bytes,
        })
        .collect()
}

/// This process's place among `world_size` processes writing one model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Ranks {
    rank: usize,
    world_size: usize,
}

impl Ranks {
    /// One process writing everything.
    pub const SINGLE: Self = Self { rank: 0, world_size: 1 };

    /// Rank `rank` of `world_size`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] unless `rank < world_size`.
    pub fn new(rank: usize, world_size: usize) -> Result<Self> {
        if rank >= world_size {
            return Err(Error::InvalidConfig {
                reason: format!("rank {rank} is not below world size {world_size} (ranks are 0-based)"),
            });
        }
        Ok(Self { rank, world_size })
    }

    /// The rank.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The number of processes.
    pub fn world_size(&self) -> usize {
        self.world_size
    }

    /// Whether shard `k` (0-based) is this rank's.
    pub fn owns(&self, k: usize) -> bool {
        k % self.world_size == self.rank
    }
}

/// How to materialize.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Options {
    /// The seed of every tensor's stream.
    pub seed: u64,
    /// The largest shard, in bytes (a larger tensor gets a shard of its own).
    pub max_shard_size: u64,
    /// Which shards this process writes.
    pub ranks: Ranks,
    /// Bytes generated per step.
    pub chunk_bytes: usize,
}

impl Options {
    /// Defaults: 5 GB shards, one process, 8 MiB chunks.
    pub fn new(seed: u64) -> Self {
        Self { seed, max_shard_size: DEFAULT_MAX_SHARD_SIZE, ranks: Ranks::SINGLE, chunk_bytes: DEFAULT_CHUNK_BYTES }
    }
}

/// What [`materialize`] wrote.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Written {
    /// Every file this process wrote, in order.
    pub files: Vec<PathBuf>,
    /// The shards of the whole model (all ranks).
    pub shards: usize,
    /// Data bytes this process wrote into shards.
    pub bytes: u64,
    /// Data bytes of the whole model.
    pub total_size: u64,
}

/// The data bytes rank `opts.ranks` will write (for a progress bar).
pub fn rank_bytes(plan: &Plan, opts: &Options) -> u64 {
    shard_plan(plan, opts.max_shard_size)
        .iter()
        .enumerate()
        .filter(|(k, _)| opts.ranks.owns(*k))
        .map(|(_, s)| s.bytes)
        .sum()
}

fn st_dtype(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 => "F32",
        DType::F64 => "F64",
        DType::BF16 => "BF16",
        DType::F16 => "F16",
        DType::I64 => "I64",
    }
}

/// The safetensors header of a shard: 8-byte little-endian length, then
/// JSON (`__metadata__` first, then the tensors in write order) padded with
/// spaces to a multiple of 8.
fn header(plan: &Plan, shard: &Shard, metadata: &[(&str, String)]) -> Vec<u8> {
    let mut text = String::from("{\"__metadata__\":{");
    for (i, (k, v)) in metadata.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&json(k));
        text.push(':');
        text.push_str(&json(v));
    }
    text.push('}');
    let size = plan.dtype.size() as u64;
    let mut offset = 0u64;
    for &i in &shard.tensors {
        let t = &plan.tensors[i];
        let end = offset + t.numel() * size;
        text.push(',');
        text.push_str(&json(&t.name));
        text.push_str(&format!(
            ":{{\"dtype\":\"{}\",\"shape\":{},\"data_offsets\":[{offset},{end}]}}",
            st_dtype(plan.dtype),
            json(t.spec.shape().dims())
        ));
        offset = end;
    }
    text.push('}');
    while text.len() % 8 != 0 {
        text.push(' ');
    }
    let mut out = Vec::with_capacity(8 + text.len());
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    out
}

/// JSON text of a string or list (escaped as JSON requires; cannot fail).
fn json<T: Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Generates the tensors of `shard` chunk by chunk and sends their bytes.
fn produce<E: Element>(
    plan: &Plan,
    shard: &Shard,
    opts: &Options,
    tx: &mpsc::SyncSender<Result<Vec<u8>>>,
    recycled: &mpsc::Receiver<Vec<u8>>,
) {
    let chunk = (opts.chunk_bytes / E::DTYPE.size()).max(1);
    let mut values: Vec<E> = Vec::new();
    let send = |bytes: Result<Vec<u8>>| tx.send(bytes).is_ok();
    for &i in &shard.tensors {
        let t = &plan.tensors[i];
        let Some(init) = t.init.as_ref() else {
            let _ = send(Err(Error::InvalidPlan { reason: format!("`{}` has no rule", t.name) }));
            return;
        };
        let stream = Philox::new(opts.seed, &t.name);
        let numel = t.numel();
        // Structured rules build the whole tensor once; element-wise ones only each chunk.
        let whole: Option<Vec<E>> = if init.is_elementwise() {
            None
        } else {
            let mut w = vec![E::default(); numel as usize];
            if let Err(e) = init.fill(&t.spec, &stream, &mut w) {
                let _ = send(Err(e));
                return;
            }
            Some(w)
        };
        let mut start = 0u64;
        while start < numel {
            let n = chunk.min((numel - start) as usize);
            let mut bytes = recycled.try_recv().unwrap_or_default();
            bytes.clear();
            match &whole {
                Some(w) => E::extend_le_bytes(&w[start as usize..start as usize + n], &mut bytes),
                None => {
                    values.resize(n, E::default());
                    if let Err(e) = init.fill_slice(&t.spec, &stream, start, &mut values[..n]) {
                        let _ = send(Err(e));
                        return;
                    }
                    E::extend_le_bytes(&values[..n], &mut bytes);
                }
            }
            if !send(Ok(bytes)) {
                return;
            }
            start += n as u64;
        }
    }
}

/// Writes one shard: header, then the data streamed from a generator thread.
fn write_shard(
    plan: &Plan,
    shard: &Shard,
    path: &Path,
    opts: &Options,
    metadata: &[(&str, String)],
    progress: &(dyn Fn(u64) + Sync),
) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(&header(plan, shard, metadata))?;
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<Result<Vec<u8>>>(2);
        let (give_back, recycled) = mpsc::channel::<Vec<u8>>();
        scope.spawn(move || match plan.dtype {
            DType::F32 => produce::<f32>(plan, shard, opts, &tx, &recycled),
            DType::F64 => produce::<f64>(plan, shard, opts, &tx, &recycled),
            DType::BF16 => produce::<half::bf16>(plan, shard, opts, &tx, &recycled),
            DType::F16 => produce::<half::f16>(plan, shard, opts, &tx, &recycled),
            DType::I64 => {
                let _ = tx.send(Err(Error::InvalidConfig { reason: "weights cannot be i64".into() }));
            }
        });
        for bytes in rx {
            let bytes = bytes?;
            file.write_all(&bytes)?;
            progress(bytes.len() as u64);
            let _ = give_back.send(bytes);
        }
        Ok::<(), Error>(())
    })?;
    file.commit()
}

/// The manifest entry of one tensor.
#[derive(Serialize)]
struct ManifestTensor<'a> {
    name: &'a str,
    shape: &'a [usize],
    role: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    layer: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tied_to: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'a Init>,
    #[serde(skip_serializing_if = "Option::is_none")]
    std: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mean: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bound: Option<f64>,
    reason: &'a str,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    numbers: &'a std::collections::BTreeMap<String, f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lr_multiplier: Option<f64>,
    stream_key: &'a str,
}

/// The manifest of a plan written with `seed` (the JSON of `nninit-manifest.json`).
///
/// # Errors
/// A rule's explanation errors (none for a validated plan).
pub fn manifest(plan: &Plan, seed: u64, max_shard_size: u64) -> Result<serde_json::Value> {
    let shards = shard_plan(plan, max_shard_size);
    let mut file_of = vec![None; plan.tensors.len()];
    for s in &shards {
        for &i in &s.tensors {
            file_of[i] = Some(s.file.as_str());
        }
    }
    let empty = std::collections::BTreeMap::new();
    let tensors = plan
        .tensors
        .iter()
        .zip(&file_of)
        .map(|(t, file)| {
            let x = t.init.as_ref().map(|i| i.explain(&t.spec)).transpose()?;
            let p = t.provenance.as_ref();
            Ok(ManifestTensor {
                name: &t.name,
                shape: t.spec.shape().dims(),
                role: t.role.name(),
                layer: t.layer,
                file: *file,
                tied_to: t.tied_to.as_deref(),
                rule: t.init.as_ref(),
                std: x.as_ref().and_then(|x| x.std),
                mean: x.as_ref().and_then(|x| x.mean),
                bound: x.as_ref().and_then(|x| x.bound),
                reason: p.map_or("", |p| p.reason.as_str()),
                numbers: p.map_or(&empty, |p| &p.numbers),
                lr_multiplier: p.and_then(|p| p.lr_multiplier),
                stream_key: t.tied_to.as_deref().unwrap_or(&t.name),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(serde_json::json!({
        "format": "nninit-manifest/1",
        "nninit_version": env!("CARGO_PKG_VERSION"),
        "architecture": plan.architecture,
        "model_class": plan.model_class,
        "scheme": plan.scheme,
        "seed": seed,
        "dtype": plan.dtype,
        "stream": "philox4x32-10, keyed by (seed, stream_key); element i depends only on (seed, stream_key, i)",
        "parameters": plan.parameters(),
        "total_size": plan.bytes(),
        "tensors": tensors,
    }))
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::InvalidConfig { reason: format!("cannot serialize {}: {e}", path.display()) })?;
    text.push('\n');
    let mut f = AtomicFile::create(path)?;
    f.write_all(text.as_bytes())?;
    f.commit()
}

/// Writes `plan` into `out_dir` (created if missing): this rank's shards,
/// then (rank 0) `config.json`, the manifest and, when sharded, the index.
/// `progress` is called with the number of data bytes written at each step.
///
/// # Errors
/// [`Error::InvalidPlan`] for a plan that does not validate,
/// [`Error::InvalidConfig`] for an `i64` plan, [`Error::Io`] on write
/// errors (every file being written is then removed).
pub fn materialize(
    plan: &Plan,
    config: &serde_json::Value,
    out_dir: &Path,
    opts: &Options,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Written> {
    plan.validate()?;
    if plan.dtype == DType::I64 {
        return Err(Error::InvalidConfig { reason: "weights are floating point: use f32, f64, bf16 or f16".into() });
    }
    if opts.max_shard_size == 0 {
        return Err(Error::InvalidConfig { reason: "max shard size must be at least 1 byte".into() });
    }
    std::fs::create_dir_all(out_dir).map_err(|source| Error::Io {
        action: "cannot create",
        path: out_dir.to_path_buf(),
        source,
    })?;
    let shards = shard_plan(plan, opts.max_shard_size);
    let metadata = [
        ("format", "pt".to_string()),
        ("nninit.scheme", plan.scheme.clone().unwrap_or_default()),
        ("nninit.seed", opts.seed.to_string()),
        ("nninit.version", env!("CARGO_PKG_VERSION").to_string()),
    ];
    let mut written = Written { files: Vec::new(), shards: shards.len(), bytes: 0, total_size: plan.bytes() };
    for (_, shard) in shards.iter().enumerate().filter(|(k, _)| opts.ranks.owns(*k)) {
        let path = out_dir.join(&shard.file);
        write_shard(plan, shard, &path, opts, &metadata, progress)?;
        written.bytes += shard.bytes;
        written.files.push(path);
    }
    if opts.ranks.rank() == 0 {
        let config_path = out_dir.join(CONFIG_FILE);
        write_json(&config_path, config)?;
        written.files.push(config_path);
        let manifest_path = out_dir.join(MANIFEST_FILE);
        write_json(&manifest_path, &manifest(plan, opts.seed, opts.max_shard_size)?)?;
        written.files.push(manifest_path);
        if shards.len() > 1 {
            let weight_map: serde_json::Map<String, serde_json::Value> = shards
                .iter()
                .flat_map(|s| s.tensors.iter().map(move |&i| (plan.tensors[i].name.clone(), s.file.clone().into())))
                .collect();
            let index = serde_json::json!({
                "metadata": { "total_size": plan.bytes() },
                "weight_map": weight_map,
            });
            let index_path = out_dir.join(INDEX_FILE);
            write_json(&index_path, &index)?;
            written.files.push(index_path);
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests;
