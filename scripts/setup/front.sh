#!/usr/bin/env bash
# Installs what the front stage needs, idempotently:
# - Debian's nginx (runs the front's real config on the host), envsubst (gettext-base) and
#   busybox (runs the entrypoint steps with the same sh/awk/grep applets as the alpine image);
# - Debian's Chromium, driven by Python playwright (which never downloads a browser here);
# - shellcheck for the entrypoint steps;
# - a venv .cache/venv-front with the Python tools (pytest, playwright) of
#   tests/front/requirements.txt, pinned in tests/constraints.txt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

apt_install nginx gettext-base busybox chromium fonts-dejavu-core shellcheck
python_venv .cache/venv-front tests/front/requirements.txt
