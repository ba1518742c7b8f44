#!/usr/bin/env bash
# The one release command: test, build, push, and hand the new images to Argo CD through Git.
#
#   scripts/release.sh [options] REGISTRY [VERSION]
#
#   REGISTRY   where to publish, e.g. ghcr.io/<owner> (images REGISTRY/racontemoi-back and
#              REGISTRY/racontemoi-front, chart oci://REGISTRY/charts/racontemoi, SBOM
#              REGISTRY/racontemoi-sbom)
#   VERSION    defaults to scripts/version.sh; must equal it (scripts/version.sh set X.Y.Z first)
#
#   --phase PHASE           all (default), or one step as a CI pipeline runs them (Jenkinsfile):
#                           build (checks, images, SBOM, chart lint), push (images, chart, SBOM;
#                           writes dist/release/VERSION/release.env), deploy (the GitOps commit)
#   --skip-tests            do not run the test command (CI already ran it)
#   --test-stages "S..."    run only these stages of ./scripts/test.sh (default: all)
#   --gitops-branch BRANCH  the branch of the dev values commit (default: the revision Argo CD
#                           follows, targetRevision in argocd/kustomization.yaml)
#   --no-gitops             no GitOps commit; the only way to release to a registry other than
#                           the configured default (scripts/version.sh registry)
#   --push-gitops REMOTE    push that branch to REMOTE after committing
#
# Environment: REGISTRY_USERNAME with REGISTRY_PASSWORD (or REGISTRY_PASSWORD_FILE) log docker,
# helm and oras in; REGISTRY_PLAIN_HTTP=1 talks HTTP (automatic for localhost and 127.0.0.1);
# SOURCE_URL overrides the source label (default: the repository URL of argocd/kustomization.yaml).
#
# In order, stopping at the first failure: checks (versions agree, the registry is the configured
# default unless --no-gitops, clean tree, the dependency audit of scripts/audit.sh, the version is
# not in the registry yet), the test command, both images from the unmodified Dockerfiles (tags VERSION
# and sha-<commit>, OCI labels version/revision/created/source), the SBOM of the back's crates
# (cargo-cyclonedx), the chart staged and linted; only then the pushes: images (digests recorded),
# the chart with its image references pinned to those digests, the SBOM; last, the GitOps commit
# that points helm/racontemoi/values-dev.yaml at the new digests. Nothing is pushed when a test
# or a build fails. Results: dist/release/VERSION/ (release.env, the chart, the SBOM). Nothing is
# signed here (it says so): scripts/release/sign.sh signs them, keyless in the release workflow.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
# Tools installed by scripts/setup/release.sh, when present.
export PATH="$root/.cache/bin:$root/.cache/venv-release/bin:$PATH"
# shellcheck source=tests/containers/engine.sh
. tests/containers/engine.sh

say() { printf 'release: %s\n' "$*"; }
die() { printf 'release: %s\n' "$*" >&2; exit 1; }

phase=all skip_tests='' test_stages='' gitops=1 gitops_branch='' gitops_remote=''
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --phase) phase=${2:?--phase needs a value}; shift ;;
        --skip-tests) skip_tests=1 ;;
        --test-stages) test_stages=${2:?--test-stages needs a value}; shift ;;
        --gitops-branch) gitops_branch=${2:?--gitops-branch needs a value}; shift ;;
        --no-gitops) gitops= ;;
        --push-gitops) gitops_remote=${2:?--push-gitops needs a remote}; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) args+=("$1") ;;
    esac
    shift
done
if [ ${#args[@]} -lt 1 ] || [ ${#args[@]} -gt 2 ]; then
    die "usage: scripts/release.sh [options] REGISTRY [VERSION] (see --help)"
fi
case "$phase" in all|build|push|deploy) ;; *) die "unknown phase $phase (all, build, push, deploy)" ;; esac
registry=${args[0]%/}
version=${args[1]:-$(scripts/version.sh)}

