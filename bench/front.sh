#!/usr/bin/env bash
# THE "through the front" benchmark: bench/front.sh [--quick] [--front-rev REV] [...]
# Installs the tools (bench/setup.sh, plus busybox-static and envsubst, which render the front's config
# as its image does), builds the back as its image does (bench/build-back.sh), then runs
# bench/front.py (all options: --help). Prints Markdown and writes it to .cache/bench/front.md.
# Bounded: about 3 min by default (3 rounds of 6 runs of 5 s, then 70 s sustained), 40 s with
# --quick.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

bench/setup.sh
apt_install busybox-static gettext-base util-linux
bench/build-back.sh >/dev/null
exec .cache/venv-bench/bin/python bench/front.py "$@"
