"""checkov: 0 failed checks. Skips only in .checkov.yaml, with their reasons, plus two reasoned
checkov.io/skip annotations on the chart's helm test pods. checkov runs once per framework (it
takes seconds to start), over every file of that kind. (hadolint checks the Dockerfiles in the
lint stage.)"""
import json

import pytest

from conftest import DATABASE_RENDERS, K8S, ROOT, run, tool

CONFIG = str(ROOT / ".checkov.yaml")
DOCKERFILES = [ROOT / "back" / "Dockerfile", ROOT / "front" / "Dockerfile"]
CHART_RENDERS = ["default", "all-enabled", "persistence", "argocd", "knative", "argocd-dev", *DATABASE_RENDERS]


def checkov(*args: str) -> list[dict]:
    proc = run(tool("checkov"), "--config-file", CONFIG, "--output", "json", *args, check=False)
    try:
        reports = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov printed no JSON report (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return reports if isinstance(reports, list) else [reports]


def failures(reports: list[dict], path_part: str = "") -> list[str]:
    return [f"{c['check_id']} {c['check_name']}: {c['resource']} ({c['file_path']})"
            for report in reports for c in report["results"]["failed_checks"] if path_part in c["file_path"]]


@pytest.fixture(scope="module")
def chart_reports(renders):
    args = []
    for scenario in CHART_RENDERS:
        args += ["--file", str(renders[scenario])]
    return checkov(*args, "--framework", "kubernetes")


def test_checkov_k8s_kustomization():
    """The kustomize framework: checkov builds k8s/ as `kubectl apply -k k8s/` would."""
    reports = checkov("--directory", str(K8S), "--framework", "kustomize")
    assert not failures(reports), "\n".join(failures(reports))
    assert sum(r["summary"]["resource_count"] for r in reports) >= 5
    assert all(r["summary"]["parsing_errors"] == 0 for r in reports)


@pytest.mark.parametrize("scenario", CHART_RENDERS)
def test_checkov_chart_render(scenario, chart_reports):
    found = failures(chart_reports, f"chart-{scenario}.yaml")
    assert not found, "\n".join(found)
    passed = [c for r in chart_reports for c in r["results"]["passed_checks"]
              if f"chart-{scenario}.yaml" in c["file_path"]]
    assert len(passed) > 50, "checkov ran no checks on this render"


def test_checkov_skips_are_reasoned_and_only_on_test_pods(chart_reports):
    skipped = [c for r in chart_reports for c in r["results"]["skipped_checks"]]
    assert skipped
    for check in skipped:
        assert check["check_result"].get("suppress_comment"), f"{check['check_id']} skipped without a reason"
        if check["check_id"] == "CKV_K8S_35":
            # With the CloudNativePG Pooler, the back's STUDENTS_DATABASE_URL is composed by the
            # kubelet from the operator's Secret ($(VAR) expansion), which only env supports.
            assert check["resource"] == "Deployment.racontemoi.racontemoi-back", check["resource"]
            assert "$(VAR)" in check["check_result"]["suppress_comment"]
            continue
        assert check["resource"].startswith("Pod.") and "-test-" in check["resource"], check["resource"]
        assert check["check_id"] in {"CKV_K8S_8", "CKV_K8S_9"}


@pytest.fixture(scope="module")
def dockerfile_reports():
    present = [p for p in DOCKERFILES if p.exists()]
    if not present:
        pytest.skip("no Dockerfile yet")
    args = []
    for path in present:
        args += ["--file", str(path)]
    return checkov(*args, "--framework", "dockerfile")


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_checkov_dockerfile(dockerfile, dockerfile_reports):
    if not dockerfile.exists():
        pytest.skip(f"{dockerfile.relative_to(ROOT)} does not exist yet")
    found = failures(dockerfile_reports, f"{dockerfile.parent.name}/Dockerfile")
    assert not found, "\n".join(found)
    assert any(f"{dockerfile.parent.name}/Dockerfile" in c["file_path"]
               for r in dockerfile_reports for c in r["results"]["passed_checks"])
