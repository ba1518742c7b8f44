#!/usr/bin/env bash
# Signs what a release published, by digest, with cosign: both images, the chart and the SBOM
# artifact (every reference of dist/release/VERSION/release.env), and attaches the SBOM file to the
# back image as a CycloneDX attestation (cosign attest --type cyclonedx).
#
#   scripts/release/sign.sh [--key KEY] [VERSION]
#
#   VERSION    defaults to scripts/version.sh; reads dist/release/VERSION/release.env, written by
#              `scripts/release.sh` (or its `--phase push`)
#   --key KEY  sign with this cosign private key (a file, or any key reference cosign takes;
#              its password in COSIGN_PASSWORD): the Jenkinsfile's Sign stage. Without it the
#              signing is keyless, from the OIDC identity of the GitHub Actions job that runs it
#              (.github/workflows/release.yml, `id-token: write`): a certificate naming the
#              workflow, recorded in Sigstore's public transparency log. Outside GitHub Actions
#              there is no such identity, and it refuses.
#
# Environment: REGISTRY_USERNAME with REGISTRY_PASSWORD log cosign in first (cosign login writes
# the Docker config, which the provenance action reads after it). In GitHub Actions it also writes
# back-name, back-digest, front-name, front-digest to $GITHUB_OUTPUT, the subjects of the images'
# build provenance. Nothing is signed by tag: a tag can move, a digest cannot.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

say() { printf 'sign: %s\n' "$*"; }
die() { printf 'sign: %s\n' "$*" >&2; exit 1; }

key=''
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --key) key=${2:?--key needs a key}; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) args+=("$1") ;;
    esac
    shift
done
[ ${#args[@]} -le 1 ] || die "usage: scripts/release/sign.sh [--key KEY] [VERSION]"
version=${args[0]:-$(scripts/version.sh)}
out=dist/release/$version
env_file=$out/release.env
sbom=$out/racontemoi-back-$version.cdx.json

[ -f "$env_file" ] || die "$env_file is missing: scripts/release.sh writes it when it publishes $version"
[ -f "$sbom" ] || die "$sbom is missing: scripts/release.sh writes it when it builds $version"
command -v cosign >/dev/null || die "cosign not found: install it (GitHub: sigstore/cosign-installer; Jenkins: on the agent)"
if [ -z "$key" ] && [ -z "${ACTIONS_ID_TOKEN_REQUEST_URL:-}" ]; then
    die "keyless signing needs the OIDC identity of a GitHub Actions job with id-token: write (.github/workflows/release.yml); elsewhere, --key KEY"
fi

# by_digest NAME: the release.env value of NAME as REPOSITORY@sha256:..., without the tag.
by_digest() {
    local value repo last digest
    value=$(sed -n "s/^$1=//p" "$env_file")
    [ -n "$value" ] || die "$env_file names no $1"
    value=${value#oci://}
    repo=${value%@*} digest=${value##*@}
    [[ "$value" == *@* && "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] || die "$1=$value is not pinned by digest"
    last=${repo##*/}
    case "$last" in *:*) repo=${repo%:*} ;; esac
    printf '%s@%s\n' "$repo" "$digest"
}

[ "$(sed -n 's/^VERSION=//p' "$env_file")" = "$version" ] || die "$env_file is not the release of $version"
back=$(by_digest BACK_IMAGE)
front=$(by_digest FRONT_IMAGE)
chart=$(by_digest CHART)
sbom_artifact=$(by_digest SBOM)

if [ -n "${REGISTRY_USERNAME:-}" ]; then
    [ -n "${REGISTRY_PASSWORD:-}" ] || die "REGISTRY_USERNAME is set without REGISTRY_PASSWORD"
    say "logging in to ${back%%/*} as $REGISTRY_USERNAME"
    printf '%s' "$REGISTRY_PASSWORD" | cosign login "${back%%/*}" --username "$REGISTRY_USERNAME" --password-stdin >/dev/null
fi

how=(--yes)
if [ -n "$key" ]; then how+=(--key "$key"); say "signing with the key $key"; else say "signing keyless (GitHub Actions OIDC)"; fi
for ref in "$back" "$front" "$chart" "$sbom_artifact"; do
    cosign sign "${how[@]}" "$ref"
    say "signed $ref"
done
cosign attest "${how[@]}" --type cyclonedx --predicate "$sbom" "$back"
say "attested $back: the SBOM $sbom (CycloneDX)"

if [ -n "${GITHUB_OUTPUT:-}" ]; then
    {
        echo "back-name=${back%@*}"
        echo "back-digest=${back#*@}"
        echo "front-name=${front%@*}"
        echo "front-digest=${front#*@}"
    } >>"$GITHUB_OUTPUT"
fi
