#!/usr/bin/env bash
# The containers stage, on a real Docker engine (started here when none answers):
# 1. builds racontemoi-back and racontemoi-front from their unmodified Dockerfiles, on local
#    stand-ins for the base images that cannot be pulled (tests/containers/build_images.sh);
# 2. runs tests/containers with pytest: `compose config`, the images on their own, and
#    the compose stack end to end through 127.0.0.1.
# Whatever the tests start is removed on exit, failure included (`down -v`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=tests/containers/engine.sh
. tests/containers/engine.sh

venv=.cache/venv-containers
export CONTAINERS_TEST_PROJECT="racontemoi-test-$$"

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
    "$venv/bin/docker-compose" -p "$CONTAINERS_TEST_PROJECT" --profile postgres down --volumes --remove-orphans \
        --timeout 5 >/dev/null 2>&1 || true
    local leftovers
    leftovers=$("$DOCKER" ps --all --quiet --filter "label=racontemoi.test=$CONTAINERS_TEST_PROJECT")
    if [ -n "$leftovers" ]; then
        # shellcheck disable=SC2086 # one id per word
        "$DOCKER" rm --force --volumes $leftovers >/dev/null || true
    fi
}
trap cleanup EXIT

engine_up
tests/containers/build_images.sh
status=0
"$venv/bin/pytest" tests/containers -v -rfEP -o cache_dir=.cache/pytest-containers || status=$?
echo "containers stage: ${SECONDS}s wall time"
exit "$status"
