//! The files embedded in the binary, so that it runs with no configuration: the default stories
//! (every file of `back/data/stories/`), `back/data/student_age.sample.json` (the first student
//! store) and `back/openapi.json` (served at `/openapi.json`).
//!
//! A missing file or directory is a build error, never a runtime one: the single files are
//! `include_bytes!`, the stories directory is `include_dir!`, and an empty stories directory (or
//! one holding anything but files) fails the `const` assertion below; `build.rs` checks the
//! content of every stories file.

use include_dir::{include_dir, Dir, DirEntry};

/// `back/data/stories/`: every file in it holds one or more stories, one a line. Adding a file
/// needs no code change: `build.rs` makes cargo rebuild when the directory changes, and fails the
/// build when a file is not UTF-8 or holds no story.
pub(crate) const STORIES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/data/stories");
pub(crate) const STUDENT_SAMPLE: &[u8] = include_bytes!("../data/student_age.sample.json");
/// `back/openapi.json`, made compact by `build.rs` (same content, no indentation).
pub(crate) const OPENAPI: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/openapi.json"));

const _: () =
    assert!(only_files(STORIES.entries()), "back/data/stories/ must hold at least one stories file, and only files");

/// True when `entries` is not empty and holds no directory.
const fn only_files(entries: &[DirEntry<'_>]) -> bool {
    let mut i = 0;
    while i < entries.len() {
        if !matches!(entries[i], DirEntry::File(_)) {
            return false;
        }
        i += 1;
    }
    !entries.is_empty()
}

/// The stories files, in name order: `(name, content)`.
pub(crate) fn story_files() -> impl Iterator<Item = (&'static str, &'static [u8])> {
    STORIES.files().map(|file| (file.path().to_str().unwrap_or("?"), file.contents()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_refuses_an_empty_directory_and_subdirectories() {
        const EMPTY: Dir<'static> = Dir::new("", &[]);
        const NESTED: &[DirEntry<'static>] = &[DirEntry::Dir(EMPTY)];
        assert!(!only_files(EMPTY.entries()));
        assert!(!only_files(NESTED));
        assert!(only_files(STORIES.entries()));
    }

    #[test]
    fn story_files_come_in_name_order() {
        let names: Vec<&str> = story_files().map(|(name, _)| name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        assert!(names.iter().all(|name| name.ends_with(".txt")), "{names:?}");
    }
}
