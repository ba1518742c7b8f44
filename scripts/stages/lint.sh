#!/usr/bin/env bash
# The lint stage: shellcheck on every shell script we write (scripts/, bench/, tests/, the front's
# entrypoint steps; the *.envsh ones as sh, since nginx's entrypoint sources them), ruff on all the
# Python (rules in ruff.toml), hadolint on both Dockerfiles (the one place it runs: no finding at
# its default threshold, info), a check that every Python tool a requirements.txt names has
# its one pin in tests/constraints.txt, and the dependency audit: scripts/audit.sh (cargo audit of
# Cargo.lock against ../shared/advisory-db, every warning denied), the module-cycle check
# (scripts/cycles.sh), then tests/lint/ showing that each fails where it should. Tools come from scripts/setup/lint.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

ruff=.cache/venv-lint/bin/ruff
hadolint=.cache/venv-lint/bin/hadolint
pytest=.cache/venv-lint/bin/pytest
for needed in "$ruff" "$hadolint" "$pytest" "$(command -v shellcheck || echo shellcheck)"; do
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

# The strictest rules the suites held: every finding of level info or above fails.
echo "hadolint: $("$hadolint" --version)"
if "$hadolint" --failure-threshold info back/Dockerfile front/Dockerfile; then
    echo "hadolint: back/Dockerfile and front/Dockerfile pass"
else
    status=1
fi

# One pinned tool set: each requirements file takes its versions from tests/constraints.txt and
# pins none itself; every name it lists is pinned there, once (case and -/_ do not matter to pip).
normalize() { tr '[:upper:]_' '[:lower:]-'; }
pinned=$(sed -n 's/^\([A-Za-z0-9._-]*\)==.*/\1/p' tests/constraints.txt | normalize)
twice=$(sort <<<"$pinned" | uniq -d)
[ -z "$twice" ] || { echo "lint: pinned twice in tests/constraints.txt: $twice" >&2; status=1; }
for requirements in tests/*/requirements.txt bench/requirements.txt; do
    grep -qx -- "-c .*constraints.txt" "$requirements" ||
        { echo "lint: $requirements does not take its pins from tests/constraints.txt (-c)" >&2; status=1; }
    while read -r name; do
        case "$name" in
            '' | '#'* | -*) ;;
            *[=\<\>~]*) echo "lint: $requirements pins $name: pin it in tests/constraints.txt" >&2; status=1 ;;
            *) grep -qx -- "$(normalize <<<"$name")" <<<"$pinned" ||
                { echo "lint: $requirements: $name has no pin in tests/constraints.txt" >&2; status=1; } ;;
        esac
    done <"$requirements"
done
echo "requirements: $(wc -l <<<"$pinned") tools pinned in tests/constraints.txt"

# No loop of `use` between the back's modules (cargo-cycles); its own test is in tests/lint.
scripts/cycles.sh || status=1

# The crates of Cargo.lock against the RustSec advisory database; then the audit's own tests.
echo "audit: $(cargo audit --version 2>/dev/null || echo 'cargo-audit missing')"
scripts/audit.sh || status=1
"$pytest" -p no:cacheprovider -q -rs tests/lint || status=1
exit $status
