//! Reading checkpoints: one `.safetensors` file, a sharded folder
//! (`model.safetensors.index.json`), or a Hugging Face model folder
//! (`config.json` beside the weights). Files are memory-mapped, never read
//! whole, and every header is validated before any tensor is touched:
//!
//! - the header length is at most [`MAX_HEADER_BYTES`] and lies inside the file;
//! - the header is a JSON object; every entry has a known dtype, a shape and
//!   two `data_offsets`;
//! - every byte range lies inside the data section, is exactly
//!   `numel · dtype size` long, and overlaps no other tensor's range;
//! - an index names only plain files in its folder, and each of its tensors
//!   is in the shard it names.
//!
//! A file that fails any check gives [`Error::DamagedFile`] with the
//! [`Damage`] found, never a panic.

use std::collections::BTreeMap;
use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use serde_json::Value;

use super::materialize::{CONFIG_FILE, INDEX_FILE, SINGLE_FILE};
use crate::error::{Damage, Error, Result};
use crate::tensor::DType;

/// The largest header accepted (100 MB, the limit of the `safetensors` crate).
pub const MAX_HEADER_BYTES: u64 = 100_000_000;

/// The element types the safetensors format defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoredDType {
    /// Boolean (one byte).
    Bool,
    /// Unsigned 8-bit integer.
    U8,
    /// Signed 8-bit integer.
    I8,
    /// 8-bit float, 5-bit exponent.
    F8E5M2,
    /// 8-bit float, 4-bit exponent.
    F8E4M3,
    /// Signed 16-bit integer.
    I16,
    /// Unsigned 16-bit integer.
    U16,
    /// IEEE binary16.
    F16,
    /// bfloat16.
    BF16,
    /// Signed 32-bit integer.
    I32,
    /// Unsigned 32-bit integer.
    U32,
    /// IEEE binary32.
    F32,
    /// IEEE binary64.
    F64,
    /// Signed 64-bit integer.
    I64,
    /// Unsigned 64-bit integer.
    U64,
}

impl StoredDType {
    /// Parses the format's dtype string (`F32`, `BF16`, ...).
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "BOOL" => Self::Bool,
            "U8" => Self::U8,
            "I8" => Self::I8,
            "F8_E5M2" => Self::F8E5M2,
            "F8_E4M3" => Self::F8E4M3,
            "I16" => Self::I16,
            "U16" => Self::U16,
            "F16" => Self::F16,
            "BF16" => Self::BF16,
            "I32" => Self::I32,
            "U32" => Self::U32,
            "F32" => Self::F32,
            "F64" => Self::F64,
            "I64" => Self::I64,
            "U64" => Self::U64,
            _ => return None,
        })
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Self::Bool | Self::U8 | Self::I8 | Self::F8E5M2 | Self::F8E4M3 => 1,
            Self::I16 | Self::U16 | Self::F16 | Self::BF16 => 2,
            Self::I32 | Self::U32 | Self::F32 => 4,
            Self::F64 | Self::I64 | Self::U64 => 8,
        }
    }

    /// The lowercase name (`f32`, `bf16`, `f8_e4m3`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Bool => "bool",
            Self::U8 => "u8",
            Self::I8 => "i8",
            Self::F8E5M2 => "f8_e5m2",
            Self::F8E4M3 => "f8_e4m3",
            Self::I16 => "i16",
            Self::U16 => "u16",
            Self::F16 => "f16",
            Self::BF16 => "bf16",
            Self::I32 => "i32",
            Self::U32 => "u32",
            Self::F32 => "f32",
            Self::F64 => "f64",
            Self::I64 => "i64",
            Self::U64 => "u64",
        }
    }

    /// The floating-point [`DType`] nninit computes with, `None` for integer,
    /// boolean and 8-bit float types.
    pub fn float(self) -> Option<DType> {
        match self {
            Self::F32 => Some(DType::F32),
            Self::F64 => Some(DType::F64),
            Self::F16 => Some(DType::F16),
            Self::BF16 => Some(DType::BF16),
            _ => None,
        }
    }
}

