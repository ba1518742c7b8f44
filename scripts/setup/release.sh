#!/usr/bin/env bash
# Installs what the release stage (and scripts/release.sh) needs, idempotently (Debian, root):
# - the containers stage's Docker engine, the deploy stage's helm 4, checkov and
#   kubernetes-validate, and the lint stage's cargo-audit (scripts/audit.sh, run by the release's
#   checks) (their own setup scripts);
# - Debian's docker-registry (the distribution project's registry), run by the stage itself on
#   127.0.0.1; the package's own service is kept from starting (policy-rc.d during the install);
# - cargo-cyclonedx, the CycloneDX SBOM generator for Cargo, in cargo's home (built once, kept);
# - a venv .cache/venv-release with pytest, check-jsonschema and oras (tests/release/requirements.txt).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

bash scripts/setup/containers.sh
bash scripts/setup/deploy.sh
bash scripts/setup/lint.sh

if ! dpkg-query -W -f='${Status}' docker-registry 2>/dev/null | grep -q "install ok installed"; then
    # Without this, the package's init script would start a registry on :5000 for the whole machine.
    policy=/usr/sbin/policy-rc.d
    made_policy=
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy" && made_policy=1
    fi
    apt_install docker-registry || { [ -z "$made_policy" ] || rm -f "$policy"; exit 1; }
    [ -z "$made_policy" ] || rm -f "$policy"
fi
docker-registry --version

# The SBOM tool, pinned. `cargo install` builds it once into cargo's home (about 2 min).
cyclonedx_version=0.5.9
if ! cargo cyclonedx --version 2>/dev/null | grep -q "$cyclonedx_version"; then
    cargo install --locked --quiet "cargo-cyclonedx@$cyclonedx_version"
fi
cargo cyclonedx --version

python_venv .cache/venv-release tests/release/requirements.txt
