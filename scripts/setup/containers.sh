#!/usr/bin/env bash
# Installs what the containers stage needs, idempotently (Debian, root):
# - Debian's docker.io (engine and a client that builds with BuildKit without buildx), unless an
#   engine already answers; debootstrap, to build stand-ins for base images that cannot be pulled;
# - a venv .cache/venv-containers with pytest and the Compose CLI (tests/containers/requirements.txt,
#   pinned in tests/constraints.txt). Compose is also linked as the docker CLI plugin when the
#   machine has none, so that `docker compose` works as docs/containers.md shows.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
# shellcheck source=tests/containers/engine.sh
. tests/containers/engine.sh

packages=(debootstrap)
engine_answers || packages+=(docker.io)
apt_install "${packages[@]}"

venv=.cache/venv-containers
python_venv "$venv" tests/containers/requirements.txt

plugin="${HOME}/.docker/cli-plugins/docker-compose"
# A link left by a checkout that is gone dangles: replace it (ln -f).
if ! docker compose version >/dev/null 2>&1; then
    mkdir -p "$(dirname "$plugin")"
    ln -sfn "$PWD/$venv/bin/docker-compose" "$plugin"
fi
"$venv/bin/docker-compose" version
