"""k8s/ and the chart's default render describe the same application: names, ports, env variable
names, probes, security contexts and resources agree. The chart prefixes every name with the
release's full name ("racontemoi-back" for k8s/'s "back")."""
import json

import pytest
import yaml

from conftest import CHART, K8S, ROOT, find

PREFIX = "racontemoi-"
COMPONENTS = ["back", "front"]
# Set by the chart only when the matching option is on (credentials, stories override).
CHART_OPTIONAL_ENV = {"API_USERNAME_FILE", "API_PASSWORD_FILE", "STORIES_FILE"}


def container(docs, name):
    return find(docs, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]


def pod(docs, name):
    return find(docs, "Deployment", name)["spec"]["template"]["spec"]


@pytest.mark.parametrize("component", COMPONENTS)
def test_services_agree(component, k8s_docs, chart_default):
    raw = find(k8s_docs, "Service", component)["spec"]
    chart = find(chart_default, "Service", PREFIX + component)["spec"]
    assert raw["type"] == chart["type"]
    assert raw["ports"] == chart["ports"]
    # Same selector, minus the chart's per-release instance label.
    chart_selector = {k: v for k, v in chart["selector"].items() if k != "app.kubernetes.io/instance"}
    assert raw["selector"] == chart_selector


def test_contract_services(k8s_docs):
    back = find(k8s_docs, "Service", "back")["spec"]
    front = find(k8s_docs, "Service", "front")["spec"]
    assert back["type"] == "ClusterIP" and back["ports"][0]["port"] == 5000
    assert front["type"] == "LoadBalancer" and front["ports"][0]["port"] == 80
    assert container(k8s_docs, "front")["ports"][0]["containerPort"] == 8080
    assert container(k8s_docs, "back")["ports"][0]["containerPort"] == 5000
    env = {e["name"]: e["value"] for e in container(k8s_docs, "front")["env"]}
    assert env["BACK_URL"] == "http://back:5000"


@pytest.mark.parametrize("component", COMPONENTS)
def test_containers_agree(component, k8s_docs, chart_default):
    raw = container(k8s_docs, component)
    chart = container(chart_default, PREFIX + component)
    for field in ("name", "ports", "livenessProbe", "readinessProbe", "lifecycle", "resources",
                  "securityContext", "imagePullPolicy"):
        assert raw.get(field) == chart.get(field), field
    assert raw["image"].split(":")[0] == chart["image"].split(":")[0]
    raw_env = {e["name"] for e in raw["env"]}
    chart_env = {e["name"] for e in chart["env"]}
    assert chart_env <= raw_env
    assert raw_env - chart_env <= CHART_OPTIONAL_ENV


@pytest.mark.parametrize("component", COMPONENTS)
def test_pods_agree(component, k8s_docs, chart_default):
    raw = pod(k8s_docs, component)
    chart = pod(chart_default, PREFIX + component)
    for field in ("securityContext", "automountServiceAccountToken", "enableServiceLinks",
                  "terminationGracePeriodSeconds"):
        assert raw[field] == chart[field], field
    raw_deployment = find(k8s_docs, "Deployment", component)["spec"]
    chart_deployment = find(chart_default, "Deployment", PREFIX + component)["spec"]
    assert raw_deployment["replicas"] == chart_deployment["replicas"]
    assert raw_deployment["strategy"] == chart_deployment["strategy"]
    assert raw["volumes"] and [v["name"] for v in chart["volumes"]] == \
        [v["name"] for v in raw["volumes"] if v["name"] != "api-credentials"]


def test_env_values_agree(k8s_docs, chart_default):
    for component in COMPONENTS:
        raw = {e["name"]: e["value"] for e in container(k8s_docs, component)["env"]}
        chart = {e["name"]: e["value"] for e in container(chart_default, PREFIX + component)["env"]}
        namespace = find(chart_default, "Deployment", PREFIX + component)["metadata"]["namespace"]
        for name, value in chart.items():
            # k8s/ names the back Service by its short name, which the front completes with the
            # pod's first DNS search domain; the chart writes that full name itself.
            expected = raw[name].replace("http://back:", f"http://{PREFIX}back.{namespace}.svc.cluster.local:")
            assert value == expected, f"{component} {name}"


def test_student_data_agrees():
    """k8s/'s store, the chart's default store and the back's sample hold the same students."""
    raw = json.loads((K8S / "students" / "student_age.json").read_text())
    chart = yaml.safe_load((CHART / "values.yaml").read_text())["students"]["data"]
    assert raw == chart, "k8s/students/student_age.json is the original flat format"
    sample = ROOT / "back" / "data" / "student_age.sample.json"
    if sample.exists():
        assert json.loads(sample.read_text()) == raw, f"{sample.relative_to(ROOT)} and k8s/ differ"
