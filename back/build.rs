//! Build-time checks of the embedded stories (`back/data/stories/`, embedded by `include_dir!` in
//! `src/embedded.rs`): a stories file that is not UTF-8 or holds no story fails the build, so the
//! embedded default can never be a runtime error. cargo reruns this when a file is added,
//! removed or changed (include_dir! alone only tracks the files it read).
//!
//! It also writes `back/openapi.json` compact (same keys, same order, no indentation) into
//! `OUT_DIR`, which `src/embedded.rs` embeds and `/openapi.json` serves: a document that is not
//! JSON fails the build, and the binary carries about 14 KB less (it must stay under 2 MiB).

use std::path::Path;

fn main() {
    check_stories();
    compact_openapi();
}

fn compact_openapi() {
    let source = Path::new("openapi.json");
    println!("cargo:rerun-if-changed={}", source.display());
    let text = std::fs::read(source).unwrap_or_else(|e| panic!("cannot read back/{}: {e}", source.display()));
    let document: serde_json::Value =
        serde_json::from_slice(&text).unwrap_or_else(|e| panic!("back/{} is not JSON: {e}", source.display()));
    let out = Path::new(&std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("openapi.json");
    std::fs::write(&out, serde_json::to_vec(&document).expect("a JSON value serialises"))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
}

fn check_stories() {
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
