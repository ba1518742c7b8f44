#!/usr/bin/env bash
# THE benchmark command: bench/run.sh [--quick] [--only back,nginx,flask,gunicorn] [...]
# Installs the tools, builds the back as its image does (bench/build-back.sh: static, release),
# then runs bench/bench.py (all options: --help).
# Prints Markdown tables and writes them to .cache/bench/latest.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bench/setup.sh
bench/build-back.sh >/dev/null ||
    echo "bench: building the back failed; it is skipped if its binary is missing" >&2
exec .cache/venv-bench/bin/python bench/bench.py "$@"
