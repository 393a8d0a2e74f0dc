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
//!   scheme's reason and numbers, and the stream key (the tensor's name);
//!   per shard its file, length and SHA-256 (of the whole file, as
//!   `sha256sum` prints it); plus seed, scheme and nninit version.
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
//! **Resumable.** A run into a folder first removes the temporaries that
//! earlier runs left for the files it is about to write (exactly the names
//! `.FILE.tmp-DIGITS` for this plan's shard, config, manifest and index
//! names; nothing else is touched), then keeps every finished shard whose
//! length and header bytes are the ones the plan gives (see [`Resume`]) and
//! writes only the others.
//!
//! **Many machines.** Element `i` of a tensor depends only on (seed, name,
//! `i`), so with [`Ranks`] `(r, w)` a process writes only the shards `k`
//! (0-based) with `k mod w = r`; the union over ranks is byte-identical to
//! one process writing all. Rank 0 also writes config, manifest and index;
//! for the manifest's digests it generates (without writing) the shards the
//! other ranks write, so a rank-0 run costs one generation pass over the
//! whole model besides its own writes.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::AtomicFile;
use super::direct::{ALIGN, AlignedBuf, BlockFile, WriteMode};
use crate::error::{Error, Result};
use crate::init::Init;
use crate::plan::Plan;
use crate::tensor::{DType, Element};

/// `transformers`' default `max_shard_size` (5 GB, decimal).
pub const DEFAULT_MAX_SHARD_SIZE: u64 = 5_000_000_000;

/// Bytes generated and written per step (8 MiB).
pub const DEFAULT_CHUNK_BYTES: usize = 8 << 20;

/// The largest [`Options::chunk_bytes`] (1 GiB; four buffers of it are the
/// streaming memory). Smaller values, down to 1, are rounded up to 4096.
pub const MAX_CHUNK_BYTES: usize = 1 << 30;

/// The most processes one model can be split over ([`Ranks::new`]).
pub const MAX_WORLD_SIZE: usize = 1 << 20;

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
///
/// # Errors
/// [`Error::OutOfRange`] if a tensor's or the plan's byte size overflows
/// (a plan that [`Plan::validate`] accepts never does).
pub fn shard_plan(plan: &Plan, max_shard_size: u64) -> Result<Vec<Shard>> {
    let mut shards: Vec<(Vec<usize>, u64)> = Vec::new();
    let (mut current, mut current_size, mut total) = (Vec::new(), 0u64, 0u64);
    for (i, t) in plan.tensors.iter().enumerate().filter(|(_, t)| t.is_stored()) {
        let bytes = t.bytes(plan.dtype)?;
        if bytes > max_shard_size {
            total = total.checked_add(bytes).ok_or_else(|| too_large(plan))?;
            shards.push((vec![i], bytes));
            continue;
        }
        // Both terms are at most `max_shard_size`: the sum cannot overflow a u128.
        if u128::from(current_size) + u128::from(bytes) > u128::from(max_shard_size) {
            shards.push((std::mem::take(&mut current), current_size));
            current_size = 0;
        }
        current.push(i);
        current_size += bytes;
        total = total.checked_add(bytes).ok_or_else(|| too_large(plan))?;
    }
    if !current.is_empty() {
        shards.push((current, current_size));
    }
    let n = shards.len();
    Ok(shards
        .into_iter()
        .enumerate()
        .map(|(k, (tensors, bytes))| Shard {
            file: if n == 1 { SINGLE_FILE.to_string() } else { format!("model-{:05}-of-{n:05}.safetensors", k + 1) },
            tensors,
            bytes,
        })
        .collect())
}

