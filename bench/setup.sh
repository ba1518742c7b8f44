#!/usr/bin/env bash
# Installs what the benchmark needs, idempotently (Debian, root): wrk and nginx from Debian, and
# Flask + gunicorn (bench/requirements.txt, pinned in tests/constraints.txt) into the venv
# .cache/venv-bench, with the shared testkit (tests/testkit).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

apt_install wrk nginx binutils
python_venv .cache/venv-bench bench/requirements.txt
