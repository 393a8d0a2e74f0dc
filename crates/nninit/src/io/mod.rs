//! File formats: `.npy` and `.safetensors`, written atomically, and
//! checkpoints read by memory map ([`reader`]).
//!
//! Every file is written under a temporary name in the destination folder and
//! renamed into place only once complete, so an interrupted or failed write
//! never leaves a file that looks finished. Whole models are streamed into
//! sharded safetensors by [`materialize()`].

mod atomic;
mod direct;
pub mod materialize;
mod npy;
pub mod peft;
pub mod reader;
mod safetensors;

pub use atomic::AtomicFile;
pub use direct::WriteMode;
pub use materialize::{Options, Ranks, materialize};
pub use npy::{read_npy, write_npy};
pub use reader::{Checkpoint, SafetensorsFile, StoredDType, StoredTensor};
pub use safetensors::{TensorData, TensorRef, write_safetensors, write_safetensors_refs};

use std::path::Path;

use crate::error::{Error, Result};
use crate::tensor::{DType, Element};

/// The most elements a tensor built in memory and written whole may hold
/// (`nninit sample`, [`write_npy`], [`write_safetensors`]): 2³² elements,
/// 16 GiB in `f32`. Whole models stream instead ([`materialize()`]).
pub const MAX_WRITE_ELEMENTS: u64 = 1 << 32;

/// Checks that `numel` elements of `what` may be built in memory.
///
/// # Errors
/// [`Error::OutOfRange`] above [`MAX_WRITE_ELEMENTS`].
pub fn check_write_elements(what: &str, numel: u64) -> Result<()> {
    if numel > MAX_WRITE_ELEMENTS {
        return Err(Error::OutOfRange {
            what: format!("the element count of {what}"),
            value: i128::from(numel),
            min: 1,
            max: MAX_WRITE_ELEMENTS,
        });
    }
    Ok(())
}

/// A tensor's values as little-endian bytes with their type and shape,
/// ready for any file format.
#[derive(Clone, Debug, PartialEq)]
pub struct Bytes {
    /// Element type.
    pub dtype: DType,
    /// Shape.
    pub shape: Vec<usize>,
    /// Little-endian element bytes, row-major.
    pub data: Vec<u8>,
}

impl Bytes {
    /// Encodes a slice of elements.
    pub fn from_slice<E: Element>(values: &[E], shape: Vec<usize>) -> Self {
        let mut data = Vec::new();
        E::extend_le_bytes(values, &mut data);
        Self { dtype: E::DTYPE, shape, data }
    }

    /// Encodes 64-bit integers.
    pub fn from_i64(values: &[i64], shape: Vec<usize>) -> Self {
        let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Self { dtype: DType::I64, shape, data }
    }
}

/// The file formats nninit writes, chosen by extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// NumPy `.npy` (version 1.0).
    Npy,
    /// Hugging Face `.safetensors`.
    Safetensors,
}

impl Format {
    /// The format of `path` from its extension.
    ///
    /// # Errors
    /// [`Error::UnsupportedFile`] for other extensions.
    pub fn from_path(path: &Path) -> Result<Self> {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("npy") => Ok(Self::Npy),
            Some("safetensors") => Ok(Self::Safetensors),
            _ => Err(Error::UnsupportedFile {
                path: path.to_path_buf(),
                reason: "the extension must be .npy or .safetensors".into(),
            }),
        }
    }
}
