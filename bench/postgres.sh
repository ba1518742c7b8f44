#!/usr/bin/env bash
# The student store on PostgreSQL against PostgreSQL's own client (issue 18):
#   bench/postgres.sh [--before REV | --no-before] [--quick] [--rounds N] [--duration S] [...]
# Installs the tools (bench/setup.sh, plus Debian's postgresql with pgbench and valgrind), builds
# the back as its image does (bench/build-back.sh: static, release) and, for the story's
# instructions per request and the binary's size before the change, the back of REV (default
# 7d03e5e, main before PostgreSQL; built once into .cache/bench/before-REV), then runs
# bench/postgres.py (all options: --help). Prints Markdown and writes it to .cache/bench/postgres.md.
# Bounded: about 2 min (3 rounds of 5 loads of 5 s, then callgrind), 30 s with --quick.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

before=7d03e5e
args=()
while [ $# -gt 0 ]; do
    case $1 in
        --before) before=$2; shift 2 ;;
        --no-before) before=; shift ;;
        *) args+=("$1"); shift ;;
    esac
done

bench/setup.sh
apt_install postgresql valgrind
binary=$(bench/build-back.sh)
if [ -n "$before" ]; then
    rev=$(git rev-parse --short "$before^{commit}")
    dir=$PWD/.cache/bench/before-$rev
    if [ ! -x "$dir/back" ]; then
        rm -rf "$dir/src" && mkdir -p "$dir/src"
        git archive "$rev" | tar -x -C "$dir/src"
        built=$(cd "$dir/src" && CARGO_TARGET_DIR="$dir/target" bench/build-back.sh)
        cp "$built" "$dir/back"
    fi
    args+=(--before-binary "$dir/back" --before-label "$rev (before)")
fi
exec .cache/venv-bench/bin/python bench/postgres.py --binary "$binary" "${args[@]}"
