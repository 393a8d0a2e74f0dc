//! Hugging Face `.safetensors` files.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::Serialize;

use super::{AtomicFile, Bytes};
use crate::error::{Error, Result};
use crate::tensor::DType;

/// A named tensor to write.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorData {
    /// The tensor's name (state-dict key).
    pub name: String,
    /// Its values.
    pub bytes: Bytes,
}

/// The dtype's name in a safetensors header.
fn st_dtype(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 => "F32",
        DType::F64 => "F64",
        DType::BF16 => "BF16",
        DType::F16 => "F16",
        DType::I64 => "I64",
    }
}

/// JSON text of a string or list (escaped as JSON requires; cannot fail).
fn json<T: Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// A safetensors header: the 8-byte little-endian length, then the JSON object with
/// `__metadata__` first (in the order given) and the tensors in the order given, their data
/// laid out back to back from offset 0, padded with spaces to a multiple of 8 bytes.
///
/// The one place nninit writes safetensors headers. The same inputs always give the same
/// bytes (the `safetensors` crate serializes its metadata from a `HashMap`, whose order
/// changes from run to run), so a file's hash depends only on what is in it.
pub(crate) fn header<'a>(
    metadata: impl IntoIterator<Item = (&'a str, &'a str)>,
    tensors: impl IntoIterator<Item = (&'a str, DType, &'a [usize])>,
) -> Vec<u8> {
    let mut text = String::from("{\"__metadata__\":{");
    for (i, (k, v)) in metadata.into_iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&json(k));
        text.push(':');
        text.push_str(&json(v));
    }
    text.push('}');
    let mut offset = 0u64;
    for (name, dtype, shape) in tensors {
        let end = offset + shape.iter().map(|&d| d as u64).product::<u64>() * dtype.size() as u64;
        text.push(',');
        text.push_str(&json(name));
        text.push_str(&format!(
            ":{{\"dtype\":\"{}\",\"shape\":{},\"data_offsets\":[{offset},{end}]}}",
            st_dtype(dtype),
            json(shape)
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

/// A named tensor to write, borrowed: a view of little-endian element bytes held elsewhere
/// (a framework's tensor storage), so nothing is copied before it is written.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TensorRef<'a> {
    /// The tensor's name (state-dict key).
    pub name: &'a str,
    /// Element type.
    pub dtype: DType,
    /// Shape.
    pub shape: &'a [usize],
    /// Little-endian element bytes, row-major.
    pub data: &'a [u8],
}

impl<'a> From<&'a TensorData> for TensorRef<'a> {
    fn from(t: &'a TensorData) -> Self {
        Self { name: &t.name, dtype: t.bytes.dtype, shape: &t.bytes.shape, data: &t.bytes.data }
    }
}

/// Writes tensors and string metadata to a `.safetensors` file, atomically.
///
/// Tensors are stored in the order given, metadata in key order, so the same arguments always
/// give the same bytes.
///
/// # Errors
/// [`Error::Io`] on write errors, [`Error::UnsupportedFile`] if two tensors share a name or a
/// tensor's bytes do not match its shape and dtype.
pub fn write_safetensors(path: &Path, tensors: &[TensorData], metadata: &BTreeMap<String, String>) -> Result<()> {
    let refs: Vec<TensorRef<'_>> = tensors.iter().map(TensorRef::from).collect();
    write_safetensors_refs(path, &refs, metadata)
}

/// [`write_safetensors`] from borrowed bytes: the same file, without first copying every
/// tensor into a [`TensorData`].
///
/// # Errors
/// As [`write_safetensors`].
pub fn write_safetensors_refs(
    path: &Path,
    tensors: &[TensorRef<'_>],
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    let unsupported = |reason: String| Error::UnsupportedFile { path: path.to_path_buf(), reason };
    let mut names = HashSet::new();
    for t in tensors {
        if !names.insert(t.name) {
            return Err(unsupported(format!("two tensors are named `{}`", t.name)));
        }
        let want = t.shape.iter().try_fold(t.dtype.size(), |n, &d| n.checked_mul(d));
        if want != Some(t.data.len()) {
            return Err(unsupported(format!(
                "tensor `{}` has {} bytes, but shape {:?} of {:?} needs {}",
                t.name,
                t.data.len(),
                t.shape,
                t.dtype,
                want.map_or_else(|| "more than fit in memory".to_string(), |w| w.to_string())
            )));
        }
    }
    let head = header(
        metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        tensors.iter().map(|t| (t.name, t.dtype, t.shape)),
    );
    let mut file = AtomicFile::create(path)?;
    file.write_all(&head)?;
    for t in tensors {
        file.write_all(t.data)?;
    }
    file.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.safetensors");
        let w = Bytes::from_slice(&[half::bf16::from_f32(0.5); 6], vec![2, 3]);
        let meta = BTreeMap::from([("seed".to_string(), "7".to_string()), ("a".to_string(), "\"x\"".to_string())]);
        write_safetensors(&path, &[TensorData { name: "w".into(), bytes: w.clone() }], &meta).unwrap();
        let raw = std::fs::read(&path).unwrap();
        let st = ::safetensors::SafeTensors::deserialize(&raw).unwrap();
        let t = st.tensor("w").unwrap();
        assert_eq!(t.shape(), &[2, 3]);
        assert_eq!(t.dtype(), ::safetensors::Dtype::BF16);
        assert_eq!(t.data(), &w.data[..]);
        let (_, header) = ::safetensors::SafeTensors::read_metadata(&raw).unwrap();
        assert_eq!(header.metadata().as_ref().unwrap()["seed"], "7");
        assert_eq!(header.metadata().as_ref().unwrap()["a"], "\"x\"");
        // The same arguments give the same bytes, and the header is padded to 8.
        write_safetensors(&path, &[TensorData { name: "w".into(), bytes: w.clone() }], &meta).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), raw);
        let n = u64::from_le_bytes(raw[..8].try_into().unwrap()) as usize;
        assert_eq!(n % 8, 0);
    }

    #[test]
    fn bad_tensors_are_typed_errors_and_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.safetensors");
        let w = Bytes::from_slice(&[1.0f32; 4], vec![2, 2]);
        let twice =
            [TensorData { name: "w".into(), bytes: w.clone() }, TensorData { name: "w".into(), bytes: w.clone() }];
        let e = write_safetensors(&path, &twice, &BTreeMap::new()).unwrap_err();
        assert!(matches!(e, Error::UnsupportedFile { .. }), "{e}");
        let mut short = w.clone();
        short.data.pop();
        let e =
            write_safetensors(&path, &[TensorData { name: "w".into(), bytes: short }], &BTreeMap::new()).unwrap_err();
        assert!(e.to_string().contains("15 bytes"), "{e}");
        assert!(!path.exists());
    }
}
