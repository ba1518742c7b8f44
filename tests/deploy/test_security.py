"""The hardening every pod must keep: the "restricted" Pod Security Standard and more, in k8s/ and
in every chart render, plus NetworkPolicy coverage and no committed credential."""
import re

import pytest

from conftest import DATABASE_RENDERS, ROOT, pod_specs

TARGETS = ["k8s", "default", "all-enabled", "persistence", "argocd", "knative", *DATABASE_RENDERS]
# "write": the helm test write check, on the front image.
UIDS = {"back": 65532, "front": 101, "probe": 65532, "write": 101}
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                      "projected", "secret"}


def containers(spec):
    return spec.get("initContainers", []) + spec["containers"]


@pytest.mark.parametrize("target", TARGETS)
def test_pods_meet_the_restricted_pod_security_standard(target, rendered):
    specs = pod_specs(rendered[target])
    assert specs
    for where, spec in specs:
        pod_ctx = spec.get("securityContext", {})
        # At the pod's level, or on every container (the Knative mode: Knative puts the pod's
        # securityContext behind a feature flag).
        for field, value in (("runAsNonRoot", True), ("seccompProfile", {"type": "RuntimeDefault"})):
            assert pod_ctx.get(field) == value or \
                all(c["securityContext"].get(field) == value for c in containers(spec)), f"{where}: {field}"
        assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC"), where
        assert spec.get("automountServiceAccountToken") is False, where
        for volume in spec.get("volumes", []):
            assert set(volume) - {"name"} <= RESTRICTED_VOLUMES, f"{where}: volume {volume['name']}"
        for container in containers(spec):
            ctx = container["securityContext"]
            assert ctx["allowPrivilegeEscalation"] is False, where
            assert ctx["readOnlyRootFilesystem"] is True, where
            assert ctx["capabilities"] == {"drop": ["ALL"]}, where
            assert not ctx.get("privileged"), where
            assert ctx.get("runAsUser", pod_ctx.get("runAsUser")) == UIDS[container["name"]], where
            assert "hostPort" not in str(container.get("ports", [])), where
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), where
            assert "memory" in resources["limits"], where


@pytest.mark.parametrize("target", TARGETS)
def test_long_running_pods_have_probes_and_a_graceful_stop(target, rendered):
    for doc in rendered[target]:
        if doc["kind"] not in ("Deployment", "StatefulSet"):
            continue
        spec = doc["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        for probe in ("livenessProbe", "readinessProbe"):
            assert container[probe]["httpGet"]["port"] == "http", doc["metadata"]["name"]
        sleep = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        # preStop pause + the back's SHUTDOWN_TIMEOUT (10s) must fit in the grace period.
        assert spec["terminationGracePeriodSeconds"] > sleep + 10


def _selects(selector, labels):
    return selector.get("matchLabels", {}).items() <= labels.items() and not selector.get("matchExpressions")


@pytest.mark.parametrize("target", ["k8s", "all-enabled", "persistence", "argocd", "knative", *DATABASE_RENDERS])
def test_every_pod_is_covered_by_a_network_policy(target, rendered):
    """Replaces checkov's CKV2_K8S_6 (skipped: the chart's policies are opt-in) on the renders that
    enable them."""
    docs = rendered[target]
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    assert policies
    for doc in docs:
        if doc["kind"] == "Pod":
            labels = doc["metadata"]["labels"]
        elif doc["kind"] in ("Deployment", "StatefulSet"):
            labels = doc["spec"]["template"]["metadata"]["labels"]
        else:
            continue
        assert any(_selects(p["spec"]["podSelector"], labels) for p in policies), \
            f"{target}: {doc['kind']}/{doc['metadata']['name']} is selected by no NetworkPolicy"


@pytest.mark.parametrize("target", ["k8s", "all-enabled", "argocd", "database-external", "database-cloudnativepg"])
def test_only_front_reaches_back(target, rendered):
    docs = rendered[target]
    back = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("back"))
    back_labels = back["spec"]["template"]["metadata"]["labels"]
    policies = [p for p in docs if p["kind"] == "NetworkPolicy" and _selects(p["spec"]["podSelector"], back_labels)]
    assert len(policies) == 1
    peers = [peer for rule in policies[0]["spec"]["ingress"] for peer in rule["from"]]
    components = {peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
                  for peer in peers if "podSelector" in peer and "namespaceSelector" not in peer}
    assert components <= {"front", "test"} and "front" in components
    for peer in peers:
        assert "ipBlock" not in peer


SECRET_PATTERNS = [
    re.compile(r"(?i)password\s*[:=]\s*['\"]?(?!\.\.\.|['\"]?$)[^\s'\"#]{3,}"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
]


def test_no_credential_is_committed():
    """k8s/, helm/ and argocd/ carry no password; only the CI values file has an obvious fake."""
    for folder in ("k8s", "helm", "argocd"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file():
                text = path.read_text()
                for pattern in SECRET_PATTERNS:
                    match = pattern.search(text)
                    assert not match, f"{path.relative_to(ROOT)}: {match.group(0)}"
