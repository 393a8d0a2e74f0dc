//! The scikit-learn 8×8 digits, embedded in the binary so the lab needs no download.
//!
//! Source: `sklearn/datasets/data/digits.csv.gz` from the scikit-learn 1.9.1 wheel (BSD-3;
//! the data is the test part of UCI "Optical Recognition of Handwritten Digits"). 1,797 rows of
//! 64 pixel values 0-16 then the label, no header; see `assets/README.md`.

use std::path::Path;

use crate::data::DataError;
use crate::data::csv::{CsvExamples, parse_label_last_csv};
use crate::data::idx::{gunzip, verify_sha256};

/// The gzipped CSV, exactly as shipped by scikit-learn 1.9.1.
const DIGITS_CSV_GZ: &[u8] = include_bytes!("../../assets/digits.csv.gz");

/// sha256 of the embedded `digits.csv.gz`, checked at every load.
pub const DIGITS_CSV_GZ_SHA256: &str = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22";

/// Number of rows in the digits file.
pub const DIGITS_ROWS: usize = 1_797;

/// The fixed split rule: within each class, in file order, every `DIGITS_TEST_EVERY`-th example
/// (the 4th, 8th, 12th, ... of that class) is a test example and the rest are training examples.
///
/// The file is ordered by writer, so a plain head/tail split would test on unseen writers
/// only and skew the class balance; this rule is stratified (each class is 1/4 test, rounded
/// down) and deterministic. It gives 1,352 training and 445 test examples.
pub const DIGITS_TEST_EVERY: usize = 4;

/// The pseudo-path used in messages about the embedded file.
const EMBEDDED: &str = "<embedded>/assets/digits.csv.gz";

/// Decompresses, verifies and parses the embedded digits.
pub(crate) fn read_embedded() -> Result<CsvExamples, DataError> {
    read_digits_gz(DIGITS_CSV_GZ, Path::new(EMBEDDED), Some(DIGITS_CSV_GZ_SHA256))
}

/// Parses gzipped digits CSV bytes, after checking their sha256 when `sha256` is given.
pub(crate) fn read_digits_gz(gz: &[u8], path: &Path, sha256: Option<&str>) -> Result<CsvExamples, DataError> {
    if let Some(expected) = sha256 {
        verify_sha256(gz, expected, path)?;
    }
    let text = gunzip(gz, path)?;
    parse_label_last_csv(&text, path, 64, 16, 10)
}

/// `true` for the rows of the test split, by the rule of [`DIGITS_TEST_EVERY`].
pub(crate) fn test_mask(labels: &[u8]) -> Vec<bool> {
    let mut seen = [0usize; 256];
    labels
        .iter()
        .map(|&l| {
            let k = seen[usize::from(l)];
            seen[usize::from(l)] += 1;
            k % DIGITS_TEST_EVERY == DIGITS_TEST_EVERY - 1
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::idx::sha256_hex;

    #[test]
    fn embedded_asset_has_pinned_hash() {
        assert_eq!(sha256_hex(DIGITS_CSV_GZ), DIGITS_CSV_GZ_SHA256);
    }

    #[test]
    fn embedded_digits_have_known_rows_and_class_counts() {
        let e = read_embedded().unwrap();
        assert_eq!(e.n, DIGITS_ROWS);
        assert_eq!(e.values.len(), DIGITS_ROWS * 64);
        let mut counts = [0usize; 10];
        for &l in &e.labels {
            counts[usize::from(l)] += 1;
        }
        assert_eq!(counts, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
        assert_eq!(e.values.iter().copied().max(), Some(16));
        // First row of the file, as printed by `zcat digits.csv.gz | head -1`.
        assert_eq!(&e.values[..8], &[0, 0, 5, 13, 9, 1, 0, 0]);
        assert_eq!(e.labels[..3], [0, 1, 2]);
    }

    #[test]
    fn corrupted_asset_is_a_checksum_error() {
        let mut gz = DIGITS_CSV_GZ.to_vec();
        gz[100] ^= 1;
        let err = read_digits_gz(&gz, Path::new(EMBEDDED), Some(DIGITS_CSV_GZ_SHA256)).unwrap_err();
        assert!(matches!(err, DataError::Checksum { .. }), "{err}");
        // Without the hash check, the damage shows as a gzip error instead of a panic.
        assert!(read_digits_gz(&gz, Path::new(EMBEDDED), None).is_err());
    }

    #[test]
    fn split_rule_is_stratified() {
        let mask = test_mask(&[0, 0, 0, 0, 1, 0, 1, 1, 1, 0, 0, 0, 0]);
        let expect = [false, false, false, true, false, false, false, false, true, false, false, true, false];
        assert_eq!(mask, expect);
    }
}