/// One tensor of a checkpoint: name, type, shape, and where its bytes are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredTensor {
    /// The state-dict key.
    pub name: String,
    /// Element type.
    pub dtype: StoredDType,
    /// Shape (empty for a scalar).
    pub shape: Vec<usize>,
    /// Which file of the checkpoint holds it (an index into [`Checkpoint::files`]).
    pub file: usize,
    /// Its bytes, as a range of the whole file (header included).
    pub bytes: Range<usize>,
}

impl StoredTensor {
    /// The number of elements.
    pub fn numel(&self) -> u64 {
        self.shape.iter().map(|&d| d as u64).product()
    }
}

/// A validated safetensors header: the tensors in data order and the string metadata.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// The tensors, sorted by their position in the file (`file` is 0).
    pub tensors: Vec<StoredTensor>,
    /// The `__metadata__` strings.
    pub metadata: BTreeMap<String, String>,
}

/// Validates the header of a safetensors file whose whole contents are `bytes`
/// (see the module docs for the checks). Reads only the header.
///
/// # Errors
/// The first [`Damage`] found.
pub fn parse_header(bytes: &[u8]) -> std::result::Result<Header, Damage> {
    let file_len = bytes.len() as u64;
    let Some(len_bytes) = bytes.first_chunk::<8>() else {
        return Err(Damage::TooShort { len: file_len });
    };
    let header_len = u64::from_le_bytes(*len_bytes);
    if header_len > MAX_HEADER_BYTES {
        return Err(Damage::HeaderTooLarge { header_len, max: MAX_HEADER_BYTES });
    }
    if 8 + header_len > file_len {
        return Err(Damage::HeaderPastEnd { header_len, file_len });
    }
    let start = 8 + header_len as usize;
    let data_len = file_len - start as u64;
    let json: serde_json::Map<String, Value> =
        serde_json::from_slice(&bytes[8..start]).map_err(|e| Damage::InvalidJson { reason: e.to_string() })?;
    let mut header = Header::default();
    for (name, entry) in json {
        if name == "__metadata__" {
            header.metadata = metadata(entry)?;
            continue;
        }
        let (dtype, shape, begin, end) = entry_fields(&name, &entry)?;
        if begin > end || end > data_len {
            return Err(Damage::OffsetsOutOfRange { tensor: name, begin, end, data_len });
        }
        let expected = shape
            .iter()
            .try_fold(dtype.size() as u64, |acc, &d| acc.checked_mul(d as u64))
            .ok_or_else(|| Damage::InvalidEntry { tensor: name.clone(), reason: "shape overflows 64 bits".into() })?;
        if end - begin != expected {
            return Err(Damage::SizeMismatch { tensor: name, expected, got: end - begin });
        }
        let bytes = start + begin as usize..start + end as usize;
        header.tensors.push(StoredTensor { name, dtype, shape, file: 0, bytes });
    }
    header.tensors.sort_by_key(|t| (t.bytes.start, t.bytes.end));
    let mut last: Option<&StoredTensor> = None;
    for t in header.tensors.iter().filter(|t| !t.bytes.is_empty()) {
        if let Some(prev) = last
            && t.bytes.start < prev.bytes.end
        {
            return Err(Damage::Overlap { first: prev.name.clone(), second: t.name.clone() });
        }
        last = Some(t);
    }
    Ok(header)
}

fn metadata(entry: Value) -> std::result::Result<BTreeMap<String, String>, Damage> {
    let bad = || Damage::InvalidEntry { tensor: "__metadata__".into(), reason: "must map strings to strings".into() };
    let Value::Object(map) = entry else { return Err(bad()) };
    map.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            _ => Err(bad()),
        })
        .collect()
}

fn entry_fields(name: &str, entry: &Value) -> std::result::Result<(StoredDType, Vec<usize>, u64, u64), Damage> {
    let bad = |reason: &str| Damage::InvalidEntry { tensor: name.to_string(), reason: reason.to_string() };
    let dtype_text = entry.get("dtype").and_then(Value::as_str).ok_or_else(|| bad("no `dtype` string"))?;
    let dtype = StoredDType::parse(dtype_text)
        .ok_or_else(|| Damage::UnknownDtype { tensor: name.to_string(), dtype: dtype_text.to_string() })?;
    let shape = entry
        .get("shape")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no `shape` array"))?
        .iter()
        .map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok()))
        .collect::<Option<Vec<usize>>>()
        .ok_or_else(|| bad("`shape` must hold non-negative integers"))?;
    let offsets = entry.get("data_offsets").and_then(Value::as_array).ok_or_else(|| bad("no `data_offsets`"))?;
    let [begin, end] = offsets.as_slice() else { return Err(bad("`data_offsets` must hold two integers")) };
    let (Some(begin), Some(end)) = (begin.as_u64(), end.as_u64()) else {
        return Err(bad("`data_offsets` must hold two non-negative integers"));
    };
    Ok((dtype, shape, begin, end))
}

