//! One writer, always: an exclusive lock on `.<store file>.lock` in the store's directory (std's
//! `File::try_lock`/`lock`, an `flock` on Linux, released by the kernel when the holder exits,
//! even on SIGKILL). The writable store is loaded only once the lock is held, so a back never
//! writes from a copy loaded before it; until then it is unready and refuses writes.
//!
//! The lock file is never removed: removing it would let two processes lock two different files.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

/// The held lock; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub(crate) struct StoreLock {
    _file: File,
}

/// Why the lock is not held.
#[derive(Debug)]
pub(crate) enum NotLocked {
    /// Another process holds it.
    Busy,
    /// The lock file cannot be opened or locked: the store cannot be written here.
    Unwritable(io::Error),
}

/// `<dir>/.<file name>.lock`, next to the store file.
pub(crate) fn lock_path(store: &Path) -> PathBuf {
    store.with_file_name(super::durable::hidden_sibling_name(store, ".lock"))
}

/// Takes the lock at once, or says why not.
pub(crate) fn try_lock(store: &Path) -> Result<StoreLock, NotLocked> {
    let file = open(store).map_err(NotLocked::Unwritable)?;
    match file.try_lock() {
        Ok(()) => Ok(StoreLock { _file: file }),
        Err(TryLockError::WouldBlock) => Err(NotLocked::Busy),
        Err(TryLockError::Error(e)) => Err(NotLocked::Unwritable(e)),
    }
}

/// Waits until the lock is held (blocking the calling thread).
pub(crate) fn lock(store: &Path) -> io::Result<StoreLock> {
    let file = open(store)?;
    file.lock()?;
    Ok(StoreLock { _file: file })
}

/// Opening it for writing, creating it if needed, is also the proof that the directory is
/// writable by this process (a read-only or wrongly owned volume fails here).
fn open(store: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).write(true).create(true).truncate(false).open(lock_path(store))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time() {
        let temp = tempfile::Builder::new().prefix("racontemoi-lock-").tempdir().unwrap();
        let dir = temp.path();
        let store = dir.join("student_age.json");
        assert_eq!(lock_path(&store), dir.join(".student_age.json.lock"));
        let first = try_lock(&store).unwrap();
        // A second open file description conflicts, in this process as in another one.
        assert!(matches!(try_lock(&store), Err(NotLocked::Busy)));
        drop(first);
        let second = try_lock(&store).unwrap();
        drop(second);
        assert!(matches!(try_lock(&dir.join("absent/student_age.json")), Err(NotLocked::Unwritable(_))));
    }
}
