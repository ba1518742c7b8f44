#!/usr/bin/env bash
# Installs what the back stage needs, idempotently: a Rust toolchain with cargo and clippy.
# rustup's toolchain is used when present (clippy added if missing); without rustup, Debian's
# cargo and rust-clippy packages.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

if command -v rustup >/dev/null 2>&1; then
    rustup component list --installed 2>/dev/null | grep -q "^clippy" || rustup component add clippy
    rustup component list --installed 2>/dev/null | grep -q "^rustfmt" || rustup component add rustfmt
elif ! command -v cargo >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    apt_install cargo rust-clippy
fi
cargo --version
cargo clippy --version
