#!/usr/bin/env bash
# Installs what the front stage needs, idempotently:
# - Debian's nginx (runs the front's real config on the host), envsubst (gettext-base) and
#   busybox-static (busybox ash and its applets run the entrypoint steps, as in the alpine image;
#   it replaces Debian's `busybox` package, which provides the same /bin/busybox);
# - dnsmasq-base: a DNS server the tests control (names appearing, moving), without the service
#   that the `dnsmasq` package would start;
# - Debian's Chromium, driven by Python playwright (which never downloads a browser here);
# - shellcheck for the entrypoint steps;
# - a venv .cache/venv-front with the Python tools (pytest, playwright) of
#   tests/front/requirements.txt, pinned in tests/constraints.txt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

apt_install nginx gettext-base busybox-static dnsmasq-base chromium fonts-dejavu-core shellcheck
python_venv .cache/venv-front tests/front/requirements.txt
