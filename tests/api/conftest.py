"""Fixtures and clients of the api stage's tests on a real PostgreSQL (Debian's, started by
testkit.postgres on a temp dir and a free 127.0.0.1 port) with the real back (the release build,
started by testkit.back): many concurrent writers (a write storm) whose acknowledged creates are
counted, then checked against what the database holds. Every request has a client timeout, so a
hang shows as a counted timeout instead of a stuck test; every load is bounded in count."""

from __future__ import annotations

import base64
import http.client
import json
import shutil
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import pytest

from testkit import back as testkit_back
from testkit import postgres

PREFIX = "/supmit/api/v1.0"
AUTH = "Basic " + base64.b64encode(b"root:root").decode()
# Client timeout of every request: far above any answer the back should give (a connect timeout
# or a statement timeout bounds its own waits), so a timeout here is a hang.
CLIENT_TIMEOUT = 20.0


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


class Client:
    """One keep-alive HTTP/1.1 connection to a back on 127.0.0.1, authenticated as root:root,
    reopened after any error."""

    def __init__(self, url: str, timeout: float = CLIENT_TIMEOUT):
        parsed = urllib.parse.urlsplit(url)
        assert parsed.hostname == "127.0.0.1", "tests only talk to 127.0.0.1"
        self.port, self.timeout, self.conn = parsed.port, timeout, None

    def request(self, method: str, path: str, body: object | None = None, auth: bool = True) -> Answer:
        headers = {"Authorization": AUTH} if auth else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def create(self, name: str, age: int) -> Answer:
        return self.request("POST", f"{PREFIX}/students", {"name": name, "age": age})

    def get(self, name: str) -> Answer:
        return self.request("GET", f"{PREFIX}/students/{urllib.parse.quote(name, safe='')}")

    def names(self) -> list[str]:
        """Every student's name, in store order, read page by page through the REST list."""
        names, cursor = [], None
        while True:
            query = "limit=1000" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
            answer = self.request("GET", f"{PREFIX}/students?{query}")
            assert answer.status == 200, (answer.status, answer.body[:300])
            page = answer.json()
            names += [student["name"] for student in page["students"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return names

    def legacy_names(self) -> list[str]:
        """The legacy list's names, in its order; a name twice in its JSON fails."""
        answer = self.request("GET", f"{PREFIX}/get_student_ages")
        assert answer.status == 200, (answer.status, answer.body[:300])

        def no_duplicates(pairs):
            keys = [key for key, _ in pairs]
            assert len(keys) == len(set(keys)), f"a name twice in the legacy list: {Counter(keys).most_common(3)}"
            return dict(pairs)

        ages = json.loads(answer.body, object_pairs_hook=no_duplicates)["student_ages"]
        return list(ages)


def unavailable_problem(answer: Answer) -> str | None:
    """Why answer is not the 503 a student route must give while the database is down (JSON body
    naming the problem, Retry-After in seconds); None when it is."""
    if answer.status != 503:
        return f"status {answer.status}"
    if not answer.headers.get("retry-after", "").isdigit():
        return f"Retry-After {answer.headers.get('retry-after')!r}"
    try:
        error = json.loads(answer.body)["error"]
    except (ValueError, KeyError, TypeError):
        return f"body {answer.body[:200]!r}"
    return None if isinstance(error, str) and error else f"error {error!r}"


@dataclass
class Storm:
    """writers threads, each creating up to per_writer students (`<tag>-<writer>-<n>`, all new
    names) through urls[writer % len(urls)], until stop(). Keeps going through errors (a pause of
    50 ms after each), so it spans a crash and a recovery. Counts what each answer was."""
    urls: list[str]
    writers: int = 8
    per_writer: int = 2000
    tag: str = "s"
    acknowledged: list[str] = field(default_factory=list)  # names answered 201, in the order of the answers
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)  # exceptions: ConnectionRefusedError, TimeoutError...
    bad: list[str] = field(default_factory=list)  # answers that are neither 201 nor a proper 503

    def __post_init__(self):
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._write, args=(w,), daemon=True) for w in range(self.writers)]

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=CLIENT_TIMEOUT + 10)
            assert not thread.is_alive(), "a writer is stuck past its client timeout"

    def wait_for(self, acknowledged: int, timeout: float = 60.0) -> None:
        """Until that many creates in all were acknowledged (TimeoutError after timeout s)."""
        deadline = time.monotonic() + timeout
        while len(self.acknowledged) < acknowledged:
            if time.monotonic() > deadline or self._stop.is_set():
                raise TimeoutError(f"{len(self.acknowledged)} creates acknowledged, waited for {acknowledged}; "
                                   f"answers {dict(self.statuses)}, errors {dict(self.errors)}, bad {self.bad[:3]}")
            time.sleep(0.02)

    def _write(self, writer: int) -> None:
        client = Client(self.urls[writer % len(self.urls)])
        for n in range(self.per_writer):
            if self._stop.is_set():
                break
            name = f"{self.tag}-{writer:02d}-{n:05d}"
            try:
                answer = client.create(name, n % 151)
            except OSError as error:
                with self._lock:
                    self.errors[type(error).__name__] += 1
                self._stop.wait(0.05)
                continue
            with self._lock:
                self.statuses[answer.status] += 1
                if answer.status == 201:
                    self.acknowledged.append(name)
                elif unavailable_problem(answer) is not None:
                    self.bad.append(f"{name}: {answer.status} {dict(answer.headers)} {answer.body[:200]!r}")
            if answer.status != 201:
                self._stop.wait(0.05)
        client.close()


