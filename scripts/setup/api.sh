#!/usr/bin/env bash
# Installs what the api stage needs, idempotently: Debian's php-cli (runs a client written the
# way the old PHP page read the API) and a venv .cache/venv-api with schemathesis
# (tests/api/requirements.txt, pinned in tests/constraints.txt) and the shared testkit, which starts
# the back. The Rust toolchain comes from scripts/setup/back.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

apt_install php-cli
python_venv .cache/venv-api tests/api/requirements.txt
