#!/usr/bin/env bash
# Installs what the api stage needs, idempotently: Debian's php-cli (runs a client written the
# way the old PHP page read the API), postgresql (the real server the stage runs the back on,
# started by tests/testkit/postgres.py; its pgbench serves bench/postgres.sh) and openssl (the
# TLS tests' own CA), pgbouncer (Debian's, between the back and PostgreSQL in
# tests/api/test_pgbouncer.py, as CloudNativePG's Pooler puts it), and a venv .cache/venv-api with schemathesis and pytest
# (tests/api/requirements.txt, pinned in tests/constraints.txt) and the shared testkit, which starts
# the back and PostgreSQL. The Rust toolchain comes from scripts/setup/back.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

apt_install php-cli postgresql openssl pgbouncer
python_venv .cache/venv-api tests/api/requirements.txt
