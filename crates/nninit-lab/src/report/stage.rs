//! Atomic output of a whole report: every file is written under a hidden temporary name in the output folder
//! (through [`nninit::io::AtomicFile`]) and renamed into place only when the whole report is ready, so a crash
//! never leaves a file that looks complete.

use std::path::{Path, PathBuf};

use nninit::io::AtomicFile;

use super::error::ReportError;

/// Files written under temporary names, waiting to be renamed into place.
#[derive(Debug)]
pub(super) struct Staging {
    dir: PathBuf,
    /// In the order they were staged; dropping one uncommitted removes its temporary file.
    pending: Vec<AtomicFile>,
}

impl Staging {
    /// Creates `dir` if needed.
    pub(super) fn new(dir: &Path) -> Result<Self, ReportError> {
        std::fs::create_dir_all(dir).map_err(|source| ReportError::Io { path: dir.to_path_buf(), source })?;
        Ok(Self { dir: dir.to_path_buf(), pending: Vec::new() })
    }

    /// Writes `bytes` under a temporary name; returns the path the file will have after [`Staging::commit`].
    pub(super) fn write(&mut self, name: &str, bytes: &[u8]) -> Result<PathBuf, ReportError> {
        let path = self.dir.join(name);
        let mut file = AtomicFile::create(&path)?;
        file.write_all(bytes)?;
        self.pending.push(file);
        Ok(path)
    }

    /// Lets `render` write the temporary file by its path (which keeps the extension last, because the PNG
    /// encoder is chosen by it) and stages it under `name`; a failed render's partial file is removed.
    pub(super) fn stage_with(
        &mut self,
        name: &str,
        render: impl FnOnce(&Path) -> Result<(), ReportError>,
    ) -> Result<PathBuf, ReportError> {
        let path = self.dir.join(name);
        let file = AtomicFile::create_for_path_writer(&path)?;
        render(file.temporary_path())?;
        self.pending.push(file);
        Ok(path)
    }

    /// Syncs and renames every staged file into place, in the order staged. On error, the files not yet
    /// renamed are removed.
    pub(super) fn commit(self) -> Result<(), ReportError> {
        for file in self.pending {
            file.commit()?;
        }
        Ok(())
    }
}
