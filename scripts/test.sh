#!/usr/bin/env bash
# The one test command of racontemoi: runs every test stage of the repository, in order.
#   ./scripts/test.sh                 all stages: lint back api front deploy containers release
#   ./scripts/test.sh back front      only these stages
#   SKIP_SETUP=1 ./scripts/test.sh    do not run scripts/setup/<stage>.sh first
# Each stage first installs what it needs (scripts/setup/<stage>.sh, idempotent, Debian as root),
# then runs scripts/stages/<stage>.sh. The run fails if any stage fails; all stages run regardless.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

all_stages=(lint back api front deploy containers release)
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=("${all_stages[@]}")

for stage in "${stages[@]}"; do
  [ -f "scripts/stages/$stage.sh" ] || { echo "unknown stage: $stage (known: ${all_stages[*]})" >&2; exit 2; }
done

passed=() failed=()
for stage in "${stages[@]}"; do
  echo
  echo "=== stage $stage ==="
  start=$(date +%s)
  ok=1
  if [ -z "${SKIP_SETUP:-}" ] && [ -f "scripts/setup/$stage.sh" ]; then
    bash "scripts/setup/$stage.sh" || { echo "stage $stage: setup failed" >&2; ok=0; }
  fi
  if [ $ok = 1 ]; then
    bash "scripts/stages/$stage.sh" || ok=0
  fi
  took=$(( $(date +%s) - start ))
  if [ $ok = 1 ]; then passed+=("$stage"); echo "=== stage $stage passed (${took}s) ==="
  else failed+=("$stage"); echo "=== stage $stage FAILED (${took}s) ==="; fi
done

echo
echo "passed stages: ${passed[*]:-none}"
echo "failed stages: ${failed[*]:-none}"
echo "stages: ${#passed[@]} passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
