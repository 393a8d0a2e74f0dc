//! NumPy `.npy` files (format version 1.0).

use std::path::Path;

use super::{AtomicFile, Bytes};
use crate::error::{Error, Result};
use crate::tensor::DType;

const MAGIC: &[u8] = b"\x93NUMPY";

fn descr(dtype: DType) -> Option<&'static str> {
    match dtype {
        DType::F32 => Some("<f4"),
        DType::F64 => Some("<f8"),
        DType::F16 => Some("<f2"),
        DType::I64 => Some("<i8"),
        DType::BF16 => None,
    }
}

fn header(dtype: &str, shape: &[usize]) -> Vec<u8> {
    let dims = match shape {
        [] => String::new(),
        [d] => format!("{d},"),
        _ => shape.iter().map(usize::to_string).collect::<Vec<_>>().join(", "),
    };
    let dict = format!("{{'descr': '{dtype}', 'fortran_order': False, 'shape': ({dims}), }}");
    // Magic (6) + version (2) + length (2) + dict + padding + '\n', a multiple of 64.
    let unpadded = MAGIC.len() + 4 + dict.len() + 1;
    let total = unpadded.div_ceil(64) * 64;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&((total - 10) as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.resize(total - 1, b' ');
    out.push(b'\n');
    out
}

/// Writes one tensor as a `.npy` file, atomically.
///
/// # Errors
/// [`Error::UnsupportedFile`] for `bf16` (NumPy has no bfloat16: use
/// `.safetensors`), [`Error::Io`] on write errors.
pub fn write_npy(path: &Path, tensor: &Bytes) -> Result<()> {
    let dtype = descr(tensor.dtype).ok_or_else(|| Error::UnsupportedFile {
        path: path.to_path_buf(),
        reason: "NumPy has no bfloat16 type; write bf16 to .safetensors".into(),
    })?;
    let mut file = AtomicFile::create(path)?;
    file.write_all(&header(dtype, &tensor.shape))?;
    file.write_all(&tensor.data)?;
    file.commit()
}

/// Reads a `.npy` file written by [`write_npy`] or NumPy (little-endian
/// `f2`/`f4`/`f8`, C order).
///
/// # Errors
/// [`Error::Io`] if the file cannot be read, [`Error::UnsupportedFile`] if it
/// is not such a file.
pub fn read_npy(path: &Path) -> Result<Bytes> {
    let raw =
        std::fs::read(path).map_err(|source| Error::Io { action: "cannot read", path: path.to_path_buf(), source })?;
    let bad = |reason: &str| Error::UnsupportedFile { path: path.to_path_buf(), reason: reason.into() };
    if raw.len() < 10 || &raw[..6] != MAGIC {
        return Err(bad("not a .npy file"));
    }
    let (len, start) = match raw[6] {
        1 => (u16::from_le_bytes([raw[8], raw[9]]) as usize, 10),
        2 | 3 if raw.len() >= 12 => (u32::from_le_bytes([raw[8], raw[9], raw[10], raw[11]]) as usize, 12),
        _ => return Err(bad("unsupported .npy version")),
    };
    let dict =
        raw.get(start..start + len).and_then(|h| std::str::from_utf8(h).ok()).ok_or_else(|| bad("truncated header"))?;
    let field = |key: &str| -> Option<&str> {
        let at = dict.find(&format!("'{key}':"))? + key.len() + 3;
        Some(dict[at..].trim_start())
    };
    let dtype = match field("descr").and_then(|d| d.get(1..4)) {
        Some("<f4") => DType::F32,
        Some("<f8") => DType::F64,
        Some("<f2") => DType::F16,
        Some("<i8") => DType::I64,
        _ => return Err(bad("only little-endian f2, f4, f8 and i8 are supported")),
    };
    if field("fortran_order").is_some_and(|f| f.starts_with("True")) {
        return Err(bad("Fortran-order arrays are not supported"));
    }
    let shape_text = field("shape")
        .and_then(|s| s.strip_prefix('('))
        .and_then(|s| s.split_once(')'))
        .ok_or_else(|| bad("no shape"))?
        .0;
    let shape = shape_text
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| d.parse::<usize>().map_err(|_| bad("bad shape")))
        .collect::<Result<Vec<_>>>()?;
    let data = raw[start + len..].to_vec();
    let expected = shape.iter().try_fold(dtype.size(), |acc, &d| acc.checked_mul(d));
    if expected != Some(data.len()) {
        return Err(bad("data length does not match the shape"));
    }
    Ok(Bytes { dtype, shape, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_aligned_and_parseable() {
        for shape in [vec![], vec![7], vec![64, 32], vec![2, 3, 4, 5]] {
            let h = header("<f4", &shape);
            assert_eq!(h.len() % 64, 0);
            assert_eq!(*h.last().unwrap(), b'\n');
        }
        assert!(String::from_utf8_lossy(&header("<f4", &[7])).contains("'shape': (7,)"));
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.npy");
        let t = Bytes::from_slice(&[1.0f32, -2.5, 3.0, 0.25, 5.0, 6.0], vec![2, 3]);
        write_npy(&path, &t).unwrap();
        assert_eq!(read_npy(&path).unwrap(), t);
        let bf = Bytes::from_slice(&[half::bf16::ONE], vec![1]);
        assert!(matches!(write_npy(&dir.path().join("b.npy"), &bf), Err(Error::UnsupportedFile { .. })));
        assert!(!dir.path().join("b.npy").exists());
    }
}
