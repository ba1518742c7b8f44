"""The release workflow signs what the release published, the way docs/release.md tells users to
verify it. Read from .github/workflows/release.yml and run as it is written, with a stand-in cosign
that records its arguments (nothing can sign here: keyless signing needs GitHub's OIDC issuer):

- every artifact that scripts/release.sh writes into release.env (both images, the chart, the SBOM)
  is signed by its digest, never by a tag; the SBOM is attested to the back image as CycloneDX;
- both images get build provenance (actions/attest-build-provenance, pushed to the registry), for
  the digests release.env names;
- only the job that signs can mint an OIDC token, and every action is pinned by commit.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
RELEASE_SH = ROOT / "scripts" / "release.sh"
SIGN_SH = ROOT / "scripts" / "release" / "sign.sh"
VERSION = "9.8.7"
REGISTRY = "ghcr.io/acme"
PROVENANCE = "actions/attest-build-provenance"


def workflow() -> dict:
    return yaml.safe_load((WORKFLOWS / "release.yml").read_text())


def release_env_lines() -> list[str]:
    """The lines scripts/release.sh writes to release.env, variables filled with sample values."""
    text = RELEASE_SH.read_text()
    body = re.search(r'cat >"\$out/release\.env" <<EOF\n(.*?)\nEOF\n', text, re.DOTALL)
    assert body, "scripts/release.sh no longer writes release.env with a here-document"
    values = {
        "version": VERSION, "revision": "0" * 40,
        "back_repo": f"{REGISTRY}/racontemoi-back", "front_repo": f"{REGISTRY}/racontemoi-front",
        "chart_repo": f"{REGISTRY}/charts", "sbom_repo": f"{REGISTRY}/racontemoi-sbom",
    }
    for n, name in enumerate(("back", "front", "chart", "sbom"), start=1):
        values[f"{name}_digest"] = "sha256:" + f"{n:x}" * 64

    def fill(match: re.Match) -> str:
        assert match[1] in values, f"release.env names ${match[1]}: give it a sample value here"
        return values[match[1]]

    return [re.sub(r"\$\{?([a-z_]+)\}?", fill, line) for line in body[1].splitlines()]


def published() -> dict[str, str]:
    """release.env's artifacts (the values pinned by a digest) as REPOSITORY@sha256:..., no tag."""
    found = {}
    for line in release_env_lines():
        name, _, value = line.partition("=")
        if "@sha256:" in value:
            repo, _, digest = value.removeprefix("oci://").rpartition("@")
            found[name] = f"{repo.rsplit(':', 1)[0] if ':' in repo.rsplit('/', 1)[-1] else repo}@{digest}"
    return found


@pytest.fixture
def release_dir(tmp_path: Path) -> Path:
    """A work tree with the signing script and a published release's dist/release/VERSION."""
    (tmp_path / "scripts" / "release").mkdir(parents=True)
    shutil.copy(SIGN_SH, tmp_path / "scripts" / "release" / "sign.sh")
    out = tmp_path / "dist" / "release" / VERSION
    out.mkdir(parents=True)
    (out / "release.env").write_text("\n".join(release_env_lines()) + "\n")
    (out / f"racontemoi-back-{VERSION}.cdx.json").write_text('{"bomFormat": "CycloneDX"}\n')
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    cosign = bin_dir / "cosign"
    cosign.write_text(f"#!{sys.executable}\nimport json, os, sys\n"
                      "with open(os.environ['COSIGN_CALLS'], 'a') as f:\n"
                      "    f.write(json.dumps(sys.argv[1:]) + '\\n')\n")
    cosign.chmod(cosign.stat().st_mode | stat.S_IEXEC)
    return tmp_path


def run_sign(cwd: Path, command: str, **env: str) -> tuple[subprocess.CompletedProcess, list[list[str]], dict]:
    calls, outputs = cwd / "cosign-calls", cwd / "github-output"
    calls.write_text("")
    outputs.write_text("")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ACTIONS_", "GITHUB_", "COSIGN_", "REGISTRY_"))}
    base.update(PATH=f"{cwd / 'bin'}:{os.environ['PATH']}", COSIGN_CALLS=str(calls), GITHUB_OUTPUT=str(outputs),
                GITHUB_REF_NAME=f"v{VERSION}", **env)
    proc = subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True, env=base)
    print(proc.stdout + proc.stderr)
    found = [json.loads(line) for line in calls.read_text().splitlines()]
    return proc, found, dict(line.split("=", 1) for line in outputs.read_text().splitlines())


def sign_job() -> tuple[str, dict, dict]:
    """(job id, job, the step that runs scripts/release/sign.sh)."""
    for name, job in workflow()["jobs"].items():
        for step in job["steps"]:
            if "scripts/release/sign.sh" in step.get("run", ""):
                return name, job, step
    pytest.fail("no job of release.yml runs scripts/release/sign.sh")


def test_release_env_names_both_images_the_chart_and_the_sbom_by_digest():
    assert set(published()) == {"BACK_IMAGE", "FRONT_IMAGE", "CHART", "SBOM"}


