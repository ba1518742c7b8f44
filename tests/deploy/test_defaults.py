"""One source for each default: every copy of a default agrees with its source.

The sources: the back's defaults are the `env.parse("NAME", default, ...)` calls of
`back/src/config/mod.rs` (a literal or a `const` of that file); the front's are the
`export NAME="${NAME:-default}"` lines of `front/docker-entrypoint.d/19-racontemoi-env.envsh`.
The copies: k8s/ (kustomize output), the chart's default render, compose.yaml, both Dockerfiles,
`front/html/api.js`'s DEFAULT_CONFIG and the README's configuration table. A copy that sets a
different value on purpose is listed in OVERRIDES, with its reason; anything else that differs
fails here, so a changed default can never drift silently.
"""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

CONFIG_RS = ROOT / "back" / "src" / "config" / "mod.rs"
ENVSH = ROOT / "front" / "docker-entrypoint.d" / "19-racontemoi-env.envsh"

PRIVATE_RANGES = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"

# (where, variable) -> value: copies that differ from the default on purpose.
OVERRIDES = {
    # JSON logs for a cluster's log collector; text stays the default on a terminal.
    ("k8s", "LOG_FORMAT"): "json",
    ("chart", "LOG_FORMAT"): "json",
    # The front runs in a private range there, so its X-Forwarded-For names the end user
    # (docs/students.md, "Failed logins"); the back alone trusts no proxy.
    **{(where, "TRUSTED_PROXIES"): PRIVATE_RANGES for where in ("k8s", "chart", "compose")},
    # Their store is the read-only ConfigMap (docs/students.md, "One writer").
    ("k8s", "STUDENTS_READ_ONLY"): "true",
    ("chart", "STUDENTS_READ_ONLY"): "true",
}


def back_defaults(source: str) -> dict[str, str]:
    """NAME -> default of every `env.parse("NAME", <default>, ...)` in config.rs."""
    consts = dict(re.findall(r'const\s+([A-Z][A-Z0-9_]*)\s*:\s*&str\s*=\s*"([^"]*)"\s*;', source))
    defaults = {}
    for name, literal, const in re.findall(
        r'env\s*\.\s*parse\(\s*"([A-Z][A-Z0-9_]*)"\s*,\s*(?:"([^"]*)"|([A-Z][A-Z0-9_]*))\s*,', source
    ):
        defaults[name] = consts[const] if const else literal
    # STUDENT_AGE_FILE is read with env.get(...).unwrap_or_else(|| CONST.into()).
    for name, const in re.findall(
        r'env\s*\.\s*get\(\s*"([A-Z][A-Z0-9_]*)"\s*\)\s*\.\s*unwrap_or_else\(\s*\|\|\s*([A-Z][A-Z0-9_]*)', source
    ):
        defaults[name] = consts[const]
    return defaults


def front_defaults(source: str) -> dict[str, str]:
    """NAME -> default of every `export NAME="${NAME:-default}"` in the envsh."""
    return dict(re.findall(r'^\s*export\s+([A-Z][A-Z0-9_]*)="\$\{\1:-([^}"]*)\}"\s*$', source, re.MULTILINE))


BACK = back_defaults(CONFIG_RS.read_text(encoding="utf-8"))
FRONT = front_defaults(ENVSH.read_text(encoding="utf-8"))


def check(where: str, copies: dict[str, str], defaults: dict[str, str]) -> list[str]:
    """The copies that disagree with their default (names without a default are not copies)."""
    problems = []
    for name, value in copies.items():
        if name not in defaults:
            continue
        want = OVERRIDES.get((where, name), defaults[name])
        if value != want:
            problems.append(f"{where}: {name}={value!r}, but the default is {defaults[name]!r}")
    return problems


def env_of(docs: list[dict], deployment: str) -> dict[str, str]:
    """The literal env values of a Deployment's first container, by name."""
    matches = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == deployment]
    assert len(matches) == 1, f"expected one Deployment {deployment}"
    container = matches[0]["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: str(e["value"]) for e in container.get("env", []) if "value" in e}


def container_port(docs: list[dict], deployment: str) -> str:
    match = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == deployment)
    return str(match["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"])


def dockerfile(path: Path) -> tuple[dict[str, str], list[str]]:
    """(ENV name -> value, EXPOSEd ports) of a Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    env, exposed = {}, []
    for line in text.splitlines():
        words = line.strip().split(None, 1)
        if len(words) == 2 and words[0] == "ENV":
            for token in shlex.split(words[1]):
                name, _, value = token.partition("=")
                env[name] = value
        elif len(words) == 2 and words[0] == "EXPOSE":
            exposed += [port.split("/")[0] for port in words[1].split()]
    return env, exposed


def compose_defaults(service: dict) -> dict[str, str]:
    """NAME -> the fallback of `NAME: ${VAR:-fallback}` entries of a compose service."""
    environment = service.get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    found = {}
    for name, value in environment.items():
        match = re.fullmatch(r"\$\{([A-Z][A-Z0-9_]*):?-([^}]*)\}", str(value))
        found[name] = match.group(2) if match else str(value)
    return found


def readme_defaults() -> dict[str, str]:
    """NAME -> default of each row of the README's configuration table ('' for unset/empty)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    found = {}
    for row in section.splitlines():
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        if len(cells) < 2:
            continue
        names = re.findall(r"`([A-Z][A-Z0-9_]*)`", cells[0])
        code = re.fullmatch(r"`([^`]*)`", cells[1])
        for name in names:
            found[name] = code.group(1) if code else ""
    return found


