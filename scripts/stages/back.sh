#!/usr/bin/env bash
# The back stage: every Rust test of the workspace (unit tests, HTTP tests on the real binary,
# the hostile-input suite), after a formatting check, then clippy with warnings as errors.
# The student-API tests run on both stores: the file, and a real PostgreSQL started here
# (tests/testkit/postgres.py: Debian's server, initdb + pg_ctl on a temporary directory and a free
# port of 127.0.0.1) whose admin URL they get in RACONTEMOI_TEST_DATABASE_URL; each test creates
# its own database. RACONTEMOI_REQUIRE_POSTGRES=1: no server is a failure, never a skip.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

# The hostile suite holds 500 slow connections open (twice: client and server side).
current=$(ulimit -n)
if [ "$current" != unlimited ] && [ "$current" -lt 4096 ]; then
    ulimit -n 4096 2>/dev/null || echo "back: cannot raise the open-file limit above $current" >&2
fi

cargo fmt --all -- --check

pg_dir=$(mktemp -d)
stop_postgres() {
    PYTHONPATH=tests python3 -m testkit.postgres --stop "$pg_dir" >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
}
trap stop_postgres EXIT
RACONTEMOI_TEST_DATABASE_URL=$(PYTHONPATH=tests python3 -c \
    'import sys; from testkit import postgres; print(postgres.start(sys.argv[1]).admin_url)' "$pg_dir")
export RACONTEMOI_TEST_DATABASE_URL RACONTEMOI_REQUIRE_POSTGRES=1

cargo test --workspace --locked
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "back: tests and clippy passed"
