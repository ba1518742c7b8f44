"""Helpers shared by the Python test suites (tests/*/) and the benchmark (bench/): a free loopback
port, one HTTP request, waiting for an HTTP answer, stopping a process by PID. testkit.back starts the real back.

Installed editable into every venv by python_venv (scripts/lib.sh): `import testkit` anywhere."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass


def free_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago, for servers that cannot take port 0."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self):
        return json.loads(self.body)


def http(method: str, url: str, *, body: object | None = None,
         auth: tuple[str, str] | None = None, headers: dict[str, str] | None = None,
         timeout: float = 10) -> Response:
    """One HTTP request to 127.0.0.1 (JSON body, basic auth if given); answers of every status come
    back as a Response, headers with lower-case names (no exception but OSError: nothing answered)."""
    assert url.startswith("http://127.0.0.1:"), "tests only talk to 127.0.0.1"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    return _send(request, timeout)


def http_status(url: str, headers: dict[str, str] | None = None, timeout: float = 2) -> int:
    """The status of a GET of url, whatever it is; OSError when nothing answers."""
    return _send(urllib.request.Request(url, headers=headers or {}), timeout).status


def _send(request: urllib.request.Request, timeout: float) -> Response:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return Response(answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())


def wait_http(url: str, timeout: float = 15.0, process: subprocess.Popen | None = None,
              interval: float = 0.1) -> None:
    """Waits until url answers 200; TimeoutError after timeout seconds, or as soon as process (the
    server, when given) has exited."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if http_status(url) == 200:
                return
        except OSError:
            pass
        if process is not None and process.poll() is not None:
            raise TimeoutError(f"{url}: the server exited ({process.returncode}) before answering 200")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer 200 within {timeout}s")
        time.sleep(interval)


def stop_process(process: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
    """Sends sig to the process (by its PID) and waits for it; SIGKILL after timeout seconds, to
    its whole process group when it leads one (a server started with start_new_session=True)."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            leads_group = os.getpgid(process.pid) == process.pid
        except ProcessLookupError:
            leads_group = False
        if leads_group:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
        process.wait(timeout=5)
