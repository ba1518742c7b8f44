#!/usr/bin/env bash
# The api stage, on a live release build with credentials, on each student store in turn:
#   1. the file store, started on the original service's flat `student_age.json`;
#   2. PostgreSQL (Debian's, started by tests/testkit/postgres.py on a temp dir and a free port),
#      the same file imported with `back students import`.
# On each: the old PHP page's way of reading the API (php-cli, tests/api/php_client.php), then
# schemathesis against the OpenAPI document the back serves (every route and method, all checks:
# status codes, content types, headers, schemas, negative data, auth, stateful create/read/delete
# sequences; bounded by an example count and a time limit), then the store the run wrote must still
# be the flat name -> string object the old Flask service reads: the file itself, or on
# PostgreSQL what `back students export` prints. Also on PostgreSQL: `export` right after the
# import gives the original file's bytes back. Last, the failure and concurrency tests against the
# real server (tests/api/, pytest: two backs on one database, kill -9, a crashed and restarted
# PostgreSQL, a back started before its database, TLS; day 2: a failover to a synchronous standby
# behind a black-holing proxy, a read-only server, a role's connection limit, least privilege, a
# rotated password, TRUNCATE, a lowered STUDENTS_MAX, a million-student import, Unix sockets; the
# back through PgBouncer).
#   SCHEMATHESIS_EXAMPLES (default 40)  examples per operation and phase
#   SCHEMATHESIS_SEED (default 20261121) fixed for reproducible runs; `random` for a new one
# Extra arguments go to pytest (e.g. -k tls).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

examples=${SCHEMATHESIS_EXAMPLES:-40}
# Each run draws afresh, as on a fresh clone in CI (--generation-database none: no replay of what
# an earlier local run found), and hypothesis keeps its caches under .cache, not in the checkout.
export HYPOTHESIS_STORAGE_DIRECTORY=.cache/hypothesis
seed=${SCHEMATHESIS_SEED:-20261121}
venv=.cache/venv-api
for needed in "$venv/bin/schemathesis" "$venv/bin/pytest"; do
    [ -x "$needed" ] || { echo "api: $needed is missing: run scripts/setup/api.sh" >&2; exit 1; }
done

cargo build --release --locked -q -p back
binary=target/release/back

work=$(mktemp -d)
# The server runs as the postgres user when this runs as root: its directory must be its own.
pg_dir=$(mktemp -d)
server_pid=
# shellcheck disable=SC2317  # run by the EXIT trap and by run_api
stop_back() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        # Not this shell's child (testkit started it): wait for it to go, 10 s at most.
        for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        server_pid=
    fi
}
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    stop_back
    if [ -f "$pg_dir/testkit.json" ]; then
        "$venv/bin/python" -m testkit.postgres --stop "$pg_dir" || true
    fi
    rm -rf "$work" "$pg_dir"
}
trap cleanup EXIT

# The original simple_api/student_age.json, byte for byte.
original=$work/student_age.original.json
printf '{\n    "bob": "13",\n    "alice": "12"\n}\n' >"$original"

# check_flat FILE WHAT: FILE is the original flat format for json.load (an object of strings).
check_flat() {
    python3 - "$1" "$2" <<'PY'
import json, sys
with open(sys.argv[1], encoding="utf-8") as f:
    data = json.load(f)
assert type(data) is dict, f"not a flat object: {type(data).__name__}"
bad = [(k, v) for k, v in data.items() if type(v) is not str]
assert not bad, f"ages that are not strings: {bad[:3]}"
print(f"api: after the run {sys.argv[2]} is still flat for json.load: {len(data)} students, ages strings")
PY
}