/// A memory-mapped `.safetensors` file with its validated header.
#[derive(Debug)]
pub struct SafetensorsFile {
    path: PathBuf,
    map: Mmap,
    header: Header,
}

impl SafetensorsFile {
    /// Maps and validates a file.
    ///
    /// # Errors
    /// [`Error::Io`] if it cannot be opened or mapped, [`Error::DamagedFile`]
    /// if its header fails a check.
    pub fn open(path: &Path) -> Result<Self> {
        let io = |action, source| Error::Io { action, path: path.to_path_buf(), source };
        let file = File::open(path).map_err(|e| io("cannot open", e))?;
        let len = file.metadata().map_err(|e| io("cannot read", e))?.len();
        if len < 8 {
            return Err(Error::DamagedFile { path: path.to_path_buf(), damage: Damage::TooShort { len } });
        }
        let map = map(&file).map_err(|e| io("cannot memory-map", e))?;
        let header = parse_header(&map).map_err(|damage| Error::DamagedFile { path: path.to_path_buf(), damage })?;
        Ok(Self { path: path.to_path_buf(), map, header })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The validated header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The whole file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }
}

/// Maps a file read-only.
#[allow(unsafe_code)]
fn map(file: &File) -> std::io::Result<Mmap> {
    // SAFETY: the map is read-only and nninit never writes through it. If
    // another process truncates or rewrites the file while it is mapped, reads
    // may fault or see the new bytes; that is the documented limit of reading
    // checkpoints by memory map (as `safetensors` and `transformers` do).
    let map = unsafe { Mmap::map(file)? };
    // Tensors are read front to back; a failed hint changes nothing.
    let _ = map.advise(memmap2::Advice::Sequential);
    Ok(map)
}

/// A checkpoint: one or more mapped safetensors files and, where found, the
/// model's `config.json`.
#[derive(Debug)]
pub struct Checkpoint {
    root: PathBuf,
    files: Vec<SafetensorsFile>,
    tensors: Vec<StoredTensor>,
    config: Option<String>,
}

impl Checkpoint {
    /// Opens `path`: a `.safetensors` file, a `model.safetensors.index.json`,
    /// or a folder holding either (the index wins), with `config.json` read
    /// from the same folder when present.
    ///
    /// # Errors
    /// [`Error::Io`] for unreadable paths, [`Error::DamagedFile`] for a damaged
    /// file or an index that does not match its shards,
    /// [`Error::UnsupportedFile`] for a folder without safetensors weights.
    pub fn open(path: &Path) -> Result<Self> {
        let io = |action, source| Error::Io { action, path: path.to_path_buf(), source };
        let meta = std::fs::metadata(path).map_err(|e| io("cannot open", e))?;
        let (folder, weights) = if meta.is_dir() {
            let index = path.join(INDEX_FILE);
            let single = path.join(SINGLE_FILE);
            let weights = if index.is_file() {
                index
            } else if single.is_file() {
                single
            } else {
                only_safetensors(path)?
            };
            (path.to_path_buf(), weights)
        } else {
            (path.parent().map(Path::to_path_buf).unwrap_or_default(), path.to_path_buf())
        };
        let files = if weights.file_name().and_then(|n| n.to_str()) == Some(INDEX_FILE) {
            open_index(&weights, &folder)?
        } else {
            vec![SafetensorsFile::open(&weights)?]
        };
        let mut tensors = Vec::new();
        let mut seen = std::collections::HashMap::new();
        for (k, f) in files.iter().enumerate() {
            for t in &f.header.tensors {
                if let Some(other) = seen.insert(t.name.clone(), k) {
                    return Err(Error::DamagedFile {
                        path: f.path.clone(),
                        damage: Damage::InvalidIndex {
                            reason: format!("tensor `{}` is also in `{}`", t.name, files[other].path.display()),
                        },
                    });
                }
                tensors.push(StoredTensor { file: k, ..t.clone() });
            }
        }
        let config_path = folder.join(CONFIG_FILE);
        let config = if config_path.is_file() {
            Some(std::fs::read_to_string(&config_path).map_err(|e| Error::Io {
                action: "cannot read",
                path: config_path,
                source: e,
            })?)
        } else {
            None
        };
        Ok(Self { root: path.to_path_buf(), files, tensors, config })
    }

