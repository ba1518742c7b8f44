#!/usr/bin/env bash
# The back stage: every Rust test of the workspace (unit tests, HTTP tests on the real binary,
# the hostile-input suite), after a formatting check, then clippy with warnings as errors.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

# The hostile suite holds 500 slow connections open (twice: client and server side).
current=$(ulimit -n)
if [ "$current" != unlimited ] && [ "$current" -lt 4096 ]; then
    ulimit -n 4096 2>/dev/null || echo "back: cannot raise the open-file limit above $current" >&2
fi

cargo fmt --all -- --check
cargo test --workspace --locked
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "back: tests and clippy passed"
