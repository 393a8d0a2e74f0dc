//! The IDX format of MNIST and Fashion-MNIST, raw or gzipped.
//!
//! An IDX file is a big-endian `u32` magic (`0x00000803` for a rank-3 `u8` tensor of images,
//! `0x00000801` for a rank-1 `u8` tensor of labels), one big-endian `u32` per dimension, then
//! the `u8` data in row-major order: a 16-byte header for images, 8 bytes for labels.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::data::DataError;

/// Magic number of an IDX file of `u8` images (rank 3: count, rows, columns).
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of `u8` labels (rank 1: count).
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;

/// The images of one IDX file.
#[derive(Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub n: usize,
    /// Rows per image.
    pub rows: usize,
    /// Columns per image.
    pub cols: usize,
    /// `n × rows × cols` pixels, row-major, as stored (0-255).
    pub pixels: Vec<u8>,
}

impl std::fmt::Debug for IdxImages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdxImages").field("n", &self.n).field("rows", &self.rows).field("cols", &self.cols).finish()
    }
}

/// Reads a whole file, decompressing it when its name ends in `.gz`.
///
/// # Errors
///
/// [`DataError::Missing`] (with `hint`) if it does not exist, [`DataError::Io`] if it cannot be
/// read, [`DataError::BadGzip`] if a `.gz` file is not valid gzip data.
pub fn read_maybe_gz(path: &Path, hint: &str) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => DataError::Missing { path: path.to_path_buf(), hint: hint.to_owned() },
        _ => DataError::Io { path: path.to_path_buf(), source },
    })?;
    if path.extension().is_some_and(|e| e == "gz") { gunzip(&raw, path) } else { Ok(raw) }
}

/// Decompresses gzip data (all members); `path` is only for messages.
///
/// # Errors
///
/// [`DataError::BadGzip`] if `gz` is not complete, valid gzip data.
pub fn gunzip(gz: &[u8], path: &Path) -> Result<Vec<u8>, DataError> {
    let mut out = Vec::with_capacity(gz.len().saturating_mul(2));
    flate2::read::MultiGzDecoder::new(gz)
        .read_to_end(&mut out)
        .map_err(|source| DataError::BadGzip { path: path.to_path_buf(), source })?;
    Ok(out)
}

