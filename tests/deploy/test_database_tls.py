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


def start_back(workdir: Path, env: dict[str, str], hosts: str, name: str):
    """The back with env, in a mount namespace whose /etc/hosts is `hosts`."""
    import testkit.back

    here = workdir / name
    here.mkdir()
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


def test_the_chart_wiring_connects_with_verify_full(workdir, cluster):
    server, tls = cluster
    uri = f"postgresql://app:{server.password}@{RW}.{NAMESPACE}:{server.port}/app"
    secrets = {**CREDENTIALS, f"{CLUSTER}-app": {"uri": uri, "username": "app", "password": server.password},
               f"{CLUSTER}-ca": {"ca.crt": tls.ca.read_text(), "ca.key": "the CA's private key"}}
    env = materialise(back_pod(), secrets, workdir / "pod")
    assert set(env) >= {"STUDENTS_DATABASE_URL_FILE", "STUDENTS_DATABASE_CA_FILE"}
    assert not list((workdir / "pod").rglob("ca.key")), "the CA's key is never mounted"
    back = start_back(workdir, env, f"127.0.0.1 localhost {RW}.{NAMESPACE}\n", "verified")
    try:
        assert create(back, "cnpg-verified") == 201
        log = back.log.read_text()
        assert f"app@{RW}.{NAMESPACE}:{server.port}/app (sslmode=verify-full" in log, log
    finally:
        back.stop()


def test_a_name_the_certificate_does_not_carry_is_refused(workdir, cluster):
    """verify-full, not verify-ca: the same server and CA, reached under another name."""
    server, tls = cluster
    uri = f"postgresql://app:{server.password}@elsewhere.{NAMESPACE}:{server.port}/app"
    secrets = {**CREDENTIALS, f"{CLUSTER}-app": {"uri": uri}, f"{CLUSTER}-ca": {"ca.crt": tls.ca.read_text()}}
    env = materialise(back_pod(), secrets, workdir / "pod-elsewhere")
    back = start_back(workdir, env, f"127.0.0.1 localhost elsewhere.{NAMESPACE}\n", "elsewhere")
    try:
        assert create(back, "cnpg-elsewhere") == 503
    finally:
        back.stop()


def test_another_ca_is_refused(workdir, cluster):
    import testkit.postgres

    server, _ = cluster
    other = testkit.postgres.make_tls(workdir / "other-certs", hosts=RW_NAMES, name="other")
    uri = f"postgresql://app:{server.password}@{RW}.{NAMESPACE}:{server.port}/app"
    secrets = {**CREDENTIALS, f"{CLUSTER}-app": {"uri": uri}, f"{CLUSTER}-ca": {"ca.crt": other.ca.read_text()}}
    env = materialise(back_pod(), secrets, workdir / "pod-other-ca")
    back = start_back(workdir, env, f"127.0.0.1 localhost {RW}.{NAMESPACE}\n", "other-ca")
    try:
        assert create(back, "cnpg-other-ca") == 503
    finally:
        back.stop()
