#!/usr/bin/env bash
# Builds racontemoi-back and racontemoi-front from their unmodified Dockerfiles on the engine,
# under the names compose.yaml uses. A base image that is neither present nor pullable is
# replaced by a local stand-in tagged with the official name (standins/build.sh). Prints which
# base each image was built on: official or stand-in. The images compose.yaml runs unbuilt
# (postgres) are made available the same way.
#
#   build_images.sh [TAG]     TAG defaults to $IMAGE_TAG, then `local`
#   BASES_ONLY=1 build_images.sh   only makes the base images available (the release stage's use)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here/../.."
# shellcheck source=tests/containers/engine.sh
. tests/containers/engine.sh

tag=${1:-${IMAGE_TAG:-local}}

# The external images a Dockerfile's FROM lines name: not scratch, not an earlier stage.
base_images() {
    awk 'toupper($1) == "FROM" {
            i = 2; while ($i ~ /^--/) i++
            image = $i
            if (tolower($(i + 1)) == "as") stage[tolower($(i + 2))] = 1
            if (image != "scratch" && !(tolower(image) in stage)) print image
        }' "$1"
}

# label IMAGE NAME: the value of the image's label NAME ("" when it has none).
label() {
    "$DOCKER" image inspect -f "{{with .Config.Labels}}{{index . \"$2\"}}{{end}}" "$1"
}

# Makes IMAGE available (present, pulled, or a stand-in) and prints "IMAGE (official|stand-in)".
ensure_base() {
    local image=$1 origin
    case "$image" in
        *'$'*) echo "build: cannot resolve the base image $image (ARG in FROM)" >&2; return 1 ;;
    esac
    if ! "$DOCKER" image inspect "$image" >/dev/null 2>&1 \
        && ! "$DOCKER" pull --quiet "$image" >/dev/null 2>&1; then
        echo "build: $image cannot be pulled; building a stand-in" >&2
        tests/containers/standins/build.sh "$image" >&2
    fi
    origin=$(label "$image" org.racontemoi.standin)
    if [ -n "$origin" ] && [ "$(label "$image" org.racontemoi.standin-recipe)" \
        != "$(tests/containers/standins/build.sh "$image" --recipe)" ]; then
        echo "build: the stand-in $image was built from an older recipe; building it again" >&2
        tests/containers/standins/build.sh "$image" >&2
    fi
    if [ -n "$origin" ]; then echo "$image (stand-in)"; else echo "$image (official)"; fi
}

# build NAME CONTEXT DOCKERFILE
build() {
    local name=$1 context=$2 dockerfile=$3 image base bases=() joined started
    while read -r image; do
        base=$(ensure_base "$image") || return 1
        bases+=("$base")
    done < <(base_images "$dockerfile")
    echo "build: $name:$tag from $dockerfile"
    started=$SECONDS
    "$DOCKER" build --progress=plain --file "$dockerfile" --tag "$name:$tag" "$context" \
        >".cache/containers/build-$name.log" 2>&1 \
        || { tail -n 40 ".cache/containers/build-$name.log" >&2; return 1; }
    joined=$(printf '%s, ' "${bases[@]}")
    printf 'build: %s:%s built in %ss on %s\n' "$name" "$tag" "$((SECONDS - started))" \
        "${joined%, }"
}

mkdir -p .cache/containers
if [ -n "${BASES_ONLY:-}" ]; then
    for dockerfile in back/Dockerfile front/Dockerfile; do
        while read -r image; do echo "base: $(ensure_base "$image")"; done < <(base_images "$dockerfile")
    done
    exit 0
fi
build racontemoi-back . back/Dockerfile
build racontemoi-front front front/Dockerfile
# The images compose.yaml runs as they are: the postgres profile's database.
while read -r image; do
    echo "run: $(ensure_base "$image")"
done < <(awk '$1 == "image:" && $2 !~ /racontemoi-/ { print $2 }' compose.yaml)
