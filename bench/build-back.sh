#!/usr/bin/env bash
# Builds the back as its image does (back/Dockerfile): release profile, glibc linked statically
# (+crt-static, applied to the target only since --target is given). Prints the binary's path.
# CARGO_TARGET_DIR and CARGO_PROFILE_RELEASE_* are taken from the environment.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

host=$(rustc -vV | sed -n 's/^host: //p')
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release -p back --target "$host" >&2
echo "${CARGO_TARGET_DIR:-target}/$host/release/back"