fn too_large(plan: &Plan) -> Error {
    Error::OutOfRange {
        what: format!("the byte size of plan `{}`", plan.architecture),
        value: i128::from(u64::MAX) + 1,
        min: 1,
        max: crate::plan::MAX_PLAN_BYTES,
    }
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
    /// [`Error::OutOfRange`] unless `1 <= world_size <=` [`MAX_WORLD_SIZE`];
    /// [`Error::InvalidConfig`] unless `rank < world_size`.
    pub fn new(rank: usize, world_size: usize) -> Result<Self> {
        if !(1..=MAX_WORLD_SIZE).contains(&world_size) {
            return Err(Error::OutOfRange {
                what: "world size".into(),
                value: world_size as i128,
                min: 1,
                max: MAX_WORLD_SIZE as u64,
            });
        }
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

/// What a run does with a shard file that an earlier run already finished.
///
/// A shard is *finished* when its file has the plan's length and begins
/// with exactly the plan's header bytes. The header names every tensor of
/// the shard with its dtype, shape and byte offsets, and its metadata holds
/// the seed, the scheme's name and the nninit version; it does not hold a
/// rule's numbers (a config's `initializer_range`, say), so after changing
/// those but not the shapes, use [`Resume::Rehash`] or a fresh folder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Resume {
    /// Keep a finished shard and trust its data.
    #[default]
    Keep,
    /// Keep a finished shard only if the SHA-256 of its bytes equals the
    /// digest the plan gives (the manifest's `sha256`, found by generating
    /// the shard without writing it); rewrite it otherwise.
    Rehash,
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
    /// Bytes generated and written per step, 1 to [`MAX_CHUNK_BYTES`]
    /// (rounded up to a multiple of 4096; a few buffers of this size are all
    /// the memory streaming needs).
    pub chunk_bytes: usize,
    /// How shard files are written (`O_DIRECT` where possible by default).
    /// The bytes written are the same in every mode.
    pub write_mode: WriteMode,
    /// What to do with shards an earlier run finished.
    pub resume: Resume,
    /// Which digest of each shard the manifest records.
    pub digest: Digest,
}

/// Which digest of each shard [`materialize`] records in the manifest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Digest {
    /// The SHA-256 of the whole file, as `sha256sum` prints it (and as the
    /// Hugging Face Hub names a file's contents), so that a copied folder can
    /// be checked with `sha256sum -c`. It costs about as much CPU as generating
    /// bf16 values (SHA-NI hashes some 2 GB/s on one core); it runs beside the
    /// generation, and for shards another rank writes, rank 0 generates them
    /// again to hash them.
    #[default]
    Sha256,
    /// No digest: the manifest's shards carry no `sha256`. For runs where the
    /// CPU, not the disk, would otherwise be the limit; [`Resume::Rehash`]
    /// still compares digests it computes itself.
    None,
}

impl Options {
    /// Defaults: 5 GB shards, one process, 8 MiB chunks, direct I/O,
    /// finished shards kept, SHA-256 digests.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            max_shard_size: DEFAULT_MAX_SHARD_SIZE,
            ranks: Ranks::SINGLE,
            chunk_bytes: DEFAULT_CHUNK_BYTES,
            write_mode: WriteMode::Direct,
            resume: Resume::Keep,
            digest: Digest::Sha256,
        }
    }

    /// Checks the sizes a caller controls.
    fn check(&self) -> Result<()> {
        if self.max_shard_size == 0 {
            return Err(Error::OutOfRange { what: "max shard size".into(), value: 0, min: 1, max: u64::MAX });
        }
        if !(1..=MAX_CHUNK_BYTES).contains(&self.chunk_bytes) {
            return Err(Error::OutOfRange {
                what: "chunk bytes".into(),
                value: self.chunk_bytes as i128,
                min: 1,
                max: MAX_CHUNK_BYTES as u64,
            });
        }
        // Re-checks a value built without `Ranks::new` (the fields are private, so only `SINGLE`).
        Ranks::new(self.ranks.rank, self.ranks.world_size).map(|_| ())
    }
}

/// What [`materialize`] wrote.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Written {
    /// Every file this process wrote, in order.
    pub files: Vec<PathBuf>,
    /// This process's shards that an earlier run had finished, kept as they were.
    pub kept: Vec<PathBuf>,
    /// Kept-looking shards whose bytes did not match their digest
    /// ([`Resume::Rehash`]), written again (they are also in `files`).
    pub rewritten: Vec<PathBuf>,
    /// Temporary files of earlier runs removed before writing.
    pub removed: Vec<PathBuf>,
    /// The shards of the whole model (all ranks).
    pub shards: usize,
    /// Data bytes this process wrote into shards (kept shards not counted).
    pub bytes: u64,
    /// Data bytes of the whole model.
    pub total_size: u64,
}

