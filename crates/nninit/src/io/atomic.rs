//! Write-then-rename files.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A file written under a temporary name beside its destination and renamed
/// into place by [`AtomicFile::commit`]. Dropping it uncommitted removes the
/// temporary file, so a failed write leaves nothing behind.
///
/// Bytes go in through [`write_all`](Self::write_all) (or all at once with
/// [`AtomicFile::write`]); a writer that opens the file itself by path, such as an
/// image encoder that picks its format by the extension, writes to
/// [`temporary_path`](Self::temporary_path) of an [`AtomicFile::create_for_path_writer`].
/// Either way, [`commit`](Self::commit) flushes, syncs and renames.
#[derive(Debug)]
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    /// `None` once committed.
    sink: Option<Sink>,
}

/// Who writes the temporary file.
#[derive(Debug)]
enum Sink {
    /// This type, through a buffer.
    Buffered(BufWriter<File>),
    /// Another writer, by path.
    ByPath,
}

impl AtomicFile {
    /// Creates the temporary file for `path`.
    ///
    /// # Errors
    /// [`Error::Io`] if the temporary file cannot be created (missing or
    /// unwritable folder).
    pub fn create(path: &Path) -> Result<Self> {
        let tmp = temporary_path(path)?;
        let file = Self::create_temporary(path, &tmp)?;
        Ok(Self { path: path.to_path_buf(), tmp, sink: Some(Sink::Buffered(BufWriter::with_capacity(1 << 20, file))) })
    }

    /// Creates the (empty) temporary file for `path` for a writer that opens it by
    /// [`temporary_path`](Self::temporary_path). The temporary name ends in the
    /// destination's extension (`.NAME.tmp-PID.EXT`), so a writer that picks its format
    /// by the extension picks the destination's.
    ///
    /// # Errors
    /// [`Error::Io`] if the temporary file cannot be created (missing or
    /// unwritable folder).
    pub fn create_for_path_writer(path: &Path) -> Result<Self> {
        let mut tmp = temporary_path(path)?.into_os_string();
        if let Some(ext) = path.extension() {
            tmp.push(".");
            tmp.push(ext);
        }
        let tmp = PathBuf::from(tmp);
        Self::create_temporary(path, &tmp)?;
        Ok(Self { path: path.to_path_buf(), tmp, sink: Some(Sink::ByPath) })
    }

    /// Writes `bytes` as the whole file at `path`: under a temporary name, synced, then
    /// renamed into place.
    ///
    /// # Errors
    /// As [`create`](Self::create), [`write_all`](Self::write_all) and
    /// [`commit`](Self::commit); nothing is left behind on error.
    pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
        let mut file = Self::create(path)?;
        file.write_all(bytes)?;
        file.commit()
    }

    fn create_temporary(path: &Path, tmp: &Path) -> Result<File> {
        File::create(tmp).map_err(|source| Error::Io { action: "cannot write", path: path.to_path_buf(), source })
    }

    /// The destination path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The temporary file's path, until [`commit`](Self::commit) renames it.
    pub fn temporary_path(&self) -> &Path {
        &self.tmp
    }

    /// Appends bytes.
    ///
    /// # Errors
    /// [`Error::Io`] on a write error (disk full, ...).
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        let io = |source| Error::Io { action: "cannot write", path: self.path.clone(), source };
        match self.sink.as_mut().expect("the sink lives until commit") {
            Sink::Buffered(writer) => writer.write_all(bytes).map_err(io),
            Sink::ByPath => {
                OpenOptions::new().append(true).open(&self.tmp).and_then(|mut f| f.write_all(bytes)).map_err(io)
            }
        }
    }

    /// Flushes, syncs and renames the file into place.
    ///
    /// # Errors
    /// [`Error::Io`] if flushing, syncing or renaming fails; the temporary
    /// file is then removed.
    pub fn commit(mut self) -> Result<()> {
        let sink = self.sink.take().expect("commit runs once");
        let io = |action, source| Error::Io { action, path: self.path.clone(), source };
        let file = match sink {
            Sink::Buffered(writer) => writer.into_inner().map_err(|e| io("cannot write", e.into_error())),
            // The other writer has closed the file; a handle of our own syncs what it wrote.
            Sink::ByPath => OpenOptions::new().write(true).open(&self.tmp).map_err(|e| io("cannot write", e)),
        };
        let result = file
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
        if self.sink.take().is_some() {
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
    fn whole_buffers_and_path_writers_commit_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        AtomicFile::write(&path, b"whole").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"whole");

        let png = dir.path().join("figure.png");
        let f = AtomicFile::create_for_path_writer(&png).unwrap();
        let tmp = f.temporary_path().to_path_buf();
        assert_eq!(tmp.extension().unwrap(), "png", "{}", tmp.display());
        assert!(tmp.file_name().unwrap().to_str().unwrap().starts_with(".figure.png.tmp-"), "{}", tmp.display());
        // The other writer replaces the contents by path, as an encoder does.
        std::fs::write(&tmp, b"pixels").unwrap();
        assert!(!png.exists());
        f.commit().unwrap();
        assert_eq!(std::fs::read(&png).unwrap(), b"pixels");

        let other = dir.path().join("b.png");
        let f = AtomicFile::create_for_path_writer(&other).unwrap();
        std::fs::write(f.temporary_path(), b"half").unwrap();
        drop(f);
        assert!(!other.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "no temporary file left");
        assert!(AtomicFile::write(Path::new("/nonexistent-nninit-dir/x.txt"), b"x").is_err());
    }

    #[test]
    fn missing_folder_is_an_error() {
        let err = AtomicFile::create(Path::new("/nonexistent-nninit-dir/x.npy")).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
    }
}
