"""The CloudNativePG mode on day 2 (issue 27), on rendered output: the instances reach each other
on 5432 and 8000, synchronous replication, backups and a restore, the Pooler the back goes
through, the PodMonitor and its NetworkPolicy rule, the alerts and their runbooks, the prod
defaults, PDBs that never block a drain, and every render refusal, in one line, naming its value."""
from __future__ import annotations

import re

import pytest
import yaml

from conftest import CHART, ROOT, VALUES, find, helm_template, load_docs
from test_defaults import back_defaults

CLUSTER = "racontemoi-db"
DEPLOY_MD = ROOT / "docs" / "deploy.md"


def render(*sets: str, files=(VALUES / "database-cloudnativepg.yaml",), check: bool = True):
    # postgresql.conf and PgBouncer parameters are strings.
    extra = tuple(arg for value in sets for arg in ("--set-string" if ".parameters." in value else "--set", value))
    return helm_template(*files, extra=extra, check=check)


def docs_of(*sets: str, files=(VALUES / "database-cloudnativepg.yaml",)) -> list[dict]:
    return load_docs(render(*sets, files=files).stdout)


def refused(*sets: str, files=(VALUES / "database-cloudnativepg.yaml",)) -> str:
    proc = render(*sets, files=files, check=False)
    assert proc.returncode != 0, f"{sets}: rendered"
    [line] = [ln for ln in proc.stderr.splitlines() if ln.startswith("Error:")]
    return line


def ingress_ports(policy: dict, peer_labels: dict) -> set[int]:
    ports = set()
    for rule in policy["spec"]["ingress"]:
        for peer in rule.get("from", []):
            if peer.get("podSelector", {}).get("matchLabels") == peer_labels and "namespaceSelector" not in peer:
                ports |= {p["port"] for p in rule.get("ports", [])}
    return ports


@pytest.mark.parametrize("scenario", ["database-cloudnativepg", "argocd", "database-day2", "knative-database"])
def test_instances_reach_each_other_on_5432_and_8000(scenario, rendered):
    """The primary's liveness probe calls every instance's instance manager on 8000 (its isolation
    check); replication is on 5432."""
    policy = find(rendered[scenario], "NetworkPolicy", CLUSTER)
    assert ingress_ports(policy, {"cnpg.io/cluster": CLUSTER}) == {5432, 8000}
    back = {"app.kubernetes.io/name": "racontemoi", "app.kubernetes.io/instance": "racontemoi",
            "app.kubernetes.io/component": "back"}
    assert ingress_ports(policy, back) == {5432}


def test_synchronous_replication_in_prod(rendered):
    cluster = find(rendered["argocd"], "Cluster", CLUSTER)
    assert cluster["spec"]["postgresql"]["synchronous"] == {"method": "any", "number": 1, "dataDurability": "required"}
    assert "synchronous" not in find(rendered["database-cloudnativepg"], "Cluster")["spec"].get("postgresql", {})


def test_prod_defaults(rendered):
    spec = find(rendered["argocd"], "Cluster", CLUSTER)["spec"]
    # Pinned by tag and digest: an operator upgrade never rolls the database, nor does a moved tag.
    assert re.fullmatch(r"ghcr\.io/cloudnative-pg/postgresql:\d+\.\d+-\d{12}-[a-z]+-[a-z]+@sha256:[0-9a-f]{64}",
                        spec["imageName"]), spec["imageName"]
    assert spec["walStorage"]["size"]
    assert spec["affinity"] == {"enablePodAntiAffinity": True, "podAntiAffinityType": "required",
                                "topologyKey": "kubernetes.io/hostname"}
    assert spec["resources"]["requests"]["memory"] == spec["resources"]["limits"]["memory"]
    assert spec["enablePDB"] is True


