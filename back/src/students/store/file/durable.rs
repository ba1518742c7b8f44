//! A file replaced atomically and durably: the new content written to a hidden temporary file
//! next to it, fsynced, renamed over the old one, and the directory fsynced. Also the names of the
//! store file's hidden siblings (that temporary file, the lock).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;

/// Why a replacement failed.
#[derive(Debug)]
pub(super) enum Unsaved {
    /// Before the rename: the old file is untouched.
    NotWritten(io::Error),
    /// After the rename: the new file is in place, but the directory could not be synced, so it
    /// may not survive a power loss.
    NotSynced(io::Error),
}

/// Atomically replaces `path` with what `render` writes: temporary file in the same directory,
/// fsync, rename over the old file, fsync of the directory. On failure before the rename, the
/// temporary file is removed and the old file is untouched.
pub(super) fn replace_file(path: &Path, render: impl FnOnce(&mut File) -> io::Result<()>) -> Result<(), Unsaved> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let temp = dir.join(hidden_sibling_name(path, ".tmp"));

    let written = write_synced(&temp, render).and_then(|()| fs::rename(&temp, path));
    if let Err(e) = written {
        // Best effort: the directory may be the very thing that is missing or read-only.
        let _ = fs::remove_file(&temp);
        return Err(Unsaved::NotWritten(e));
    }
    File::open(dir).and_then(|d| d.sync_all()).map_err(Unsaved::NotSynced)
}

/// `.<file name><suffix>`: the name of a hidden file next to the store file (its temporary copy,
/// its lock).
pub(super) fn hidden_sibling_name(path: &Path, suffix: &str) -> std::ffi::OsString {
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(suffix);
    name
}

fn write_synced(path: &Path, render: impl FnOnce(&mut File) -> io::Result<()>) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create(true).truncate(true).open(path)?;
    render(&mut file)?;
    file.sync_all()
}
