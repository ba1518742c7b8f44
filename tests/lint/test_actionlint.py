"""actionlint (the lint stage runs it over .github/workflows/) passes on our workflows, and fails
on the mistakes the schema check cannot see: a job that needs one that does not exist, a step
output that no step writes, an action pinned to a release whose runtime GitHub removed, and (with
shellcheck on PATH, as the lint stage has it) a `run:` script that splits a variable."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
ACTIONLINT = Path(sys.executable).parent / "actionlint"


def actionlint(*paths: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(ACTIONLINT), "-no-color", *map(str, paths)], cwd=ROOT, capture_output=True, text=True)
    print(proc.stdout + proc.stderr)
    return proc


def broken(tmp_path: Path, old: str, new: str) -> Path:
    text = (WORKFLOWS / "release.yml").read_text()
    assert old in text
    copy = tmp_path / ".github" / "workflows" / "release.yml"
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text(text.replace(old, new, 1))
    return copy


def test_our_workflows_pass():
    assert actionlint(*sorted(WORKFLOWS.glob("*.y*ml"))).returncode == 0


@pytest.mark.parametrize(("old", "new", "message"), [
    ("needs: release", "needs: relaese", 'needs job "relaese" which does not exist'),
    ("steps.sign.outputs.back-digest", "steps.sgin.outputs.back-digest", 'property "sgin" is not defined'),
    ("actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1  # v7.0.1", "actions/checkout@v4", "node20"),
    pytest.param('sign.sh "${GITHUB_REF_NAME#v}"', "sign.sh ${GITHUB_REF_NAME#v}", "SC2086",
                 marks=pytest.mark.skipif(not shutil.which("shellcheck"), reason="no shellcheck on PATH")),
])
def test_a_broken_workflow_fails(tmp_path, old, new, message):
    proc = actionlint(broken(tmp_path, old, new))
    assert proc.returncode != 0
    assert message in proc.stdout

