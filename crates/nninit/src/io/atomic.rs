//! Write-then-rename files.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A file written under a temporary name beside its destination and renamed
/// into place by [`AtomicFile::commit`]. Dropping it uncommitted removes the
/// temporary file, so a failed write leaves nothing behind.
#[derive(Debug)]
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    writer: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Creates the temporary file for `path`.
    ///
    /// # Errors
    /// [`Error::Io`] if the temporary file cannot be created (missing or
    /// unwritable folder).
    pub fn create(path: &Path) -> Result<Self> {
        let tmp = temporary_path(path)?;
        let file = File::create(&tmp).map_err(|source| Error::Io {
            action: "cannot write",
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self { path: path.to_path_buf(), tmp, writer: Some(BufWriter::with_capacity(1 << 20, file)) })
    }

    /// The destination path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends bytes.
    ///
    /// # Errors
    /// [`Error::Io`] on a write error (disk full, ...).
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        let writer = self.writer.as_mut().expect("the writer lives until commit");
        writer.write_all(bytes).map_err(|source| Error::Io { action: "cannot write", path: self.path.clone(), source })
    }

    /// Flushes, syncs and renames the file into place.
    ///
    /// # Errors
    /// [`Error::Io`] if flushing, syncing or renaming fails; the temporary
    /// file is then removed.
    pub fn commit(mut self) -> Result<()> {
        let writer = self.writer.take().expect("commit runs once");
        let io = |action, source| Error::Io { action, path: self.path.clone(), source };
        let result = writer
            .into_inner()
            .map_err(|e| io("cannot write", e.into_error()))
            .and_then(|file| file.sync_all().map_err(|e| io("cannot sync", e)))
            .and_then(|()| std::fs::rename(&self.tmp, &self.path).map_err(|e| io("cannot rename into", e)));
        if result.is_err() {
            let _ = std::fs::remove_file(&self.tmp);
        }
        result
    }
}

/// The hidden temporary name `.NAME.tmp-PID` beside `path`.
///
/// # Errors
/// [`Error::UnsupportedFile`] if `path` has no file name.
pub(super) fn temporary_path(path: &Path) -> Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| Error::UnsupportedFile { path: path.to_path_buf(), reason: "not a file name".into() })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    Ok(path.with_file_name(tmp_name))
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_renames_and_drop_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.bin");
        let mut f = AtomicFile::create(&path).unwrap();
        f.write_all(b"hello").unwrap();
        assert!(!path.exists());
        f.commit().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"hello");

        let other = dir.path().join("b.bin");
        let mut f = AtomicFile::create(&other).unwrap();
        f.write_all(b"half").unwrap();
        drop(f);
        assert!(!other.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
    }

    #[test]
    fn missing_folder_is_an_error() {
        let err = AtomicFile::create(Path::new("/nonexistent-nninit-dir/x.npy")).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
    }
}
