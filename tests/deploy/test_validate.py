"""Every manifest of a built-in kind against the Kubernetes API schemas (kubernetes-validate,
offline, strict); the custom resources, which those schemas lack, against their real CRDs in
test_crds.py, and the ServiceMonitor's wiring field by field here."""
import pytest
import yaml

from conftest import DATABASE_RENDERS, KUBE_VERSION, is_custom, run, tool

TARGETS = ["k8s", "default", "all-enabled", "persistence", "argocd", "knative", "argocd-dev", *DATABASE_RENDERS]


@pytest.mark.parametrize("target", TARGETS)
def test_kubernetes_validate_strict(target, renders, rendered, tmp_path):
    docs = [d for d in rendered[target] if not is_custom(d)]
    path = tmp_path / f"{target}.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    proc = run(tool("kubernetes-validate"), "--strict", "--kubernetes-version", KUBE_VERSION, str(path),
               check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count(" passed for resource ") == len(docs)


def test_kubernetes_validate_argocd_secret(argocd_docs, tmp_path):
    """The repository Secret is a core object: validated like the rest (the custom ones: test_crds.py)."""
    docs = [d for d in argocd_docs if not is_custom(d)]
    assert [d["kind"] for d in docs] == ["Secret"]
    path = tmp_path / "argocd.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    proc = run(tool("kubernetes-validate"), "--strict", "--kubernetes-version", KUBE_VERSION, str(path),
               check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_strict_validation_catches_a_misspelt_field(rendered, tmp_path):
    """The check above has teeth: an unknown field fails it."""
    docs = [d for d in rendered["default"] if d["kind"] == "Deployment"][:1]
    docs[0]["spec"]["template"]["spec"]["securityContext"]["runAsNonRot"] = True
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    proc = run(tool("kubernetes-validate"), "--strict", "--kubernetes-version", KUBE_VERSION, str(path),
               check=False)
    assert proc.returncode != 0 and "runAsNonRot" in proc.stdout + proc.stderr


def test_servicemonitor_fields(rendered):
    monitors = [d for d in rendered["all-enabled"] if d["kind"] == "ServiceMonitor"]
    assert len(monitors) == 1
    monitor = monitors[0]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(monitor["spec"]) <= {"selector", "namespaceSelector", "endpoints", "jobLabel"}
    selector = monitor["spec"]["selector"]["matchLabels"]
    back_service = next(d for d in rendered["all-enabled"]
                        if d["kind"] == "Service" and d["spec"]["selector"] == selector)
    assert back_service["metadata"]["name"] == "racontemoi-back"
    # The Service's labels must include the selector, or Prometheus finds nothing.
    assert selector.items() <= back_service["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == back_service["spec"]["ports"][0]["name"]
    assert endpoint["path"] == "/metrics"
    assert set(endpoint) <= {"port", "path", "interval", "scrapeTimeout", "scheme"}
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["racontemoi"]}


def test_the_docs_yaml_examples_of_built_in_kinds(tmp_path):
    """The built-in objects docs/deploy.md shows (the external database's export CronJob) are valid
    as they are written (the custom ones: test_crds.py)."""
    import re

    from conftest import ROOT, load_docs
    text = (ROOT / "docs" / "deploy.md").read_text()
    docs = [d for block in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL) for d in load_docs(block)
            if not is_custom(d)]
    assert "CronJob" in {d["kind"] for d in docs}
    path = tmp_path / "docs.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    proc = run(tool("kubernetes-validate"), "--strict", "--kubernetes-version", KUBE_VERSION, str(path),
               check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
