#!/usr/bin/env bash
# Compares the release profile's opt-level (3, s, z) for the back: builds it three times as the
# image does (bench/build-back.sh: static) into separate target dirs, then benchmarks the story
# route of the three binaries in alternating rounds (binary size, req/s, CPU/request, cold start,
# RSS). Extra arguments go to bench.py.
# Writes .cache/bench/optlevel.md. Takes ~10 minutes (three fat-LTO builds on 2 cores).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bench/setup.sh
backs=() names=()
for level in 3 s z; do
    bin=$(CARGO_PROFILE_RELEASE_OPT_LEVEL=$level CARGO_TARGET_DIR=.cache/optlevel-$level \
        bench/build-back.sh)
    backs+=(--back "back-o$level=$bin")
    names+=("back-o$level")
done
only=$(IFS=,; echo "${names[*]}")
exec .cache/venv-bench/bin/python bench/bench.py "${backs[@]}" --only "$only" --routes story \
    --rounds 4 --out .cache/bench/optlevel.md "$@"