/// Finds `<dir>/<name>` or, failing that, `<dir>/<name>.gz`.
///
/// # Errors
///
/// [`DataError::Missing`] naming `<dir>/<name>`, with `hint`, when neither exists.
pub fn locate(dir: &Path, name: &str, hint: &str) -> Result<PathBuf, DataError> {
    let raw = dir.join(name);
    if raw.is_file() {
        return Ok(raw);
    }
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    Err(DataError::Missing { path: raw, hint: hint.to_owned() })
}

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks that `bytes` (read from `path`) hash to `expected` (lowercase hex sha256).
///
/// # Errors
///
/// [`DataError::Checksum`] when they do not.
pub fn verify_sha256(bytes: &[u8], expected: &str, path: &Path) -> Result<(), DataError> {
    let found = sha256_hex(bytes);
    if found == expected {
        Ok(())
    } else {
        Err(DataError::Checksum { path: path.to_path_buf(), expected: expected.to_owned(), found })
    }
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn check_len(path: &Path, expected: u64, found: usize) -> Result<(), DataError> {
    let found = found as u64;
    if found < expected {
        Err(DataError::Truncated { path: path.to_path_buf(), expected, found })
    } else if found > expected {
        Err(DataError::TrailingData { path: path.to_path_buf(), expected, found })
    } else {
        Ok(())
    }
}

fn check_magic(bytes: &[u8], path: &Path, expected: u32, header: u64) -> Result<(), DataError> {
    if bytes.len() < 4 {
        return Err(DataError::Truncated { path: path.to_path_buf(), expected: header, found: bytes.len() as u64 });
    }
    let found = be_u32(bytes, 0);
    if found != expected {
        return Err(DataError::BadMagic { path: path.to_path_buf(), expected, found });
    }
    if (bytes.len() as u64) < header {
        return Err(DataError::Truncated { path: path.to_path_buf(), expected: header, found: bytes.len() as u64 });
    }
    Ok(())
}

/// Parses the (decompressed) bytes of an IDX images file; `path` is only for messages.
///
/// # Errors
///
/// [`DataError::BadMagic`], [`DataError::Truncated`] (header or data shorter than the header
/// says) or [`DataError::TrailingData`] (longer).
pub fn parse_idx_images(mut bytes: Vec<u8>, path: &Path) -> Result<IdxImages, DataError> {
    check_magic(&bytes, path, IDX_IMAGES_MAGIC, 16)?;
    let (n, rows, cols) = (be_u32(&bytes, 4), be_u32(&bytes, 8), be_u32(&bytes, 12));
    let expected = u64::from(n).saturating_mul(u64::from(rows)).saturating_mul(u64::from(cols)).saturating_add(16);
    check_len(path, expected, bytes.len())?;
    bytes.drain(..16);
    Ok(IdxImages { n: n as usize, rows: rows as usize, cols: cols as usize, pixels: bytes })
}

/// Parses the (decompressed) bytes of an IDX labels file, checking every label is below
/// `classes`; `path` is only for messages.
///
/// # Errors
///
/// [`DataError::BadMagic`], [`DataError::Truncated`], [`DataError::TrailingData`] as for
/// images, and [`DataError::LabelOutOfRange`].
pub fn parse_idx_labels(mut bytes: Vec<u8>, path: &Path, classes: usize) -> Result<Vec<u8>, DataError> {
    check_magic(&bytes, path, IDX_LABELS_MAGIC, 8)?;
    let n = be_u32(&bytes, 4);
    check_len(path, 8 + u64::from(n), bytes.len())?;
    bytes.drain(..8);
    if let Some(index) = bytes.iter().position(|&l| usize::from(l) >= classes) {
        let label = u64::from(bytes[index]);
        return Err(DataError::LabelOutOfRange { path: path.to_path_buf(), index, label, classes });
    }
    Ok(bytes)
}

/// Reads an IDX images file, raw or `.gz` (no checksum: see [`crate::data::load`] for that).
///
/// # Errors
///
/// As [`read_maybe_gz`] and [`parse_idx_images`].
pub fn read_idx_images(path: &Path) -> Result<IdxImages, DataError> {
    parse_idx_images(read_maybe_gz(path, "no such file")?, path)
}

/// Reads an IDX labels file, raw or `.gz`, checking every label is below `classes`.
///
/// # Errors
///
/// As [`read_maybe_gz`] and [`parse_idx_labels`].
pub fn read_idx_labels(path: &Path, classes: usize) -> Result<Vec<u8>, DataError> {
    parse_idx_labels(read_maybe_gz(path, "no such file")?, path, classes)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    use super::*;

    /// A hand-made IDX images file: `n` images of `rows × cols`, pixel `i` = `i % 256`.
    pub(crate) fn images_bytes(n: u32, rows: u32, cols: u32) -> Vec<u8> {
        let mut b = Vec::new();
        for v in [IDX_IMAGES_MAGIC, n, rows, cols] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.extend((0..n * rows * cols).map(|i| (i % 256) as u8));
        b
    }

    /// A hand-made IDX labels file.
    pub(crate) fn labels_bytes(labels: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&IDX_LABELS_MAGIC.to_be_bytes());
        b.extend_from_slice(&(labels.len() as u32).to_be_bytes());
        b.extend_from_slice(labels);
        b
    }

    pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn reads_raw_and_gzipped_images_alike() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("img");
        let gz = dir.path().join("img.gz");
        std::fs::write(&raw, images_bytes(3, 2, 4)).unwrap();
        std::fs::write(&gz, gzip(&images_bytes(3, 2, 4))).unwrap();
        let a = read_idx_images(&raw).unwrap();
        let b = read_idx_images(&gz).unwrap();
        assert_eq!(a, b);
        assert_eq!((a.n, a.rows, a.cols), (3, 2, 4));
        assert_eq!(a.pixels, (0..24).collect::<Vec<u8>>());
    }

    #[test]
    fn reads_labels() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lab");
        std::fs::write(&p, labels_bytes(&[0, 9, 3])).unwrap();
        assert_eq!(read_idx_labels(&p, 10).unwrap(), vec![0, 9, 3]);
    }

    #[test]
    fn missing_file_is_missing_with_hint() {
        let dir = tempfile::tempdir().unwrap();
        let err = locate(dir.path(), "train-images-idx3-ubyte", "run this").unwrap_err();
        assert!(matches!(&err, DataError::Missing { path, hint }
            if path.ends_with("train-images-idx3-ubyte") && hint == "run this"));
        assert!(err.to_string().contains("not found; run this"), "{err}");
        let err = read_maybe_gz(&dir.path().join("nope"), "h").unwrap_err();
        assert!(matches!(err, DataError::Missing { .. }));
    }

    #[test]
    fn locate_prefers_raw_then_gz() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f.gz"), b"x").unwrap();
        assert!(locate(dir.path(), "f", "").unwrap().ends_with("f.gz"));
        std::fs::write(dir.path().join("f"), b"x").unwrap();
        assert!(locate(dir.path(), "f", "").unwrap().ends_with("f"));
    }

    #[test]
    fn bad_magic() {
        let mut b = images_bytes(1, 2, 2);
        b[3] = 0x01;
        let err = parse_idx_images(b, Path::new("x")).unwrap_err();
        assert!(matches!(err, DataError::BadMagic { expected: 0x803, found: 0x801, .. }), "{err}");
        assert!(err.to_string().contains("0x00000801"), "{err}");
        // A labels file given as images, and the reverse.
        let err = parse_idx_labels(images_bytes(1, 1, 1), Path::new("x"), 10).unwrap_err();
        assert!(matches!(err, DataError::BadMagic { expected: 0x801, found: 0x803, .. }));
    }

    #[test]
    fn truncated_header_and_data() {
        let b = images_bytes(2, 3, 3);
        for cut in [0, 2, 10] {
            let err = parse_idx_images(b[..cut].to_vec(), Path::new("x")).unwrap_err();
            assert!(matches!(err, DataError::Truncated { expected: 16, found, .. } if found == cut as u64), "{err}");
        }
        let err = parse_idx_images(b[..30].to_vec(), Path::new("x")).unwrap_err();
        assert!(matches!(err, DataError::Truncated { expected: 34, found: 30, .. }), "{err}");
        let l = labels_bytes(&[1, 2, 3]);
        let err = parse_idx_labels(l[..10].to_vec(), Path::new("x"), 10).unwrap_err();
        assert!(matches!(err, DataError::Truncated { expected: 11, found: 10, .. }), "{err}");
    }

    #[test]
    fn trailing_data() {
        let mut b = images_bytes(1, 2, 2);
        b.push(7);
        let err = parse_idx_images(b, Path::new("x")).unwrap_err();
        assert!(matches!(err, DataError::TrailingData { expected: 20, found: 21, .. }), "{err}");
    }

    #[test]
    fn huge_header_count_is_truncation_not_allocation() {
        let mut b = images_bytes(1, 1, 1);
        b[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        b[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
        b[12..16].copy_from_slice(&u32::MAX.to_be_bytes());
        let err = parse_idx_images(b, Path::new("x")).unwrap_err();
        assert!(matches!(err, DataError::Truncated { found: 17, .. }), "{err}");
    }

    #[test]
    fn label_out_of_range() {
        let err = parse_idx_labels(labels_bytes(&[0, 1, 10, 2]), Path::new("x"), 10).unwrap_err();
        assert!(matches!(err, DataError::LabelOutOfRange { index: 2, label: 10, classes: 10, .. }), "{err}");
    }

    #[test]
    fn corrupt_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("img.gz");
        let mut gz = gzip(&images_bytes(4, 5, 5));
        std::fs::write(&p, b"not gzip at all").unwrap();
        assert!(matches!(read_idx_images(&p).unwrap_err(), DataError::BadGzip { .. }));
        gz.truncate(gz.len() / 2);
        std::fs::write(&p, gz).unwrap();
        assert!(matches!(read_idx_images(&p).unwrap_err(), DataError::BadGzip { .. }));
    }

    #[test]
    fn checksum() {
        let known = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; // sha256("abc")
        assert_eq!(sha256_hex(b"abc"), known);
        verify_sha256(b"abc", known, Path::new("x")).unwrap();
        let err = verify_sha256(b"abd", known, Path::new("x")).unwrap_err();
        assert!(matches!(&err, DataError::Checksum { expected, found, .. } if expected == known && found != known));
    }
}