/// The data bytes of rank `opts.ranks`'s shards (for a progress bar; kept
/// shards are reported to the progress callback when they are kept).
///
/// # Errors
/// Those of [`shard_plan`].
pub fn rank_bytes(plan: &Plan, opts: &Options) -> Result<u64> {
    // Each shard's bytes are part of the plan's total, which `shard_plan` checked fits a u64.
    Ok(shard_plan(plan, opts.max_shard_size)?
        .iter()
        .enumerate()
        .filter(|(k, _)| opts.ranks.owns(*k))
        .map(|(_, s)| s.bytes)
        .sum())
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
    fn new(plan: &Plan, shard: &Shard, metadata: &[(&str, String)]) -> Result<Self> {
        let header = header(plan, shard, metadata);
        let mut at = header.len() as u64;
        let tensors = shard
            .tensors
            .iter()
            .map(|&i| {
                let start = at;
                at = at.checked_add(plan.tensors[i].bytes(plan.dtype)?).ok_or_else(|| too_large(plan))?;
                Ok((start, at, i))
            })
            .collect::<Result<_>>()?;
        Ok(Self { header, tensors, len: at })
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
            None => match E::as_le_elements(dst) {
                // Generated straight into the file buffer.
                Some(values) => t.fill_slice(seed, first, values)?,
                None => {
                    if scratch.len() < n {
                        scratch.resize(n, E::default());
                    }
                    t.fill_slice(seed, first, &mut scratch[..n])?;
                    E::write_le_bytes(&scratch[..n], dst);
                }
            },
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

/// Where [`produce`] gets its buffers and what it does with each one filled.
trait Sink {
    /// A buffer to fill (`None`: stop, nobody takes buffers any more).
    fn next(&mut self) -> Option<AlignedBuf>;
    /// Hands over the filled buffer at `offset`; `false`: stop.
    fn emit(&mut self, offset: u64, buf: AlignedBuf) -> bool;
}

/// The writers' side: a pool of [`WRITERS`] + 3 buffers, recycled as written.
struct ToWriters<'a> {
    tx: mpsc::SyncSender<(u64, AlignedBuf)>,
    free: &'a mpsc::Receiver<AlignedBuf>,
    allocated: usize,
    buf_len: usize,
}

impl Sink for ToWriters<'_> {
    fn next(&mut self) -> Option<AlignedBuf> {
        match self.free.try_recv() {
            Ok(buf) => Some(buf),
            Err(_) if self.allocated < WRITERS + 3 => {
                self.allocated += 1;
                Some(AlignedBuf::new(self.buf_len))
            }
            Err(_) => self.free.recv().ok(), // `None`: every writer has stopped
        }
    }

    fn emit(&mut self, offset: u64, buf: AlignedBuf) -> bool {
        self.tx.send((offset, buf)).is_ok()
    }
}

/// Generating only, for a digest: one buffer, reused.
struct Discard {
    buf: Option<AlignedBuf>,
    buf_len: usize,
}

impl Sink for Discard {
    fn next(&mut self) -> Option<AlignedBuf> {
        Some(self.buf.take().unwrap_or_else(|| AlignedBuf::new(self.buf_len)))
    }

    fn emit(&mut self, _offset: u64, buf: AlignedBuf) -> bool {
        self.buf = Some(buf);
        true
    }
}

/// The file's bytes in `buf` (which holds the file from `offset`), without the zero padding
/// past its end.
fn file_part<'a>(layout: &FileLayout, offset: u64, buf: &'a AlignedBuf) -> &'a [u8] {
    let n = layout.len.saturating_sub(offset).min(buf.len() as u64);
    // `n` is at most the buffer's length, a usize.
    &buf.bytes()[..n as usize]
}

