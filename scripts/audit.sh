#!/usr/bin/env bash
# The dependency audit, one command for the lint stage and scripts/release.sh: `cargo audit` of
# Cargo.lock against the RustSec advisory database.
#
#   scripts/audit.sh [DIR]    audits DIR/Cargo.lock under DIR/.cargo/audit.toml (default: this repository)
#
# ADVISORY_DB   the database, a plain directory read as it is (--no-fetch); default
#               ../shared/advisory-db beside the repository. Where it is absent, one line says so
#               and the audit is skipped (exit 0).
#
# A vulnerability fails; so does every warning (unmaintained, unsound, yanked: --deny warnings),
# unless .cargo/audit.toml ignores that advisory on a line whose comment gives the reason and a
# date to look again (YYYY-MM-DD). An ignore without them, or whose date has passed, fails too.
# The yanked check reads cargo's index cache, which `cargo fetch --locked` refreshes first.
# cargo-audit comes from scripts/setup/lint.sh.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=$(cd "${1:-$root}" && pwd)
db=${ADVISORY_DB:-$root/../shared/advisory-db}

say() { printf 'audit: %s\n' "$*"; }

if [ ! -d "$db" ]; then
    say "no advisory database at $db: the dependencies are not audited (ADVISORY_DB names another)"
    exit 0
fi
db=$(cd "$db" && pwd)
cargo audit --version >/dev/null 2>&1 || { say "cargo-audit is missing: run scripts/setup/lint.sh" >&2; exit 1; }

# Every ignored advisory carries its reason and a date to look again, not yet passed.
check_ignores() {
    local config=$1 inside='' line code comment id bad=0 today
    today=$(date -u +%F)
    [ -f "$config" ] || return 0
    while IFS= read -r line; do
        if [ -z "$inside" ]; then
            [[ "$line" =~ ^[[:space:]]*ignore[[:space:]]*= ]] || continue
            inside=1
        fi
        code=${line%%#*} comment=''
        [[ "$line" != *"#"* ]] || comment=${line#*#}
        for id in $(grep -oE '"[^"]*"' <<<"$code" | tr -d '"'); do
            if ! [[ "$comment" =~ [[:alpha:]].*([0-9]{4}-[0-9]{2}-[0-9]{2}) ]]; then
                say "$config ignores $id without a comment giving the reason and a date to look again (YYYY-MM-DD)" >&2
                bad=1
            elif [[ "${BASH_REMATCH[1]}" < "$today" ]]; then
                say "$config ignores $id until ${BASH_REMATCH[1]}: that date has passed, look at it again" >&2
                bad=1
            fi
        done
        [[ "$code" != *"]"* ]] || break
    done <"$config"
    return $bad
}
check_ignores "$dir/.cargo/audit.toml"

cd "$dir"
if [ -f Cargo.toml ]; then
    cargo fetch --locked --quiet || say "cargo fetch failed: the yanked check reads cargo's index cache as it is"
fi
cargo audit --db "$db" --no-fetch --deny warnings
