"""docs/examples/: every Kyverno policy there is valid against Kyverno's real CRD
(`<repo>/../shared/crds/kyverno.*.yaml`, never copied into the repository; skipped with one line
where that folder is absent), as the API server's strict field validation would check it; and
both policies (the ClusterPolicy, and the same rule as an ImageValidatingPolicy) admit our images
exactly as docs/release.md verifies them: both images of the configured registry, signed keyless
by .github/workflows/release.yml on a version tag of the repository Argo CD deploys from, with the
identity and issuer the docs' commands give."""
from __future__ import annotations

import fnmatch
import re
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT.parent / "shared" / "crds"
EXAMPLES = ROOT / "docs" / "examples"
KYVERNO_CRDS = ("kyverno.clusterpolicies.yaml", "kyverno.imagevalidatingpolicies.yaml")
ISSUER = "https://token.actions.githubusercontent.com"


def api_server_schema(node: dict) -> dict:
    """A CRD's openAPIV3Schema for jsonschema with the API server's rules: unknown fields are
    errors unless x-kubernetes-preserve-unknown-fields; int-or-string; nullable."""
    out = {k: v for k, v in node.items() if k not in ("properties", "items", "additionalProperties")}
    if node.get("nullable") and "type" in node:
        out["type"] = [node["type"], "null"]
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if "properties" in node:
        out["properties"] = {name: api_server_schema(sub) for name, sub in node["properties"].items()}
    if "items" in node:
        out["items"] = api_server_schema(node["items"])
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        out["additionalProperties"] = api_server_schema(extra)
    elif extra is None and node.get("type") == "object" and not node.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


@pytest.fixture(scope="module")
def schemas() -> dict[tuple[str, str], dict]:
    """(apiVersion, kind) -> schema, for every version of Kyverno's CRDs in ../shared/crds."""
    missing = [name for name in KYVERNO_CRDS if not (CRDS / name).is_file()]
    if missing:
        pytest.skip(f"{CRDS} has no {', '.join(missing)}: the Kyverno example is not checked against its CRD")
    found = {}
    for name in KYVERNO_CRDS:
        crd = yaml.load((CRDS / name).read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        for version in crd["spec"]["versions"]:
            schema = api_server_schema(version["schema"]["openAPIV3Schema"])
            schema["properties"]["metadata"] = {"type": "object"}  # ObjectMeta: the API server's own check
            found[(f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])] = schema
    return found


