"""The chart: helm lint, the renders, and the rules of its templates."""
import pytest
import yaml

from conftest import CHART, VALUES, find, helm_template, load_docs, run, tool

SCENARIOS = ["default", "all-enabled", "persistence", "argocd"]


@pytest.mark.parametrize("values", [None, "all-enabled.yaml", "persistence.yaml"])
def test_helm_lint_strict(values):
    args = [tool("helm"), "lint", "--strict", str(CHART)]
    if values:
        args += ["--values", str(VALUES / values)]
    out = run(*args).stdout
    assert "0 chart(s) failed" in out


def test_helm_lint_strict_with_the_argocd_values(argocd_values_file):
    out = run(tool("helm"), "lint", "--strict", str(CHART), "--values", str(argocd_values_file)).stdout
    assert "0 chart(s) failed" in out


def test_chart_metadata():
    import yaml
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "racontemoi"
    assert chart["version"] and chart["appVersion"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_render_is_deterministic(scenario, renders, argocd_values_file):
    """Argo CD renders on every refresh: a random or lookup-dependent value means OutOfSync."""
    files = {"default": (), "all-enabled": (VALUES / "all-enabled.yaml",),
             "persistence": (VALUES / "persistence.yaml",), "argocd": (argocd_values_file,)}[scenario]
    assert helm_template(*files).stdout == renders[scenario].read_text()


def test_templates_use_no_lookup_or_randomness():
    for path in (CHART / "templates").rglob("*"):
        if path.is_file():
            text = path.read_text()
            for forbidden in ("lookup", "randAlpha", "randAlphaNum", "randNumeric", "randAscii",
                              "uuidv4", "genPrivateKey", "genCA", "now"):
                assert f"{forbidden} " not in text and f"({forbidden}" not in text, \
                    f"{path.name} uses {forbidden}: Argo CD renders with helm template"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_selectors_never_carry_version_or_chart(scenario, rendered):
    for doc in rendered[scenario]:
        selectors = []
        if doc["kind"] == "Deployment":
            selectors.append(doc["spec"]["selector"]["matchLabels"])
        if doc["kind"] == "Service":
            selectors.append(doc["spec"]["selector"])
        if doc["kind"] in ("PodDisruptionBudget", "ServiceMonitor"):
            selectors.append(doc["spec"]["selector"]["matchLabels"])
        for selector in selectors:
            assert set(selector) == {"app.kubernetes.io/name", "app.kubernetes.io/instance",
                                     "app.kubernetes.io/component"}, doc["metadata"]["name"]


def test_default_render_objects(chart_default):
    kinds = sorted(f"{d['kind']}/{d['metadata']['name']}" for d in chart_default)
    assert kinds == [
        "ConfigMap/racontemoi-students",
        "Deployment/racontemoi-back",
        "Deployment/racontemoi-front",
        "Pod/racontemoi-test-back",
        "Pod/racontemoi-test-front",
        "Service/racontemoi-back",
        "Service/racontemoi-front",
        "ServiceAccount/racontemoi",
    ]
    assert find(chart_default, "Service", "racontemoi-back")["spec"]["type"] == "ClusterIP"
    assert find(chart_default, "Service", "racontemoi-front")["spec"]["type"] == "LoadBalancer"


def test_all_optional_resources_render(rendered):
    kinds = {d["kind"] for d in rendered["all-enabled"]}
    assert {"Ingress", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy",
            "ServiceMonitor", "Secret"} <= kinds
    hpas = [d for d in rendered["all-enabled"] if d["kind"] == "HorizontalPodAutoscaler"]
    assert {h["apiVersion"] for h in hpas} == {"autoscaling/v2"}
    for name in ("racontemoi-back", "racontemoi-front"):
        assert "replicas" not in find(rendered["all-enabled"], "Deployment", name)["spec"], \
            "with an HPA the Deployment must not set replicas"
    ingress = find(rendered["all-enabled"], "Ingress")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "racontemoi-front", "port": {"name": "http"}}


def _env(deployment):
    return {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}


def test_back_url_follows_the_back_service_name(chart_default):
    back_service = find(chart_default, "Service", "racontemoi-back")
    port = back_service["spec"]["ports"][0]["port"]
    front = find(chart_default, "Deployment", "racontemoi-front")
    assert _env(front)["BACK_URL"] == f"http://{back_service['metadata']['name']}:{port}"


def test_back_url_follows_fullname_override():
    docs = load_docs(helm_template(extra=("--set", "fullnameOverride=story")).stdout)
    assert find(docs, "Service", "story-back")
    assert _env(find(docs, "Deployment", "story-front"))["BACK_URL"] == "http://story-back:5000"
    docs = load_docs(helm_template(extra=("--set", "front.backUrl=http://elsewhere:5000")).stdout)
    assert _env(find(docs, "Deployment", "racontemoi-front"))["BACK_URL"] == "http://elsewhere:5000"


def test_students_prefix_is_shared(chart_default):
    back = _env(find(chart_default, "Deployment", "racontemoi-back"))
    front = _env(find(chart_default, "Deployment", "racontemoi-front"))
    assert back["STUDENTS_API_PREFIX"] == front["STUDENTS_API_PREFIX"] == front["STUDENTS_API_URL"]


