"""The compose stack end to end, through 127.0.0.1 only. The tests run in file order: the later
ones restart and recreate the stack the earlier ones wrote to."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import uuid
from http.client import HTTPConnection

import pytest

from conftest import (
    DEFAULT_CREDENTIALS,
    REPO,
    STUDENTS_PREFIX,
    docker,
    http,
    inspect,
    process_status,
    tcp_active_opens,
    wait_healthy,
)

STUDENT = f"persist-{uuid.uuid4().hex[:8]}"


def students_url(stack, path: str = "") -> str:
    return f"{stack.front}{STUDENTS_PREFIX}/students{path}"


def assert_student_kept(stack) -> None:
    answer = http("GET", students_url(stack, f"/{STUDENT}"), auth=DEFAULT_CREDENTIALS)
    assert answer.status == 200, answer.text
    assert STUDENT in answer.text and "11" in answer.text, answer.text


def test_both_services_are_healthy(stack):
    for service in ("back", "front"):
        wait_healthy(stack.container(service), timeout=5)


@pytest.mark.parametrize("service, uid", [("back", "65532"), ("front", "101")])
def test_containers_run_hardened(stack, service, uid):
    container = stack.container(service)
    host = inspect(container)["HostConfig"]
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert {b["HostIp"] for bindings in host["PortBindings"].values() for b in bindings} == {"127.0.0.1"}
    status = process_status(container)
    assert status["Uid"].split() == [uid] * 4
    assert int(status["CapEff"], 16) == 0


def test_front_serves_the_page(stack):
    page = http("GET", f"{stack.front}/")
    assert page.status == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "config.js" in page.text
    assert http("GET", f"{stack.front}/healthz").status == 200


def test_config_js_carries_the_overridden_story_url(stack):
    config = http("GET", f"{stack.front}/config.js")
    assert config.status == 200
    assert f'"{stack.story_url}"' in config.text
    assert "no-store" in config.headers["cache-control"]


def test_the_overridden_story_url_answers_the_page(stack):
    story = http("GET", stack.story_url, headers={"Origin": stack.front})
    assert story.status == 200 and story.text.strip()
    assert story.headers.get("access-control-allow-origin") == stack.front


def test_front_proxies_a_story_from_the_back(stack):
    story = http("GET", f"{stack.front}/racontemoiunehistoire")
    assert story.status == 200
    assert story.headers["content-type"].startswith("text/plain")
    assert story.text.strip()
    as_json = http("GET", f"{stack.front}/racontemoiunehistoire", headers={"Accept": "application/json"})
    assert as_json.status == 200 and as_json.json()["histoire"].strip()


def test_the_front_keeps_its_connections_to_the_back(stack):
    """The issue's count, on the published stack: 200 stories through the front on one client
    connection. Without an upstream keepalive the front's network namespace opened 200 TCP
    connections (one per request, each then 60 s in TIME-WAIT); now a handful."""
    requests = 200
    front = stack.container("front")
    before = tcp_active_opens(front)
    connection = HTTPConnection("127.0.0.1", stack.front_port, timeout=10)
    try:
        for _ in range(requests):
            connection.request("GET", "/racontemoiunehistoire")
            response = connection.getresponse()
            assert response.status == 200 and response.read().strip()
    finally:
        connection.close()
    opened = tcp_active_opens(front) - before
    assert opened <= requests // 50, f"the front opened {opened} connections for {requests} stories"


def test_students_api_needs_credentials(stack):
    assert http("GET", students_url(stack)).status == 401
    assert http("GET", students_url(stack), auth=("root", "wrong")).status == 401
    legacy = http("GET", f"{stack.front}{STUDENTS_PREFIX}/get_student_ages", auth=DEFAULT_CREDENTIALS)
    assert legacy.status == 200 and "student_ages" in legacy.json()


def test_students_api_on_the_back_port(stack):
    answer = http("GET", f"{stack.back}{STUDENTS_PREFIX}/get_student_ages", auth=DEFAULT_CREDENTIALS)
    assert answer.status == 200
    assert http("GET", f"{stack.back}{STUDENTS_PREFIX}/get_student_ages").status == 401


def test_a_write_is_stored(stack):
    created = http("POST", students_url(stack), body={"name": STUDENT, "age": 11}, auth=DEFAULT_CREDENTIALS)
    assert created.status == 201, created.text
    assert_student_kept(stack)


def store_bytes(stack) -> bytes:
    """The student file as it is in the back's volume (`docker cp` works on a scratch image)."""
    archive = subprocess.run(["docker", "cp", f"{stack.container('back')}:/data/student_age.json", "-"],
                             capture_output=True, check=True, timeout=60).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return tar.extractfile(tar.getmembers()[0]).read()


def test_the_volume_holds_the_original_flat_format(stack):
    # What the old student_age.py and its scripts read: a flat name -> age-string object, dumped
    # with json.dump(indent=4, ensure_ascii=False).
    raw = store_bytes(stack)
    data = json.loads(raw)
    assert data[STUDENT] == "11" and all(isinstance(age, str) for age in data.values()), data
    assert "student_ages" not in data
    assert raw.decode() == json.dumps(data, indent=4, ensure_ascii=False), raw


def test_the_write_survives_a_restart(stack):
    stack.compose("restart")
    for service in ("back", "front"):
        wait_healthy(stack.container(service))
    assert_student_kept(stack)


def test_the_write_survives_down_and_up(stack):
    stack.compose("down", "--timeout", "5")
    assert stack.container("back") == ""
    stack.up()
    assert_student_kept(stack)


def test_back_resolves_service_names(stack):
    # The static binary resolves names without NSS modules: the helm test hook relies on it.
    stack.compose("exec", "-T", "back", "/back", "--probe", "http://front:8080/healthz")


def test_stories_file_override(stack):
    expected = set((REPO / "tests/containers/stories.txt").read_text(encoding="utf-8").splitlines())
    stack.up("tests/containers/compose.stories.yaml")
    seen = {http("GET", f"{stack.front}/racontemoiunehistoire").text.strip() for _ in range(12)}
    assert seen <= expected, seen - expected
    assert_student_kept(stack)


@pytest.fixture(autouse=True)
def _show_logs_on_failure(request, stack):
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(stack.compose("logs", "--no-color", "--tail", "40", check=False).stdout)


# The data file of the original Flask service (student-list, simple_api/student_age.json), byte for byte.
ORIGINAL_FILE = b'{\n    "bob": "13",\n    "alice": "12"\n}\n'


def test_the_original_services_file_in_the_volume_is_served(stack, tmp_path):
    back = stack.container("back")  # `compose ps` lists running containers only
    stack.compose("stop", "back")
    original = tmp_path / "student_age.json"
    original.write_bytes(ORIGINAL_FILE)
    original.chmod(0o644)
    docker("cp", str(original), f"{back}:/data/student_age.json")
    stack.up()
    answer = http("GET", f"{stack.front}{STUDENTS_PREFIX}/get_student_ages", auth=DEFAULT_CREDENTIALS)
    assert answer.status == 200, answer.text
    assert answer.json() == {"student_ages": {"bob": "13", "alice": "12"}}
    assert store_bytes(stack) == ORIGINAL_FILE  # read, not rewritten
    created = http("POST", students_url(stack), body={"name": "élodie", "age": 12}, auth=DEFAULT_CREDENTIALS)
    assert created.status == 201, created.text
    assert json.loads(store_bytes(stack)) == {"bob": "13", "alice": "12", "élodie": "12"}
