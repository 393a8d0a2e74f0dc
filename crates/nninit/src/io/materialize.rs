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
//! alone, so the whole file's layout is known before any value is drawn.
//! The file is then cut into buffers of [`Options::chunk_bytes`]; each is
//! filled in parallel tasks on the rayon pool (a task's values are generated
//! straight into the buffer with [`Init::fill_slice`]) while writer threads
//! write earlier buffers at their offsets (with `O_DIRECT` where the
//! filesystem takes it, see [`WriteMode`]). Memory is bounded by four
//! buffers, independently of the model's size; a structured rule
//! (orthogonal, ZerO) needs its whole tensor, so then by the largest such
//! tensor. Since every byte depends only on its offset, the bytes never
//! depend on the buffer size, the thread count or the write mode.
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
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use serde::Serialize;

use super::AtomicFile;
use super::direct::{ALIGN, AlignedBuf, BlockFile, WriteMode};
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
    /// Bytes generated and written per step (rounded up to a multiple of
    /// 4096; a few buffers of this size are all the memory streaming needs).
    pub chunk_bytes: usize,
    /// How shard files are written (`O_DIRECT` where possible by default).
    /// The bytes written are the same in every mode.
    pub write_mode: WriteMode,
}

impl Options {
    /// Defaults: 5 GB shards, one process, 8 MiB chunks, direct I/O.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            max_shard_size: DEFAULT_MAX_SHARD_SIZE,
            ranks: Ranks::SINGLE,
            chunk_bytes: DEFAULT_CHUNK_BYTES,
            write_mode: WriteMode::Direct,
        }
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

/// The safetensors header of a shard (see [`super::safetensors::header`]).
fn header(plan: &Plan, shard: &Shard, metadata: &[(&str, String)]) -> Vec<u8> {
    super::safetensors::header(
        metadata.iter().map(|(k, v)| (*k, v.as_str())),
        shard.tensors.iter().map(|&i| {
            let t = &plan.tensors[i];
            (t.name.as_str(), plan.dtype, t.spec.shape().dims())
        }),
    )
}

/// Bytes of file generated per parallel task (a multiple of [`ALIGN`]).
const TASK_BYTES: usize = 256 << 10;

/// Threads issuing writes: two writes in flight keep a virtio disk busy
/// while the next buffer is generated.
const WRITERS: usize = 2;

/// Where each byte of a shard file comes from: the header, then each
/// tensor's data, in file order.
struct FileLayout {
    header: Vec<u8>,
    /// (first byte in the file, one past the last, plan index), in file order.
    tensors: Vec<(u64, u64, usize)>,
    len: u64,
}

impl FileLayout {
    fn new(plan: &Plan, shard: &Shard, metadata: &[(&str, String)]) -> Self {
        let header = header(plan, shard, metadata);
        let size = plan.dtype.size() as u64;
        let mut at = header.len() as u64;
        let tensors = shard
            .tensors
            .iter()
            .map(|&i| {
                let start = at;
                at += plan.tensors[i].numel() * size;
                (start, at, i)
            })
            .collect();
        Self { header, tensors, len: at }
    }

    /// The tensors with bytes in `from..to`.
    fn overlapping(&self, from: u64, to: u64) -> impl Iterator<Item = &(u64, u64, usize)> {
        let first = self.tensors.partition_point(|&(_, end, _)| end <= from);
        self.tensors[first..].iter().take_while(move |&&(start, _, _)| start < to)
    }

    /// Data (not header) bytes in `from..to`.
    fn data_bytes(&self, from: u64, to: u64) -> u64 {
        to.min(self.len).saturating_sub(from.max(self.header.len() as u64))
    }
}

/// Tensors of a structured rule (orthogonal, ZerO), built whole when the
/// first buffer reaches them and dropped once written.
type Whole<E> = std::collections::HashMap<usize, Vec<E>>;

/// Fills `out` with the file's bytes from `offset` on, in parallel tasks of
/// [`TASK_BYTES`]; bytes past the end of the file are zero.
fn fill_buffer<E: Element>(
    plan: &Plan,
    layout: &FileLayout,
    seed: u64,
    whole: &Whole<E>,
    offset: u64,
    out: &mut [u8],
) -> Result<()> {
    use rayon::prelude::*;
    out.par_chunks_mut(TASK_BYTES).enumerate().try_for_each_init(Vec::new, |scratch, (k, part)| {
        fill_range(plan, layout, seed, whole, offset + (k * TASK_BYTES) as u64, part, scratch)
    })
}

/// Fills `out` with the file's bytes `from..from + out.len()`.
fn fill_range<E: Element>(
    plan: &Plan,
    layout: &FileLayout,
    seed: u64,
    whole: &Whole<E>,
    from: u64,
    out: &mut [u8],
    scratch: &mut Vec<E>,
) -> Result<()> {
    let to = from + out.len() as u64;
    let header_end = layout.header.len() as u64;
    if from < header_end {
        let end = to.min(header_end);
        out[..(end - from) as usize].copy_from_slice(&layout.header[from as usize..end as usize]);
    }
    let size = E::DTYPE.size() as u64;
    for &(start, end, i) in layout.overlapping(from, to) {
        let t = &plan.tensors[i];
        let (a, b) = (from.max(start), to.min(end));
        let first = (a - start) / size;
        let n = ((b - a) / size) as usize;
        let dst = &mut out[(a - from) as usize..(b - from) as usize];
        match whole.get(&i) {
            Some(w) => E::write_le_bytes(&w[first as usize..first as usize + n], dst),
            None => {
                let init = t.init.as_ref().ok_or_else(|| no_rule(t))?;
                let stream = Philox::new(seed, &t.name);
                match E::as_le_elements(dst) {
                    // Generated straight into the file buffer.
                    Some(values) => init.fill_slice(&t.spec, &stream, first, values)?,
                    None => {
                        if scratch.len() < n {
                            scratch.resize(n, E::default());
                        }
                        init.fill_slice(&t.spec, &stream, first, &mut scratch[..n])?;
                        E::write_le_bytes(&scratch[..n], dst);
                    }
                }
            }
        }
    }
    if to > layout.len {
        out[layout.len.saturating_sub(from) as usize..].fill(0);
    }
    Ok(())
}

