"""The chart's database modes (students.database): an external PostgreSQL, a CloudNativePG Cluster,
the Knative mode with a database, and prod (values-prod.yaml, CloudNativePG). Each render is also
validated (test_validate.py, test_crds.py against the real Cluster CRD), checked by checkov
(test_checkov.py) and held to the pod security rules (test_security.py); here, what each mode
must wire: the back a Deployment of writers reading its URL from a mounted Secret, the CA, the
Cluster, the NetworkPolicies. The schema's refusals of wrong combinations are in test_schema.py."""
import pytest

from conftest import CHART, VALUES, find, helm_template, load_docs, pod_specs, run, tool

CLUSTER = "racontemoi-db"
URL_FILE = "/run/secrets/racontemoi-db/url"
CA_FILE = "/run/secrets/racontemoi-db-ca/ca.crt"


def back_pod(docs: list[dict]) -> dict:
    (spec,) = [spec for where, spec in pod_specs(docs) if where.endswith("/racontemoi-back")]
    return spec


def back_env(docs: list[dict]) -> dict[str, str | None]:
    return {e["name"]: e.get("value") for e in back_pod(docs)["containers"][0]["env"]}


def volume(pod: dict, mount_path: str) -> dict:
    (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["mountPath"] == mount_path]
    assert mount["readOnly"] is True
    (found,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    return found


@pytest.mark.parametrize("values", ["database-external.yaml", "database-cloudnativepg.yaml",
                                    "knative-database.yaml"])
def test_helm_lint_strict(values):
    out = run(tool("helm"), "lint", "--strict", str(CHART), "--values", str(VALUES / values)).stdout
    assert "0 chart(s) failed" in out


@pytest.mark.parametrize("scenario", ["database-external", "database-cloudnativepg", "argocd"])
def test_the_back_is_a_deployment_of_writers(scenario, rendered):
    """Every replica writes: a Deployment of back.replicaCount (2) or its HPA, never the
    single-writer StatefulSet, no read-only store, no file store mounted."""
    docs = rendered[scenario]
    assert not [d for d in docs if d["kind"] == "StatefulSet"]
    deployment = find(docs, "Deployment", "racontemoi-back")
    hpa = [d for d in docs if d["kind"] == "HorizontalPodAutoscaler" and d["metadata"]["name"] == "racontemoi-back"]
    if hpa:
        assert "replicas" not in deployment["spec"] and hpa[0]["spec"]["minReplicas"] >= 2
    else:
        assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    env = back_env(docs)
    assert env["STUDENTS_DATABASE_URL_FILE"] == URL_FILE
    assert "STUDENTS_DATABASE_URL" not in env, "the URL holds a password: a mounted file, never a value"
    assert "STUDENTS_READ_ONLY" not in env and "STUDENT_AGE_FILE" not in env
    pod = back_pod(docs)
    assert not [m for m in pod["containers"][0]["volumeMounts"] if m["mountPath"] == "/data"]
    assert not [d for d in docs if d["kind"] in ("ConfigMap", "PersistentVolumeClaim")
                and d["metadata"]["name"] == "racontemoi-students"]
    pdb = find(docs, "PodDisruptionBudget", "racontemoi-back")
    assert pdb["spec"]["minAvailable"] == 1


def test_external_database_url_and_ca(rendered):
    docs = rendered["database-external"]
    pod = back_pod(docs)
    url = volume(pod, "/run/secrets/racontemoi-db")
    assert url["secret"] == {"secretName": "racontemoi-database", "defaultMode": 0o440,
                             "items": [{"key": "url", "path": "url"}]}
    assert back_env(docs)["STUDENTS_DATABASE_CA_FILE"] == CA_FILE
    ca = volume(pod, "/run/secrets/racontemoi-db-ca")
    assert ca["configMap"] == {"name": "rds-ca-bundle", "items": [{"key": "global-bundle.pem", "path": "ca.crt"}]}
    assert not [d for d in docs if d["kind"] == "Cluster"]
    # Without a CA: no CA file (the URL's own sslrootcert=, or a public CA the back does not carry).
    plain = load_docs(helm_template(extra=("--set", "students.database.existingSecret=db")).stdout)
    assert "STUDENTS_DATABASE_CA_FILE" not in back_env(plain)
    assert volume(back_pod(plain), "/run/secrets/racontemoi-db")["secret"]["items"] == [{"key": "uri", "path": "url"}]
    # The CA from a Secret.
    secret = load_docs(helm_template(extra=("--set", "students.database.existingSecret=db",
                                            "--set", "students.database.ca.secretName=db-ca")).stdout)
    assert volume(back_pod(secret), "/run/secrets/racontemoi-db-ca")["secret"]["secretName"] == "db-ca"


@pytest.mark.parametrize("scenario", ["database-cloudnativepg", "argocd", "knative-database"])
def test_cloudnativepg_cluster_and_the_backs_secrets(scenario, rendered):
    """The Cluster, and the back reading what the operator makes of it: <cluster>-app's uri (the
    -rw Service, the app role) and <cluster>-ca's ca.crt (never its ca.key)."""
    docs = rendered[scenario]
    cluster = find(docs, "Cluster", CLUSTER)
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    spec = cluster["spec"]
    assert spec["instances"] == (2 if scenario == "knative-database" else 3)
    assert spec["bootstrap"] == {"initdb": {"database": "app", "owner": "app"}}
    assert spec["enableSuperuserAccess"] is False
    assert spec["storage"]["size"]
    assert {"cpu", "memory"} <= set(spec["resources"]["requests"]) and "memory" in spec["resources"]["limits"]
    annotations = cluster["metadata"]["annotations"]
    assert annotations["helm.sh/resource-policy"] == "keep", "helm uninstall must not delete the students"
    assert annotations["argocd.argoproj.io/sync-options"] == "Delete=false"
    assert annotations["argocd.argoproj.io/sync-wave"] == "-1"
    pod = back_pod(docs)
    assert volume(pod, "/run/secrets/racontemoi-db")["secret"]["secretName"] == f"{CLUSTER}-app"
    assert volume(pod, "/run/secrets/racontemoi-db")["secret"]["items"] == [{"key": "uri", "path": "url"}]
    ca = volume(pod, "/run/secrets/racontemoi-db-ca")["secret"]
    assert ca["secretName"] == f"{CLUSTER}-ca" and ca["items"] == [{"key": "ca.crt", "path": "ca.crt"}]
    env = back_env(docs)
    assert env["STUDENTS_DATABASE_URL_FILE"] == URL_FILE and env["STUDENTS_DATABASE_CA_FILE"] == CA_FILE


def test_cloudnativepg_values_reach_the_cluster(rendered):
    spec = find(rendered["database-cloudnativepg"], "Cluster", CLUSTER)["spec"]
    assert spec["storage"] == {"size": "5Gi", "storageClass": "standard"}
    assert spec["postgresql"] == {"parameters": {"max_connections": "200"}}
    # The chart's pinned image (an operator upgrade never rolls the database by itself).
    assert spec["imageName"].startswith("ghcr.io/cloudnative-pg/postgresql:")
    image = load_docs(helm_template(extra=("--set", "students.database.cloudnativepg.enabled=true", "--set",
                                           "students.database.cloudnativepg.imageName=ghcr.io/cloudnative-pg/postgresql:17")).stdout)
    assert find(image, "Cluster", CLUSTER)["spec"]["imageName"] == "ghcr.io/cloudnative-pg/postgresql:17"


def test_knative_with_a_database_is_writable_and_scales_to_zero(rendered):
    docs = rendered["knative-database"]
    service = find(docs, "Service", "racontemoi-back")
    assert service["apiVersion"] == "serving.knative.dev/v1"
    assert service["spec"]["template"]["metadata"]["annotations"]["autoscaling.knative.dev/min-scale"] == "0"
    env = back_env(docs)
    assert env["STUDENTS_DATABASE_URL_FILE"] == URL_FILE
    assert "STUDENTS_READ_ONLY" not in env
    assert not [d for d in docs if d["kind"] in ("Deployment", "StatefulSet") and d["metadata"]["name"] == "racontemoi-back"]


def _policy(docs, name):
    return find(docs, "NetworkPolicy", name)["spec"]


@pytest.mark.parametrize("scenario", ["database-cloudnativepg", "argocd"])
def test_network_policies_with_cloudnativepg(scenario, rendered):
    """The back may reach DNS and the Cluster's pods on 5432, nothing else; the Cluster's pods
    accept the back, each other (replication, join Jobs) and the operator (8000, 5432)."""
    docs = rendered[scenario]
    back = _policy(docs, "racontemoi-back")
    assert back["policyTypes"] == ["Ingress", "Egress"]
    dns, database = back["egress"]
    assert {(p["port"], p["protocol"]) for p in dns["ports"]} == {(53, "UDP"), (53, "TCP")}
    assert dns["to"][0]["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}
    assert database == {"to": [{"podSelector": {"matchLabels": {"cnpg.io/cluster": CLUSTER}}}],
                        "ports": [{"port": 5432, "protocol": "TCP"}]}
    pods = _policy(docs, CLUSTER)
    assert pods["podSelector"] == {"matchLabels": {"cnpg.io/cluster": CLUSTER}}
    assert pods["policyTypes"] == ["Ingress"], "the instance manager reaches the Kubernetes API: egress stays open"
    clients, peers, operator, *extra = pods["ingress"]
    assert [p["podSelector"]["matchLabels"] for p in clients["from"]] == [
        {"app.kubernetes.io/name": "racontemoi", "app.kubernetes.io/instance": "racontemoi",
         "app.kubernetes.io/component": "back"}]
    assert clients["ports"] == [{"port": 5432, "protocol": "TCP"}]
    # Each other: replication on 5432, the instance manager's API on 8000 (test_database_day2.py).
    assert [p["podSelector"]["matchLabels"] for p in peers["from"]] == [{"cnpg.io/cluster": CLUSTER}]
    assert {p["port"] for p in peers["ports"]} == {5432, 8000}
    (peer,) = operator["from"]
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "cnpg-system"}
    assert peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "cloudnative-pg"}
    assert {p["port"] for p in operator["ports"]} == {8000, 5432}
    assert len(extra) == (1 if scenario == "database-cloudnativepg" else 0)


