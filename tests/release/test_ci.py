"""The CI definitions: both GitHub workflows against the GitHub Actions workflow schema (the one
check-jsonschema vendors), and the Jenkinsfile's pipeline shape. Each calls the scripts and
nothing else."""
from __future__ import annotations

import re

import pytest
import yaml

from conftest import ROOT, run

WORKFLOWS = ROOT / ".github" / "workflows"
JENKINSFILE = ROOT / "Jenkinsfile"


def workflow(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def steps_run(doc: dict) -> list[str]:
    return [step["run"] for job in doc["jobs"].values() for step in job["steps"] if "run" in step]


@pytest.mark.parametrize("name", ["ci.yml", "release.yml"])
def test_workflow_matches_the_github_schema(name):
    proc = run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", WORKFLOWS / name, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflow_schema_check_catches_a_mistake(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text((WORKFLOWS / "ci.yml").read_text().replace("runs-on:", "runs_on:"))
    proc = run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", broken, check=False)
    assert proc.returncode != 0


def test_ci_runs_the_readme_test_command_on_push_and_pull_request():
    doc = workflow("ci.yml")
    triggers = doc[True] if True in doc else doc["on"]  # YAML 1.1 reads `on` as true
    assert set(triggers) == {"push", "pull_request"}
    runs = steps_run(doc)
    assert len(runs) == 1 and runs[0].endswith("./.ci/run")
    assert "./scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


def test_release_runs_the_release_script_on_a_v_tag_with_the_workflow_token():
    doc = workflow("release.yml")
    triggers = doc[True] if True in doc else doc["on"]
    assert triggers == {"push": {"tags": ["v*"]}}
    assert set(doc["jobs"]) == {"release", "sign"}
    release = doc["jobs"]["release"]
    assert release["permissions"]["packages"] == "write"
    runs = steps_run({"jobs": {"release": release}})
    assert [r.split()[-1] for r in runs[:1]] == ["scripts/setup/release.sh"]
    command = " ".join(runs[1].split())
    assert "scripts/release.sh --skip-tests" in command and '"ghcr.io/' in command
    step = next(s for s in release["steps"] if s.get("run") == runs[1])
    assert step["env"]["REGISTRY_PASSWORD"] == "${{ secrets.GITHUB_TOKEN }}"
    assert len(runs) == 2, "the release job calls the scripts and nothing else"
    # The sign job (tests/lint/test_signing.py checks what it signs) calls one script too.
    assert steps_run({"jobs": {"sign": doc["jobs"]["sign"]}}) == ['scripts/release/sign.sh "${GITHUB_REF_NAME#v}"']


def test_jenkinsfile_has_the_seed_stages_and_calls_only_the_scripts():
    text = JENKINSFILE.read_text()
    assert re.search(r"^pipeline \{", text, re.MULTILINE), "a declarative pipeline"
    stages = re.findall(r"stage\('([^']+)'\)", text)
    assert stages == ["Checkout", "Test", "Build", "Push", "Sign", "Deploy"]
    bodies = dict(zip(stages, re.split(r"stage\('[^']+'\)", text)[1:], strict=True))
    commands = {stage: re.findall(r"\bsh '([^']*)'", body) for stage, body in bodies.items()}
    for stage, found in commands.items():
        for command in found:
            assert re.match(r"(\./)?scripts/[a-z/]+\.sh\b", command), f"{stage}: {command}"
    assert commands["Test"] == ["./scripts/test.sh"]
    assert any("--phase build" in c for c in commands["Build"])
    assert any("--phase push" in c for c in commands["Push"])
    assert any("--phase deploy" in c for c in commands["Deploy"])
    # Sign: with a key from the credentials store, or skipped, saying why in one line.
    assert commands["Sign"] == ['scripts/release/sign.sh --key "$COSIGN_KEY"']
    assert re.search(r"if \(!params\.COSIGN_KEY_CREDENTIALS\?\.trim\(\)\) \{\s*echo 'Sign: skipped: no cosign key configured",
                     bodies["Sign"])
    assert "credentialsId: params.COSIGN_KEY_CREDENTIALS" in bodies["Sign"]
    # Credentials come from the Jenkins store, bound only where they are needed.
    assert "credentialsId: 'racontemoi-registry'" in bodies["Push"]
    assert "withCredentials" not in bodies["Build"] + bodies["Test"]
    assert not re.search(r"(password|token)\s*[:=]\s*['\"][^'\"$]", text, re.IGNORECASE), "no credential written down"


def test_release_phases_exist_in_the_script():
    text = (ROOT / "scripts" / "release.sh").read_text()
    for phase in ("build", "push", "deploy"):
        assert re.search(rf"^    {phase}\) ", text, re.MULTILINE), phase
