"""Every custom object that argocd/, k8s/ and every chart render produce, validated against its
real CRD (`<repo>/../shared/crds/`, see its README.md) with a kept validator (jsonschema), as a
cluster's API server with strict field validation would: unknown fields are errors wherever the
schema does not preserve them.

Generic by kind: a manifest's apiVersion and kind pick the CRD version's openAPIV3Schema, so
whatever argocd/ holds (Applications, ApplicationSets, per-environment folders) is covered. Each
folder under argocd/ and k8s/ with a kustomization is built with kubectl kustomize, and the chart
is also rendered with the values of every Application that deploys it. CEL rules
(x-kubernetes-validations) are not evaluated.
"""
from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import pytest
import yaml

from conftest import ARGOCD, CHART, CRDS, K8S, ROOT, helm_template, is_custom, load_docs, run, tool

KUSTOMIZATIONS = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def strict(schema: dict, root: bool = True) -> dict:
    """A CRD's openAPIV3Schema as JSON Schema for jsonschema, with the API server's rules:
    unknown fields rejected unless x-kubernetes-preserve-unknown-fields, int-or-string, nullable,
    embedded resources; the root metadata is ObjectMeta, which the API server checks itself."""
    node = {k: v for k, v in schema.items() if k not in ("properties", "items", "additionalProperties")}
    if node.get("nullable") and "type" in node:
        node["type"] = [node["type"], "null"]
        if "enum" in node:
            node["enum"] = [*node["enum"], None]
    if node.get("x-kubernetes-int-or-string") and "anyOf" not in node:
        node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    properties = {name: strict(sub, root=False) for name, sub in schema.get("properties", {}).items()}
    if node.get("x-kubernetes-embedded-resource"):
        properties.setdefault("apiVersion", {"type": "string"})
        properties.setdefault("kind", {"type": "string"})
        properties.setdefault("metadata", {"type": "object"})
    if root:
        properties["metadata"] = {"type": "object"}
    if properties:
        node["properties"] = properties
    if "items" in schema:
        node["items"] = strict(schema["items"], root=False)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        node["additionalProperties"] = strict(extra, root=False)
    elif extra is not None:
        node["additionalProperties"] = extra
    elif node.get("type") == "object" and not node.get("x-kubernetes-preserve-unknown-fields"):
        node["additionalProperties"] = False
    return node


@pytest.fixture(scope="module")
def schemas() -> dict[tuple[str, str], dict]:
    """(apiVersion, kind) -> strict schema, for every version of every CRD in ../shared/crds."""
    if not CRDS.is_dir():
        pytest.skip(f"{CRDS} is absent: custom objects are not checked against their CRDs")
    found = {}
    for path in sorted(CRDS.glob("*.y*ml")):
        for crd in load_docs(path.read_text()):
            if crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                raw = version["schema"]["openAPIV3Schema"]
                found[(f"{group}/{version['name']}", kind)] = strict(raw)
    assert found, f"no CustomResourceDefinition in {CRDS}"
    return found