def test_default_store_is_a_read_only_configmap(chart_default):
    spec = find(chart_default, "Deployment", "racontemoi-back")["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"]["type"] == "RollingUpdate"
    pod = spec["template"]["spec"]
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["mountPath"] == "/data")
    assert mount["readOnly"] is True
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["configMap"]["name"] == "racontemoi-students"


def test_persistence_runs_one_back_replica_with_recreate(rendered):
    docs = rendered["persistence"]
    spec = find(docs, "Deployment", "racontemoi-back")["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    pvc = find(docs, "PersistentVolumeClaim", "racontemoi-students")
    assert pvc["spec"]["storageClassName"] == "standard"
    pod = spec["template"]["spec"]
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["mountPath"] == "/data")
    assert mount["readOnly"] is False
    assert next(v for v in pod["volumes"] if v["name"] == mount["name"])["persistentVolumeClaim"] == \
        {"claimName": "racontemoi-students"}
    assert not [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "racontemoi-students"]


def test_credentials_are_files_from_the_secret(rendered):
    for scenario, secret in (("all-enabled", "racontemoi-api-credentials"),
                             ("argocd", "racontemoi-api-credentials"),
                             ("persistence", "racontemoi-api-credentials")):
        pod = find(rendered[scenario], "Deployment", "racontemoi-back")["spec"]["template"]["spec"]
        env = {e["name"]: e for e in pod["containers"][0]["env"]}
        assert "API_PASSWORD" not in env and "API_USERNAME" not in env
        assert env["API_PASSWORD_FILE"]["value"] == "/run/secrets/racontemoi-api/password"
        volume = next(v for v in pod["volumes"] if "secret" in v)
        assert volume["secret"]["secretName"] == secret
    secret = find(rendered["all-enabled"], "Secret")
    assert set(secret["data"]) == {"username", "password"}
    # No credentials configured: no Secret, no mount; the back answers 503 on the student routes.
    pod = find(rendered["default"], "Deployment", "racontemoi-back")["spec"]["template"]["spec"]
    assert not [v for v in pod["volumes"] if "secret" in v]


def test_stories_override_through_a_configmap(rendered):
    docs = rendered["all-enabled"]
    configmap = find(docs, "ConfigMap", "racontemoi-stories")
    assert configmap["data"]["stories.txt"].splitlines()[0] == "Il était une fois un test."
    assert _env(find(docs, "Deployment", "racontemoi-back"))["STORIES_FILE"] == \
        "/etc/racontemoi/stories/stories.txt"


def test_digest_pins_the_image(rendered):
    container = find(rendered["all-enabled"], "Deployment", "racontemoi-back")["spec"]["template"]["spec"]["containers"][0]
    repository = yaml.safe_load((CHART / "values.yaml").read_text())["back"]["image"]["repository"]
    assert container["image"] == f"{repository}@sha256:" + "0" * 64


def test_helm_test_hooks_probe_both_services(chart_default):
    pods = [d for d in chart_default if d["kind"] == "Pod"]
    commands = sorted(p["spec"]["containers"][0]["command"] for p in pods)
    assert commands == [["/back", "--probe", "http://racontemoi-back:5000/healthz"],
                        ["/back", "--probe", "http://racontemoi-front:80/healthz"]]
    for pod in pods:
        assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
        assert pod["spec"]["restartPolicy"] == "Never"


def test_network_policy_lets_only_front_and_tests_reach_back(rendered):
    policy = find(rendered["all-enabled"], "NetworkPolicy", "racontemoi-back")
    peers = policy["spec"]["ingress"][0]["from"]
    components = [p["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for p in peers if "podSelector" in p]
    assert components == ["front", "test"]


def test_notes_per_service_type():
    for service_type, expected in (("LoadBalancer", "loadBalancer.ingress"), ("NodePort", "nodePort"),
                                   ("ClusterIP", "kubectl port-forward")):
        out = run(tool("helm"), "install", "racontemoi", str(CHART), "--dry-run=client", "--namespace",
                  "racontemoi", "--set", f"front.service.type={service_type}").stdout
        notes = out.split("NOTES:", 1)[1]
        assert expected in notes, service_type
        assert "student routes answer 503" in notes


@pytest.mark.parametrize("values, message", [
    (["--set", "students.persistence.enabled=true", "--set", "back.autoscaling.enabled=true"],
     "disable back.autoscaling"),
    (["--set", "students.persistence.enabled=true", "--set", "back.pdb.enabled=true"],
     "disable back.pdb"),
    (["--set", "students.auth.username=only-a-user"], "set both username and password"),
    (["--set", "front.pdb.enabled=true", "--set", "front.pdb.maxUnavailable=1"],
     "set exactly one of minAvailable and maxUnavailable"),
    (["--set", "stories.lines[0]=a", "--set", "stories.existingConfigMap=mine"], "not both"),
])
def test_inconsistent_values_fail_with_a_message(values, message):
    proc = helm_template(extra=tuple(values), check=False)
    assert proc.returncode != 0
    assert message in proc.stderr