def test_the_workflow_signs_every_artifact_of_release_env_by_digest(release_dir):
    _, job, step = sign_job()
    proc, calls, outputs = run_sign(release_dir, step["run"], ACTIONS_ID_TOKEN_REQUEST_URL="https://token.invalid",
                                    ACTIONS_ID_TOKEN_REQUEST_TOKEN="t")
    assert proc.returncode == 0
    signed = [c[-1] for c in calls if c[0] == "sign"]
    assert sorted(signed) == sorted(published().values()), "each artifact of release.env signed once, by digest"
    for call in calls:
        assert call[0] == "login" or "--key" not in call, "keyless in the workflow"
        assert f":{VERSION}" not in " ".join(call), f"signed by tag: {call}"
    # The SBOM as a CycloneDX attestation of the back image, by digest.
    attests = [c for c in calls if c[0] == "attest"]
    assert len(attests) == 1
    attest = attests[0]
    assert attest[-1] == published()["BACK_IMAGE"]
    assert attest[attest.index("--type") + 1] == "cyclonedx"
    predicate = release_dir / attest[attest.index("--predicate") + 1]
    assert json.loads(predicate.read_text())["bomFormat"] == "CycloneDX"
    # The digests the provenance steps read.
    back_repo, back_digest = published()["BACK_IMAGE"].split("@")
    front_repo, front_digest = published()["FRONT_IMAGE"].split("@")
    assert outputs == {"back-name": back_repo, "back-digest": back_digest,
                       "front-name": front_repo, "front-digest": front_digest}
    # cosign comes before, from its pinned installer.
    uses = [s.get("uses", "") for s in job["steps"]]
    assert any(u.startswith("sigstore/cosign-installer@") for u in uses[: job["steps"].index(step)])


def test_both_images_get_build_provenance_pushed_to_the_registry():
    _, job, step = sign_job()
    steps = [s for s in job["steps"] if s.get("uses", "").startswith(PROVENANCE + "@")]
    subjects = {(s["with"]["subject-name"], s["with"]["subject-digest"]) for s in steps}
    sign_id = step["id"]
    assert subjects == {
        (f"${{{{ steps.{sign_id}.outputs.{image}-name }}}}", f"${{{{ steps.{sign_id}.outputs.{image}-digest }}}}")
        for image in ("back", "front")
    }
    for s in steps:
        assert s["with"]["push-to-registry"] is True
        assert job["steps"].index(s) > job["steps"].index(step)


def test_the_sign_job_reads_the_release_env_the_release_job_wrote():
    doc = workflow()
    _, job, _ = sign_job()
    needs = job.get("needs", [])
    needs = [needs] if isinstance(needs, str) else needs
    [upstream] = needs
    uploads = [s for s in doc["jobs"][upstream]["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    downloads = [s for s in job["steps"] if s.get("uses", "").startswith("actions/download-artifact@")]
    assert len(uploads) == 1 and len(downloads) == 1
    assert uploads[0]["with"]["name"] == downloads[0]["with"]["name"]
    paths = uploads[0]["with"]["path"]
    assert "dist/release/*/release.env" in paths and "dist/release/*/*.cdx.json" in paths
    assert downloads[0]["with"]["path"] == "dist/release"
    release_step = next(s for s in doc["jobs"][upstream]["steps"] if "scripts/release.sh" in s.get("run", ""))
    assert doc["jobs"][upstream]["steps"].index(release_step) < doc["jobs"][upstream]["steps"].index(uploads[0])


def test_only_the_signing_job_may_mint_an_oidc_token():
    doc = workflow()
    assert doc.get("permissions") == {}, "no default permissions: each job names its own"
    name, _, _ = sign_job()
    for job_name, job in doc["jobs"].items():
        permissions = job.get("permissions")
        assert isinstance(permissions, dict), f"{job_name} names its permissions"
        if job_name == name:
            assert permissions == {"contents": "read", "packages": "write", "id-token": "write", "attestations": "write"}
        else:
            assert "id-token" not in permissions and "attestations" not in permissions, job_name


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.y*ml")), ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit_with_its_release_in_a_comment(path):
    found = 0
    for line in path.read_text().splitlines():
        match = re.match(r"\s*(?:-\s+)?uses:\s*(\S+)(.*)$", line)
        if not match:
            continue
        found += 1
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", match[1]), f"not pinned by commit: {line.strip()}"
        assert re.fullmatch(r"\s+# v\d+\.\d+\.\d+", match[2]), f"no release comment: {line.strip()}"
    assert found


def test_signing_with_a_key_signs_the_same_artifacts_with_that_key(release_dir):
    proc, calls, _ = run_sign(release_dir, f"scripts/release/sign.sh --key cosign.key {VERSION}", COSIGN_PASSWORD="x")
    assert proc.returncode == 0
    assert sorted(c[-1] for c in calls if c[0] == "sign") == sorted(published().values())
    for call in calls:
        assert call[call.index("--key") + 1] == "cosign.key"


def test_keyless_signing_is_refused_outside_github_actions(release_dir):
    proc, calls, _ = run_sign(release_dir, f"scripts/release/sign.sh {VERSION}")
    assert proc.returncode != 0 and not calls
    assert "keyless signing needs the OIDC identity of a GitHub Actions job" in proc.stderr


def test_an_artifact_not_pinned_by_digest_is_refused_and_nothing_is_signed(release_dir):
    env_file = release_dir / "dist" / "release" / VERSION / "release.env"
    env_file.write_text(re.sub(r"^(FRONT_IMAGE=[^@]*)@.*$", r"\1", env_file.read_text(), flags=re.MULTILINE))
    proc, calls, _ = run_sign(release_dir, f"scripts/release/sign.sh --key cosign.key {VERSION}")
    assert proc.returncode != 0 and not calls
    assert "FRONT_IMAGE=" in proc.stderr and "is not pinned by digest" in proc.stderr