# --- checks: nothing is built or pushed before they pass ------------------------------------
[[ "$registry" =~ ^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)*$ ]] || die "'$registry' is not a registry path (host[:port][/path], lower case)"
repo_version=$(scripts/version.sh)
[ "$version" = "$repo_version" ] || die "version $version is not the repository's ($repo_version): run scripts/version.sh set $version and commit first"
scripts/version.sh check >/dev/null || die "the version places disagree (scripts/version.sh check)"
# The GitOps commit writes the registry into values-dev.yaml: one that is not the configured default
# would make `scripts/version.sh check`, and so every later release, fail.
default_registry=$(scripts/version.sh registry)
if [ -n "$gitops" ] && [ "$registry" != "$default_registry" ]; then
    die "$registry is not the configured registry ($default_registry), and the GitOps commit would point dev at it: make it the default first (scripts/version.sh registry set $registry, then commit), or release with --no-gitops"
fi
[ -z "$(git status --porcelain --untracked-files=no)" ] || die "the work tree has uncommitted changes: a release is built from a commit"
for tool in docker helm cargo python3 git; do
    command -v "$tool" >/dev/null || die "$tool not found (scripts/setup/release.sh installs the tools)"
done
cargo cyclonedx --version >/dev/null 2>&1 || die "cargo-cyclonedx not found (scripts/setup/release.sh)"
python3 -c 'import oras' 2>/dev/null || die "the oras Python package is missing (scripts/setup/release.sh)"
engine_answers || die "no Docker engine answers"
# The lint stage's dependency audit (cargo audit against the RustSec database): a known
# vulnerability, or a warning that .cargo/audit.toml does not ignore, stops the release here.
scripts/audit.sh >&2 || die "the dependency audit failed (scripts/audit.sh): nothing was built or pushed"