    /// The path given to [`Checkpoint::open`].
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The mapped files.
    pub fn files(&self) -> &[SafetensorsFile] {
        &self.files
    }

    /// Every tensor, file by file in data order.
    pub fn tensors(&self) -> &[StoredTensor] {
        &self.tensors
    }

    /// A tensor's bytes (little-endian elements, row-major).
    pub fn data(&self, tensor: &StoredTensor) -> &[u8] {
        &self.files[tensor.file].bytes()[tensor.bytes.clone()]
    }

    /// The text of the `config.json` beside the weights, if there is one.
    pub fn config_json(&self) -> Option<&str> {
        self.config.as_deref()
    }

    /// The total size of the tensors' data in bytes.
    pub fn data_bytes(&self) -> u64 {
        self.tensors.iter().map(|t| t.bytes.len() as u64).sum()
    }
}

/// The one `*.safetensors` file of a folder that has neither an index nor `model.safetensors`.
fn only_safetensors(folder: &Path) -> Result<PathBuf> {
    let entries = std::fs::read_dir(folder).map_err(|source| Error::Io {
        action: "cannot list",
        path: folder.to_path_buf(),
        source,
    })?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "safetensors") && p.is_file())
        .collect();
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(Error::UnsupportedFile {
            path: folder.to_path_buf(),
            reason: format!(
                "no {SINGLE_FILE}, {INDEX_FILE} or other .safetensors file here (pytorch_model.bin is not read: \
                 save with safe_serialization)"
            ),
        }),
        n => Err(Error::UnsupportedFile {
            path: folder.to_path_buf(),
            reason: format!("{n} .safetensors files and no {INDEX_FILE}: give one file or add the index"),
        }),
    }
}

/// Opens the shards an index names and checks that each tensor is where it says.
fn open_index(index: &Path, folder: &Path) -> Result<Vec<SafetensorsFile>> {
    let damaged = |damage| Error::DamagedFile { path: index.to_path_buf(), damage };
    let text = std::fs::read(index).map_err(|source| Error::Io {
        action: "cannot read",
        path: index.to_path_buf(),
        source,
    })?;
    if text.len() as u64 > MAX_HEADER_BYTES {
        return Err(damaged(Damage::HeaderTooLarge { header_len: text.len() as u64, max: MAX_HEADER_BYTES }));
    }
    let json: Value =
        serde_json::from_slice(&text).map_err(|e| damaged(Damage::InvalidJson { reason: e.to_string() }))?;
    let map = json
        .get("weight_map")
        .and_then(Value::as_object)
        .ok_or_else(|| damaged(Damage::InvalidJson { reason: "no `weight_map` object".into() }))?;
    let mut by_file: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (tensor, file) in map {
        let file = file.as_str().ok_or_else(|| {
            damaged(Damage::InvalidIndex { reason: format!("`{tensor}` maps to a non-string file name") })
        })?;
        let plain = Path::new(file).file_name().is_some_and(|n| n == file) && file != "." && file != "..";
        if !plain {
            return Err(damaged(Damage::InvalidIndex {
                reason: format!("shard `{file}` is not a plain file name in the index's folder"),
            }));
        }
        by_file.entry(file).or_default().push(tensor);
    }
    let mut files = Vec::new();
    for (file, names) in by_file {
        let shard = SafetensorsFile::open(&folder.join(file))?;
        for name in names {
            if !shard.header.tensors.iter().any(|t| t.name == name) {
                return Err(damaged(Damage::InvalidIndex {
                    reason: format!("tensor `{name}` is not in its shard `{file}`"),
                }));
            }
        }
        files.push(shard);
    }
    Ok(files)
}

#[cfg(test)]
mod tests;
