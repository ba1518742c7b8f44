#!/usr/bin/env bash
# The release stage: scripts/release.sh end to end against a real registry (Debian's
# docker-registry on 127.0.0.1, storage in the tests' temporary directory), then every published
# artifact pulled back and checked (tests/release/, pytest): images by digest run, the chart from
# oci:// renders pinned by digest and passes kubernetes-validate and checkov without the digest
# skips, the SBOM lists every crate of Cargo.lock, a second release of the version is refused, a
# release whose tests fail pushes nothing, the GitOps commit changes only the dev values, and
# the back binary is reproducible. Also the CI definitions (.github/workflows, Jenkinsfile).
# The images are built on the containers stage's base images (stand-ins where none can be pulled).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=tests/containers/engine.sh
. tests/containers/engine.sh

venv=.cache/venv-release
for needed in .cache/bin/helm "$venv/bin/pytest" .cache/venv-deploy/bin/checkov /usr/bin/docker-registry; do
    [ -e "$needed" ] || { echo "release: $needed is missing: run scripts/setup/release.sh" >&2; exit 1; }
done
cargo cyclonedx --version >/dev/null 2>&1 || { echo "release: cargo-cyclonedx is missing: run scripts/setup/release.sh" >&2; exit 1; }

export PATH="$PWD/.cache/bin:$PWD/$venv/bin:$PATH"
export BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false
export HELM_CACHE_HOME="$PWD/.cache/helm/cache" HELM_CONFIG_HOME="$PWD/.cache/helm/config" \
    HELM_DATA_HOME="$PWD/.cache/helm/data"

engine_up
BASES_ONLY=1 tests/containers/build_images.sh
status=0
"$venv/bin/pytest" tests/release -v -rfEsP -p no:cacheprovider "$@" || status=$?
echo "release stage: ${SECONDS}s wall time"
exit "$status"
