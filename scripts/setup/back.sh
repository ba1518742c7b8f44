#!/usr/bin/env bash
# Installs what the back stage needs, idempotently: a Rust toolchain with cargo and clippy.
# rustup's toolchain is used when present (clippy added if missing); without rustup, Debian's
# cargo and rust-clippy packages. Debian's postgresql: the real server the PostgreSQL variants of
# the student-API tests run on (started by tests/testkit/postgres.py), and python3 to start it.
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
apt_install postgresql python3
cargo --version
cargo clippy --version
ls -d /usr/lib/postgresql/*/bin/pg_ctl
