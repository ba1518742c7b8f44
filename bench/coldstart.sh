#!/usr/bin/env bash
# The back's cold start to its first student answer, file store against PostgreSQL (plain and
# TLS verify-full), in one run: what a serverless (Knative) cold start adds with a database.
#   bench/coldstart.sh [--runs 20] [--rounds 4]
# Installs the tools (bench/setup.sh, plus Debian's postgresql), builds the back as its image does
# (bench/build-back.sh: static, release), then runs bench/coldstart.py. About 30 s.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

bench/setup.sh
apt_install postgresql openssl
binary=$(bench/build-back.sh)
exec .cache/venv-bench/bin/python bench/coldstart.py --binary "$binary" "$@"
