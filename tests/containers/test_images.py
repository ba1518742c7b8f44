"""The two images on their own: sizes, users, configuration, and the back run hardened
(read-only root, no capabilities, no privilege gain) by a plain `docker run`."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from http.client import HTTPConnection

import pytest

from conftest import (
    BACK_IMAGE,
    DEFAULT_CREDENTIALS,
    FRONT_IMAGE,
    PROJECT,
    REPO,
    STUDENTS_PREFIX,
    docker,
    http,
    inspect,
    process_status,
    wait_healthy,
)
from testkit import free_port

MIB = 1024 * 1024
FRONT_OVERHEAD_LIMIT = 200 * 1000


def front_base_image() -> str:
    match = re.search(r"^FROM\s+(\S+)", (REPO / "front/Dockerfile").read_text(), re.MULTILINE)
    assert match, "front/Dockerfile has no FROM"
    return match.group(1)


def test_back_image_is_at_most_4_mib(engine):
    # 4 MiB since issue 18: one binary for both student stores, the PostgreSQL client, pool and
    # TLS included (2 MiB before; each crate's share in docs/students.md, "Size").
    size = inspect(BACK_IMAGE)["Size"]
    print(f"{BACK_IMAGE}: {size} bytes ({size / MIB:.2f} MiB)")
    assert size <= 4 * MIB


def test_back_image_configuration(engine):
    config = inspect(BACK_IMAGE)["Config"]
    assert config["User"] == "65532:65532"
    assert config["Entrypoint"] == ["/back"]
    assert list(config["ExposedPorts"]) == ["5000/tcp"]
    assert config["Healthcheck"]["Test"] == ["CMD", "/back", "--healthcheck"]
    assert list(config["Volumes"]) == ["/data"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert (env["HOST"], env["PORT"]) == ("0.0.0.0", "5000")
    assert env["STUDENT_AGE_FILE"] == "/data/student_age.json"
    assert config["Labels"]["org.opencontainers.image.title"] == "racontemoi-back"


def test_front_image_adds_at_most_200_kb_to_its_base(engine):
    base = front_base_image()
    overhead = inspect(FRONT_IMAGE)["Size"] - inspect(base)["Size"]
    print(f"{FRONT_IMAGE}: {overhead} bytes over {base}")
    assert 0 < overhead <= FRONT_OVERHEAD_LIMIT


def test_front_image_runs_as_nginx_on_8080(engine):
    config = inspect(FRONT_IMAGE)["Config"]
    assert config["User"] in ("101", "101:101")
    assert "8080/tcp" in config["ExposedPorts"]
    assert config["Healthcheck"]["Test"]


@pytest.mark.parametrize("listen", ["8080", "0.0.0.0:8081", "[::]:8080"])
def test_front_image_is_healthy_where_front_listen_says(engine, listen):
    """The image's own HEALTHCHECK asks nginx where FRONT_LISTEN puts it, IPv6 included (the
    container gets IPv6 on its loopback, as a dual-stack pod has it; Docker's default network has
    none). A BACK_URL that is an address: the front does not wait for a name."""
    name = f"{PROJECT}-front-listen-{free_port()}"
    docker("run", "--detach", "--name", name, "--label", f"racontemoi.test={PROJECT}",
           "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
           "--sysctl", "net.ipv6.conf.all.disable_ipv6=0", "--sysctl", "net.ipv6.conf.lo.disable_ipv6=0",
           "--health-interval", "1s", "--env", f"FRONT_LISTEN={listen}", "--env", "BACK_URL=http://127.0.0.1:9",
           FRONT_IMAGE)
    try:
        wait_healthy(name, timeout=30)
    finally:
        docker("rm", "--force", name, check=False)


@pytest.fixture(scope="module")
def hardened_back(engine):
    """The back image under `docker run --read-only --cap-drop ALL`, healthy. The health check
    runs every second instead of the image's 10 s, so the wait is short; the check is the image's."""
    name, port = f"{PROJECT}-hardened-back", free_port()
    docker("rm", "--force", name, check=False)
    docker("run", "--detach", "--name", name, "--label", f"racontemoi.test={PROJECT}",
           "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
           "--health-interval", "1s",
           "--env", f"API_USERNAME={DEFAULT_CREDENTIALS[0]}",
           "--env", f"API_PASSWORD={DEFAULT_CREDENTIALS[1]}",
           "--publish", f"127.0.0.1:{port}:5000", BACK_IMAGE)
    try:
        wait_healthy(name)
        yield name, f"http://127.0.0.1:{port}"
    finally:
        docker("rm", "--force", "--volumes", name, check=False)


def test_hardened_back_serves(hardened_back):
    _, url = hardened_back
    assert http("GET", f"{url}/healthz").status == 200
    story = http("GET", f"{url}/racontemoiunehistoire")
    assert story.status == 200 and story.text.strip()


def test_hardened_back_runs_as_65532_without_capabilities(hardened_back):
    name, _ = hardened_back
    status = process_status(name)
    assert status["Uid"].split() == ["65532"] * 4
    assert status["Gid"].split() == ["65532"] * 4
    assert int(status["CapEff"], 16) == 0 and int(status["CapPrm"], 16) == 0
    assert status["NoNewPrivs"].strip() == "1"
    assert inspect(name)["HostConfig"]["ReadonlyRootfs"] is True


def test_hardened_back_writes_its_store_in_data(hardened_back):
    _, url = hardened_back
    created = http("POST", f"{url}{STUDENTS_PREFIX}/students", body={"name": "readonly", "age": 9},
                   auth=DEFAULT_CREDENTIALS)
    assert created.status == 201, created.text
    again = http("GET", f"{url}{STUDENTS_PREFIX}/students/readonly", auth=DEFAULT_CREDENTIALS)
    assert again.status == 200, again.text


def finished_at(container: str) -> datetime:
    # The engine writes nanoseconds; datetime keeps microseconds.
    stamp = inspect(container)["State"]["FinishedAt"]
    stamp = re.sub(r"(\.\d{6})\d*", r"\1", stamp).replace("Z", "+00:00")
    return datetime.fromisoformat(stamp)


def test_back_stops_on_sigterm_within_2_s(hardened_back):
    name, url = hardened_back
    # An idle keep-alive connection must not hold the shutdown up.
    idle = HTTPConnection("127.0.0.1", int(url.rsplit(":", 1)[1]), timeout=10)
    idle.request("GET", "/healthz")
    answer = idle.getresponse()
    answer.read()
    assert answer.status == 200 and idle.sock is not None
    try:
        asked = datetime.now(UTC)
        docker("stop", "--time", "10", name)
        cli = (datetime.now(UTC) - asked).total_seconds()
    finally:
        idle.close()
    # From SIGTERM to the process's exit; `docker stop` itself also waits for the engine to
    # tear the published port down, which takes seconds on a loaded machine.
    took = (finished_at(name) - asked).total_seconds()
    exit_code = inspect(name)["State"]["ExitCode"]
    print(f"exited {took:.2f}s after docker stop (command took {cli:.2f}s), exit code {exit_code}")
    assert took < 2, f"the back took {took:.2f}s to stop"
    assert exit_code == 0, "the back did not shut down cleanly"
