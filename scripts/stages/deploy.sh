#!/usr/bin/env bash
# The deploy stage: renders k8s/, the Helm chart and argocd/ with the real tools (helm 4, kubectl's
# kustomize) and checks them offline: helm lint, kubernetes-validate, checkov, yamllint,
# schema negative tests, custom objects against their real CRDs (../shared/crds), consistency
# tests (tests/deploy/, pytest), and the helm test pods' commands run against a real front and
# back on the host (hence the back's release build). No cluster is needed.
# Tools come from scripts/setup/deploy.sh (and cargo from scripts/setup/back.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

venv=.cache/venv-deploy
for needed in .cache/bin/helm .cache/bin/kubectl "$venv/bin/pytest"; do
    [ -x "$needed" ] || { echo "deploy: $needed is missing: run scripts/setup/deploy.sh" >&2; exit 1; }
done

export PATH="$PWD/.cache/bin:$PWD/$venv/bin:$PATH"
# Offline: checkov must not try to reach its platform, helm keeps its state out of $HOME.
export BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false
export HELM_CACHE_HOME="$PWD/.cache/helm/cache" HELM_CONFIG_HOME="$PWD/.cache/helm/config" \
    HELM_DATA_HOME="$PWD/.cache/helm/data"

cargo build --release -p back
helm version --short
kubectl version --client

exec "$venv/bin/python" -m pytest -p no:cacheprovider -ra tests/deploy "$@"
