//! The file store opened from the configuration, and its one wait: the single-writer lock
//! (`lock.rs`). A back that cannot take the lock at start serves the file read-only, unready, and
//! waits for the lock on a thread of its own; once it holds it, the file is read again (the last
//! write of the previous holder) and the writable store replaces the read-only one in its slot.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use super::lock::{self, NotLocked};
use super::{io_problem, Access, FileStore};
use crate::config::StudentsConfig;
use crate::error::StartupError;

/// How often a back whose store directory cannot be written tries again.
const UNWRITABLE_RETRY: Duration = Duration::from_secs(1);

/// The file store as requests find it: replaced once, when a back that started without the lock
/// gets it.
#[derive(Clone)]
pub(crate) struct FileSlot(Arc<RwLock<Arc<FileStore>>>);

impl FileSlot {
    /// The store to serve this request from.
    pub(crate) fn current(&self) -> Arc<FileStore> {
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }
}

/// The file store: its lock taken (or waited for), the file read. `warnings`: lines to log once.
pub(crate) fn open(config: &StudentsConfig, warnings: &mut Vec<String>) -> Result<FileSlot, StartupError> {
    let path = &config.store_file;
    let mut waits = false;
    let access = if config.read_only {
        Access::ReadOnly
    } else {
        match lock::try_lock(path) {
            Ok(held) => Access::Writable(held),
            Err(not_locked) => {
                let reason = standby_reason(path, &not_locked);
                warnings.push(format!(
                    "{reason}: not ready, writes answer 503 until the lock is held{}",
                    match not_locked {
                        NotLocked::Busy => "",
                        NotLocked::Unwritable(_) => " (set STUDENTS_READ_ONLY=true for a store read-only by design)",
                    }
                ));
                waits = true;
                Access::Standby(Arc::from(reason))
            }
        }
    };
    // Without the lock, the file is read for the reads only (and to stop now if it is corrupt);
    // the writable store is loaded again once the lock is held.
    let opened = FileStore::open(path, access, config.max).map_err(|e| StartupError(e.0))?;
    if opened.len() > config.max {
        warnings.push(format!(
            "student store {} holds {} students, more than STUDENTS_MAX={}: creates answer 409 until some are deleted",
            path.display(),
            opened.len(),
            config.max
        ));
    }
    if opened.serves_sample() {
        warnings.push(format!(
            "student store {} does not exist: serving the embedded sample until the first change writes it",
            path.display()
        ));
    }
    let slot = FileSlot(Arc::new(RwLock::new(Arc::new(opened))));
    if waits {
        wait_for_the_lock(path.clone(), config.max, slot.clone());
    }
    Ok(slot)
}

/// The one line that says why a store meant to be writable is not (yet).
fn standby_reason(path: &Path, not_locked: &NotLocked) -> String {
    let lock_file = lock::lock_path(path);
    match not_locked {
        NotLocked::Busy => format!(
            "student store {} is locked by another back process ({}): waiting for it to exit",
            path.display(),
            lock_file.display()
        ),
        NotLocked::Unwritable(e) => {
            let (_, problem) = io_problem(e.kind());
            format!("{problem}: cannot lock {}: {e}", lock_file.display())
        }
    }
}

/// Waits, on its own thread, until this process holds the store's lock, then loads the file as it
/// is now (the last write of the previous holder) and serves writes from it. A store directory that
/// cannot be written is tried again every `UNWRITABLE_RETRY`. A file found corrupt then stops the
/// back, as at startup.
fn wait_for_the_lock(path: PathBuf, max: usize, slot: FileSlot) {
    let spawned = std::thread::Builder::new().name("store-lock".into()).spawn(move || {
        let held = loop {
            match lock::lock(&path) {
                Ok(held) => break held,
                Err(_) => std::thread::sleep(UNWRITABLE_RETRY),
            }
        };
        match FileStore::open(&path, Access::Writable(held), max) {
            Ok(store) => {
                *slot.0.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(store);
                crate::log::info(&format!("student store {} locked: ready, serving writes", path.display()));
            }
            Err(e) => {
                crate::log::error(&e.0);
                std::process::exit(1);
            }
        }
    });
    if let Err(e) = spawned {
        crate::log::error(&format!("cannot wait for the student store's lock: {e}"));
    }
}
