#!/usr/bin/env bash
# Installs what the benchmark needs, idempotently (Debian, root): wrk and nginx from Debian, and
# Flask + gunicorn (pinned in bench/requirements.txt) into the venv .cache/venv-bench.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

need_apt=()
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
[ -x /usr/sbin/nginx ] || need_apt+=(nginx)
command -v strip >/dev/null 2>&1 || need_apt+=(binutils)
if [ "${#need_apt[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${need_apt[@]}"
fi

venv=.cache/venv-bench
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check -r bench/requirements.txt
