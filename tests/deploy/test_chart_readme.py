"""The chart's README: `helm show readme` prints it, it covers every mode, and its values table is
exactly the one generated from values.yaml (so it cannot drift)."""
import yaml

from chart_readme import leaves, render
from conftest import CHART, run, tool


def test_helm_show_readme_prints_it():
    out = run(tool("helm"), "show", "readme", str(CHART)).stdout
    assert out.strip() == (CHART / "README.md").read_text().strip()
    for mode in ("### Plain", "### Persistence", "### Knative", "### Ingress or Gateway API HTTPRoute",
                 "### Argo CD", "knative.enabled=true", "students.persistence.enabled=true", "httpRoute.enabled=true",
                 "ingress.enabled=true"):
        assert mode in out, mode


def test_values_table_is_generated_from_values_yaml():
    readme = (CHART / "README.md").read_text()
    assert render(readme) == readme, "run: python3 tests/deploy/chart_readme.py"
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for key, _ in leaves(values):
        assert f"| `{key}` |" in readme, key