def errors(doc: dict, schemas) -> list[str]:
    schema = schemas.get((doc["apiVersion"], doc["kind"]))
    if schema is None:
        return [f"no CRD in ../shared/crds for {doc['apiVersion']} {doc['kind']}"]
    validator = jsonschema.Draft4Validator(schema)
    return [f"{'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))]


def kustomize_dirs(top: Path) -> list[Path]:
    return sorted({p.parent for name in KUSTOMIZATIONS for p in top.rglob(name)})


def application_renders(argocd: list[dict], tmp: Path) -> dict[str, str]:
    """The chart rendered as each Application that deploys it would render it."""
    out = {}
    apps = [d for d in argocd if d["kind"] == "Application"]
    for app in apps:
        spec = app.get("spec", {})
        for source in spec.get("sources") or [spec.get("source") or {}]:
            if (ROOT / source.get("path", "-")).resolve() != CHART.resolve():
                continue
            helm = source.get("helm") or {}
            args = []
            for values in helm.get("valueFiles") or []:
                # Relative to the chart, or to the repository root through a "$values" source.
                candidates = [CHART / values, ROOT / values.removeprefix("$values/")]
                path = next((c for c in candidates if c.is_file()), None)
                if path is None and not helm.get("ignoreMissingValueFiles"):
                    pytest.fail(f"Application {app['metadata']['name']}: value file {values} not found")
                if path is not None:
                    args += ["--values", str(path)]
            if helm.get("valuesObject"):
                inline = tmp / f"{app['metadata']['name']}-values.yaml"
                inline.write_text(yaml.safe_dump(helm["valuesObject"]))
                args += ["--values", str(inline)]
            out[f"Application/{app['metadata']['name']}"] = helm_template(extra=tuple(args)).stdout
    return out


@pytest.fixture(scope="module")
def sources(rendered, tmp_path_factory) -> dict[str, list[dict]]:
    """name -> manifests: every chart render of the suite, every kustomization under argocd/ and
    k8s/, and the chart as every Application renders it."""
    found = {f"chart:{name}": docs for name, docs in rendered.items() if name != "k8s"}
    argocd = []
    for top in (ARGOCD, K8S):
        for folder in kustomize_dirs(top):
            docs = load_docs(run(tool("kubectl"), "kustomize", str(folder)).stdout)
            found[str(folder.relative_to(ROOT))] = docs
            if top == ARGOCD:
                argocd += docs
    for name, text in application_renders(argocd, tmp_path_factory.mktemp("applications")).items():
        found[f"chart as {name}"] = load_docs(text)
    return found


def test_every_custom_object_matches_its_crd(sources, schemas):
    checked, problems = set(), []
    for source, docs in sources.items():
        for doc in docs:
            if not is_custom(doc):
                continue
            checked.add((doc["apiVersion"], doc["kind"]))
            problems += [f"{source}: {doc['kind']}/{doc['metadata'].get('name')}: {e}" for e in errors(doc, schemas)]
    assert not problems, "\n".join(problems)
    # The suite's renders do produce the custom kinds of every mode.
    assert {("monitoring.coreos.com/v1", "ServiceMonitor"), ("serving.knative.dev/v1", "Service"),
            ("gateway.networking.k8s.io/v1", "HTTPRoute"), ("postgresql.cnpg.io/v1", "Cluster"),
            # The database on day 2 (database-day2, database-restore).
            ("postgresql.cnpg.io/v1", "Pooler"), ("postgresql.cnpg.io/v1", "ScheduledBackup"),
            ("barmancloud.cnpg.io/v1", "ObjectStore"), ("monitoring.coreos.com/v1", "PodMonitor"),
            ("monitoring.coreos.com/v1", "PrometheusRule")} <= checked, checked
    assert any(api.startswith("argoproj.io/") for api, _ in checked), checked


def _an_application(sources) -> dict:
    for docs in sources.values():
        for doc in docs:
            if doc["kind"] == "Application":
                return copy.deepcopy(doc)
            if doc["kind"] == "ApplicationSet":
                template = copy.deepcopy(doc["spec"]["template"])
                return {"apiVersion": doc["apiVersion"], "kind": "Application", **template}
    pytest.fail("argocd/ renders no Application nor ApplicationSet")


@pytest.mark.parametrize("path, misspelt", [
    (("spec",), "destinaton"),
    (("spec", "syncPolicy"), "automatd"),
    (("spec",), "sourcee"),
])
def test_a_misspelt_application_field_is_caught(path, misspelt, sources, schemas):
    app = _an_application(sources)
    assert not errors(app, schemas)
    node = app
    for part in path:
        node = node.setdefault(part, {})
    node[misspelt] = {}
    found = errors(app, schemas)
    assert any(misspelt in e for e in found), found


def test_wrong_types_and_unknown_nested_fields_are_caught(rendered, schemas):
    knative = next(d for d in rendered["knative"] if d["apiVersion"] == "serving.knative.dev/v1")
    bad = copy.deepcopy(knative)
    bad["spec"]["template"]["spec"]["containers"][0]["lifecycle"] = {"preStop": {"sleep": {"seconds": 5}}}
    assert any("lifecycle" in e for e in errors(bad, schemas)), "Knative rejects lifecycle hooks"
    route = next(d for d in rendered["knative"] if d["kind"] == "HTTPRoute")
    bad = copy.deepcopy(route)
    bad["spec"]["rules"][0]["backendRefs"][0]["port"] = "eighty"
    assert errors(bad, schemas)


def test_preserved_fields_stay_free(schemas):
    """Where the schema preserves unknown fields (an Application's helm valuesObject), any field
    passes: the strict rule does not overreach."""
    app = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "x"},
           "spec": {"project": "default", "destination": {"namespace": "n", "server": "https://k"},
                    "source": {"repoURL": "https://g/r.git", "path": "p",
                               "helm": {"valuesObject": {"anything": {"goes": [1, "two"]}}}}}}
    assert not errors(app, schemas)


def test_the_custom_objects_the_docs_show_match_their_crds(schemas):
    """The YAML examples of docs/deploy.md (an on-demand Backup, ...) that are custom objects."""
    import re
    text = (ROOT / "docs" / "deploy.md").read_text()
    docs = [d for block in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL) for d in load_docs(block)]
    custom = [d for d in docs if is_custom(d)]
    assert ("postgresql.cnpg.io/v1", "Backup") in {(d["apiVersion"], d["kind"]) for d in custom}
    problems = [f"{d['kind']}/{d['metadata']['name']}: {e}" for d in custom for e in errors(d, schemas)]
    assert not problems, "\n".join(problems)


def test_a_misspelt_database_field_is_caught(rendered, schemas):
    for kind in ("Pooler", "ScheduledBackup", "ObjectStore", "PodMonitor", "PrometheusRule"):
        doc = copy.deepcopy(next(d for d in rendered["database-day2"] if d["kind"] == kind))
        assert not errors(doc, schemas), kind
        doc["spec"]["schedul"] = "x"
        assert any("schedul" in e for e in errors(doc, schemas)), kind
