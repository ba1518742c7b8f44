#!/usr/bin/env bash
# The one version of racontemoi, and the one registry its images are published to.
#
#   scripts/version.sh                    prints the version (the crate's)
#   scripts/version.sh set X.Y.Z          writes X.Y.Z everywhere the version appears
#   scripts/version.sh registry           prints the default registry (e.g. ghcr.io/racontemoi)
#   scripts/version.sh registry set REG   points every default image reference at REG
#   scripts/version.sh check              exits 1, naming the place, when any place disagrees
#
# The version lives in: Cargo.toml (workspace) and Cargo.lock (crate back), back/openapi.json
# (info.version), both Dockerfiles (ARG VERSION, the image label), helm/racontemoi/Chart.yaml
# (version, appVersion) and k8s/kustomization.yaml (newTag). The chart's values.yaml leaves the
# tags empty (they follow appVersion). The Argo CD environments' values files
# (helm/racontemoi/values-dev.yaml, values-prod.yaml) name the version each environment runs:
# a release moves dev (scripts/release.sh), a pull request moves prod; `check` only requires them
# not to be ahead of the version.
#
# The registry lives in the image references of helm/racontemoi/values.yaml (repository),
# k8s/kustomization.yaml (newName), both environments' values files, and the image names the
# example overlay of k8s/ replaces (docs/examples/k8s-overlay/kustomization.yaml, name).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CHART=helm/racontemoi
ENV_VALUES=("$CHART/values-dev.yaml" "$CHART/values-prod.yaml")
OVERLAY=docs/examples/k8s-overlay/kustomization.yaml
SEMVER='[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?'

die() { echo "version: $*" >&2; exit 1; }

