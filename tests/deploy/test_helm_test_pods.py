"""`helm test` of the path users take, run on the host: the commands of the chart's rendered test
pods, against a real front (Debian's nginx with the front's real config, as tests/front/harness.py
runs it) proxying to the real back binary. With the back stopped they must fail: a front that
cannot reach the back fails `helm test`. With a database, the write check (the front image's
busybox script) runs too, against the back on a real PostgreSQL (Debian's, testkit.postgres), and
fails once the database is stopped."""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import ROOT, VALUES, helm_template, load_docs

sys.path.insert(0, str(ROOT / "tests" / "front"))
from harness import API_PASSWORD, API_USER, BACK_BINARY, BUSYBOX, STUDENTS_PREFIX, Front, new_workdir, start_stack

# The chart's prefix is the one the harness's front and back use.
assert STUDENTS_PREFIX == "/supmit/api/v1.0"


def test_pods(*values: Path) -> dict[str, dict]:
    docs = load_docs(helm_template(*values).stdout)
    return {d["metadata"]["name"].removeprefix("racontemoi-test-"): d["spec"]["containers"][0]
            for d in docs if d["kind"] == "Pod" and d["metadata"]["annotations"].get("helm.sh/hook") == "test"}


def test_pod_commands(*values: Path) -> dict[str, list[str]]:
    return {name: container["command"] for name, container in test_pods(*values).items()}


test_pods.__test__ = test_pod_commands.__test__ = False  # helpers, not tests


def run_on_host(command: list[str], stack) -> subprocess.CompletedProcess:
    """A test pod's command on this machine: the back binary, the Services' URLs as the local ports."""
    assert command[0] == "/back"
    args = [a.replace("http://racontemoi-front:80", stack.front.origin)
             .replace("http://racontemoi-back:5000", stack.back.url) for a in command[1:]]
    return subprocess.run([str(BACK_BINARY), *args], capture_output=True, text=True, timeout=30)


@pytest.fixture
def stack():
    """Starts a back (with or without credentials) and a front proxying to it."""
    if not BACK_BINARY.exists():
        pytest.fail(f"{BACK_BINARY} is missing: the deploy stage builds it (cargo build --release -p back)")
    workdir = new_workdir("helm-test")
    started = []

    def start(credentials: bool, back_env: dict[str, str | None] | None = None):
        env = {} if credentials else {"API_USERNAME": None, "API_PASSWORD": None}
        started.append(start_stack(workdir, len(started), {**env, **(back_env or {})}))
        return started[-1]

    yield start
    for running in started:
        running.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.mark.parametrize("credentials, values", [(True, VALUES / "all-enabled.yaml"), (False, None)],
                         ids=["with-credentials", "without-credentials"])
def test_helm_test_pods_pass_then_fail_without_the_back(credentials, values, stack):
    commands = test_pod_commands(*([values] if values else []))
    assert set(commands) == {"back", "story", "students"}
    assert commands["students"][-2:] == ["--expect", "401" if credentials else "503"]
    running = stack(credentials)
    for name, command in commands.items():
        proc = run_on_host(command, running)
        assert proc.returncode == 0, f"{name}: {command}: {proc.stdout}{proc.stderr}"
    # The front alone, its back gone: nginx answers 502, and every test pod fails.
    running.back.stop()
    for name, command in commands.items():
        proc = run_on_host(command, running)
        assert proc.returncode == 1, f"{name} passed without a back: {proc.stdout}{proc.stderr}"
        if name != "back":
            assert "answered 502" in proc.stderr, proc.stderr