fn no_rule(t: &crate::plan::PlannedTensor) -> Error {
    Error::InvalidPlan { reason: format!("`{}` has no rule", t.name) }
}

/// Generates the shard's bytes buffer by buffer and hands each to the
/// writers; stops early when `stop` is set (a write failed).
fn produce<E: Element>(
    plan: &Plan,
    layout: &FileLayout,
    opts: &Options,
    buf_len: usize,
    tx: &mpsc::SyncSender<(u64, AlignedBuf)>,
    free: &mpsc::Receiver<AlignedBuf>,
    stop: &AtomicBool,
) -> Result<()> {
    let pool = WRITERS + 2;
    let mut allocated = 0;
    let mut whole: Whole<E> = Whole::new();
    let mut offset = 0u64;
    while offset < layout.len && !stop.load(Ordering::Relaxed) {
        let mut buf = match free.try_recv() {
            Ok(buf) => buf,
            Err(_) if allocated < pool => {
                allocated += 1;
                AlignedBuf::new(buf_len)
            }
            Err(_) => match free.recv() {
                Ok(buf) => buf,
                Err(_) => break, // every writer has stopped
            },
        };
        let end = offset + buf.len() as u64;
        whole.retain(|&i, _| layout.tensors.iter().any(|&(_, e, j)| j == i && e > offset));
        for &(_, _, i) in layout.overlapping(offset, end) {
            let t = &plan.tensors[i];
            let init = t.init.as_ref().ok_or_else(|| no_rule(t))?;
            if !init.is_elementwise() && !whole.contains_key(&i) {
                let mut w = vec![E::default(); t.numel() as usize];
                init.fill(&t.spec, &Philox::new(opts.seed, &t.name), &mut w)?;
                whole.insert(i, w);
            }
        }
        fill_buffer(plan, layout, opts.seed, &whole, offset, buf.bytes_mut())?;
        if tx.send((offset, buf)).is_err() {
            break;
        }
        offset = end;
    }
    Ok(())
}

/// Writes one shard: buffers of the file (header, then data) are generated
/// in parallel on the rayon pool while [`WRITERS`] threads write earlier
/// ones at their offsets.
fn write_shard(
    plan: &Plan,
    shard: &Shard,
    path: &Path,
    opts: &Options,
    metadata: &[(&str, String)],
    progress: &(dyn Fn(u64) + Sync),
) -> Result<()> {
    let layout = FileLayout::new(plan, shard, metadata);
    let file = BlockFile::create(path, layout.len, opts.write_mode)?;
    let buf_len =
        opts.chunk_bytes.max(1).next_multiple_of(ALIGN).min(layout.len.next_multiple_of(ALIGN as u64) as usize);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::sync_channel::<(u64, AlignedBuf)>(1);
    let rx = Mutex::new(rx);
    let (give_back, free) = mpsc::channel::<AlignedBuf>();
    std::thread::scope(|scope| {
        // Owned here, so that the writers see the channel close even if generating panics.
        let tx = tx;
        let writers: Vec<_> = (0..WRITERS)
            .map(|_| {
                let give_back = give_back.clone();
                let (rx, file, layout, stop) = (&rx, &file, &layout, &stop);
                scope.spawn(move || -> Result<()> {
                    let mut failed = None;
                    // After a failure, keep taking buffers (and handing them back) without writing
                    // them, so the generator never waits on a writer that has stopped.
                    loop {
                        // The lock is held while waiting, not while writing.
                        let next = rx.lock().unwrap_or_else(std::sync::PoisonError::into_inner).recv();
                        let Ok((offset, buf)) = next else { break };
                        if failed.is_none() && !stop.load(Ordering::Relaxed) {
                            match file.write_at(&buf, offset) {
                                Ok(()) => progress(layout.data_bytes(offset, offset + buf.len() as u64)),
                                Err(e) => {
                                    stop.store(true, Ordering::Relaxed);
                                    failed = Some(e);
                                }
                            }
                        }
                        let _ = give_back.send(buf);
                    }
                    failed.map_or(Ok(()), Err)
                })
            })
            .collect();
        drop(give_back);
        let produced = match plan.dtype {
            DType::F32 => produce::<f32>(plan, &layout, opts, buf_len, &tx, &free, &stop),
            DType::F64 => produce::<f64>(plan, &layout, opts, buf_len, &tx, &free, &stop),
            DType::BF16 => produce::<half::bf16>(plan, &layout, opts, buf_len, &tx, &free, &stop),
            DType::F16 => produce::<half::f16>(plan, &layout, opts, buf_len, &tx, &free, &stop),
            DType::I64 => Err(Error::InvalidConfig { reason: "weights cannot be i64".into() }),
        };
        drop(tx);
        let mut result = produced;
        for w in writers {
            let written = w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            // A write error explains an early stop of the generator: report it first.
            if written.is_err() && (result.is_ok() || stop.load(Ordering::Relaxed)) {
                result = written;
            }
        }
        result
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
