"""argocd/: the project, repository and Application, as Argo CD requires them."""
import re

from conftest import CHART, ROOT, find, run, tool

REPOSITORY_LABEL = "argocd.argoproj.io/secret-type"
FINALIZER = "resources-finalizer.argocd.argoproj.io"


def test_objects_and_names(argocd_docs):
    kinds = sorted((d["apiVersion"], d["kind"]) for d in argocd_docs)
    assert kinds == [("argoproj.io/v1alpha1", "AppProject"), ("argoproj.io/v1alpha1", "Application"),
                     ("v1", "Secret")]
    for doc in argocd_docs:
        assert doc["metadata"]["name"].startswith("e6-"), doc["metadata"]["name"]
        assert doc["metadata"]["namespace"] == "argocd"
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", doc["metadata"]["name"])


def test_repository_url_is_set_in_one_place(argocd_docs):
    project = find(argocd_docs, "AppProject")
    secret = find(argocd_docs, "Secret")
    app = find(argocd_docs, "Application")
    url = app["spec"]["source"]["repoURL"]
    assert url.startswith("https://") and url.endswith(".git")
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
    app = find(argocd_docs, "Application")["spec"]
    assert project["destinations"] == [app["destination"]]
    assert project["clusterResourceWhitelist"] == [{"group": "", "kind": "Namespace"}]
    allowed = {(k["group"], k["kind"]) for k in project["namespaceResourceWhitelist"]}
    # Everything the chart can render (hooks aside: Argo CD does not run helm tests) is allowed.
    for scenario in ("all-enabled", "persistence", "argocd", "default"):
        for doc in rendered[scenario]:
            if "helm.sh/hook" in doc["metadata"].get("annotations", {}):
                continue
            group = doc["apiVersion"].rpartition("/")[0]
            assert (group, doc["kind"]) in allowed, f"{scenario}: {doc['kind']} not in the project's whitelist"


def test_application(argocd_docs):
    app = find(argocd_docs, "Application")
    spec = app["spec"]
    assert FINALIZER in app["metadata"]["finalizers"]
    assert spec["project"] == find(argocd_docs, "AppProject")["metadata"]["name"]
    source = spec["source"]
    assert source["path"] == "helm/racontemoi" and (ROOT / source["path"]) == CHART
    assert source["targetRevision"]
    assert source["helm"]["releaseName"] == "racontemoi"
    assert isinstance(source["helm"]["valuesObject"], dict)
    assert spec["destination"]["server"] == "https://kubernetes.default.svc"
    assert spec["destination"]["namespace"] == "racontemoi"
    policy = spec["syncPolicy"]
    assert policy["automated"] == {"prune": True, "selfHeal": True}
    assert "CreateNamespace=true" in policy["syncOptions"]
    assert policy["retry"]["limit"] > 0 and policy["retry"]["backoff"]["duration"]
    assert policy["managedNamespaceMetadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_application_values_render_and_pass_the_schema(rendered, argocd_docs):
    values = find(argocd_docs, "Application")["spec"]["source"]["helm"]["valuesObject"]
    assert values["students"]["auth"]["existingSecret"], "credentials come from a Secret made out of Git"
    assert not values["students"]["auth"].get("password")
    docs = rendered["argocd"]
    assert not [d for d in docs if d["kind"] == "Pod"], "helm test hooks are off under Argo CD"
    assert {d["kind"] for d in docs} >= {"Deployment", "Service", "NetworkPolicy", "PodDisruptionBudget"}


def test_kustomization_emits_no_local_config(argocd_docs):
    assert not [d for d in argocd_docs if d["kind"] == "ConfigMap"]
    out = run(tool("kubectl"), "kustomize", str(ROOT / "argocd")).stdout
    assert "REPO_URL" not in out and "REVISION" not in out