def test_network_policy_with_an_external_database(rendered):
    back = _policy(rendered["database-external"], "racontemoi-back")
    _dns, database = back["egress"]
    assert database == {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}], "ports": [{"port": 5432, "protocol": "TCP"}]}
    # No address given: the database's port, anywhere.
    docs = load_docs(helm_template(extra=("--set", "students.database.existingSecret=db",
                                          "--set", "networkPolicy.enabled=true")).stdout)
    assert _policy(docs, "racontemoi-back")["egress"][1] == {"ports": [{"port": 5432, "protocol": "TCP"}]}
    assert not [d for d in docs if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == CLUSTER]


def test_without_a_database_the_back_egress_stays_open(rendered):
    assert _policy(rendered["all-enabled"], "racontemoi-back")["policyTypes"] == ["Ingress"]


@pytest.mark.parametrize("scenario, has_write_check", [
    ("database-cloudnativepg", True), ("database-external", True), ("knative-database", True),
    ("persistence", True), ("all-enabled", False), ("default", False)])
def test_helm_test_write_check_where_the_store_is_writable(scenario, has_write_check, rendered):
    """Only a writable store with credentials gets the write pod (the read-only ConfigMap answers
    writes 503); it goes through the front, on the front image (busybox), with the credentials."""
    pods = [d for d in rendered[scenario] if d["kind"] == "Pod" and d["metadata"]["name"] == "racontemoi-test-write"]
    assert len(pods) == int(has_write_check)
    if not has_write_check:
        return
    spec = pods[0]["spec"]
    (container,) = spec["containers"]
    assert container["image"].startswith("ghcr.io/racontemoi/racontemoi-front:")
    assert container["command"][:2] == ["/bin/sh", "-c"]
    assert container["command"][2] == (CHART / "files" / "helm-test-write.sh").read_text()
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["FRONT_URL"] == "http://racontemoi-front:80"
    assert env["API_PASSWORD_FILE"] == "/run/secrets/racontemoi-api/password"
    assert spec["restartPolicy"] == ("OnFailure" if scenario.startswith("knative") else "Never")
