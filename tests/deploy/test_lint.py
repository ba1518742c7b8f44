"""yamllint on the hand-written YAML, and docs/deploy.md kept in step with the chart."""
import re

import yaml

from conftest import CHART, ROOT, run, tool

YAML_SOURCES = ["k8s", "argocd", "tests/deploy/values", "helm/racontemoi/values.yaml",
                "helm/racontemoi/values-dev.yaml", "helm/racontemoi/values-prod.yaml", ".github/workflows",
                "helm/racontemoi/Chart.yaml", ".checkov.yaml", ".yamllint", ".github/dependabot.yml", "docs/examples"]


def test_yamllint():
    proc = run(tool("yamllint"), "--strict", "--config-file", str(ROOT / ".yamllint"), *YAML_SOURCES, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _has_key(values, dotted):
    node = values
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def test_documented_values_exist():
    """Every `key` in the values table of docs/deploy.md is a real key of values.yaml."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    text = (ROOT / "docs" / "deploy.md").read_text().split("### Values that matter", 1)[1].split("\n#", 1)[0]
    keys = re.findall(r"^\| `([a-zA-Z][\w.]*)` \|", text, flags=re.MULTILINE)
    assert len(keys) >= 15, "the values table is missing"
    missing = [k for k in keys if not _has_key(values, k)]
    assert not missing, missing


def test_top_level_values_are_documented():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    text = (ROOT / "docs" / "deploy.md").read_text()
    for key in values:
        if key not in ("nameOverride", "fullnameOverride"):
            assert f"`{key}" in text, f"{key} is not in docs/deploy.md"
