//! Atomic output: every file is written under a hidden temporary name in the output folder and renamed into
//! place only when the whole report is ready, so a crash never leaves a file that looks complete.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::ReportError;

/// Files written under temporary names, waiting to be renamed into place.
#[derive(Debug)]
pub(super) struct Staging {
    dir: PathBuf,
    /// (temporary path, final path), in the order they were staged.
    pending: Vec<(PathBuf, PathBuf)>,
}

impl Staging {
    /// Creates `dir` if needed.
    pub(super) fn new(dir: &Path) -> Result<Self, ReportError> {
        std::fs::create_dir_all(dir).map_err(|source| ReportError::Io { path: dir.to_path_buf(), source })?;
        Ok(Self { dir: dir.to_path_buf(), pending: Vec::new() })
    }

    /// The final path of `name` and the temporary path it is written to first. The temporary name is hidden
    /// (leading dot) and keeps the extension last, because the PNG encoder is chosen by it.
    fn paths(&self, name: &str) -> (PathBuf, PathBuf) {
        let (stem, ext) = match name.rsplit_once('.') {
            Some((stem, ext)) => (stem, format!(".{ext}")),
            None => (name, String::new()),
        };
        let tmp = self.dir.join(format!(".{stem}.tmp-{}{ext}", std::process::id()));
        (tmp, self.dir.join(name))
    }

    /// Writes `bytes` under a temporary name; returns the path the file will have after [`Staging::commit`].
    pub(super) fn write(&mut self, name: &str, bytes: &[u8]) -> Result<PathBuf, ReportError> {
        self.stage_with(name, |tmp| {
            let mut file = File::create(tmp).map_err(|source| ReportError::Io { path: tmp.to_path_buf(), source })?;
            file.write_all(bytes).map_err(|source| ReportError::Io { path: tmp.to_path_buf(), source })
        })
    }

    /// Lets `render` write the temporary file (by path), flushes it to disk and stages it under `name`.
    pub(super) fn stage_with(
        &mut self,
        name: &str,
        render: impl FnOnce(&Path) -> Result<(), ReportError>,
    ) -> Result<PathBuf, ReportError> {
        let (tmp, path) = self.paths(name);
        // Registered before rendering, so a failed render's partial file is removed too.
        self.pending.push((tmp.clone(), path.clone()));
        render(&tmp)?;
        File::open(&tmp).and_then(|f| f.sync_all()).map_err(|source| ReportError::Io { path: tmp.clone(), source })?;
        Ok(path)
    }

    /// Renames every staged file into place, in the order staged.
    pub(super) fn commit(mut self) -> Result<(), ReportError> {
        let pending = std::mem::take(&mut self.pending);
        let mut iter = pending.into_iter();
        while let Some((tmp, path)) = iter.next() {
            if let Err(source) = std::fs::rename(&tmp, &path) {
                // Leave nothing behind: this one and the ones not yet renamed are removed by `Drop`.
                self.pending.push((tmp, path.clone()));
                self.pending.extend(iter);
                return Err(ReportError::Io { path, source });
            }
        }
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        for (tmp, _) in &self.pending {
            let _ = std::fs::remove_file(tmp);
        }
    }
}