# run_api STORE NAME=VALUE...: starts the back with the stage's settings plus these (the store's),
# runs the PHP client and schemathesis against it, checks it is still running, stops it.
# Returns non-zero on any failure. The shared test harness (tests/testkit) starts the back with
# only these variables, on port 0, reads the address the kernel picked from its `listening on`
# line, waits for /healthz and prints `ADDRESS PID`. Schemathesis sends wrong credentials to every
# operation from one address: the login throttle would then answer 429 to its valid requests too,
# so it is off here (back/tests/it/login_throttle.rs tests it).
run_api() {
    local store=$1 started addr status=0
    shift
    started=$("$venv/bin/python" -m testkit.back --binary "$binary" --log "$work/server-$store.log" \
        ACCESS_LOG=false LOGIN_THROTTLE_FAILURES=0 API_USERNAME=root API_PASSWORD=root "$@") ||
        { echo "api [$store]: the back did not start" >&2; return 1; }
    read -r addr server_pid <<<"$started"
    echo "api [$store]: back listening on $addr"

    local php_out expected=$'- bob are 13 years old\n- alice are 12 years old'
    php_out=$(API_URL="http://$addr/supmit/api/v1.0/get_student_ages" USERNAME=root PASSWORD=root \
        php tests/api/php_client.php) || true
    if [ "$php_out" != "$expected" ]; then
        printf 'api [%s]: the PHP client printed:\n%s\napi [%s]: php client FAILED\n' \
            "$store" "$php_out" "$store" >&2
        stop_back
        return 1
    fi
    echo "api [$store]: the PHP client (file_get_contents + basic auth + json_decode) read the original file's students"

    echo "api [$store]: schemathesis with $examples examples per operation, seed $seed"
    # One worker: with two threads, hypothesis' parsing of its own lambdas sometimes failed with
    # CPython 3.11's "AST constructor recursion depth mismatch" (python/cpython#106905, a race of
    # the ast module's recursion counter; 2 runs of 7 here), a Runtime Error of the tool, not of
    # the back. One worker takes about 10 s a store.
    local seed_option=(--seed "$seed")
    [ "$seed" = random ] && seed_option=()
    timeout 900 "$venv/bin/schemathesis" --no-color --config-file tests/api/schemathesis.toml \
        run "http://$addr/openapi.json" --url "http://$addr" \
        --auth root:root --checks all --max-examples "$examples" "${seed_option[@]}" \
        --workers 1 --request-timeout 10 --generation-database none || status=$?

    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "api [$store]: the back exited during the run:" >&2
        tail -n 20 "$work/server-$store.log" >&2
        status=1
    fi
    stop_back
    if [ "$status" -eq 0 ]; then
        echo "api [$store]: schemathesis found no failures"
    else
        echo "api [$store]: schemathesis FAILED (exit $status)" >&2
    fi
    return "$status"
}

failed=()

# 1. The file store.
cp "$original" "$work/student_age.json"
run_api file STUDENT_AGE_FILE="$work/student_age.json" || failed+=("file store")
check_flat "$work/student_age.json" "the store file" || failed+=("file store: flat file")

# 2. PostgreSQL: the same original file imported, exported back byte for byte, then the same run.
if read -r db_url _ < <("$venv/bin/python" -m testkit.postgres --dir "$pg_dir"); then
    echo "api [postgres]: PostgreSQL on ${db_url##*@}"
    # The CLI reads the same variables as the server, and only those it needs.
    db() { env -i PATH="$PATH" STUDENTS_DATABASE_URL="$db_url" "$binary" students "$@"; }
    if db import "$original" && db export >"$work/export-after-import.json" &&
        cmp "$original" "$work/export-after-import.json"; then
        echo "api [postgres]: \`back students export\` after \`import\` of the original file gave its bytes back"
        run_api postgres STUDENTS_DATABASE_URL="$db_url" || failed+=("postgres store")
        if db export >"$work/export.json"; then
            check_flat "$work/export.json" "\`back students export\`" || failed+=("postgres: flat export")
        else
            failed+=("postgres: export after the run")
        fi
    else
        echo "api [postgres]: import then export did not give the original file back:" >&2
        diff "$original" "$work/export-after-import.json" >&2 || true
        failed+=("postgres: import/export")
    fi
else
    failed+=("postgres: the server did not start")
fi

# 3. Failure and concurrency tests on a real PostgreSQL (each test starts its own server and backs).
"$venv/bin/python" -m pytest tests/api -p no:cacheprovider -ra -rP --timeout=300 "$@" ||
    failed+=("pytest tests/api")

if [ ${#failed[@]} -gt 0 ]; then
    printf 'api: FAILED: %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "api: both stores passed the PHP client and schemathesis; the PostgreSQL failure tests passed"