def assert_all_there(acknowledged: list[str], names: list[str]) -> None:
    """Every acknowledged create is in names exactly once (names: what the store holds)."""
    counts = Counter(names)
    twice = [name for name, count in counts.items() if count > 1]
    assert not twice, f"{len(twice)} students listed more than once, e.g. {twice[:5]}"
    lost = [name for name in acknowledged if name not in counts]
    assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged creates lost, e.g. {lost[:5]}"


def back_env(database_url: str, **extra: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "ACCESS_LOG": "false", "API_USERNAME": "root", "API_PASSWORD": "root",
            "STUDENTS_DATABASE_URL": database_url, **extra}


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A directory of the test's own under /tmp, searchable by the postgres user, so that a
    server can live in a directory below it (pytest's tmp_path is not: its parent is root's, 0700)."""
    path = Path(tempfile.mkdtemp(prefix="racontemoi-api-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def start_postgres(workdir) -> Iterator:
    """start_postgres(name, **kwargs) -> RunningPostgres: a new server in workdir/name (its own
    directory, given to the postgres user), stopped at the end of the test."""
    started: list[postgres.RunningPostgres] = []

    def start(name: str = "pg", **kwargs) -> postgres.RunningPostgres:
        started.append(postgres.start(workdir / name, **kwargs))
        return started[-1]

    yield start
    for server in started:
        server.stop("immediate")


@pytest.fixture(scope="module")
def shared_postgres() -> Iterator[postgres.RunningPostgres]:
    """One server for the tests that only need a database of their own (create_database)."""
    directory = Path(tempfile.mkdtemp(prefix="racontemoi-api-pg-"))
    server = postgres.start(directory)
    yield server
    server.stop("immediate")
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def start_back(workdir) -> Iterator:
    """start_back(database_url, **env) -> RunningBack: the release build with credentials and
    that database, its log in workdir; every back started is stopped (SIGTERM) at the end."""
    started: list[testkit_back.RunningBack] = []

    def start(database_url: str, **env: str) -> testkit_back.RunningBack:
        back = testkit_back.start(back_env(database_url, **env), workdir / f"back-{len(started)}.log")
        started.append(back)
        return back

    yield start
    for back in started:
        back.stop()
