"""The chart: helm lint, the renders, and the rules of its templates."""
import pytest
import yaml

from conftest import CHART, VALUES, find, helm_template, load_docs, pod_specs, run, tool

SCENARIOS = ["default", "all-enabled", "persistence", "argocd", "knative"]


@pytest.mark.parametrize("values", [None, "all-enabled.yaml", "persistence.yaml", "knative.yaml"])
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
             "persistence": (VALUES / "persistence.yaml",), "argocd": (argocd_values_file,),
             "knative": (VALUES / "knative.yaml",)}[scenario]
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
        if doc["kind"] in ("Deployment", "StatefulSet"):
            selectors.append(doc["spec"]["selector"]["matchLabels"])
        if doc["kind"] == "Service" and doc["apiVersion"] == "v1":
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
        "Pod/racontemoi-test-story",
        "Pod/racontemoi-test-students",
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
    """The back Service's full name: nginx's resolver asks DNS for it as written (no search list)."""
    back_service = find(chart_default, "Service", "racontemoi-back")
    port = back_service["spec"]["ports"][0]["port"]
    name, namespace = back_service["metadata"]["name"], back_service["metadata"]["namespace"]
    front = find(chart_default, "Deployment", "racontemoi-front")
    assert _env(front)["BACK_URL"] == f"http://{name}.{namespace}.svc.cluster.local:{port}"


def test_back_url_follows_fullname_override():
    docs = load_docs(helm_template(extra=("--set", "fullnameOverride=story", "--set", "clusterDomain=corp.example")).stdout)
    assert find(docs, "Service", "story-back")
    namespace = find(docs, "Service", "story-back")["metadata"]["namespace"]
    assert _env(find(docs, "Deployment", "story-front"))["BACK_URL"] == f"http://story-back.{namespace}.svc.corp.example:5000"
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


def test_persistence_runs_one_back_replica_as_a_statefulset(rendered):
    """One writer always: a StatefulSet never starts a replacement pod before the old one is gone
    (a Deployment's ReplicaSet does, on a pod deletion or eviction, whatever its strategy)."""
    docs = rendered["persistence"]
    assert not [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "racontemoi-back"]
    statefulset = find(docs, "StatefulSet", "racontemoi-back")
    spec = statefulset["spec"]
    assert spec["replicas"] == 1
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {"type": "RollingUpdate"}
    assert spec["serviceName"] == find(docs, "Service", "racontemoi-back")["metadata"]["name"]
    pvc = find(docs, "PersistentVolumeClaim", "racontemoi-students")
    assert pvc["spec"]["storageClassName"] == "standard"
    assert pvc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    pod = spec["template"]["spec"]
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["mountPath"] == "/data")
    assert mount["readOnly"] is False
    assert next(v for v in pod["volumes"] if v["name"] == mount["name"])["persistentVolumeClaim"] == \
        {"claimName": "racontemoi-students"}
    assert not [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "racontemoi-students"]


def _back_pod(docs):
    (spec,) = [spec for where, spec in pod_specs(docs) if where.endswith("/racontemoi-back")]
    return spec


def test_credentials_are_files_from_the_secret(rendered):
    for scenario, secret in (("all-enabled", "racontemoi-api-credentials"),
                             ("knative", "racontemoi-api-credentials"),
                             ("argocd", "racontemoi-api-credentials"),
                             ("persistence", "racontemoi-api-credentials")):
        pod = _back_pod(rendered[scenario])
        env = {e["name"]: e for e in pod["containers"][0]["env"]}
        assert "API_PASSWORD" not in env and "API_USERNAME" not in env
        assert env["API_PASSWORD_FILE"]["value"] == "/run/secrets/racontemoi-api/password"
        volume = next(v for v in pod["volumes"] if v["name"] == "api-credentials")
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


def _test_commands(docs):
    pods = [d for d in docs if d["kind"] == "Pod"]
    for pod in pods:
        assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    return {p["metadata"]["name"]: p["spec"]["containers"][0]["command"] for p in pods}


def test_helm_test_takes_the_users_path(rendered):
    """The story and the students route through the front, so a front that cannot reach the back
    fails `helm test` (tests/deploy/test_helm_test_pods.py runs these commands against a real
    front and back)."""
    assert _test_commands(rendered["default"]) == {
        "racontemoi-test-back": ["/back", "--probe", "http://racontemoi-back:5000/readyz"],
        "racontemoi-test-story": ["/back", "--probe", "http://racontemoi-front:80/racontemoiunehistoire"],
        # No credentials configured: the back answers the student routes 503.
        "racontemoi-test-students": ["/back", "--probe", "http://racontemoi-front:80/supmit/api/v1.0/students",
                                     "--expect", "503"],
    }
    # With credentials, a request without them is refused: 401.
    assert _test_commands(rendered["all-enabled"])["racontemoi-test-students"][-2:] == ["--expect", "401"]
    for pod in (d for d in rendered["default"] if d["kind"] == "Pod"):
        assert pod["spec"]["restartPolicy"] == "Never"


