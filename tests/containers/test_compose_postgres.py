"""The compose profile `postgres` (`docker compose --profile postgres up`): the official postgres
image (here its stand-in, standins/postgres/), and a back and a front that keep their students in
it, beside the unchanged file-store pair. On the real engine: a student created through the
profile's front survives a restart of the back, a restart of the database, and `down`/`up`."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

import pytest

from conftest import (
    DEFAULT_CREDENTIALS,
    STUDENTS_PREFIX,
    Stack,
    compose,
    docker,
    free_port,
    http,
    inspect,
    process_status,
    wait_healthy,
)

PROFILE = ("--profile", "postgres")
POSTGRES_IMAGE = "postgres:17-alpine"
STUDENT = f"pg-{uuid.uuid4().hex[:8]}"


def config_json(settings: dict[str, str] | None = None, profile: bool = True) -> dict:
    args = (*PROFILE, "config", "--format", "json") if profile else ("config", "--format", "json")
    return json.loads(compose(*args, settings=settings).stdout)


def test_without_the_profile_nothing_changes():
    assert set(config_json(profile=False)["services"]) == {"back", "front"}
    assert "student-db" not in config_json(profile=False).get("volumes", {})


def test_the_profile_adds_postgres_and_a_pair_using_it():
    config = config_json()
    services = config["services"]
    assert set(services) == {"back", "front", "postgres", "back-postgres", "front-postgres"}
    postgres = services["postgres"]
    assert postgres["image"] == POSTGRES_IMAGE
    assert "ports" not in postgres, "only back-postgres reaches the database"
    env = postgres["environment"]
    assert (env["POSTGRES_USER"], env["POSTGRES_DB"]) == ("racontemoi", "racontemoi")
    (data,) = postgres["volumes"]
    assert data["type"] == "volume" and data["target"] == "/var/lib/postgresql/data"
    assert data["source"] in config["volumes"]
    assert "pg_isready" in postgres["healthcheck"]["test"]
    assert postgres["read_only"] is True and postgres["cap_drop"] == ["ALL"]
    back = services["back-postgres"]
    assert back["depends_on"]["postgres"]["condition"] == "service_healthy"
    url = back["environment"]["STUDENTS_DATABASE_URL"]
    assert url == f"postgres://racontemoi:{env['POSTGRES_PASSWORD']}@postgres:5432/racontemoi?sslmode=disable"
    assert {k: v for k, v in back["environment"].items() if k != "STUDENTS_DATABASE_URL"} == \
        services["back"]["environment"], "the same back settings, the database aside"
    front = services["front-postgres"]
    assert front["environment"]["BACK_URL"] == "http://back-postgres:5000"
    assert front["depends_on"]["back-postgres"]["condition"] == "service_healthy"
    assert [(p["host_ip"], p["published"]) for p in front["ports"]] == [("127.0.0.1", "8081")]
    for name in ("back-postgres", "front-postgres"):
        service = services[name]
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name


def test_the_password_comes_from_one_variable():
    services = config_json(settings={"POSTGRES_PASSWORD": "an0ther-local-one"})["services"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == "an0ther-local-one"
    assert ":an0ther-local-one@postgres:" in services["back-postgres"]["environment"]["STUDENTS_DATABASE_URL"]


@dataclass
class PostgresStack(Stack):
    """The stack with the profile on; the profile's front on its own free port."""

    front_postgres_port: int = 0

    def compose(self, *args, **kwargs):
        return super().compose(*PROFILE, *args, **kwargs)

    def settings(self) -> dict[str, str]:
        return {**super().settings(), "FRONT_POSTGRES_PORT": str(self.front_postgres_port)}

    @property
    def front_postgres(self) -> str:
        return f"http://127.0.0.1:{self.front_postgres_port}"


@pytest.fixture(scope="module")
def pg_stack(engine) -> PostgresStack:
    if docker("image", "inspect", POSTGRES_IMAGE, check=False).returncode != 0:
        pytest.fail(f"{POSTGRES_IMAGE} is missing: tests/containers/build_images.sh makes it (or its stand-in)")
    stack = PostgresStack(back_port=free_port(), front_port=free_port(), front_postgres_port=free_port())
    try:
        stack.up()
        yield stack
    finally:
        stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "5", check=False)


def student(stack: PostgresStack, front: str | None = None):
    return http("GET", f"{front or stack.front_postgres}{STUDENTS_PREFIX}/students/{STUDENT}", auth=DEFAULT_CREDENTIALS)


def assert_student_kept(stack: PostgresStack) -> None:
    answer = student(stack)
    assert answer.status == 200, answer.text
    assert answer.json() == {"name": STUDENT, "age": 9}


class TestOnTheEngine:
    """The profile up on the engine, in file order: the later tests restart what the earlier wrote."""

    @pytest.fixture(autouse=True)
    def _show_logs_on_failure(self, request, pg_stack):
        yield
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            print(pg_stack.compose("logs", "--no-color", "--tail", "40", check=False).stdout)

    def test_postgres_runs_as_its_own_user_and_is_healthy(self, pg_stack):
        container = pg_stack.container("postgres")
        wait_healthy(container, timeout=5)
        status = process_status(container)
        assert status["Uid"].split() == ["70"] * 4, "the official Alpine image's postgres user"
        assert inspect(container)["HostConfig"]["PortBindings"] in ({}, None)

    def test_a_student_goes_to_postgres(self, pg_stack):
        created = http("POST", f"{pg_stack.front_postgres}{STUDENTS_PREFIX}/students", body={"name": STUDENT, "age": 9},
                       auth=DEFAULT_CREDENTIALS)
        assert created.status == 201, created.text
        assert_student_kept(pg_stack)
        # Not in the file-store pair's store: the profile's back uses the database.
        assert student(pg_stack, pg_stack.front).status == 404

    def test_the_database_holds_it(self, pg_stack):
        """`back students export` (the original flat format) from the profile's back: PostgreSQL's rows."""
        exported = pg_stack.compose("exec", "-T", "back-postgres", "/back", "students", "export")
        assert json.loads(exported.stdout)[STUDENT] == "9"

    def test_the_student_survives_a_restart_of_the_back(self, pg_stack):
        pg_stack.compose("restart", "back-postgres")
        wait_healthy(pg_stack.container("back-postgres"))
        assert_student_kept(pg_stack)

    def test_the_student_survives_a_restart_of_the_database(self, pg_stack):
        """The back keeps running and reconnects by itself once the database is back."""
        back = pg_stack.container("back-postgres")
        started = inspect(back)["State"]["StartedAt"]
        pg_stack.compose("restart", "postgres")
        wait_healthy(pg_stack.container("postgres"))
        deadline = time.monotonic() + 30
        while student(pg_stack).status != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert_student_kept(pg_stack)
        assert inspect(back)["State"]["StartedAt"] == started, "the back was not restarted"

    def test_the_student_survives_down_and_up(self, pg_stack):
        pg_stack.compose("down", "--timeout", "5")
        assert pg_stack.container("postgres") == ""
        pg_stack.up()
        assert_student_kept(pg_stack)