def test_backups_with_the_plugin(rendered):
    docs = rendered["database-day2"]
    cluster = find(docs, "Cluster", CLUSTER)["spec"]
    store = find(docs, "ObjectStore", f"{CLUSTER}-backups")
    assert cluster["plugins"] == [{"name": "barman-cloud.cloudnative-pg.io", "isWALArchiver": True,
                                   "parameters": {"barmanObjectName": f"{CLUSTER}-backups"}}]
    assert store["spec"]["configuration"]["destinationPath"] == "s3://racontemoi-backups/prod"
    assert store["spec"]["configuration"]["s3Credentials"]["accessKeyId"]["name"] == "racontemoi-backup-s3"
    assert store["spec"]["retentionPolicy"] == "30d"
    scheduled = find(docs, "ScheduledBackup")["spec"]
    assert scheduled["cluster"] == {"name": CLUSTER}
    assert scheduled["method"] == "plugin" and scheduled["pluginConfiguration"]["name"] == "barman-cloud.cloudnative-pg.io"
    assert len(scheduled["schedule"].split()) == 6


def test_a_restore_renders_a_cluster_from_a_backup(rendered):
    docs = rendered["database-restore"]
    spec = find(docs, "Cluster", CLUSTER)["spec"]
    recovery = spec["bootstrap"]["recovery"]
    assert "initdb" not in spec["bootstrap"]
    assert recovery["recoveryTarget"] == {"targetTime": "2026-12-07T14:00:00Z"}
    [origin] = spec["externalClusters"]
    assert recovery["source"] == origin["name"]
    assert origin["plugin"]["parameters"] == {"barmanObjectName": f"{CLUSTER}-backups", "serverName": CLUSTER}
    # It archives into a folder of its own, and backs up with snapshots.
    assert spec["plugins"][0]["parameters"]["serverName"] == "racontemoi-db-2"
    assert spec["backup"]["volumeSnapshot"]["online"] is True
    assert find(docs, "ScheduledBackup")["spec"]["method"] == "volumeSnapshot"
    # From a Backup object instead.
    spec = find(docs_of("students.database.cloudnativepg.recovery.enabled=true",
                        "students.database.cloudnativepg.recovery.backupName=racontemoi-db-daily-20261207"),
                "Cluster")["spec"]
    assert spec["bootstrap"]["recovery"]["backup"] == {"name": "racontemoi-db-daily-20261207"}
    assert "externalClusters" not in spec


def test_the_back_goes_through_the_pooler(rendered):
    docs = rendered["database-day2"]
    pooler = find(docs, "Pooler", f"{CLUSTER}-pooler-rw")["spec"]
    assert pooler == {"cluster": {"name": CLUSTER}, "instances": 2, "type": "rw", "pgbouncer": {"poolMode": "session"}}
    back = find(docs, "Deployment", "racontemoi-back")["spec"]["template"]["spec"]
    env = {e["name"]: e for e in back["containers"][0]["env"]}
    assert env["STUDENTS_DATABASE_URL"]["value"] == (
        "postgresql://$(STUDENTS_DATABASE_POOLER_USER):$(STUDENTS_DATABASE_POOLER_PASSWORD)"
        f"@{CLUSTER}-pooler-rw.racontemoi:5432/app")
    names = list(env)
    assert names.index("STUDENTS_DATABASE_POOLER_PASSWORD") < names.index("STUDENTS_DATABASE_URL")
    assert env["STUDENTS_DATABASE_POOLER_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": f"{CLUSTER}-app",
                                                                                    "key": "password"}
    assert "STUDENTS_DATABASE_URL_FILE" not in env
    assert env["STUDENTS_DATABASE_CA_FILE"]["value"] == "/run/secrets/racontemoi-db-ca/ca.crt"
    volumes = {v["name"]: v for v in back["volumes"]}
    assert volumes["database-ca"]["secret"]["secretName"] == f"{CLUSTER}-ca" and "database" not in volumes
    # PgBouncer serves the Cluster's server certificate: it names the pooler's Service.
    alt = find(docs, "Cluster")["spec"]["certificates"]["serverAltDNSNames"]
    assert f"{CLUSTER}-pooler-rw.racontemoi" in alt and f"{CLUSTER}-pooler-rw.racontemoi.svc.cluster.local" in alt


