//! Large files written at disk speed: aligned buffers, positioned writes
//! from several threads, `O_DIRECT` where the filesystem takes it.
//!
//! Writing through the page cache costs more than generating the numbers on
//! the machines nninit is measured on (reference/performance.md: 0.35–0.7
//! GB/s through cold page-cache pages, 1.9–2.4 GB/s with `O_DIRECT`), and a
//! model written through the cache leaves gigabytes of dirty pages for the
//! final `fsync`. [`BlockFile`] writes whole buffers at their offsets with
//! `O_DIRECT` (Linux) when the filesystem accepts it, and through the page
//! cache otherwise; the bytes on disk are the same either way.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Alignment of buffers, file offsets and write lengths for `O_DIRECT`
/// (the largest logical block size in common use).
pub const ALIGN: usize = 4096;

/// How large files (model shards) are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WriteMode {
    /// Bypass the page cache with `O_DIRECT` (Linux) where the filesystem
    /// accepts it, and fall back to [`WriteMode::PageCache`] where it does
    /// not (tmpfs, some network filesystems, other systems).
    #[default]
    Direct,
    /// Ordinary writes through the page cache.
    PageCache,
}

/// A zeroed byte buffer whose start is aligned to [`ALIGN`] and whose
/// length is a multiple of it, as `O_DIRECT` requires.
///
/// The storage is an ordinary `Vec<u8>` over-allocated by [`ALIGN`]; the
/// buffer is the aligned window inside it (the heap block never moves, so
/// the window stays aligned when the buffer is sent to another thread).
#[derive(Debug)]
pub struct AlignedBuf {
    storage: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBuf {
    /// A buffer of `len` bytes rounded up to a multiple of [`ALIGN`].
    pub fn new(len: usize) -> Self {
        let len = len.max(1).div_ceil(ALIGN) * ALIGN;
        let storage = vec![0u8; len + ALIGN];
        let address = storage.as_ptr() as usize;
        let start = address.next_multiple_of(ALIGN) - address;
        Self { storage, start, len }
    }

    /// The aligned bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.storage[self.start..self.start + self.len]
    }

    /// The aligned bytes, mutably.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..self.start + self.len]
    }

    /// The length in bytes (a multiple of [`ALIGN`]).
    pub fn len(&self) -> usize {
        self.len
    }
}

/// A file of known length written in aligned blocks at their offsets,
/// possibly from several threads at once, under a temporary name and
/// renamed into place by [`BlockFile::commit`]. Dropping it uncommitted
/// removes the temporary file.
#[derive(Debug)]
pub struct BlockFile {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<File>,
    len: u64,
    direct: bool,
}

impl BlockFile {
    /// Creates the temporary file for `path`, to hold exactly `len` bytes.
    ///
    /// # Errors
    /// [`Error::Io`] if the temporary file cannot be created or sized.
    pub fn create(path: &Path, len: u64, mode: WriteMode) -> Result<Self> {
        let tmp = super::atomic::temporary_path(path)?;
        let io = |action, source| Error::Io { action, path: path.to_path_buf(), source };
        let buffered = || OpenOptions::new().write(true).create(true).truncate(true).open(&tmp);
        let (file, direct) = match mode {
            WriteMode::Direct => match open_direct(&tmp) {
                Some(file) => (file, true),
                None => (buffered().map_err(|e| io("cannot write", e))?, false),
            },
            WriteMode::PageCache => (buffered().map_err(|e| io("cannot write", e))?, false),
        };
        let this = Self { path: path.to_path_buf(), tmp, file: Some(file), len, direct };
        // Allocate the whole length up front: later writes overwrite rather than extend.
        this.file().set_len(len.div_ceil(ALIGN as u64) * ALIGN as u64).map_err(|e| io("cannot write", e))?;
        Ok(this)
    }

    /// Whether writes bypass the page cache (`O_DIRECT`).
    #[cfg(test)]
    fn is_direct(&self) -> bool {
        self.direct
    }

    fn file(&self) -> &File {
        self.file.as_ref().expect("the file lives until commit")
    }

