#!/usr/bin/env bash
# The module-cycle check of the lint stage: no loop of `use` between the modules of a crate,
# directly or through others (cargo-cycles, a kept tool, from scripts/setup/lint.sh). A child
# using its own parent's items through `super::` is not a loop.
#
#   scripts/cycles.sh [DIR]    checks the workspace at DIR (default: this repository)
#
# cargo-cycles 0.2.0 names modules by their files' paths from the directory it runs in (a crate's
# directory name is its name: `back/src/students/store/mod.rs` is `back::students::store`), so it
# runs in the workspace itself. A loop is a non-zero exit and an ERROR line; either fails the check.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=$(cd "${1:-$root}" && pwd)

command -v cargo-cycles >/dev/null 2>&1 ||
    { echo "cycles: cargo-cycles is missing: run scripts/setup/lint.sh" >&2; exit 1; }
status=0
report=$(cd "$dir" && cargo-cycles 2>&1) || status=$?
if [ "$status" != 0 ] || grep -q "ERROR" <<<"$report"; then
    printf '%s\n' "$report" | grep -v " INFO " >&2
    echo "cycles: modules of $dir use each other in a loop: move what both need into a module of its own" >&2
    exit 1
fi
modules=$(find "$dir" -path "$dir/target" -prune -o -path "$dir/.cache" -prune -o -name '*.rs' -print | wc -l)
echo "cycles: no loop of use between the modules of $dir ($modules Rust files, cargo-cycles)"
