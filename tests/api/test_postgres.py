"""The student store on a real PostgreSQL under failures and concurrency (issue 18): two backs
writing to one database at once, `kill -9` of a back during a write storm, PostgreSQL crashed
(`pg_ctl stop -m immediate`) and started again during a write storm, a back started before its
database, and TLS (verify-full against a server with its own CA, a wrong CA, plain text against a
server that requires TLS). Every load is bounded in count; no wall-clock time is asserted: a hang
shows as a client timeout (conftest.CLIENT_TIMEOUT), which fails the test."""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import PREFIX, Client, Storm, assert_all_there, unavailable_problem
from testkit import postgres

STORY = "/racontemoiunehistoire"


def wait_until_created(client: Client, name: str, timeout: float = 60.0) -> None:
    """Creates name, again and again while the back answers 503, until 201 (the back reconnected)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = client.create(name, 7)
        if answer.status == 201:
            return
        assert unavailable_problem(answer) is None, (answer.status, answer.headers, answer.body[:300])
        assert time.monotonic() < deadline, f"the back did not reconnect within {timeout}s: {answer.body[:300]!r}"
        time.sleep(0.2)


def assert_students_unavailable(client: Client) -> None:
    """Every kind of student route answers the 503 of a database that is down."""
    for method, path, body in (("GET", f"{PREFIX}/get_student_ages", None),
                               ("GET", f"{PREFIX}/students/alice", None),
                               ("GET", f"{PREFIX}/students", None),
                               ("POST", f"{PREFIX}/students", {"name": "down", "age": 1}),
                               ("PUT", f"{PREFIX}/students/alice", {"age": 2}),
                               ("DELETE", f"{PREFIX}/students/alice", None)):
        answer = client.request(method, path, body)
        problem = unavailable_problem(answer)
        assert problem is None, f"{method} {path} while the database is down: {problem}: {answer.body[:300]!r}"


def metric(client: Client, name: str) -> float:
    """One unlabelled sample of the back's /metrics (Prometheus text format)."""
    answer = client.request("GET", "/metrics", auth=False)
    assert answer.status == 200
    found = re.search(rf"^{re.escape(name)} (\S+)$", answer.body.decode(), re.MULTILINE)
    assert found, f"no {name} in /metrics"
    return float(found.group(1))


def assert_unaffected(client: Client) -> None:
    """The routes that do not need the database: stories and readiness."""
    assert client.request("GET", STORY, auth=False).status == 200
    answer = client.request("GET", "/readyz", auth=False)
    assert answer.status == 200, answer.body


