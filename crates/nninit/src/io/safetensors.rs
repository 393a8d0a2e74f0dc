//! Hugging Face `.safetensors` files.

use std::collections::HashMap;
use std::path::Path;

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

fn st_dtype(dtype: DType) -> ::safetensors::Dtype {
    match dtype {
        DType::F32 => ::safetensors::Dtype::F32,
        DType::F64 => ::safetensors::Dtype::F64,
        DType::BF16 => ::safetensors::Dtype::BF16,
        DType::F16 => ::safetensors::Dtype::F16,
        DType::I64 => ::safetensors::Dtype::I64,
    }
}

/// Writes tensors and string metadata to a `.safetensors` file, atomically.
///
/// # Errors
/// [`Error::Io`] on write errors, [`Error::UnsupportedFile`] if the tensors
/// cannot be serialized (duplicate names).
pub fn write_safetensors(path: &Path, tensors: &[TensorData], metadata: &HashMap<String, String>) -> Result<()> {
    let views = tensors
        .iter()
        .map(|t| {
            let view =
                ::safetensors::tensor::TensorView::new(st_dtype(t.bytes.dtype), t.bytes.shape.clone(), &t.bytes.data)
                    .map_err(|e| Error::UnsupportedFile { path: path.to_path_buf(), reason: e.to_string() })?;
            Ok((t.name.as_str(), view))
        })
        .collect::<Result<Vec<_>>>()?;
    let meta = (!metadata.is_empty()).then(|| metadata.clone());
    let bytes = ::safetensors::tensor::serialize(views, meta)
        .map_err(|e| Error::UnsupportedFile { path: path.to_path_buf(), reason: e.to_string() })?;
    let mut file = AtomicFile::create(path)?;
    file.write_all(&bytes)?;
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
        let meta = HashMap::from([("seed".to_string(), "7".to_string())]);
        write_safetensors(&path, &[TensorData { name: "w".into(), bytes: w.clone() }], &meta).unwrap();
        let raw = std::fs::read(&path).unwrap();
        let st = ::safetensors::SafeTensors::deserialize(&raw).unwrap();
        let t = st.tensor("w").unwrap();
        assert_eq!(t.shape(), &[2, 3]);
        assert_eq!(t.dtype(), ::safetensors::Dtype::BF16);
        assert_eq!(t.data(), &w.data[..]);
        let (_, header) = ::safetensors::SafeTensors::read_metadata(&raw).unwrap();
        assert_eq!(header.metadata().as_ref().unwrap()["seed"], "7");
    }
}
