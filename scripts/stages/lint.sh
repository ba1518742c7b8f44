#!/usr/bin/env bash
# The lint stage: shellcheck on every shell script we write (scripts/, bench/, tests/, the front's
# entrypoint steps; the *.envsh ones as sh, since nginx's entrypoint sources them), and ruff on
# all the Python (rules in ruff.toml). Tools come from scripts/setup/lint.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

ruff=.cache/venv-lint/bin/ruff
for needed in "$ruff" "$(command -v shellcheck || echo shellcheck)"; do
    [ -x "$needed" ] || { echo "lint: $needed is missing: run scripts/setup/lint.sh" >&2; exit 1; }
done

# Every shell script of those directories: *.sh, and the *.envsh steps nginx's entrypoint sources.
mapfile -t scripts < <(find scripts bench tests front/docker-entrypoint.d \
    \( -name .cache -o -name node_modules -o -name .venv \) -prune -o \
    -type f \( -name '*.sh' -o -name '*.envsh' \) -print | sort)
[ ${#scripts[@]} -gt 0 ] || { echo "lint: no shell script found" >&2; exit 1; }

sourced=() others=()
for script in "${scripts[@]}"; do
    case "$script" in *.envsh) sourced+=("$script") ;; *) others+=("$script") ;; esac
done

status=0
echo "shellcheck $(shellcheck --version | sed -n 's/^version: //p'): ${#scripts[@]} scripts"
# -x follows `. file` where a `# shellcheck source=` directive names it. The *.envsh steps are
# sourced by nginx's /bin/sh entrypoint: checked as sh whatever their first line says.
shellcheck -x --shell=sh -- "${sourced[@]}" || status=1
shellcheck -x -- "${others[@]}" || status=1

echo "ruff: $("$ruff" --version)"
"$ruff" check --no-cache . || status=1
exit $status
