#!/usr/bin/env bash
# The api stage, on a live release build with credentials and a store in the original flat
# format: the old PHP page's way of reading the API (php-cli, tests/api/php_client.php), then
# schemathesis against the OpenAPI document the back serves, then Python's json.load of the
# store the run wrote (still the flat name -> string object the old Flask service reads). Every route and method of the document is exercised
# with all checks (status codes, content types, headers, schemas, negative data, auth, stateful
# create/read/delete sequences); the run is bounded by an example count and a time limit.
#   SCHEMATHESIS_EXAMPLES (default 40)  examples per operation and phase
#   SCHEMATHESIS_SEED (default 20261121) fixed for reproducible runs; `random` for a new one
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

examples=${SCHEMATHESIS_EXAMPLES:-40}
seed=${SCHEMATHESIS_SEED:-20261121}
venv=.cache/venv-api
[ -x "$venv/bin/schemathesis" ] || { echo "api: $venv has no schemathesis: run scripts/setup/api.sh" >&2; exit 1; }

cargo build --release --locked -q -p back
binary=target/release/back

work=$(mktemp -d)
server_pid=
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        # Not this shell's child (testkit started it): wait for it to go, 10 s at most.
        for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# The original simple_api/student_age.json, byte for byte.
printf '{\n    "bob": "13",\n    "alice": "12"\n}\n' >"$work/student_age.json"

# The shared test harness (tests/testkit) starts the back with only these variables, on port 0,
# reads the address the kernel picked from its `listening on` line, waits for /healthz and prints
# `ADDRESS PID`. Schemathesis sends wrong credentials to every operation from one address: the
# login throttle would then answer 429 to its valid requests too, so it is off here
# (back/tests/it/login_throttle.rs tests it).
started=$("$venv/bin/python" -m testkit.back --binary "$binary" --log "$work/server.log" \
    ACCESS_LOG=false LOGIN_THROTTLE_FAILURES=0 \
    API_USERNAME=root API_PASSWORD=root STUDENT_AGE_FILE="$work/student_age.json") ||
    { echo "api: the back did not start" >&2; exit 1; }
read -r addr server_pid <<<"$started"
echo "api: back listening on $addr"

php_out=$(API_URL="http://$addr/supmit/api/v1.0/get_student_ages" USERNAME=root PASSWORD=root \
    php tests/api/php_client.php)
expected=$'- bob are 13 years old\n- alice are 12 years old'
if [ "$php_out" != "$expected" ]; then
    echo "api: the PHP client printed:" >&2
    echo "$php_out" >&2
    echo "api: php client FAILED" >&2
    exit 1
fi
echo "api: the PHP client (file_get_contents + basic auth + json_decode) read the original file's students"

echo "api: schemathesis with $examples examples per operation, seed $seed"

seed_option=(--seed "$seed")
[ "$seed" = random ] && seed_option=()
status=0
timeout 900 "$venv/bin/schemathesis" --no-color --config-file tests/api/schemathesis.toml \
    run "http://$addr/openapi.json" --url "http://$addr" \
    --auth root:root --checks all --max-examples "$examples" "${seed_option[@]}" \
    --workers 2 --request-timeout 10 || status=$?

if ! python3 - "$work/student_age.json" <<'PY'
import json, sys
with open(sys.argv[1], encoding="utf-8") as f:
    data = json.load(f)
assert type(data) is dict, f"not a flat object: {type(data).__name__}"
bad = [(k, v) for k, v in data.items() if type(v) is not str]
assert not bad, f"ages that are not strings: {bad[:3]}"
print(f"api: after the run the store is still flat for json.load: {len(data)} students, ages strings")
PY
then
    echo "api: the store written by the run is not the original flat format" >&2
    status=1
fi

if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "api: the back exited during the run:" >&2
    tail -n 20 "$work/server.log" >&2
    status=1
fi
if [ "$status" -eq 0 ]; then
    echo "api: schemathesis found no failures"
else
    echo "api: schemathesis FAILED (exit $status)" >&2
fi
exit "$status"
