#!/usr/bin/env bash
# THE benchmark command: bench/run.sh [--quick] [--only back,nginx,flask,gunicorn] [...]
# Installs the tools, builds the back (release), then runs bench/bench.py (all options: --help).
# Prints Markdown tables and writes them to .cache/bench/latest.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bench/setup.sh
cargo build --release -p back ||
    echo "bench: building the back failed; the back will be skipped if target/release/back is missing" >&2
exec .cache/venv-bench/bin/python bench/bench.py "$@"
