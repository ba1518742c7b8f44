#!/usr/bin/env bash
# Installs what the front stage needs: host nginx and envsubst (to run the front's real config),
# Debian's Chromium (driven by Python playwright, which never downloads a browser), and a venv
# with the pinned Python test dependencies. Idempotent.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

need_apt=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_apt+=(nginx)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v envsubst >/dev/null 2>&1 || need_apt+=(gettext-base)
command -v shellcheck >/dev/null 2>&1 || need_apt+=(shellcheck)
command -v busybox >/dev/null 2>&1 || need_apt+=(busybox)
if [ "${#need_apt[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${need_apt[@]}" fonts-dejavu-core
fi

venv=.cache/venv-front
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check -r tests/front/requirements.txt
