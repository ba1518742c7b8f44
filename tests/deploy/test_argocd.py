"""argocd/: the project, the repository and one Application per environment (dev, prod), as
Argo CD requires them; each environment's values in a values file in Git (valueFiles)."""
import re

import pytest
import yaml

from conftest import CHART, ROOT, find, run, tool

REPOSITORY_LABEL = "argocd.argoproj.io/secret-type"
FINALIZER = "resources-finalizer.argocd.argoproj.io"


def test_objects_and_names(argocd_docs):
    kinds = sorted((d["apiVersion"], d["kind"]) for d in argocd_docs)
    assert kinds == [("argoproj.io/v1alpha1", "AppProject"), ("argoproj.io/v1alpha1", "Application"),
                     ("argoproj.io/v1alpha1", "Application"), ("v1", "Secret")]
    assert sorted(d["metadata"]["name"] for d in apps(argocd_docs)) == ["e6-racontemoi-dev", "e6-racontemoi-prod"]
    for doc in argocd_docs:
        assert doc["metadata"]["name"].startswith("e6-"), doc["metadata"]["name"]
        assert doc["metadata"]["namespace"] == "argocd"
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", doc["metadata"]["name"])


def apps(argocd_docs) -> list[dict]:
    return [d for d in argocd_docs if d["kind"] == "Application"]


def test_repository_url_is_set_in_one_place(argocd_docs):
    project = find(argocd_docs, "AppProject")
    secret = find(argocd_docs, "Secret")
    urls = {app["spec"]["source"]["repoURL"] for app in apps(argocd_docs)}
    assert len(urls) == 1
    url = urls.pop()
    assert url.startswith("https://") and url.endswith(".git")
    assert {app["spec"]["source"]["targetRevision"] for app in apps(argocd_docs)} == {"main"}
    assert project["spec"]["sourceRepos"] == [url]
    assert secret["stringData"]["url"] == url
    occurrences = [p.relative_to(ROOT) for p in (ROOT / "argocd").iterdir() if url in p.read_text()]
    assert [str(p) for p in occurrences] == ["argocd/kustomization.yaml"]


def test_repository_secret(argocd_docs):
    secret = find(argocd_docs, "Secret")
    assert secret["metadata"]["labels"][REPOSITORY_LABEL] == "repository"
    assert secret["stringData"]["type"] == "git"
    assert "data" not in secret
    assert set(secret["stringData"]) <= {"name", "type", "url", "project"}, \
        "no credential may be committed (password, sshPrivateKey, githubApp...)"
    assert secret["stringData"].get("project", "e6-racontemoi") == find(argocd_docs, "AppProject")["metadata"]["name"]


def test_project_scope(argocd_docs, rendered):
    project = find(argocd_docs, "AppProject")["spec"]
    assert sorted(project["destinations"], key=str) == sorted((a["spec"]["destination"] for a in apps(argocd_docs)),
                                                              key=str)
    assert project["clusterResourceWhitelist"] == [{"group": "", "kind": "Namespace"}]
    allowed = {(k["group"], k["kind"]) for k in project["namespaceResourceWhitelist"]}
    # Everything the chart can render (hooks aside: Argo CD does not run helm tests) is allowed.
    for scenario in ("all-enabled", "persistence", "argocd", "argocd-dev", "default"):
        for doc in rendered[scenario]:
            if "helm.sh/hook" in doc["metadata"].get("annotations", {}):
                continue
            group = doc["apiVersion"].rpartition("/")[0]
            assert (group, doc["kind"]) in allowed, f"{scenario}: {doc['kind']} not in the project's whitelist"


@pytest.mark.parametrize("env, namespace", [("dev", "racontemoi-dev"), ("prod", "racontemoi")])
def test_application(argocd_docs, env, namespace):
    app = find(argocd_docs, "Application", f"e6-racontemoi-{env}")
    spec = app["spec"]
    assert FINALIZER in app["metadata"]["finalizers"]
    assert spec["project"] == find(argocd_docs, "AppProject")["metadata"]["name"]
    source = spec["source"]
    assert source["path"] == "helm/racontemoi" and (ROOT / source["path"]) == CHART
    assert source["targetRevision"]
    helm = source["helm"]
    assert helm["releaseName"] == "racontemoi"
    # The environment's values live in Git (argocd-example-apps' helm-guestbook), not inline.
    assert helm["valueFiles"] == [f"values-{env}.yaml"] and (CHART / f"values-{env}.yaml").is_file()
    assert "valuesObject" not in helm and "values" not in helm and "parameters" not in helm
    assert spec["destination"]["server"] == "https://kubernetes.default.svc"
    assert spec["destination"]["namespace"] == namespace
    policy = spec["syncPolicy"]
    assert policy["automated"] == {"prune": True, "selfHeal": True}
    assert "CreateNamespace=true" in policy["syncOptions"]
    assert policy["retry"]["limit"] > 0 and policy["retry"]["backoff"]["duration"]
    assert policy["managedNamespaceMetadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_applications_differ_only_by_environment(argocd_docs):
    dev, prod = (find(argocd_docs, "Application", f"e6-racontemoi-{env}") for env in ("dev", "prod"))
    dev_spec = yaml.safe_dump(dev["spec"]).replace("values-dev.yaml", "values-prod.yaml").replace(
        "racontemoi-dev\n", "racontemoi\n")
    assert dev_spec == yaml.safe_dump(prod["spec"])


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_environment_values_render_and_pass_the_schema(rendered, env):
    values = yaml.safe_load((CHART / f"values-{env}.yaml").read_text())
    assert values["students"]["auth"]["existingSecret"], "credentials come from a Secret made out of Git"
    assert not values["students"]["auth"].get("password")
    # Each environment names its images explicitly: a version bump on main moves neither by itself.
    for component in ("back", "front"):
        assert set(values[component]["image"]) == {"repository", "tag", "digest"}
        assert values[component]["image"]["tag"]
    docs = rendered["argocd" if env == "prod" else "argocd-dev"]
    assert not [d for d in docs if d["kind"] == "Pod"], "helm test hooks are off under Argo CD"
    assert {d["kind"] for d in docs} >= {"Deployment", "Service", "NetworkPolicy"}


def test_environment_values_do_not_repeat_the_chart_defaults():
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())

    def repeated(values, base, path=""):
        for key, value in values.items():
            if key not in base:
                continue
            if isinstance(value, dict) and isinstance(base[key], dict):
                yield from repeated(value, base[key], f"{path}{key}.")
            elif value == base[key] and key not in ("repository", "tag", "digest"):
                yield f"{path}{key}"

    for env in ("dev", "prod"):
        values = yaml.safe_load((CHART / f"values-{env}.yaml").read_text())
        assert not list(repeated(values, defaults)), f"values-{env}.yaml repeats chart defaults"


def test_kustomization_emits_no_local_config(argocd_docs):
    assert not [d for d in argocd_docs if d["kind"] == "ConfigMap"]
    out = run(tool("kubectl"), "kustomize", str(ROOT / "argocd")).stdout
    assert "REPO_URL" not in out and "REVISION" not in out