# place VALUE lines, one "file: what = value" per place.
places() {
    printf 'Cargo.toml: workspace.package.version = %s\n' \
        "$(sed -n -E 's/^version = "([^"]*)"$/\1/p' Cargo.toml | head -n1)"
    printf 'Cargo.lock: package back = %s\n' \
        "$(awk '$0 == "name = \"back\"" { getline; gsub(/^version = "|"$/, ""); print; exit }' Cargo.lock)"
    printf 'back/openapi.json: info.version = %s\n' \
        "$(sed -n -E 's/^    "version": "([^"]*)",?$/\1/p' back/openapi.json | head -n1)"
    local dockerfile
    for dockerfile in back/Dockerfile front/Dockerfile; do
        printf '%s: ARG VERSION = %s\n' "$dockerfile" "$(sed -n -E 's/^ARG VERSION=(.*)$/\1/p' "$dockerfile")"
    done
    printf '%s/Chart.yaml: version = %s\n' "$CHART" "$(sed -n -E 's/^version: *"?([^"]*)"?$/\1/p' "$CHART/Chart.yaml")"
    printf '%s/Chart.yaml: appVersion = %s\n' "$CHART" "$(sed -n -E 's/^appVersion: *"?([^"]*)"?$/\1/p' "$CHART/Chart.yaml")"
    sed -n -E 's/^ +newTag: *"?([^"]*)"?$/k8s\/kustomization.yaml: newTag = \1/p' k8s/kustomization.yaml
}

# The registry of each default image reference: "file: image = registry".
registries() {
    local file
    for file in "$CHART/values.yaml" "${ENV_VALUES[@]}"; do
        sed -n -E "s|^ +repository: *\"?([^\" ]+)/(racontemoi-[a-z]+)\"?$|$file: \2 = \1|p" "$file"
    done
    sed -n -E 's|^ +newName: *"?([^" ]+)/(racontemoi-[a-z]+)"?$|k8s/kustomization.yaml: \2 = \1|p' k8s/kustomization.yaml
    sed -n -E "s|^  - name: *\"?([^\" ]+)/(racontemoi-[a-z]+)\"?$|$OVERLAY: \2 = \1|p" "$OVERLAY"
}

version() { sed -n -E 's/^version = "([^"]*)"$/\1/p' Cargo.toml | head -n1; }
registry() { sed -n -E 's|^ +repository: *"?([^" ]+)/racontemoi-back"?$|\1|p' "$CHART/values.yaml" | head -n1; }

# Is version $1 newer than $2? (sort -V orders X.Y.Z-pre before X.Y.Z only roughly: enough here.)
newer() { [ "$1" != "$2" ] && [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | tail -n1)" = "$1" ]; }

check() {
    local want bad=0 line value file tag
    want=$(version)
    [[ "$want" =~ ^$SEMVER$ ]] || die "Cargo.toml's version '$want' is not X.Y.Z"
    while IFS= read -r line; do
        value=${line##* = }
        if [ "$value" != "$want" ]; then echo "version: $line (Cargo.toml says $want)" >&2; bad=1; fi
    done < <(places)
    [ "$(places | wc -l)" -eq 9 ] || { echo "version: expected 9 places, found:" >&2; places >&2; bad=1; }
    # The chart's own tags stay empty: they follow appVersion.
    if grep -n -E '^    tag: *"?[^" ]' "$CHART/values.yaml" >&2; then
        echo "version: $CHART/values.yaml sets an image tag: leave it \"\" (appVersion)" >&2; bad=1
    fi
    for file in "${ENV_VALUES[@]}"; do
        while read -r tag; do
            [[ "$tag" =~ ^$SEMVER$ ]] || { echo "version: $file: tag '$tag' is not X.Y.Z" >&2; bad=1; continue; }
            if newer "$tag" "$want"; then echo "version: $file: tag $tag is ahead of $want" >&2; bad=1; fi
        done < <(sed -n -E 's/^    tag: *"?([^"]*)"?$/\1/p' "$file")
    done
    want=$(registry)
    [ -n "$want" ] || die "no registry in $CHART/values.yaml (back.image.repository)"
    while IFS= read -r line; do
        value=${line##* = }
        if [ "$value" != "$want" ]; then echo "version: $line (registry, expected $want)" >&2; bad=1; fi
    done < <(registries)
    [ "$(registries | wc -l)" -eq 10 ] || { echo "version: expected 10 image references, found:" >&2; registries >&2; bad=1; }
    [ $bad = 0 ] || exit 1
    echo "version $(version), registry $want: every place agrees"
}

set_version() {
    local new=$1
    [[ "$new" =~ ^$SEMVER$ ]] || die "'$new' is not a version X.Y.Z (or X.Y.Z-pre)"
    sed -i -E "0,/^version = \"[^\"]*\"$/s//version = \"$new\"/" Cargo.toml
    awk -v new="$new" '{ print } $0 == "name = \"back\"" { getline; print "version = \"" new "\"" }' \
        Cargo.lock >Cargo.lock.tmp && mv Cargo.lock.tmp Cargo.lock
    sed -i -E "0,/^    \"version\": \"[^\"]*\"/s//    \"version\": \"$new\"/" back/openapi.json
    sed -i -E "s/^ARG VERSION=.*$/ARG VERSION=$new/" back/Dockerfile front/Dockerfile
    sed -i -E "s/^version: .*$/version: $new/; s/^appVersion: .*$/appVersion: \"$new\"/" "$CHART/Chart.yaml"
    sed -i -E "s/^( +newTag: ).*$/\1\"$new\"/" k8s/kustomization.yaml
    check >/dev/null
    echo "version $new written; the environments move by release (dev) and pull request (prod)"
}

set_registry() {
    local new=${1%/} file
    [[ "$new" =~ ^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)*$ ]] || die "'$new' is not a registry path (host[:port][/path])"
    for file in "$CHART/values.yaml" "${ENV_VALUES[@]}"; do
        sed -i -E "s|^( +repository: *)\"?[^\" ]+/(racontemoi-[a-z]+)\"?$|\1$new/\2|" "$file"
    done
    sed -i -E "s|^( +newName: *)\"?[^\" ]+/(racontemoi-[a-z]+)\"?$|\1$new/\2|" k8s/kustomization.yaml
    sed -i -E "s|^(  - name: *)\"?[^\" ]+/(racontemoi-[a-z]+)\"?$|\1$new/\2|" "$OVERLAY"
    check >/dev/null
    echo "registry $new written"
}

case "${1:-}" in
    "") version ;;
    set) [ $# -eq 2 ] || die "usage: scripts/version.sh set X.Y.Z"; set_version "$2" ;;
    check) check ;;
    registry)
        case "${2:-}" in
            "") registry ;;
            set) [ $# -eq 3 ] || die "usage: scripts/version.sh registry set REGISTRY"; set_registry "$3" ;;
            *) die "usage: scripts/version.sh registry [set REGISTRY]" ;;
        esac ;;
    *) die "usage: scripts/version.sh [set X.Y.Z | check | registry [set REGISTRY]]" ;;
esac