def examples() -> list[dict]:
    return [doc for path in sorted(EXAMPLES.glob("*.y*ml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


def policy(kind: str = "ClusterPolicy") -> dict:
    [found] = [doc for doc in examples() if doc["kind"] == kind]
    return found


def violations(doc: dict, schemas) -> list[str]:
    schema = schemas.get((doc["apiVersion"], doc["kind"]))
    assert schema, f"no Kyverno CRD for {doc['apiVersion']} {doc['kind']}"
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
            for e in jsonschema.Draft4Validator(schema).iter_errors(doc)]


def test_every_kyverno_example_is_valid_against_its_crd(schemas):
    docs = [doc for doc in examples() if doc["apiVersion"].split("/")[0].endswith("kyverno.io")]
    assert sorted(doc["kind"] for doc in docs) == ["ClusterPolicy", "ImageValidatingPolicy"]
    for doc in docs:
        assert violations(doc, schemas) == [], doc["metadata"]["name"]


def test_a_misspelled_field_is_caught(schemas):
    for kind, keyless in (("ClusterPolicy", lambda d: d["spec"]["rules"][0]["verifyImages"][0]["attestors"][0]["entries"][0]["keyless"]),
                          ("ImageValidatingPolicy", lambda d: d["spec"]["attestors"][0]["cosign"]["keyless"]["identities"][0])):
        doc = policy(kind)
        entry = keyless(doc)
        entry["subjectRegexp"] = entry.pop("subjectRegExp")
        assert any("subjectRegexp" in v for v in violations(doc, schemas)), kind


def verification(kind: str) -> tuple[list[str], dict, dict]:
    """(image patterns, the keyless identity, the rest that decides) of the example of KIND."""
    spec = policy(kind)["spec"]
    if kind == "ClusterPolicy":
        [rule] = spec["rules"]
        [verify] = rule["verifyImages"]
        [attestor] = verify["attestors"]
        [entry] = attestor["entries"]
        return verify["imageReferences"], entry["keyless"], verify
    [attestor] = spec["attestors"]
    [identity] = attestor["cosign"]["keyless"]["identities"]
    [validation] = spec["validations"]
    assert f"verifyImageSignatures(image, [attestors.{attestor['name']}])" in validation["expression"]
    assert validation["expression"].startswith("images.containers.map(image,")
    return [ref["glob"] for ref in spec["matchImageReferences"]], identity, spec


KINDS = ["ClusterPolicy", "ImageValidatingPolicy"]


def identity_regexp(text: str) -> set[str]:
    """The identities a text's cosign commands verify (--certificate-identity-regexp '...')."""
    return set(re.findall(r"--certificate-identity-regexp '([^']+)'", text))


@pytest.mark.parametrize("kind", KINDS)
def test_it_covers_both_images_of_the_configured_registry_and_no_other(kind):
    registry = subprocess.run([ROOT / "scripts" / "version.sh", "registry"], capture_output=True, text=True,
                              check=True).stdout.strip()
    patterns, _, _ = verification(kind)

    def covered(image: str) -> bool:
        return any(fnmatch.fnmatchcase(image, pattern) for pattern in patterns)

    for name in ("racontemoi-back", "racontemoi-front"):
        assert covered(f"{registry}/{name}:0.2.0")
        assert covered(f"{registry}/{name}@sha256:{'a' * 64}")
        assert covered(f"{registry}/{name}:0.2.0@sha256:{'a' * 64}")
        assert not covered(f"{registry}/{name}x:0.2.0")
    assert not covered("docker.io/library/postgres:17")


@pytest.mark.parametrize("kind", KINDS)
def test_it_admits_only_signatures_of_the_release_workflow_on_a_version_tag(kind):
    _, keyless, rest = verification(kind)
    if kind == "ClusterPolicy":
        assert rest["type"] == "SigstoreBundle", "cosign 3 signatures are bundles found through OCI referrers"
        assert rest["failureAction"] == "Enforce" and rest["required"] is True
    else:
        assert rest["validationActions"] == ["Deny"] and rest["failurePolicy"] == "Fail"
        assert rest["validationConfigurations"]["required"] is True
    assert keyless["issuer"] == ISSUER
    pattern = re.compile(keyless["subjectRegExp"])
    kustomization = (ROOT / "argocd" / "kustomization.yaml").read_text()
    repo = re.search(r"repoURL=(https://github\.com/[^\s]+?)(?:\.git)?$", kustomization, re.MULTILINE)[1]
    workflow = f"{repo}/.github/workflows/release.yml"
    assert pattern.search(f"{workflow}@refs/tags/v0.2.0")
    for other in (f"{workflow}@refs/heads/main", f"{repo}/.github/workflows/ci.yml@refs/tags/v0.2.0",
                  f"{repo}-fork/.github/workflows/release.yml@refs/tags/v0.2.0",
                  f"https://github.com/evil/x/.github/workflows/release.yml@refs/tags/v0.2.0?{workflow}@refs/tags/v0.2.0",
                  f"{workflow}@refs/tags/v0.2.0-evil"):
        assert not pattern.search(other), other
    # release.yml runs on those tags.
    triggers = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())[True]
    assert triggers == {"push": {"tags": ["v*"]}}


@pytest.mark.parametrize("doc", ["docs/release.md", "README.md"])
def test_the_docs_verify_with_the_same_identity_and_issuer(doc):
    text = (ROOT / doc).read_text()
    identities = {verification(kind)[1]["subjectRegExp"] for kind in KINDS}
    assert len(identities) == 1, "both policies admit the same identity"
    assert identity_regexp(text) == identities
    assert set(re.findall(r"--certificate-oidc-issuer (\S+)", text)) == {ISSUER}
    assert "cosign verify-attestation --type cyclonedx" in text
    assert "gh attestation verify oci://" in text