def test_pod_monitor_and_its_network_policy_rule(rendered):
    docs = rendered["database-day2"]
    monitor = find(docs, "PodMonitor", CLUSTER)["spec"]
    assert monitor["selector"]["matchLabels"] == {"cnpg.io/cluster": CLUSTER, "cnpg.io/podRole": "instance"}
    assert monitor["podMetricsEndpoints"] == [{"port": "metrics"}]
    policy = find(docs, "NetworkPolicy", CLUSTER)
    metrics = [r for r in policy["spec"]["ingress"] if r["ports"] == [{"port": 9187, "protocol": "TCP"}]]
    assert metrics and metrics[0]["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "monitoring"}
    # Without the PodMonitor, no one reaches 9187 (the CI values add their own rule).
    assert not [r for r in find(rendered["argocd"], "NetworkPolicy", CLUSTER)["spec"]["ingress"]
                if {"port": 9187, "protocol": "TCP"} in r["ports"]]


def test_alerts_cover_the_back_and_the_database_each_with_its_runbook(rendered):
    rule = find(rendered["database-day2"], "PrometheusRule")
    alerts = {r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"]}
    expressions = {name: r["expr"] for name, r in alerts.items()}
    assert "racontemoi_students_database_up" in expressions["RacontemoiStudentsDatabaseDown"]
    assert 'status=~"5.."' in expressions["RacontemoiHighErrorRatio"]
    assert "racontemoi_students_database_pool_waiting" in expressions["RacontemoiStudentsDatabasePoolWaits"]
    assert "cnpg_pg_replication_lag" in expressions["RacontemoiDatabaseReplicationLag"]
    assert "cnpg_pg_stat_archiver_last_failed_time" in expressions["RacontemoiDatabaseBackupFailing"]
    text = DEPLOY_MD.read_text()
    headings = {re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-")
                for h in re.findall(r"^#+ (.+)$", text, re.MULTILINE)}
    for name, alert in alerts.items():
        anchor = alert["annotations"]["runbook_url"].rpartition("#")[2]
        assert anchor in headings, f"{name}: no runbook section #{anchor} in docs/deploy.md"
    # The metrics the back's alerts read are the ones the back exports.
    sources = "".join(p.read_text() for p in (ROOT / "back" / "src").rglob("*.rs"))
    for metric in ("students_database_{name}", '"up"', '"pool_waiting"', "http_requests_total"):
        assert metric in sources, metric


def test_the_pool_default_is_the_backs():
    """The chart's copy of STUDENTS_DATABASE_POOL_SIZE's default (for the connection check) is the
    back's, wherever back/src defines it (config.rs, or a config/ module)."""
    helper = (CHART / "templates" / "_helpers.tpl").read_text()
    [copy] = re.findall(r'define "racontemoi.backPoolSizeDefault" -}}(\d+){{', helper)
    sources = [p.read_text() for p in sorted((ROOT / "back" / "src").rglob("*.rs"))]
    defaults = [back_defaults(text).get("STUDENTS_DATABASE_POOL_SIZE") for text in sources]
    assert [d for d in defaults if d] == [copy]


@pytest.mark.parametrize("sets, files", [
    # The HPA's 6 + the surge, x 16 = 112 > 100 - 3.
    (("back.autoscaling.enabled=true", "students.database.cloudnativepg.parameters.max_connections=100"), None),
    # Knative's default maxScale, 10 x 16 = 160.
    (("knative.maxScale=10",), (VALUES / "knative-database.yaml",)),
    # A bigger pool on 2 replicas + the surge: 3 x 40 = 120 > 100 - 3.
    (("back.env.STUDENTS_DATABASE_POOL_SIZE=40", "students.database.cloudnativepg.parameters.max_connections=100"),
     None),
    # Reserved connections count: 200 - 3 - 100 = 97 < 112.
    (("back.autoscaling.enabled=true", "students.database.cloudnativepg.parameters.reserved_connections=100"), None),
])
def test_more_connections_than_max_connections_fail_the_render(sets, files):
    line = refused(*sets, files=files or (VALUES / "database-cloudnativepg.yaml",))
    assert "max_connections" in line and "STUDENTS_DATABASE_POOL_SIZE" in line, line


def test_connection_math_passes_where_it_fits_or_with_the_pooler():
    render("back.autoscaling.enabled=true")  # 7 x 16 = 112 <= 200 - 3
    render("back.autoscaling.enabled=true", "students.database.cloudnativepg.parameters.max_connections=100",
           "students.database.cloudnativepg.pooler.enabled=true")
    render("knative.maxScale=10", "students.database.cloudnativepg.pooler.enabled=true",
           files=(VALUES / "knative-database.yaml",))


def test_unbounded_knative_is_refused_without_the_pooler():
    line = refused("knative.maxScale=0", files=(VALUES / "knative-database.yaml",))
    assert "knative.maxScale 0" in line and "max_connections" in line, line


def test_a_pooler_beyond_max_connections_is_refused():
    line = refused("students.database.cloudnativepg.pooler.enabled=true",
                   "students.database.cloudnativepg.pooler.instances=3",
                   "students.database.cloudnativepg.pooler.parameters.default_pool_size=80")
    assert "max_connections" in line and "default_pool_size" in line, line


@pytest.mark.parametrize("sets, message", [
    (("students.database.cloudnativepg.synchronous.enabled=true", "students.database.cloudnativepg.instances=1",
      "students.database.cloudnativepg.enablePDB=false"), "synchronous.number 1 needs at least 2 instances"),
    (("students.database.cloudnativepg.instances=1",), "enablePDB with 1 instance blocks every node drain"),
    (("students.database.cloudnativepg.resources.requests.memory=256Mi",), "requests.memory equal to limits.memory"),
    (("students.database.cloudnativepg.recovery.enabled=true",), "name a Backup (recovery.backupName) or the object store"),
    (("students.database.cloudnativepg.recovery.enabled=true", "students.database.cloudnativepg.backups.enabled=true",
      "students.database.cloudnativepg.backups.destinationPath=s3://b/p",
      "students.database.cloudnativepg.backups.s3.secretName=s3"), "would archive into the folder it restores from"),
    (("students.database.cloudnativepg.pooler.enabled=true", "students.database.cloudnativepg.pooler.poolMode=transaction",
      "students.database.cloudnativepg.pooler.parameters.max_prepared_statements=0"), "max_prepared_statements 0"),
    (("back.pdb.enabled=true", "back.pdb.minAvailable=null", "back.pdb.maxUnavailable=0"),
     "back.pdb.maxUnavailable: 0 blocks every node drain"),
])
def test_render_refusals_name_their_value(sets, message):
    line = refused(*sets)
    assert message in line, line


@pytest.mark.parametrize("sets, expected", [
    (("back.replicaCount=1",), {"maxUnavailable": 1}),
    (("back.replicaCount=3",), {"minAvailable": 1}),
    (("back.replicaCount=2", "back.pdb.minAvailable=2"), {"maxUnavailable": 1}),
    (("back.replicaCount=2", "back.pdb.minAvailable=100%"), {"maxUnavailable": 1}),
    (("back.autoscaling.enabled=true", "back.autoscaling.minReplicas=1"), {"maxUnavailable": 1}),
])
def test_a_pdb_never_blocks_a_drain(sets, expected):
    pdb = find(docs_of(*sets), "PodDisruptionBudget", "racontemoi-back")["spec"]
    assert {k: v for k, v in pdb.items() if k != "selector"} == expected


def test_the_fronts_pdb_never_blocks_a_drain_either():
    pdb = find(docs_of("front.replicaCount=1", "front.pdb.enabled=true"), "PodDisruptionBudget", "racontemoi-front")
    assert pdb["spec"]["maxUnavailable"] == 1 and "minAvailable" not in pdb["spec"]


def test_the_clusters_pdbs_can_be_turned_off():
    spec = find(docs_of("students.database.cloudnativepg.instances=1", "students.database.cloudnativepg.enablePDB=false"),
                "Cluster")["spec"]
    assert spec["enablePDB"] is False


def test_argocd_project_allows_every_database_kind(argocd_docs, rendered):
    project = find(argocd_docs, "AppProject")
    allowed = {(w["group"], w["kind"]) for w in project["spec"]["namespaceResourceWhitelist"]}
    for scenario in ("database-day2", "database-restore"):
        for doc in rendered[scenario]:
            if doc["kind"] == "Pod":
                continue
            assert (doc["apiVersion"].rpartition("/")[0], doc["kind"]) in allowed, doc["kind"]


def test_the_docs_backup_example_is_a_backup():
    blocks = re.findall(r"```yaml\n(.*?)```", DEPLOY_MD.read_text(), re.DOTALL)
    backups = [d for block in blocks for d in yaml.safe_load_all(block) if d and d.get("kind") == "Backup"]
    assert backups, "docs/deploy.md shows no on-demand Backup"
