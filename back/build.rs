//! Build-time checks of the embedded stories (`back/data/stories/`, embedded by `include_dir!` in
//! `src/embedded.rs`): a stories file that is not UTF-8 or holds no story fails the build, so the
//! embedded default can never be a runtime error. cargo reruns this when a file is added,
//! removed or changed (include_dir! alone only tracks the files it read).
//!
//! It also writes `back/openapi.json` compact (same keys, same order, no indentation) into
//! `OUT_DIR`, which `src/embedded.rs` embeds and `/openapi.json` serves: a document that is not
//! JSON fails the build, and the binary carries about 14 KB less.
//!
//! And it gives the linker the order of the hot code (`order_hot_code_first`).

use std::path::Path;

fn main() {
    check_stories();
    compact_openapi();
    order_hot_code_first();
}

/// The functions the file store and the story route run (`link/hot-symbols.txt`, written by
/// `link/hot_symbols.py`) go first in `.text`, through rust-lld's `--symbol-ordering-file`: Linux
/// maps a running binary's text in 64 KiB windows around each page it runs, and with the
/// PostgreSQL client and TLS mixed among them the file store's idle RSS grew from 1.8 to 2.7 MiB;
/// ordered, it stays at 1.8 MiB. Only where rust-lld links (Rust 1.90 and later on
/// x86_64-unknown-linux-gnu, no other linker asked for); a name the list has and the binary no
/// longer has is skipped without a word (only memory drifts back up: regenerate the list).
fn order_hot_code_first() {
    let list = Path::new("link/hot-symbols.txt");
    println!("cargo:rerun-if-changed={}", list.display());
    let target = std::env::var("TARGET").unwrap_or_default();
    let rustflags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let linker_env = format!("CARGO_TARGET_{}_LINKER", target.to_uppercase().replace('-', "_"));
    println!("cargo:rerun-if-env-changed={linker_env}");
    let rust_lld = target == "x86_64-unknown-linux-gnu"
        && rustc_minor().is_some_and(|minor| minor >= 90)
        && sysroot().is_some_and(|root| root.join("lib/rustlib").join(&target).join("bin/gcc-ld/ld.lld").exists())
        && !rustflags.contains("linker")
        && std::env::var_os(&linker_env).is_none();
    // The binary is stripped by the linker, not by cargo's `strip` (which changes every symbol's
    // hash): a build with RACONTEMOI_KEEP_SYMBOLS set has the very names the shipped one has.
    // Release builds only: the debug binary the tests run keeps its symbols for backtraces.
    if std::env::var("PROFILE").as_deref() != Ok("release") {
        return;
    }
    println!("cargo:rerun-if-env-changed=RACONTEMOI_KEEP_SYMBOLS");
    if std::env::var_os("RACONTEMOI_KEEP_SYMBOLS").is_none() {
        println!("cargo:rustc-link-arg-bins=-Wl,--strip-all");
    }
    if rust_lld && list.exists() {
        let list = Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it")).join(list);
        println!("cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}", list.display());
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}

/// The compiler's sysroot (`RUSTC --print sysroot`), where rust-lld is when it ships.
fn sysroot() -> Option<std::path::PathBuf> {
    let output = std::process::Command::new(std::env::var_os("RUSTC")?).args(["--print", "sysroot"]).output().ok()?;
    Some(std::path::PathBuf::from(String::from_utf8(output.stdout).ok()?.trim()))
}

/// The minor version of the compiler cargo runs (`RUSTC -vV`).
fn rustc_minor() -> Option<u32> {
    let rustc = std::env::var_os("RUSTC")?;
    let output = std::process::Command::new(rustc).arg("-vV").output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let release = text.lines().find_map(|line| line.strip_prefix("release: "))?;
    release.split('.').nth(1)?.parse().ok()
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