host=${registry%%/*}
plain_http=${REGISTRY_PLAIN_HTTP:-}
case "$host" in localhost|localhost:*|127.*) plain_http=${plain_http:-1} ;; esac
export REGISTRY_PLAIN_HTTP=${plain_http:-}
helm_http=()
[ -z "$plain_http" ] || helm_http=(--plain-http)

revision=$(git rev-parse HEAD)
short=$(git rev-parse --short=7 HEAD)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct HEAD)}
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
source_url=${SOURCE_URL:-$(sed -n -E 's/^ *- repoURL=(.*)$/\1/p' argocd/kustomization.yaml)}
source_url=${source_url%.git}
back_repo=$registry/racontemoi-back
front_repo=$registry/racontemoi-front
sbom_repo=$registry/racontemoi-sbom
chart_repo=$registry/charts
out=dist/release/$version
sbom=$out/racontemoi-back-$version.cdx.json
oci=(python3 scripts/release/oci.py)

if [ -n "${REGISTRY_USERNAME:-}" ]; then
    password=${REGISTRY_PASSWORD:-}
    [ -z "${REGISTRY_PASSWORD_FILE:-}" ] || password=$(cat "$REGISTRY_PASSWORD_FILE")
    [ -n "$password" ] || die "REGISTRY_USERNAME is set without REGISTRY_PASSWORD or REGISTRY_PASSWORD_FILE"
    say "logging in to $host as $REGISTRY_USERNAME"
    printf '%s' "$password" | "$DOCKER" login "$host" --username "$REGISTRY_USERNAME" --password-stdin >/dev/null
    printf '%s' "$password" | helm registry login "$host" "${helm_http[@]}" --username "$REGISTRY_USERNAME" --password-stdin >/dev/null
    export REGISTRY_PASSWORD=$password
fi

# Refuses a version the registry already has, for any of the four artifacts.
refuse_existing() {
    local ref rc found=()
    for ref in "$back_repo:$version" "$front_repo:$version" "$chart_repo/racontemoi:$version" "$sbom_repo:$version"; do
        rc=0
        "${oci[@]}" exists "$ref" || rc=$?
        case $rc in
            0) found+=("$ref") ;;
            1) ;;
            *) die "cannot ask the registry whether $ref exists" ;;
        esac
    done
    [ ${#found[@]} -eq 0 ] || die "version $version is already published (${found[*]}): a release never overwrites; bump it with scripts/version.sh set"
}
# The chart as published, in $stage: the environments' values files stay in Git, not in the
# package; stage_chart BACK_DIGEST FRONT_DIGEST pins its image references.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
stage_chart() {
    rm -rf "$stage/racontemoi"
    cp -r helm/racontemoi "$stage/racontemoi"
    rm -f "$stage"/racontemoi/values-*.yaml
    python3 scripts/release/values.py "$stage/racontemoi/values.yaml" \
        "back=$back_repo:$version@$1" "front=$front_repo:$version@$2"
}

run_tests() {
    if [ -n "$skip_tests" ]; then say "tests skipped (--skip-tests)"; return; fi
    say "running the test command: ./scripts/test.sh $test_stages"
    # shellcheck disable=SC2086 # stage names are words
    ./scripts/test.sh $test_stages || die "tests failed: nothing was pushed"
}

# --- builds: images, SBOM, chart lint; nothing leaves the machine --------------------------------
build_image() {  # build_image NAME DOCKERFILE CONTEXT REPO
    local name=$1 dockerfile=$2 context=$3 repo=$4
    say "building $repo:$version from $dockerfile"
    "$DOCKER" build --file "$dockerfile" \
        --build-arg "VERSION=$version" --build-arg "SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH" \
        --label "org.opencontainers.image.version=$version" \
        --label "org.opencontainers.image.revision=$revision" \
        --label "org.opencontainers.image.created=$created" \
        --label "org.opencontainers.image.source=$source_url" \
        --tag "$repo:$version" --tag "$repo:sha-$short" "$context" >"$out/build-$name.log" 2>&1 \
        || { tail -n 30 "$out/build-$name.log" >&2; die "the $name image did not build: nothing was pushed"; }
}

build() {
    rm -rf "$out" && mkdir -p "$out"
    build_image back back/Dockerfile . "$back_repo"
    build_image front front/Dockerfile front "$front_repo"
    say "SBOM of the back's crates (cargo-cyclonedx)"
    # --target all: every crate of Cargo.lock, whatever platform it is for.
    cargo cyclonedx --manifest-path back/Cargo.toml --format json --spec-version 1.5 --target all \
        --override-filename racontemoi-back.cdx >"$out/sbom.log" 2>&1 \
        || { cat "$out/sbom.log" >&2; die "the SBOM was not generated: nothing was pushed"; }
    mv back/racontemoi-back.cdx.json "$sbom"
    stage_chart "sha256:$(printf '%064d' 0)" "sha256:$(printf '%064d' 0)"
    helm lint --strict "$stage/racontemoi" >"$out/lint.log" 2>&1 \
        || { cat "$out/lint.log" >&2; die "the chart does not lint: nothing was pushed"; }
}

# --- pushes: images (digests recorded), the chart pinned to them, the SBOM ------------------------
push_image() {  # push_image REPO -> prints the digest
    local repo=$1 tag digest built
    built=$("$DOCKER" image inspect --format '{{index .Config.Labels "org.opencontainers.image.revision"}}' \
        "$repo:$version" 2>/dev/null) || die "$repo:$version is not built here (--phase build first)"
    [ "$built" = "$revision" ] || die "$repo:$version was built from $built, not $revision"
    for tag in "$version" "sha-$short"; do
        "$DOCKER" push "$repo:$tag" >"$out/push.log" 2>&1 || { cat "$out/push.log" >&2; die "push of $repo:$tag failed"; }
    done
    digest=$("$DOCKER" image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$repo:$version" \
        | sed -n "s|^$repo@||p" | head -n1)
    [ -n "$digest" ] || die "no digest recorded for $repo"
    echo "$digest"
}

push() {
    [ -f "$sbom" ] || die "$sbom is missing (--phase build first)"
    refuse_existing
    local back_digest front_digest chart_digest sbom_digest chart
    back_digest=$(push_image "$back_repo")
    say "pushed $back_repo:$version (and sha-$short) @ $back_digest"
    front_digest=$(push_image "$front_repo")
    say "pushed $front_repo:$version (and sha-$short) @ $front_digest"

    stage_chart "$back_digest" "$front_digest"
    helm package "$stage/racontemoi" --version "$version" --app-version "$version" --destination "$out" >/dev/null
    chart=$out/racontemoi-$version.tgz
    helm push "$chart" "oci://$chart_repo" "${helm_http[@]}" >"$out/chart-push.log" 2>&1 \
        || { cat "$out/chart-push.log" >&2; die "helm push failed"; }
    chart_digest=$(sed -n -E 's/^Digest: (sha256:[0-9a-f]+)$/\1/p' "$out/chart-push.log")
    say "pushed oci://$chart_repo/racontemoi:$version @ $chart_digest (images pinned by digest)"

    sbom_digest=$("${oci[@]}" push-sbom "$sbom_repo:$version" "$sbom")
    say "pushed $sbom_repo:$version @ $sbom_digest"

    cat >"$out/release.env" <<EOF
VERSION=$version
REVISION=$revision
BACK_IMAGE=$back_repo:$version@$back_digest
FRONT_IMAGE=$front_repo:$version@$front_digest
CHART=oci://$chart_repo/racontemoi:$version@$chart_digest
SBOM=$sbom_repo:$version@$sbom_digest
EOF
}

# --- GitOps: dev follows the release, by a commit that changes only its image lines -------------
deploy() {
    [ -f "$out/release.env" ] || die "$out/release.env is missing (--phase push first)"
    local back_image front_image branch file parent current blob tree commit
    back_image=$(sed -n 's/^BACK_IMAGE=//p' "$out/release.env")
    front_image=$(sed -n 's/^FRONT_IMAGE=//p' "$out/release.env")
    branch=${gitops_branch:-$(sed -n -E 's/^ *- targetRevision=(.*)$/\1/p' argocd/kustomization.yaml)}
    git check-ref-format --branch "$branch" >/dev/null || die "'$branch' is not a branch name"
    file=helm/racontemoi/values-dev.yaml
    # The branch as it is (local, else the remote's), else it starts at this commit.
    parent=$(git rev-parse -q --verify "refs/heads/$branch^{commit}" \
        || { [ -n "$gitops_remote" ] && git rev-parse -q --verify "refs/remotes/$gitops_remote/$branch^{commit}"; } \
        || git rev-parse HEAD)
    current=$(git symbolic-ref -q --short HEAD || true)
    git show "$parent:$file" >"$stage/values-dev.yaml"
    python3 scripts/release/values.py "$stage/values-dev.yaml" "back=$back_image" "front=$front_image"
    # A CI machine may have no Git identity: the commit is then signed by the release itself.
    if ! git var GIT_COMMITTER_IDENT >/dev/null 2>&1; then
        export GIT_AUTHOR_NAME="racontemoi release" GIT_AUTHOR_EMAIL="release@racontemoi.invalid" \
            GIT_COMMITTER_NAME="racontemoi release" GIT_COMMITTER_EMAIL="release@racontemoi.invalid"
    fi
    # The commit is made on a private index: the work tree and its index are left alone.
    blob=$(git hash-object -w "$stage/values-dev.yaml")
    tree=$(GIT_INDEX_FILE=$stage/index sh -c 'git read-tree "$1" && git update-index --cacheinfo "100644,$2,$3" && git write-tree' \
        _ "$parent" "$blob" "$file")
    commit=$(git commit-tree "$tree" -p "$parent" -F - <<EOF
deploy(dev): racontemoi $version

Published by scripts/release.sh from $revision:
  back  $back_image
  front $front_image
EOF
)
    if [ "$branch" = "$current" ]; then
        # The checked-out branch: move it and its files together.
        git reset --quiet --keep "$commit"
    elif git worktree list --porcelain | grep -qx "branch refs/heads/$branch"; then
        die "branch $branch is checked out in another worktree: commit $commit was not applied"
    else
        git update-ref "refs/heads/$branch" "$commit"
    fi
    say "GitOps commit $(git rev-parse --short "$commit") on $branch: $file points dev at $version"
    if [ -n "$gitops_remote" ]; then
        git push "$gitops_remote" "refs/heads/$branch:refs/heads/$branch"
        say "pushed $branch to $gitops_remote"
    fi
}

say "racontemoi $version ($revision) to $registry: phase $phase"
case "$phase" in
    all) refuse_existing; run_tests; build; push; if [ -n "$gitops" ]; then deploy; fi ;;
    build) refuse_existing; build ;;
    push) push ;;
    deploy) deploy ;;
esac
say "done: $out"
[ ! -f "$out/release.env" ] || cat "$out/release.env"
# This script signs nothing: keyless signing needs the OIDC identity of a GitHub Actions job.
case "$phase" in all|push)
    say "these artifacts are unsigned: .github/workflows/release.yml signs them (cosign keyless, GitHub's OIDC issuer), or scripts/release/sign.sh --key KEY (docs/release.md#signing-and-verifying)" ;;
esac