    /// Writes `buf` at `offset` (a multiple of [`ALIGN`]). Bytes past the
    /// file's length are cut off by [`BlockFile::commit`]. May be called
    /// from several threads at once for different offsets.
    ///
    /// # Errors
    /// [`Error::Io`] on a write error (disk full, ...).
    pub fn write_at(&self, buf: &AlignedBuf, offset: u64) -> Result<()> {
        debug_assert_eq!(offset % ALIGN as u64, 0);
        let want = (self.len.saturating_sub(offset)).min(buf.len() as u64) as usize;
        // Whole blocks for O_DIRECT; through the cache only the file's bytes.
        let n = if self.direct { want.div_ceil(ALIGN) * ALIGN } else { want };
        write_all_at(self.file(), &buf.bytes()[..n], offset).map_err(|source| Error::Io {
            action: "cannot write",
            path: self.path.clone(),
            source,
        })
    }

    /// Cuts the file to its length, syncs it and renames it into place.
    ///
    /// # Errors
    /// [`Error::Io`] if truncating, syncing or renaming fails; the temporary
    /// file is then removed.
    pub fn commit(mut self) -> Result<()> {
        let file = self.file.take().expect("commit runs once");
        let io = |action, source| Error::Io { action, path: self.path.clone(), source };
        let result = file
            .set_len(self.len)
            .map_err(|e| io("cannot write", e))
            .and_then(|()| file.sync_all().map_err(|e| io("cannot sync", e)))
            .and_then(|()| std::fs::rename(&self.tmp, &self.path).map_err(|e| io("cannot rename into", e)));
        drop(file);
        if result.is_err() {
            let _ = std::fs::remove_file(&self.tmp);
        }
        result
    }
}

impl Drop for BlockFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(unix)]
fn write_all_at(file: &File, buf: &[u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
}

#[cfg(windows)]
fn write_all_at(file: &File, mut buf: &[u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_write(buf, offset) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                buf = &buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Opens `tmp` with `O_DIRECT` and checks that an aligned write goes
/// through (some filesystems accept the flag and refuse the writes).
/// `None` where either fails: the caller writes through the page cache.
#[cfg(target_os = "linux")]
fn open_direct(tmp: &Path) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file =
        OpenOptions::new().write(true).create(true).truncate(true).custom_flags(libc::O_DIRECT).open(tmp).ok()?;
    let probe = AlignedBuf::new(ALIGN);
    write_all_at(&file, probe.bytes(), 0).ok()?;
    Some(file)
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_tmp: &Path) -> Option<File> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_aligned_whole_blocks() {
        for len in [1, ALIGN - 1, ALIGN, ALIGN + 1, 3 << 20] {
            let b = AlignedBuf::new(len);
            assert_eq!(b.bytes().as_ptr() as usize % ALIGN, 0);
            assert_eq!(b.len() % ALIGN, 0);
            assert!(b.len() >= len && b.len() < len + ALIGN);
            assert!(b.bytes().iter().all(|&x| x == 0));
        }
    }

    #[test]
    fn both_modes_write_the_same_bytes_out_of_order() {
        let dir = tempfile::tempdir().unwrap();
        let len = 3 * ALIGN as u64 + 123;
        let want: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        for mode in [WriteMode::Direct, WriteMode::PageCache] {
            let path = dir.path().join(format!("{mode:?}.bin"));
            let f = BlockFile::create(&path, len, mode).unwrap();
            if mode == WriteMode::PageCache {
                assert!(!f.is_direct());
            }
            std::thread::scope(|s| {
                // Offsets written from two threads, last block first.
                for k in [3usize, 1, 0, 2] {
                    let f = &f;
                    let want = &want;
                    s.spawn(move || {
                        let mut buf = AlignedBuf::new(ALIGN);
                        let from = k * ALIGN;
                        let to = (from + ALIGN).min(want.len());
                        buf.bytes_mut()[..to - from].copy_from_slice(&want[from..to]);
                        f.write_at(&buf, from as u64).unwrap();
                    });
                }
            });
            assert!(!path.exists(), "not visible before commit");
            f.commit().unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), want, "{mode:?}");
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "no temporary file left");
    }

    #[test]
    fn dropped_files_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.bin");
        let f = BlockFile::create(&path, 10, WriteMode::Direct).unwrap();
        f.write_at(&AlignedBuf::new(ALIGN), 0).unwrap();
        drop(f);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
