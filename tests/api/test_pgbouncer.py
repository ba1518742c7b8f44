"""The back through PgBouncer, as the chart's CloudNativePG Pooler puts it (issue 27): the real
back (release build) -> Debian's pgbouncer -> a real PostgreSQL (Debian's, testkit.postgres).

- session mode (the chart's default poolMode): the back creates, lists, updates and deletes
  students through PgBouncer, over TLS with verify-full against PgBouncer's CA, as the chart
  connects to <cluster>-pooler-rw; every write is in the database;
- transaction mode with a PgBouncer older than 1.21 (Debian 12's 1.18), which does not track
  prepared statements: the back's statements (tokio-postgres prepares each one on its
  connection) meet server connections that never prepared them, or prepared them for another
  client, and student requests fail. With 1.21+ (CloudNativePG's PgBouncer image), this test says
  so and is skipped: the failure is that of old versions only.
"""

from __future__ import annotations

import concurrent.futures
import re
import urllib.parse

import pytest

from conftest import PREFIX, Client
from testkit import pgbouncer, postgres


@pytest.fixture
def server(start_postgres) -> postgres.RunningPostgres:
    return start_postgres("pg")


def test_the_back_works_through_pgbouncer_in_session_mode(server, start_back, workdir):
    tls = postgres.make_tls(workdir / "pooler-tls", hosts=("127.0.0.1",))
    pooler = pgbouncer.start(workdir / "pgbouncer", server, pool_mode="session", tls=tls)
    try:
        # The CA file and no sslmode: the back uses verify-full, as with the chart's pooler.
        back = start_back(pooler.url(), STUDENTS_DATABASE_CA_FILE=str(tls.ca))
        client = Client(back.url)
        name = "élodie"
        path = f"{PREFIX}/students/{urllib.parse.quote(name)}"
        assert client.create(name, 12).status == 201
        assert client.create("bob", 13).status == 201
        assert name in client.names()
        answer = client.request("PUT", path, {"age": 14})
        assert answer.status == 200, answer.body
        assert client.get(name).json()["age"] == 14
        assert client.request("DELETE", path).status == 204
        assert client.get(name).status == 404
        # Concurrent writers, more than one server connection: every create answered 201 is there.
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda i: Client(back.url).create(f"s{i}", i % 100).status, range(200)))
        assert statuses.count(201) == 200, statuses
        rows = server.psql("SELECT count(*) FROM students").strip()
        assert int(rows) == 201, rows  # bob and the 200
        # The back really went through PgBouncer, over TLS: PgBouncer logged its logins.
        logins = [line for line in pooler.log.read_text(errors="replace").splitlines() if "login attempt" in line]
        assert logins and all("tls=TLSv1." in line for line in logins), logins[:3]
    finally:
        pooler.stop()


def test_transaction_mode_breaks_prepared_statements_before_pgbouncer_1_21(server, start_back, workdir):
    if pgbouncer.version() >= (1, 21):
        pytest.skip(f"PgBouncer {pgbouncer.version()} tracks prepared statements (1.21+): transaction mode works")
    # One server connection for several client connections: each client's statements land on a
    # server connection another client prepared (or did not prepare) its own statements on.
    pooler = pgbouncer.start(workdir / "pgbouncer", server, pool_mode="transaction",
                             settings={"default_pool_size": "2"})
    try:
        try:
            back = start_back(pooler.url(), STUDENTS_DATABASE_POOL_SIZE="4")
        except TimeoutError:
            return  # the back could not even start: the failure shown

        def mixed(i: int) -> list[int]:
            # The reads run the back's cached prepared statements (tokio-postgres prepare_cached).
            client = Client(back.url)
            return [client.create(f"t{i}", i % 100).status, client.get(f"t{i}").status,
                    client.request("GET", f"{PREFIX}/get_student_ages").status,
                    client.request("GET", f"{PREFIX}/students?limit=5").status]

        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            statuses = [s for answer in pool.map(mixed, range(60)) for s in answer]
        failed = [s for s in statuses if s >= 500]
        assert failed, "every request succeeded through PgBouncer 1.18 in transaction mode"
        # The back's own error line: a statement prepared on another server connection.
        log = back.log.read_text(errors="replace")
        assert re.search(r'prepared statement "s\d+" (does not exist|already exists)', log), log[-3000:]
    finally:
        pooler.stop()
