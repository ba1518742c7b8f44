#!/usr/bin/env bash
# The store-scaling benchmark (issue 10): bench/store.sh [--quick] [--sizes 100,10000,...]
# Builds the back as its image does (bench/build-back.sh: static, release), then runs
# bench/store.py with python3 (standard library only): stores of 100, 10k, 100k and 1M students,
# time per write (sequential, and 32 writers), the same run's file-only write + fsync, startup,
# RSS and the legacy list. Bounded: seconds on a quiet machine, under a minute when loaded
# (--quick stops at 100k students; --compare OLD also runs an earlier binary, 35-60 s more).
# Prints a Markdown table and writes it to .cache/bench/store.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

binary=$(bench/build-back.sh)
exec python3 bench/store.py --binary "$binary" "$@"