def test_two_backs_on_one_database_write_at_once_and_read_each_others_writes(shared_postgres, start_back):
    url = shared_postgres.create_database("two_backs")
    backs = [start_back(url), start_back(url)]
    writers, per_writer = 8, 40
    created: list[list[str]] = [[] for _ in range(writers)]
    failures: list[str] = []

    def write(w: int) -> None:
        mine, other = Client(backs[w % 2].url), Client(backs[(w + 1) % 2].url)
        try:
            for n in range(per_writer):
                name, age = f"two-{w:02d}-{n:03d}", n % 151
                answer = mine.create(name, age)
                if answer.status != 201:
                    failures.append(f"create {name}: {answer.status} {answer.body[:200]!r}")
                    continue
                created[w].append(name)
                # The next read, on the other back, sees it.
                seen = other.get(name)
                if seen.status != 200 or seen.json() != {"name": name, "age": age}:
                    failures.append(f"{name} created on one back, then read on the other: {seen.status} {seen.body!r}")
        except Exception as error:  # noqa: BLE001 (reported by the assertion below)
            failures.append(f"writer {w}: {error!r}")

    # Meanwhile, the same new name created on both backs at the same moment: the database refuses one.
    races, race_answers = 20, []

    def race(name: str, back_url: str, barrier: threading.Barrier) -> None:
        client = Client(back_url)
        barrier.wait()
        race_answers.append((name, client.create(name, 1).status))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for r in range(races):
        barrier = threading.Barrier(2)
        threads += [threading.Thread(target=race, args=(f"race-{r:02d}", back.url, barrier)) for back in backs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not failures, f"{len(failures)} failures, e.g. {failures[:5]}"

    by_name: dict[str, list[int]] = {}
    for name, status in race_answers:
        by_name.setdefault(name, []).append(status)
    assert all(sorted(statuses) == [201, 409] for statuses in by_name.values()), by_name

    acknowledged = [name for names in created for name in names] + sorted(by_name)
    assert len(acknowledged) == writers * per_writer + races
    listed = [Client(back.url).names() for back in backs]
    assert listed[0] == listed[1], "the two backs list different students"
    assert_all_there(acknowledged, listed[0])
    assert len(listed[0]) == len(acknowledged)
    # The legacy list keeps the order of creation: each writer's students in the order it made them.
    position = {name: i for i, name in enumerate(Client(backs[1].url).legacy_names())}
    for names in created:
        assert [position[name] for name in names] == sorted(position[name] for name in names)


def test_kill_9_of_a_back_during_a_write_storm_loses_no_acknowledged_write(shared_postgres, start_back):
    url = shared_postgres.create_database("kill_9")
    acknowledged: list[str] = []
    back = start_back(url)
    for round_ in range(3):
        with Storm([back.url], writers=8, tag=f"kill{round_}") as storm:
            storm.wait_for(150)
            back.process.kill()  # SIGKILL, in the middle of the writers' requests
            back.process.wait(timeout=10)
        assert not storm.bad, storm.bad[:5]
        acknowledged += storm.acknowledged
        # A new back on the same database finds every create the killed one acknowledged.
        back = start_back(url)
        assert_all_there(acknowledged, Client(back.url).names())
        print(f"kill -9 #{round_ + 1}: {len(storm.acknowledged)} creates acknowledged, all found; "
              f"answers {dict(storm.statuses)}, requests cut {dict(storm.errors)}")
    assert len(acknowledged) >= 3 * 150


def test_postgres_crash_during_a_write_storm(start_postgres, start_back):
    server = start_postgres()
    back = start_back(server.url)
    client = Client(back.url)
    with Storm([back.url], writers=8, tag="crash") as storm:
        storm.wait_for(200)
        server.stop("immediate")  # a crash: no checkpoint, recovery from the WAL at the next start
        before_503 = storm.statuses[503]
        assert_students_unavailable(client)
        assert_unaffected(client)
        assert metric(client, "racontemoi_students_database_up") == 0
        # The writers keep writing and get 503 too (never a 500, never a hang: Storm counts them).
        deadline = time.monotonic() + 60
        while storm.statuses[503] < before_503 + 40:
            assert time.monotonic() < deadline, f"writers' answers while down: {dict(storm.statuses)}"
            time.sleep(0.05)
        server.start()
        # The same back, not restarted, takes writes again.
        storm.wait_for(len(storm.acknowledged) + 200, timeout=120)
    assert not storm.bad, f"answers other than 201 and a proper 503: {storm.bad[:5]}"
    assert not storm.errors, f"requests with no answer (a timeout is a hang): {dict(storm.errors)}"
    assert storm.statuses[500] == 0
    assert back.process.poll() is None, "the back exited"
    assert_all_there(storm.acknowledged, client.names())
    assert_unaffected(client)
    assert metric(client, "racontemoi_students_database_up") == 1
    assert metric(client, "racontemoi_students_database_down_total") >= 1
    print(f"crash: {len(storm.acknowledged)} creates acknowledged, all found; answers {dict(storm.statuses)}")


def test_a_back_started_while_its_database_is_down_serves_stories_and_connects_later(start_postgres, start_back):
    server = start_postgres()
    server.stop()
    back = start_back(server.url)
    client = Client(back.url)
    assert_unaffected(client)
    assert_students_unavailable(client)
    assert metric(client, "racontemoi_students_database_up") == 0
    server.start()
    wait_until_created(client, "late")
    # The schema was created when the database came; the student is there, readiness never moved.
    assert client.get("late").json() == {"name": "late", "age": 7}
    assert client.names() == ["late"]
    assert_unaffected(client)
    assert metric(client, "racontemoi_students_database_up") == 1


# TLS: one server with a CA of its own, which refuses plain-text logins (hostnossl ... reject).

@pytest.fixture(scope="module")
def tls_postgres():
    directory = Path(tempfile.mkdtemp(prefix="racontemoi-api-tls-"))
    directory.chmod(0o755)
    tls = postgres.make_tls(directory / "certs")
    wrong = postgres.make_tls(directory / "certs", name="other-ca")
    server = postgres.start(directory / "pg", ssl=tls)
    yield server, tls, wrong
    server.stop("immediate")
    shutil.rmtree(directory, ignore_errors=True)


def tls_connections(server: postgres.RunningPostgres) -> int:
    """The back's role's sessions that are encrypted, from the server's own view."""
    return int(server.psql("SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) "
                           "WHERE usename = 'racontemoi' AND ssl", database="postgres"))


def assert_works(back, name: str) -> None:
    client = Client(back.url)
    answer = client.create(name, 12)
    assert answer.status == 201, (answer.status, answer.body[:300], back.log.read_text()[-2000:])
    assert client.get(name).status == 200


def test_tls_verify_full_with_the_ca_in_the_url(tls_postgres, start_back):
    server, tls, _ = tls_postgres
    back = start_back(f"{server.url}?sslmode=verify-full&sslrootcert={tls.ca}")
    assert_works(back, "tls-url")
    assert tls_connections(server) >= 1


def test_tls_verify_full_with_the_ca_from_students_database_ca_file(tls_postgres, start_back):
    server, tls, _ = tls_postgres
    back = start_back(f"{server.url}?sslmode=verify-full", STUDENTS_DATABASE_CA_FILE=str(tls.ca))
    assert_works(back, "tls-ca-file")
    assert tls_connections(server) >= 1


def test_tls_verify_full_with_localhost_as_the_host(tls_postgres, start_back):
    server, tls, _ = tls_postgres
    back = start_back(server.url.replace("@127.0.0.1:", "@localhost:") + "?sslmode=verify-full",
                      STUDENTS_DATABASE_CA_FILE=str(tls.ca))
    assert_works(back, "tls-localhost")


def failing_lines(back, requests: int = 5) -> list[str]:
    """Sends requests student requests (each a 503 JSON), then returns the back's log lines."""
    client = Client(back.url)
    for _ in range(requests):
        answer = client.request("GET", f"{PREFIX}/students")
        assert unavailable_problem(answer) is None, (answer.status, answer.body[:300])
    assert_unaffected(client)
    return back.log.read_text(errors="replace").splitlines()


def test_tls_a_wrong_ca_is_refused_with_one_clear_log_line(tls_postgres, start_back):
    server, _, wrong = tls_postgres
    back = start_back(f"{server.url}?sslmode=verify-full&sslrootcert={wrong.ca}")
    lines = failing_lines(back)
    about_it = [line for line in lines if re.search(r"certificate|UnknownIssuer", line, re.IGNORECASE)]
    # One line for the outage, not one per request or per retry; it names the CA file it used.
    assert len(about_it) == 1, "\n".join(lines[-20:])
    assert str(wrong.ca) in about_it[0] and "UnknownIssuer" in about_it[0], about_it[0]
    assert server.password not in "\n".join(lines), "the log shows the database password"


def test_tls_plain_text_against_a_server_that_requires_tls_fails_clearly(tls_postgres, start_back):
    server, _, _ = tls_postgres
    back = start_back(f"{server.url}?sslmode=disable")
    lines = failing_lines(back)
    assert len([line for line in lines if "no encryption" in line]) == 1, "\n".join(lines[-20:])
