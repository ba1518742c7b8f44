"""The chart's CloudNativePG wiring, end to end on this machine: the real back started with exactly
the environment and the files the chart's CloudNativePG render gives its pod, from Secrets made
as the operator makes them (`<cluster>-app`: a `uri` of `postgresql://app:...@<cluster>-rw.<ns>:PORT/app`
with no sslmode; `<cluster>-ca`: `ca.crt`, and `ca.key` which must not be mounted), against a real
PostgreSQL (Debian's, testkit.postgres) whose certificate names the `-rw` Service as the
operator's does (GetClusterAltDNSNames). The Service's name resolves through an /etc/hosts of the
back's own mount namespace. The back must connect with verify-full: a create answers 201; under a
name the certificate does not carry, or with another CA, the student routes answer 503."""
from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from conftest import VALUES, helm_template, load_docs, pod_specs

CLUSTER, NAMESPACE = "racontemoi-db", "racontemoi"
# The release's credentials Secret (students.auth.existingSecret), made by hand in a cluster.
CREDENTIALS = {"racontemoi-api-credentials": {"username": "root", "password": "root"}}
RW = f"{CLUSTER}-rw"
# The names CloudNativePG puts in the server certificate for the -rw Service.
RW_NAMES = (RW, f"{RW}.{NAMESPACE}", f"{RW}.{NAMESPACE}.svc", f"{RW}.{NAMESPACE}.svc.cluster.local")
PREFIX = "/supmit/api/v1.0"


def back_pod() -> dict:
    docs = load_docs(helm_template(VALUES / "database-cloudnativepg.yaml").stdout)
    (spec,) = [spec for where, spec in pod_specs(docs) if where == "Deployment/racontemoi-back"]
    return spec


def materialise(pod: dict, secrets: dict[str, dict[str, str]], root: Path) -> dict[str, str]:
    """Writes what the pod's Secret volumes would hold under root (their mountPath), from secrets
    (name -> key -> value, what the operator made), and returns the container's literal env with
    every mountPath moved under root."""
    (container,) = pod["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    moved = {}
    for volume in pod["volumes"]:
        if "secret" not in volume or volume["name"] not in mounts:
            continue
        data = secrets[volume["secret"]["secretName"]]
        directory = root / mounts[volume["name"]].lstrip("/")
        directory.mkdir(parents=True, exist_ok=True)
        for item in volume["secret"]["items"]:
            (directory / item["path"]).write_text(data[item["key"]])
        moved[mounts[volume["name"]]] = str(directory)
    env = {}
    for entry in container["env"]:
        value = entry.get("value")
        if value is None:
            continue
        for mount_path, directory in moved.items():
            if value.startswith(mount_path + "/"):
                value = directory + value[len(mount_path):]
        env[entry["name"]] = value
    return env


@pytest.fixture(scope="module")
def workdir():
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and util-linux's unshare: the back's /etc/hosts is bind-mounted in its own namespace")
    path = Path(tempfile.mkdtemp(prefix="racontemoi-cnpg-"))
    path.chmod(0o755)  # the postgres user reaches its directory under it
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(workdir):
    """A PostgreSQL with TLS as the Cluster's primary: a CA of its own, a certificate for the -rw
    names, plain-text logins refused; the role and database `app` of the Cluster's bootstrap."""
    import testkit.postgres

    tls = testkit.postgres.make_tls(workdir / "certs", hosts=RW_NAMES)
    server = testkit.postgres.start(workdir / "pg", ssl=tls)
    server.psql(f"CREATE ROLE app LOGIN PASSWORD '{server.password}'", database="postgres")
    server.psql("CREATE DATABASE app OWNER app", database="postgres")
    yield server, tls
    server.stop()


def start_back(here: Path, env: dict[str, str], hosts: str):
    """The back with env, in a mount namespace whose /etc/hosts is `hosts`."""
    import testkit.back

    here.mkdir(exist_ok=True)
    (here / "hosts").write_text(hosts)
    wrapper = here / "back-with-hosts"
    wrapper.write_text("#!/bin/sh\nexec unshare --mount --propagation private -- "
                       f"sh -c 'mount --bind \"$0\" /etc/hosts && exec \"$1\"' {here / 'hosts'} "
                       f"{testkit.back.RELEASE_BINARY}\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    # Text logs: testkit reads the address from the `listening on` line.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env, "HOST": "127.0.0.1", "PORT": "0",
           "LOG_FORMAT": "text"}
    return testkit.back.start(env, here / "back.log", binary=wrapper)


def create(back, student: str) -> int:
    from testkit import http

    return http("POST", f"{back.url}{PREFIX}/students", body={"name": student, "age": 10},
                auth=("root", "root"), timeout=15).status


def run_pod(workdir: Path, cluster, name: str, host: str, ca: Path):
    """The back as the CloudNativePG render's pod, the operator's Secrets holding a uri for host
    and the CA ca; host resolves to this machine. Returns (the back, its env), running."""
    server, _ = cluster
    uri = f"postgresql://app:{server.password}@{host}:{server.port}/app"
    secrets = {**CREDENTIALS, f"{CLUSTER}-app": {"uri": uri, "username": "app", "password": server.password},
               f"{CLUSTER}-ca": {"ca.crt": ca.read_text(), "ca.key": "the CA's private key"}}
    env = materialise(back_pod(), secrets, workdir / name / "pod")
    return start_back(workdir / name, env, f"127.0.0.1 localhost {host}\n"), env


def test_the_chart_wiring_connects_with_verify_full(workdir, cluster):
    server, tls = cluster
    back, env = run_pod(workdir, cluster, "verified", f"{RW}.{NAMESPACE}", tls.ca)
    try:
        assert set(env) >= {"STUDENTS_DATABASE_URL_FILE", "STUDENTS_DATABASE_CA_FILE"}
        assert not list((workdir / "verified").rglob("ca.key")), "the CA's key is never mounted"
        assert create(back, "cnpg-verified") == 201
        log = back.log.read_text()
        assert f"app@{RW}.{NAMESPACE}:{server.port}/app (sslmode=verify-full" in log, log
    finally:
        back.stop()


@pytest.mark.parametrize("refused", ["a name the certificate does not carry", "another CA"])
def test_the_back_refuses_an_unverified_server(refused, workdir, cluster):
    """verify-full, not verify-ca: the same server reached under another name is refused as much
    as a server whose certificate another CA signed."""
    import testkit.postgres

    _, tls = cluster
    if refused == "another CA":
        name, host = "other-ca", f"{RW}.{NAMESPACE}"
        ca = testkit.postgres.make_tls(workdir / "other-certs", hosts=RW_NAMES, name="other").ca
    else:
        name, host, ca = "elsewhere", f"elsewhere.{NAMESPACE}", tls.ca
    back, _ = run_pod(workdir, cluster, name, host, ca)
    try:
        assert create(back, f"cnpg-{name}") == 503
    finally:
        back.stop()
