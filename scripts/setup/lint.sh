#!/usr/bin/env bash
# Installs what the lint stage needs, idempotently: Debian's shellcheck, and ruff and hadolint
# (tests/lint/requirements.txt, pinned in tests/constraints.txt) into the venv .cache/venv-lint.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

apt_install shellcheck python3-venv
python_venv .cache/venv-lint tests/lint/requirements.txt
shellcheck --version | sed -n 2p
.cache/venv-lint/bin/ruff --version
.cache/venv-lint/bin/hadolint --version