/// Generates the shard's bytes buffer by buffer in file order, hashes them
/// (when `hasher` is given) and hands each to `sink`; stops early when `stop`
/// is set (a write failed).
///
/// SHA-256 is sequential and costs about as much CPU as generating bf16
/// values, so each buffer is hashed on the rayon pool beside the next
/// buffer's generation rather than between them; it is handed on once
/// hashed, one buffer later.
fn produce<E: Element>(
    plan: &Plan,
    layout: &FileLayout,
    seed: u64,
    sink: &mut dyn Sink,
    mut hasher: Option<&mut Sha256>,
    stop: &AtomicBool,
) -> Result<()> {
    let mut whole: Whole<E> = Whole::new();
    let mut offset = 0u64;
    // The last buffer filled, not yet hashed nor handed on.
    let mut pending: Option<(u64, AlignedBuf)> = None;
    let mut hash = |pending: &Option<(u64, AlignedBuf)>| {
        if let (Some(h), Some((at, buf))) = (hasher.as_deref_mut(), pending) {
            h.update(file_part(layout, *at, buf));
        }
    };
    while offset < layout.len && !stop.load(Ordering::Relaxed) {
        let Some(mut buf) = sink.next() else { break };
        let end = offset.saturating_add(buf.len() as u64);
        whole.retain(|&i, _| layout.tensors.iter().any(|&(_, e, j)| j == i && e > offset));
        for &(_, _, i) in layout.overlapping(offset, end) {
            let t = &plan.tensors[i];
            if t.init.is_none() && !t.has_part_rules() {
                return Err(no_rule(t));
            }
            if !t.is_elementwise() && !whole.contains_key(&i) {
                let n = usize::try_from(t.numel()).map_err(|_| too_large(plan))?;
                let mut w = vec![E::default(); n];
                t.fill_slice(seed, 0, &mut w)?;
                whole.insert(i, w);
            }
        }
        let (filled, ()) =
            rayon::join(|| fill_buffer(plan, layout, seed, &whole, offset, buf.bytes_mut()), || hash(&pending));
        filled?;
        if let Some((at, done)) = pending.take()
            && !sink.emit(at, done)
        {
            return Ok(());
        }
        pending = Some((offset, buf));
        offset = end;
    }
    if !stop.load(Ordering::Relaxed) {
        hash(&pending);
        if let Some((at, done)) = pending {
            sink.emit(at, done);
        }
    }
    Ok(())
}

/// [`produce`] for the plan's element type; the SHA-256 of the bytes where
/// `digest` asks for it.
fn produce_any(
    plan: &Plan,
    layout: &FileLayout,
    seed: u64,
    sink: &mut dyn Sink,
    digest: Digest,
    stop: &AtomicBool,
) -> Result<Option<[u8; 32]>> {
    let mut hasher = match digest {
        Digest::Sha256 => Some(Sha256::new()),
        Digest::None => None,
    };
    let h = hasher.as_mut();
    match plan.dtype {
        DType::F32 => produce::<f32>(plan, layout, seed, sink, h, stop),
        DType::F64 => produce::<f64>(plan, layout, seed, sink, h, stop),
        DType::BF16 => produce::<half::bf16>(plan, layout, seed, sink, h, stop),
        DType::F16 => produce::<half::f16>(plan, layout, seed, sink, h, stop),
        DType::I64 => Err(Error::InvalidConfig { reason: "weights cannot be i64".into() }),
    }?;
    Ok(hasher.map(|h| h.finalize().into()))
}

/// The buffer length for a file of `len` bytes.
fn buffer_len(opts: &Options, len: u64) -> usize {
    // `chunk_bytes` is at most MAX_CHUNK_BYTES (checked), so the minimum fits a usize.
    let cap = len.next_multiple_of(ALIGN as u64).min(MAX_CHUNK_BYTES as u64) as usize;
    opts.chunk_bytes.max(1).next_multiple_of(ALIGN).min(cap.max(ALIGN))
}

/// The SHA-256 of the shard file the plan gives, generated without writing.
fn shard_digest(plan: &Plan, layout: &FileLayout, opts: &Options) -> Result<[u8; 32]> {
    let mut sink = Discard { buf: None, buf_len: buffer_len(opts, layout.len) };
    let digest = produce_any(plan, layout, opts.seed, &mut sink, Digest::Sha256, &AtomicBool::new(false))?;
    Ok(digest.expect("a SHA-256 was asked for"))
}