def test_the_sources_are_parsed():
    """Guards the parsers: a source whose form changed must fail here, not silently check nothing."""
    assert {"HOST", "PORT", "LOG_FORMAT", "ACCESS_LOG", "SHUTDOWN_TIMEOUT", "HEADER_READ_TIMEOUT",
            "IDLE_TIMEOUT", "CORS_ALLOW_ORIGIN", "STUDENTS_API_PREFIX", "STUDENT_AGE_FILE"} <= set(BACK), BACK
    assert {"BACK_URL", "STORY_URL", "STUDENTS_API_URL", "STUDENTS_API_PREFIX", "FRONT_LISTEN",
            "FRONT_HTML_DIR", "FRONT_CONFIG_JS", "NGINX_ENVSUBST_OUTPUT_DIR"} <= set(FRONT), FRONT


def test_back_and_front_share_the_students_prefix():
    assert BACK["STUDENTS_API_PREFIX"] == FRONT["STUDENTS_API_PREFIX"]


def test_readme_table():
    readme = readme_defaults()
    assert set(BACK) | set(FRONT) <= set(readme), "README table lacks a variable"
    assert check("README", readme, BACK) + check("README", readme, FRONT) == []


def test_k8s(k8s_docs):
    back, front = env_of(k8s_docs, "back"), env_of(k8s_docs, "front")
    assert check("k8s", back, BACK) + check("k8s", front, FRONT) == []
    assert container_port(k8s_docs, "back") == BACK["PORT"]
    assert container_port(k8s_docs, "front") == FRONT["FRONT_LISTEN"]


def test_chart_default_render(chart_default):
    back, front = env_of(chart_default, "racontemoi-back"), env_of(chart_default, "racontemoi-front")
    # The chart's BACK_URL names its own release's Service: only its port is a copy.
    back_url = front.pop("BACK_URL")
    assert back_url.endswith(":" + BACK["PORT"]), back_url
    assert check("chart", back, BACK) + check("chart", front, FRONT) == []
    assert container_port(chart_default, "racontemoi-back") == BACK["PORT"]
    assert container_port(chart_default, "racontemoi-front") == FRONT["FRONT_LISTEN"]


def test_chart_values():
    values = yaml.safe_load((ROOT / "helm" / "racontemoi" / "values.yaml").read_text(encoding="utf-8"))
    back = {k: str(v) for k, v in values["back"]["env"].items() if v not in (None, "")}
    front = {k: str(v) for k, v in values["front"]["env"].items() if v not in (None, "")}
    assert values["students"]["apiPrefix"] == BACK["STUDENTS_API_PREFIX"]
    assert check("chart", back, BACK) + check("chart", front, FRONT) == []


def test_compose():
    services = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))["services"]
    back, front = compose_defaults(services["back"]), compose_defaults(services["front"])
    assert check("compose", back, BACK) + check("compose", front, FRONT) == []
    # "address:host port:container port": the container side is the program's port.
    assert services["back"]["ports"][0].rsplit(":", 1)[1] == BACK["PORT"]
    assert services["front"]["ports"][0].rsplit(":", 1)[1] == FRONT["FRONT_LISTEN"]


@pytest.mark.parametrize("component", ["back", "front"])
def test_dockerfiles(component):
    env, exposed = dockerfile(ROOT / component / "Dockerfile")
    defaults = BACK if component == "back" else FRONT
    assert check(f"{component}/Dockerfile", env, defaults) == []
    assert exposed == [defaults["PORT" if component == "back" else "FRONT_LISTEN"]]


def test_page_default_config():
    """front/html/api.js falls back to these when config.js is missing or blank."""
    text = (ROOT / "front" / "html" / "api.js").read_text(encoding="utf-8")
    body = re.search(r"DEFAULT_CONFIG\s*=\s*Object\.freeze\(\{(.*?)\}\)", text, re.DOTALL)
    assert body, "DEFAULT_CONFIG not found in front/html/api.js"
    config = dict(re.findall(r'(\w+)\s*:\s*"([^"]*)"', body.group(1)))
    copies = {"STORY_URL": config.get("storyUrl"), "STUDENTS_API_URL": config.get("studentsApiUrl")}
    assert check("front/html/api.js", copies, FRONT) == []
