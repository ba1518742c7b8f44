"""The env names the chart and k8s/ set are the names the back and the front really read, taken
from their sources: string literals in back/src/**/*.rs, ${NAME} in the front's nginx templates
and $NAME in its /docker-entrypoint.d scripts."""
import json
import re

import pytest

from conftest import CHART, DATABASE_RENDERS, ROOT, pod_specs

BACK_SOURCES = sorted((ROOT / "back" / "src").rglob("*.rs"))
FRONT_SOURCES = sorted((ROOT / "front" / "templates").glob("*.template")) + \
    sorted((ROOT / "front" / "docker-entrypoint.d").glob("*"))
TARGETS = ["k8s", "default", "all-enabled", "persistence", "argocd", "knative", *DATABASE_RENDERS]
# Variables a values file may add through extraEnv for tools other than the app.
EXTRA_ENV_ALLOWED = {"RUST_BACKTRACE"}
# Variables the chart sets only for the kubelet to build STUDENTS_DATABASE_URL from ($(NAME)), with
# the CloudNativePG Pooler: the back never reads them.
URL_PARTS = {"STUDENTS_DATABASE_POOLER_USER", "STUDENTS_DATABASE_POOLER_PASSWORD"}


@pytest.fixture(scope="module")
def back_reads():
    if not BACK_SOURCES:
        pytest.skip("back/src has no Rust source yet")
    return {name for path in BACK_SOURCES for name in re.findall(r'"([A-Z][A-Z0-9_]{2,})"', path.read_text())}


@pytest.fixture(scope="module")
def front_reads():
    if not FRONT_SOURCES:
        pytest.skip("front/templates and front/docker-entrypoint.d do not exist yet")
    return {name for path in FRONT_SOURCES for name in re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", path.read_text())}


def contract_variables():
    """(name, used by) rows of the configuration table of README.md (the one table of the repository)."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            for name in re.findall(r"`([A-Z_]+)`", cells[0]):
                rows.append((name, cells[2]))
    assert len(rows) > 10
    return rows


def env_names(docs, component):
    names = set()
    for where, spec in pod_specs(docs):
        if not where.startswith("Pod/") and where.endswith(component):
            for container in spec["containers"]:
                names |= {e["name"] for e in container.get("env", [])}
    return names


@pytest.mark.parametrize("target", TARGETS)
def test_back_env_names_are_read_by_the_back(target, rendered, back_reads):
    names = env_names(rendered[target], "back")
    assert names
    assert names - EXTRA_ENV_ALLOWED - URL_PARTS <= back_reads, names - back_reads
    for where, spec in pod_specs(rendered[target]):
        for container in spec["containers"]:
            for part in URL_PARTS & {e["name"] for e in container.get("env", [])}:
                url = next(e["value"] for e in container["env"] if e["name"] == "STUDENTS_DATABASE_URL")
                assert f"$({part})" in url, f"{where}: {part} is set but not used"


@pytest.mark.parametrize("target", TARGETS)
def test_front_env_names_are_read_by_the_front(target, rendered, front_reads):
    names = env_names(rendered[target], "front")
    assert names
    assert names <= front_reads, names - front_reads


def test_every_contract_variable_can_be_set(back_reads, front_reads):
    """Each variable of the contract is read by its component and settable through the chart:
    in <component>.env (the schema's list) or set by the chart itself."""
    schema = json.loads((CHART / "values.schema.json").read_text())["properties"]
    settable = {
        "back": set(schema["back"]["properties"]["env"]["properties"]) | {
            "PORT", "STORIES_FILE", "STUDENTS_API_PREFIX", "STUDENT_AGE_FILE",
            "API_USERNAME_FILE", "API_PASSWORD_FILE", "API_USERNAME", "API_PASSWORD",
            # students.database: the URL as a file (the chart never puts it in a value), the CA.
            "STUDENTS_DATABASE_URL", "STUDENTS_DATABASE_URL_FILE", "STUDENTS_DATABASE_CA_FILE"},
        "front": set(schema["front"]["properties"]["env"]["properties"]) | {"BACK_URL", "STUDENTS_API_PREFIX"},
    }
    reads = {"back": back_reads, "front": front_reads}
    for name, used_by in contract_variables():
        for component in ("back", "front"):
            if component in used_by:
                assert name in reads[component], f"the contract says {component} reads {name}"
                assert name in settable[component], f"{name} cannot be set for {component} through the chart"


def test_schema_env_lists_only_names_the_components_read(back_reads, front_reads):
    schema = json.loads((CHART / "values.schema.json").read_text())["properties"]
    assert set(schema["back"]["properties"]["env"]["properties"]) <= back_reads
    assert set(schema["front"]["properties"]["env"]["properties"]) <= front_reads