/// Writes one shard and returns its SHA-256 where [`Options::digest`] asks
/// for it: buffers of the file (header, then data) are generated in parallel
/// on the rayon pool and hashed in order, while [`WRITERS`] threads write
/// earlier ones at their offsets.
fn write_shard(
    plan: &Plan,
    layout: &FileLayout,
    path: &Path,
    opts: &Options,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Option<[u8; 32]>> {
    let file = BlockFile::create(path, layout.len, opts.write_mode)?;
    let buf_len = buffer_len(opts, layout.len);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::sync_channel::<(u64, AlignedBuf)>(1);
    let rx = Mutex::new(rx);
    let (give_back, free) = mpsc::channel::<AlignedBuf>();
    let digest = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|_| {
                let give_back = give_back.clone();
                let (rx, file, stop) = (&rx, &file, &stop);
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
                                Ok(()) => {
                                    progress(layout.data_bytes(offset, offset.saturating_add(buf.len() as u64)));
                                }
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
        // The sink owns the sender, so that the writers see the channel close even if generating panics.
        let mut sink = ToWriters { tx, free: &free, allocated: 0, buf_len };
        let produced = produce_any(plan, layout, opts.seed, &mut sink, opts.digest, &stop);
        drop(sink);
        let mut result = produced;
        for w in writers {
            let written = w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            // A write error explains an early stop of the generator: report it first.
            if let Err(e) = written
                && (result.is_ok() || stop.load(Ordering::Relaxed))
            {
                result = Err(e);
            }
        }
        result
    })?;
    file.commit()?;
    Ok(digest)
}

/// Whether `path` holds a shard an earlier run finished: the plan's length
/// and, at its start, exactly the plan's header bytes.
fn is_finished(path: &Path, layout: &FileLayout) -> Result<bool> {
    let Ok(meta) = std::fs::metadata(path) else { return Ok(false) };
    if !meta.is_file() || meta.len() != layout.len {
        return Ok(false);
    }
    let mut head = vec![0u8; layout.header.len()];
    let mut file = std::fs::File::open(path).map_err(|source| Error::Io {
        action: "cannot read",
        path: path.to_path_buf(),
        source,
    })?;
    Ok(file.read_exact(&mut head).is_ok() && head == layout.header)
}

/// The SHA-256 of the file at `path`.
fn file_digest(path: &Path) -> Result<[u8; 32]> {
    let io = |source| Error::Io { action: "cannot read", path: path.to_path_buf(), source };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; DEFAULT_CHUNK_BYTES];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io(e)),
        }
    }
    Ok(hasher.finalize().into())
}