def test_helm_test_in_the_knative_mode(rendered):
    commands = _test_commands(rendered["knative"])
    assert commands["racontemoi-test-back"] == \
        ["/back", "--probe", "http://racontemoi-back.racontemoi.svc.cluster.local/readyz"]
    assert commands["racontemoi-test-students"][-2:] == ["--expect", "401"]
    # A cold start may outlast the probe's timeout: the pods retry until helm test's --timeout.
    for pod in (d for d in rendered["knative"] if d["kind"] == "Pod"):
        assert pod["spec"]["restartPolicy"] == "OnFailure"


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
        # Without a load balancer, EXTERNAL-IP stays <pending>: the port-forward way is given too.
        assert "kubectl port-forward" in notes or service_type == "NodePort", service_type


@pytest.mark.parametrize("values, message", [
    (["--set", "students.persistence.enabled=true", "--set", "back.autoscaling.enabled=true"],
     "disable back.autoscaling"),
    (["--set", "students.persistence.enabled=true", "--set", "back.pdb.enabled=true"],
     "disable back.pdb"),
    (["--set", "students.auth.username=only-a-user"], "set both username and password"),
    (["--set", "front.pdb.enabled=true", "--set", "front.pdb.maxUnavailable=1"],
     "set exactly one of minAvailable and maxUnavailable"),
    (["--set", "stories.lines[0]=a", "--set", "stories.existingConfigMap=mine"], "not both"),
    (["--set", "knative.enabled=true", "--set", "students.persistence.enabled=true"],
     "a writable file cannot follow back instances that come and go"),
    (["--set", "knative.enabled=true", "--set", "back.autoscaling.enabled=true"], "disable back.autoscaling"),
    (["--set", "knative.enabled=true", "--set", "back.pdb.enabled=true"], "disable back.pdb"),
    (["--set", "knative.enabled=true", "--set", "serviceMonitor.enabled=true"], "disable serviceMonitor"),
    (["--set", "httpRoute.enabled=true"], "name the Gateway to attach to in httpRoute.parentRefs"),
])
def test_inconsistent_values_fail_with_a_message(values, message):
    proc = helm_template(extra=tuple(values), check=False)
    assert proc.returncode != 0
    assert message in proc.stderr


def test_knative_mode_replaces_the_back_workload(rendered):
    docs = rendered["knative"]
    names = {(d["apiVersion"], d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("serving.knative.dev/v1", "Service", "racontemoi-back") in names
    for kind in ("Deployment", "StatefulSet", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
        assert not [n for n in names if n[1] == kind and n[2] == "racontemoi-back"], kind
    assert not [n for n in names if n[:2] == ("v1", "Service") and n[2] == "racontemoi-back"]
    service = find(docs, "Service", "racontemoi-back")
    assert service["metadata"]["labels"]["networking.knative.dev/visibility"] == "cluster-local"
    template = service["spec"]["template"]
    annotations = template["metadata"]["annotations"]
    assert annotations["autoscaling.knative.dev/min-scale"] == "0"
    assert annotations["autoscaling.knative.dev/max-scale"] == "5"
    assert annotations["autoscaling.knative.dev/target"] == "50"
    assert annotations["autoscaling.knative.dev/scale-down-delay"] == "30s"
    (container,) = template["spec"]["containers"]
    assert container["ports"] == [{"name": "http1", "containerPort": 8080, "protocol": "TCP"}]
    assert "lifecycle" not in container, "Knative rejects lifecycle hooks"
    env = {e["name"] for e in container["env"]}
    assert "PORT" not in env, "Knative sets PORT itself (and rejects it)"
    for probe in ("livenessProbe", "readinessProbe"):
        assert "port" not in container[probe]["httpGet"]
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "/data")
    assert mount["readOnly"] is True
    front = find(docs, "Deployment", "racontemoi-front")
    assert _env(front)["BACK_URL"] == "http://racontemoi-back.racontemoi.svc.cluster.local"
    # The defaults: scale to zero.
    default = load_docs(helm_template(extra=("--set", "knative.enabled=true")).stdout)
    knative = find(default, "Service", "racontemoi-back")["spec"]["template"]["metadata"]["annotations"]
    assert knative["autoscaling.knative.dev/min-scale"] == "0"


def test_http_route_to_the_front(rendered):
    route = find(rendered["knative"], "HTTPRoute")
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["metadata"]["annotations"] == {"example.com/team": "stories"}
    assert route["spec"]["parentRefs"] == [{"name": "public", "namespace": "gateway-system", "sectionName": "http"}]
    assert route["spec"]["hostnames"] == ["racontemoi.example.com"]
    (rule,) = route["spec"]["rules"]
    assert rule["backendRefs"] == [{"name": "racontemoi-front", "port": 80}]
    assert not [d for d in rendered["default"] if d["kind"] == "HTTPRoute"], "off by default"
