"""One version and one registry: scripts/version.sh prints them, sets them, and its `check` fails
when any place disagrees (the crate, the image labels, the chart's version and appVersion, the
k8s/ tags, the deploy values, and every default image reference)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import CHART, K8S, ROOT

# Every file scripts/version.sh reads or writes.
FILES = ["Cargo.toml", "Cargo.lock", "back/openapi.json", "back/Dockerfile", "front/Dockerfile",
         "helm/racontemoi/Chart.yaml", "helm/racontemoi/values.yaml", "helm/racontemoi/values-dev.yaml",
         "helm/racontemoi/values-prod.yaml", "k8s/kustomization.yaml", "scripts/version.sh",
         "docs/examples/k8s-overlay/kustomization.yaml"]


def version_sh(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(root / "scripts" / "version.sh"), *args], capture_output=True, text=True)


@pytest.fixture
def copy(tmp_path) -> Path:
    for name in FILES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tmp_path / name)
    return tmp_path


def test_every_place_agrees():
    proc = version_sh(ROOT, "check")
    assert proc.returncode == 0, proc.stderr
    version = version_sh(ROOT).stdout.strip()
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["version"] == chart["appVersion"] == version
    tags = [image["newTag"] for image in yaml.safe_load((K8S / "kustomization.yaml").read_text())["images"]]
    assert tags == [version, version]


def test_default_images_point_at_the_release_registry():
    registry = version_sh(ROOT, "registry").stdout.strip()
    assert registry and "/" in registry
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    images = yaml.safe_load((K8S / "kustomization.yaml").read_text())["images"]
    for component in ("back", "front"):
        assert values[component]["image"]["repository"] == f"{registry}/racontemoi-{component}"
        assert {"name": f"racontemoi-{component}", "newName": f"{registry}/racontemoi-{component}"}.items() <= \
            next(i for i in images if i["name"] == f"racontemoi-{component}").items()
        for env in ("dev", "prod"):
            env_values = yaml.safe_load((CHART / f"values-{env}.yaml").read_text())
            assert env_values[component]["image"]["repository"] == f"{registry}/racontemoi-{component}"


@pytest.mark.parametrize("file, old, new", [
    ("Cargo.toml", 'version = "{v}"', 'version = "9.9.9"'),
    ("back/Dockerfile", "ARG VERSION={v}", "ARG VERSION=9.9.9"),
    ("front/Dockerfile", "ARG VERSION={v}", "ARG VERSION=9.9.9"),
    ("helm/racontemoi/Chart.yaml", "appVersion: \"{v}\"", "appVersion: \"9.9.9\""),
    ("k8s/kustomization.yaml", "newTag: \"{v}\"", "newTag: \"9.9.9\""),
    ("helm/racontemoi/values-dev.yaml", "tag: \"{v}\"", "tag: \"99.0.0\""),
    ("helm/racontemoi/values.yaml", "tag: \"\"", "tag: \"{v}\""),
    ("helm/racontemoi/values-prod.yaml", "ghcr.io/", "registry.example.com/"),
    ("docs/examples/k8s-overlay/kustomization.yaml", "name: ghcr.io/", "name: registry.example.com/"),
])
def test_check_names_the_place_that_disagrees(copy, file, old, new):
    version = version_sh(copy).stdout.strip()
    path = copy / file
    text = path.read_text()
    assert old.format(v=version) in text
    path.write_text(text.replace(old.format(v=version), new.format(v=version), 1))
    proc = version_sh(copy, "check")
    assert proc.returncode == 1
    assert file in proc.stderr, proc.stderr


def test_set_writes_every_place(copy):
    proc = version_sh(copy, "set", "1.2.3")
    assert proc.returncode == 0, proc.stderr
    assert version_sh(copy).stdout.strip() == "1.2.3"
    assert version_sh(copy, "check").returncode == 0
    assert 'name = "back"\nversion = "1.2.3"' in (copy / "Cargo.lock").read_text()
    assert '"version": "1.2.3"' in (copy / "back/openapi.json").read_text()
    # The environments are not moved by a version bump: a release (dev) or a pull request (prod) does it.
    for env in ("dev", "prod"):
        assert (copy / f"helm/racontemoi/values-{env}.yaml").read_text() == \
            (ROOT / f"helm/racontemoi/values-{env}.yaml").read_text()


def test_set_registry_writes_every_image_reference(copy):
    proc = version_sh(copy, "registry", "set", "registry.example.com:5000/team")
    assert proc.returncode == 0, proc.stderr
    assert version_sh(copy, "registry").stdout.strip() == "registry.example.com:5000/team"
    assert version_sh(copy, "check").returncode == 0
    for file in ("helm/racontemoi/values.yaml", "helm/racontemoi/values-dev.yaml",
                 "helm/racontemoi/values-prod.yaml", "k8s/kustomization.yaml",
                 "docs/examples/k8s-overlay/kustomization.yaml"):
        assert "registry.example.com:5000/team/racontemoi-back" in (copy / file).read_text()


@pytest.mark.parametrize("args", [("set", "1.2"), ("set", "v1.2.3"), ("registry", "set", "Not A Registry")])
def test_bad_input_is_refused(copy, args):
    proc = version_sh(copy, *args)
    assert proc.returncode != 0 and proc.stderr.startswith("version: ")
