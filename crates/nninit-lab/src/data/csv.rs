//! The CSV format of the scikit-learn digits: one example per line, no header, the pixel
//! values as integers, then the label.

use std::path::Path;

use crate::data::DataError;

/// Examples read from a label-last CSV file.
#[derive(Clone, PartialEq, Eq)]
pub struct CsvExamples {
    /// Number of examples (non-empty lines).
    pub n: usize,
    /// `n × features` values, row-major, as stored.
    pub values: Vec<u8>,
    /// `n` labels.
    pub labels: Vec<u8>,
}

impl std::fmt::Debug for CsvExamples {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvExamples").field("n", &self.n).field("values", &self.values.len()).finish()
    }
}

/// Parses one field as an integer; `13` and `13.0` are both accepted.
fn integer(field: &str) -> Option<u64> {
    let field = field.trim();
    field.parse::<u64>().ok().or_else(|| {
        let v = field.parse::<f64>().ok()?;
        (v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= u32::MAX as f64).then_some(v as u64)
    })
}

/// Parses a label-last CSV (the digits format: `features` values in `0..=max_value`, then a
/// label below `classes`, comma-separated, no header). Blank lines are skipped; `\r\n` line
/// ends are accepted. `path` is only for messages.
///
/// # Errors
///
/// [`DataError::BadCsv`] naming the 1-based line: not UTF-8, wrong number of fields, a field
/// that is not a non-negative integer, a value above `max_value`, or no rows at all.
/// [`DataError::LabelOutOfRange`] for a label `>= classes`.
pub fn parse_label_last_csv(
    bytes: &[u8],
    path: &Path,
    features: usize,
    max_value: u8,
    classes: usize,
) -> Result<CsvExamples, DataError> {
    let bad = |line: usize, reason: String| DataError::BadCsv { path: path.to_path_buf(), line, reason };
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count();
        bad(line, "not UTF-8 text".to_owned())
    })?;
    let mut values = Vec::with_capacity(bytes.len() / 3);
    let mut labels = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != features + 1 {
            return Err(bad(
                lineno,
                format!("expected {} fields ({features} values, then the label), found {}", features + 1, fields.len()),
            ));
        }
        for (j, field) in fields[..features].iter().enumerate() {
            let v = integer(field).ok_or_else(|| {
                bad(lineno, format!("value {} is `{}`, not a non-negative integer", j + 1, field.trim()))
            })?;
            if v > u64::from(max_value) {
                return Err(bad(lineno, format!("value {} is {v}, above the maximum {max_value}", j + 1)));
            }
            values.push(v as u8);
        }
        let label_field = fields[features];
        let label = integer(label_field)
            .ok_or_else(|| bad(lineno, format!("label is `{}`, not a non-negative integer", label_field.trim())))?;
        if label >= classes as u64 {
            return Err(DataError::LabelOutOfRange { path: path.to_path_buf(), index: labels.len(), label, classes });
        }
        labels.push(label as u8);
    }
    if labels.is_empty() {
        return Err(bad(1, "no data rows".to_owned()));
    }
    Ok(CsvExamples { n: labels.len(), values, labels })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<CsvExamples, DataError> {
        parse_label_last_csv(text.as_bytes(), Path::new("t.csv"), 3, 16, 10)
    }

    fn bad_line(text: &str) -> (usize, String) {
        match parse(text).unwrap_err() {
            DataError::BadCsv { line, reason, .. } => (line, reason),
            other => panic!("expected BadCsv, got {other}"),
        }
    }

    #[test]
    fn reads_rows() {
        let e = parse("0,16,3,9\r\n1.0,2,3,0\n\n").unwrap();
        assert_eq!(e.n, 2);
        assert_eq!(e.values, vec![0, 16, 3, 1, 2, 3]);
        assert_eq!(e.labels, vec![9, 0]);
    }

    #[test]
    fn wrong_field_count() {
        let (line, reason) = bad_line("0,1,2,3\n0,1,2\n");
        assert_eq!(line, 2);
        assert!(reason.contains("expected 4 fields") && reason.contains("found 3"), "{reason}");
    }

    #[test]
    fn not_a_number() {
        assert_eq!(bad_line("0,x,2,3\n").0, 1);
        assert!(bad_line("0,1,2,3\n0,1,-2,3\n").1.contains("value 3 is `-2`"));
        assert!(bad_line("0,1,2,3\n0,1,2,1.5\n").1.contains("label is `1.5`"));
    }

    #[test]
    fn value_above_maximum() {
        let (line, reason) = bad_line("0,1,17,3\n");
        assert_eq!(line, 1);
        assert!(reason.contains("value 3 is 17"), "{reason}");
    }

    #[test]
    fn label_out_of_range() {
        let err = parse("0,1,2,3\n0,1,2,10\n").unwrap_err();
        assert!(matches!(err, DataError::LabelOutOfRange { index: 1, label: 10, classes: 10, .. }), "{err}");
    }

    #[test]
    fn empty_and_non_utf8() {
        assert_eq!(bad_line("\n\n"), (1, "no data rows".to_owned()));
        let err = parse_label_last_csv(b"0,1,2,3\n0,\xff,2,3\n", Path::new("t.csv"), 3, 16, 10).unwrap_err();
        assert!(matches!(err, DataError::BadCsv { line: 2, .. }), "{err}");
    }

    #[test]
    fn message_names_file_and_line() {
        let err = parse("0,1,2,3\n0,1\n").unwrap_err();
        assert!(err.to_string().starts_with("t.csv:2: expected 4 fields"), "{err}");
    }
}
