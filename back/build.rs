//! Build-time checks of the embedded stories (`back/data/stories/`, embedded by `include_dir!` in
//! `src/embedded.rs`): a stories file that is not UTF-8 or holds no story fails the build, so the
//! embedded default can never be a runtime error. cargo reruns this when a file is added,
//! removed or changed (include_dir! alone only tracks the files it read).

use std::path::Path;

fn main() {
    let dir = Path::new("data/stories");
    println!("cargo:rerun-if-changed={}", dir.display());
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read back/{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a readable directory entry").path();
        let content = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read back/{}: {e}", path.display()));
        let text =
            std::str::from_utf8(&content).unwrap_or_else(|e| panic!("back/{} is not valid UTF-8: {e}", path.display()));
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        assert!(text.lines().any(|line| !line.trim().is_empty()), "back/{} holds no story", path.display());
    }
}
