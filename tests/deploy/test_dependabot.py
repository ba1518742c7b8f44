""".github/dependabot.yml (issue 22): valid for its real schema (the one check-jsonschema vendors,
as the release stage checks the workflows against theirs), and it covers what we pin: the crates,
the Python tools, the workflows' actions and both Dockerfiles' base images, weekly, grouped so that
a week brings a handful of pull requests."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, run, tool

DEPENDABOT = ROOT / ".github" / "dependabot.yml"


def config() -> dict:
    return yaml.safe_load(DEPENDABOT.read_text())


def directories(update: dict) -> list[Path]:
    return [ROOT / d.lstrip("/") for d in update.get("directories", [update.get("directory")])]


def test_matches_the_dependabot_schema():
    proc = run(tool("check-jsonschema"), "--builtin-schema", "vendor.dependabot", str(DEPENDABOT), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("old, new", [("interval: weekly", "interval: fortnightly"),
                                      ("package-ecosystem: cargo", "package-ecosystem: rust"),
                                      ("    groups:", "    group:")])
def test_the_schema_check_catches_a_mistake(tmp_path, old, new):
    broken = tmp_path / "dependabot.yml"
    broken.write_text(DEPENDABOT.read_text().replace(old, new, 1))
    proc = run(tool("check-jsonschema"), "--builtin-schema", "vendor.dependabot", str(broken), check=False)
    assert proc.returncode != 0, proc.stdout


def test_covers_every_pinned_ecosystem():
    updates = {u["package-ecosystem"]: u for u in config()["updates"]}
    assert set(updates) == {"cargo", "pip", "github-actions", "docker"}
    [cargo] = directories(updates["cargo"])
    assert (cargo / "Cargo.toml").is_file() and (cargo / "Cargo.lock").is_file()
    # pip: the one pinned tool set and every requirements file that takes its versions from it.
    [pip] = directories(updates["pip"])
    assert (pip / "constraints.txt").is_file()
    for requirements in [*ROOT.glob("tests/*/requirements.txt"), ROOT / "bench" / "requirements.txt"]:
        assert re.search(r"^-c .*constraints\.txt$", requirements.read_text(), re.MULTILINE), requirements
    [actions] = directories(updates["github-actions"])
    assert actions == ROOT and list((ROOT / ".github" / "workflows").glob("*.yml"))
    # docker: the directory of every Dockerfile the release builds, and of no other.
    dockerfiles = {p.parent for p in (ROOT / "back" / "Dockerfile", ROOT / "front" / "Dockerfile")}
    assert set(directories(updates["docker"])) == dockerfiles
    for dockerfile in dockerfiles:
        assert re.search(r"^FROM \S+:\S+", (dockerfile / "Dockerfile").read_text(), re.MULTILINE)


def test_weekly_and_grouped_into_a_handful_of_pull_requests():
    updates = config()["updates"]
    for update in updates:
        name = update["package-ecosystem"]
        assert update["schedule"]["interval"] == "weekly", name
        assert update.get("groups"), f"{name}: one grouped pull request a week, not one per dependency"
        assert update.get("open-pull-requests-limit", 5) <= 5, name
    assert len({u["schedule"]["day"] for u in updates}) == 1, "one day a week for all of them"
