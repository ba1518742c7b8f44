#!/usr/bin/env bash
# Installs everything the tests need (Debian 12, as root), idempotently: one script per stage.
set -euo pipefail
cd "$(dirname "$0")/.."
for script in scripts/setup/lint.sh scripts/setup/back.sh scripts/setup/api.sh scripts/setup/front.sh scripts/setup/deploy.sh scripts/setup/containers.sh scripts/setup/release.sh; do
  [ -f "$script" ] && bash "$script"
done
