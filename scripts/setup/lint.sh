#!/usr/bin/env bash
# Installs what the lint stage needs, idempotently: Debian's shellcheck; ruff, hadolint and pytest
# (tests/lint/requirements.txt, pinned in tests/constraints.txt) into the venv .cache/venv-lint;
# cargo-audit (scripts/audit.sh) and cargo-cycles (scripts/cycles.sh), pinned, each built once into
# cargo's home (a few minutes).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

apt_install shellcheck python3-venv
python_venv .cache/venv-lint tests/lint/requirements.txt

cargo_audit_version=0.22.2
command -v cargo >/dev/null 2>&1 || apt_install cargo
if ! cargo audit --version 2>/dev/null | grep -qx "cargo-audit-audit $cargo_audit_version"; then
    cargo install --locked --quiet "cargo-audit@$cargo_audit_version"
fi
cargo_cycles_version=0.2.0
if ! cargo-cycles --version 2>/dev/null | grep -qx "cargo-cycles $cargo_cycles_version"; then
    cargo install --locked --quiet "cargo-cycles@$cargo_cycles_version"
fi
cargo audit --version
cargo-cycles --version
shellcheck --version | sed -n 2p
.cache/venv-lint/bin/ruff --version
.cache/venv-lint/bin/hadolint --version