class _HostRecorder:
    """A stand-in back that records the Host header of each request and answers 200."""

    def __init__(self):
        import http.server
        import socket
        import threading

        hosts = self.hosts = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                hosts.append(self.headers.get("Host"))
                body = b"une histoire\n"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class DualStack(http.server.ThreadingHTTPServer):
            address_family = socket.AF_INET6

            def server_bind(self):
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                super().server_bind()

        try:
            self.server = DualStack(("::", 0), Handler)
        except OSError:  # no IPv6 here: localhost is 127.0.0.1 only
            self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_front_sends_the_back_urls_host():
    """The Knative mode's BACK_URL is the Knative Service's address, and Knative routes by the Host
    header: the front must send the host of BACK_URL, not the browser's."""
    recorder = _HostRecorder()
    workdir = new_workdir("helm-test-host")
    front = Front(workdir / "front", env_overrides={"BACK_URL": f"http://localhost:{recorder.port}"})
    try:
        front.start()
        import urllib.request
        request = urllib.request.Request(f"{front.origin}/racontemoiunehistoire", headers={"Host": "racontemoi.example.com"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        assert recorder.hosts == [f"localhost:{recorder.port}"]
    finally:
        front.stop()
        recorder.close()
        shutil.rmtree(workdir, ignore_errors=True)


# The front image's tools the write check uses, from busybox as in the image (Alpine's busybox;
# Debian's busybox here, an older version of the same applets).
BUSYBOX_APPLETS = ("sh", "wget", "nc", "timeout", "sleep", "base64", "cat", "tr", "head", "cut")


def run_write_check_on_host(container: dict, stack, workdir: Path) -> subprocess.CompletedProcess:
    """The write pod's script under busybox alone (PATH holds only its applets), its env as the pod
    sets it, the front Service's URL as the local front, the credentials' files written here."""
    applets = workdir / "busybox-bin"
    applets.mkdir(exist_ok=True)
    for name in BUSYBOX_APPLETS:
        if not (applets / name).exists():
            (applets / name).symlink_to(BUSYBOX)
    secrets = workdir / "secrets"
    secrets.mkdir(exist_ok=True)
    (secrets / "username").write_text(API_USER)
    (secrets / "password").write_text(API_PASSWORD)
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["FRONT_URL"] == "http://racontemoi-front:80"
    env.update(FRONT_URL=stack.front.origin, API_USERNAME_FILE=str(secrets / "username"),
               API_PASSWORD_FILE=str(secrets / "password"), PATH=str(applets))
    shell, flag, script = container["command"]
    assert (shell, flag) == ("/bin/sh", "-c")
    return subprocess.run([str(applets / "sh"), "-c", script], env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def postgres():
    """A real PostgreSQL (Debian's, initdb + pg_ctl on a free port), stopped at the end."""
    import testkit.postgres

    workdir = Path(tempfile.mkdtemp(prefix="racontemoi-helm-test-pg-"))
    workdir.chmod(0o755)
    server = testkit.postgres.start(workdir / "pg")
    yield server
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def test_helm_test_pods_with_a_database_write_then_fail_without_it(postgres, stack):
    """The CloudNativePG render's test pods against a back on a real PostgreSQL: all pass, the
    write check included (create, read back through the front, delete). With PostgreSQL stopped,
    the write check fails on the back's 503, while the read-only probes still pass: a database
    down fails only the routes that need it, never the back's readiness."""
    pods = test_pods(VALUES / "database-cloudnativepg.yaml")
    assert set(pods) == {"back", "story", "students", "write"}
    running = stack(True, {"STUDENTS_DATABASE_URL": postgres.url, "STUDENT_AGE_FILE": None})
    workdir = running.back.workdir.parent
    for name in ("back", "story", "students"):
        proc = run_on_host(pods[name]["command"], running)
        assert proc.returncode == 0, f"{name}: {proc.stdout}{proc.stderr}"
    proc = run_write_check_on_host(pods["write"], running, workdir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "created, read back and deleted" in proc.stdout
    # It left nothing behind, and runs again (a leftover from an interrupted run is deleted first).
    again = run_write_check_on_host(pods["write"], running, workdir)
    assert again.returncode == 0, again.stdout + again.stderr
    postgres.stop("immediate")
    proc = run_write_check_on_host(pods["write"], running, workdir)
    assert proc.returncode == 1, f"the write check passed without a database: {proc.stdout}{proc.stderr}"
    assert "write check:" in proc.stderr and "503" in proc.stderr, proc.stderr
    for name in ("back", "story", "students"):
        proc = run_on_host(pods[name]["command"], running)
        assert proc.returncode == 0, f"{name} failed with the database down: {proc.stdout}{proc.stderr}"
