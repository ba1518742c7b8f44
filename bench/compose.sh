#!/usr/bin/env bash
# The issue's own measurement of the path users take, on the compose stack as a new user runs it:
# both images, ports published on 127.0.0.1, `wrk -t1 -c32` (as the issue ran it) on the story
# direct from the back's port and through the front's, the first 5 s, then after a minute of
# such load (the median of three 5 s runs), and the front's /styles.css and /healthz.
#
#   bench/compose.sh [--front-rev REV]
#
# Installs the containers stage's tools, builds both images as the tests do
# (tests/containers/build_images.sh: the unmodified Dockerfiles, on stand-ins when the bases
# cannot be pulled), tagged `bench`; with --front-rev, the front image is built from front/ of
# that revision instead (e.g. 4b9ceb0, the "before"). Runs compose project racontemoi-bench on
# 127.0.0.1:${BACK_PORT:-5000} and :${FRONT_PORT:-8080}, and removes it at the end. About 2 min
# once the images are built. bench/compose.py loads it and reports: it prints Markdown and
# writes it to .cache/bench/compose.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

front_rev=
case "${1-}" in
    --front-rev) front_rev=${2:?--front-rev needs a git revision} ;;
    "") ;;
    *) sed -n '2,/^set /{/^set /d;s/^# \{0,1\}//;p}' "$0"; exit 2 ;;
esac

scripts/setup/containers.sh >/dev/null
bench/setup.sh >/dev/null
# shellcheck source=tests/containers/engine.sh
. tests/containers/engine.sh
engine_up >&2
tests/containers/build_images.sh bench >&2
if [ -n "$front_rev" ]; then
    tmp=$(mktemp -d)
    git archive "$front_rev" front | tar -x -C "$tmp"
    "$DOCKER" build --quiet --tag racontemoi-front:bench "$tmp/front" >&2
    rm -rf "$tmp"
fi

export IMAGE_TAG=bench COMPOSE_PROJECT_NAME=racontemoi-bench
back="127.0.0.1:${BACK_PORT:-5000}" front="127.0.0.1:${FRONT_PORT:-8080}"
compose() { .cache/venv-containers/bin/docker-compose --file compose.yaml "$@"; }
trap 'compose down --volumes >/dev/null 2>&1' EXIT
compose up --detach --wait --no-build >&2

.cache/venv-bench/bin/python bench/compose.py --back "http://$back" --front "http://$front" \
    ${front_rev:+--front-rev "$front_rev"}