/// Whether `name` is a temporary nninit's writers give one of `files`
/// (`.FILE.tmp-PID`, see [`super::AtomicFile`]).
fn is_temporary_of(name: &str, files: &[&str]) -> bool {
    let Some(rest) = name.strip_prefix('.') else { return false };
    files.iter().any(|f| {
        rest.strip_prefix(f)
            .and_then(|r| r.strip_prefix(".tmp-"))
            .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// Removes from `dir` the temporaries earlier runs left for `files` (and
/// nothing else); returns what it removed.
fn remove_temporaries(dir: &Path, files: &[&str]) -> Result<Vec<PathBuf>> {
    let io = |action, path: &Path, source| Error::Io { action, path: path.to_path_buf(), source };
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io("cannot read", dir, e))? {
        let entry = entry.map_err(|e| io("cannot read", dir, e))?;
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if is_file && entry.file_name().to_str().is_some_and(|n| is_temporary_of(n, files)) {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(|e| io("cannot remove", &path, e))?;
            removed.push(path);
        }
    }
    removed.sort();
    Ok(removed)
}

/// Lowercase hex, as `sha256sum` prints a digest.
fn hex(digest: &[u8; 32]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
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
    #[serde(skip_serializing_if = "Vec::is_empty")]
    parts: Vec<crate::plan::PartView<'a>>,
}

/// One shard as the manifest records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ShardRecord {
    /// The file name.
    pub file: String,
    /// The file's length in bytes (header and data).
    pub size: u64,
    /// The SHA-256 of the whole file, lowercase hex (as `sha256sum` prints
    /// it); `None` under [`Digest::None`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// The manifest of a plan written with `seed` into `shards` (the JSON of
/// `nninit-manifest.json`).
///
/// # Errors
/// A rule's explanation errors (none for a validated plan).
fn manifest(plan: &Plan, seed: u64, shards: &[Shard], records: &[ShardRecord]) -> Result<serde_json::Value> {
    let mut file_of = vec![None; plan.tensors.len()];
    for s in shards {
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
                parts: if t.has_part_rules() {
                    t.parts.iter().map(|p| crate::plan::PartView::of(&t.name, p)).collect()
                } else {
                    Vec::new()
                },
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
        "shards": records,
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
/// `progress` is called with the number of data bytes written (or kept) at
/// each step.
///
/// First the temporaries earlier runs left for this rank's files are
/// removed; then each of this rank's shards that an earlier run finished is
/// kept (checked as [`Options::resume`] says) and the others are written.
///
/// # Errors
/// [`Error::InvalidPlan`] for a plan that does not validate,
/// [`Error::InvalidConfig`] for an `i64` plan, [`Error::OutOfRange`] for a
/// size in `opts` outside its range, [`Error::Io`] on write errors (every
/// file being written is then removed).
pub fn materialize(
    plan: &Plan,
    config: &serde_json::Value,
    out_dir: &Path,
    opts: &Options,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Written> {
    plan.validate()?;
    opts.check()?;
    if plan.dtype == DType::I64 {
        return Err(Error::InvalidConfig { reason: "weights are floating point: use f32, f64, bf16 or f16".into() });
    }
    let shards = shard_plan(plan, opts.max_shard_size)?;
    let metadata = [
        ("format", "pt".to_string()),
        ("nninit.scheme", plan.scheme.clone().unwrap_or_default()),
        ("nninit.seed", opts.seed.to_string()),
        ("nninit.version", env!("CARGO_PKG_VERSION").to_string()),
    ];
    let layouts = shards.iter().map(|s| FileLayout::new(plan, s, &metadata)).collect::<Result<Vec<_>>>()?;
    std::fs::create_dir_all(out_dir).map_err(|source| Error::Io {
        action: "cannot create",
        path: out_dir.to_path_buf(),
        source,
    })?;
    let leader = opts.ranks.rank() == 0;
    let mut mine: Vec<&str> =
        shards.iter().enumerate().filter(|(k, _)| opts.ranks.owns(*k)).map(|(_, s)| s.file.as_str()).collect();
    if leader {
        mine.extend([CONFIG_FILE, MANIFEST_FILE]);
        if shards.len() > 1 {
            mine.push(INDEX_FILE);
        }
    }
    let removed = remove_temporaries(out_dir, &mine)?;
    let mut written = Written {
        files: Vec::new(),
        kept: Vec::new(),
        rewritten: Vec::new(),
        removed,
        shards: shards.len(),
        bytes: 0,
        total_size: plan.bytes(),
    };
    let mut digests: Vec<Option<[u8; 32]>> = vec![None; shards.len()];
    for (k, (shard, layout)) in shards.iter().zip(&layouts).enumerate() {
        if !opts.ranks.owns(k) {
            continue;
        }
        let path = out_dir.join(&shard.file);
        if is_finished(&path, layout)? {
            match opts.resume {
                Resume::Keep => {
                    progress(shard.bytes);
                    written.kept.push(path);
                    continue;
                }
                Resume::Rehash => {
                    let want = shard_digest(plan, layout, opts)?;
                    if file_digest(&path)? == want {
                        progress(shard.bytes);
                        digests[k] = Some(want).filter(|_| opts.digest == Digest::Sha256);
                        written.kept.push(path);
                        continue;
                    }
                    written.rewritten.push(path.clone());
                }
            }
        }
        digests[k] = write_shard(plan, layout, &path, opts, progress)?;
        written.bytes += shard.bytes;
        written.files.push(path);
    }
    if leader {
        let config_path = out_dir.join(CONFIG_FILE);
        write_json(&config_path, config)?;
        written.files.push(config_path);
        let records = shards
            .iter()
            .zip(&layouts)
            .zip(&digests)
            .map(|((shard, layout), digest)| {
                let digest = match (digest, opts.digest) {
                    (Some(d), _) => Some(*d),
                    (None, Digest::Sha256) => Some(shard_digest(plan, layout, opts)?),
                    (None, Digest::None) => None,
                };
                Ok(ShardRecord { file: shard.file.clone(), size: layout.len, sha256: digest.as_ref().map(hex) })
            })
            .collect::<Result<Vec<_>>>()?;
        let manifest_path = out_dir.join(MANIFEST_FILE);
        write_json(&manifest_path, &manifest(plan, opts.seed, &shards, &records)?)?;
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
