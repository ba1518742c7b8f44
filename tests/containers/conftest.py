"""Shared fixtures of the containers stage: the docker and compose CLIs, and the compose stack the end-to-end tests run against.

The images are built beforehand by tests/containers/build_images.sh (scripts/stages/containers.sh
runs it), under the names compose.yaml uses; the tests never build, they only run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from testkit import free_port, http  # noqa: F401 (http: for the tests, from here)

REPO = Path(__file__).resolve().parents[2]
IMAGE_TAG = os.environ.get("IMAGE_TAG", "local")
BACK_IMAGE = f"racontemoi-back:{IMAGE_TAG}"
FRONT_IMAGE = f"racontemoi-front:{IMAGE_TAG}"
# Everything a run creates carries this name, so scripts/stages/containers.sh can clean up after
# a crash, and two runs on one engine never touch each other's containers or volumes.
PROJECT = os.environ.get("CONTAINERS_TEST_PROJECT", f"racontemoi-test-{os.getpid()}")
STUDENTS_PREFIX = "/supmit/api/v1.0"
DEFAULT_CREDENTIALS = ("root", "root")


def docker_bin() -> str:
    if os.environ.get("DOCKER"):
        return os.environ["DOCKER"]
    return "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else shutil.which("docker") or "docker"


def compose_bin() -> str:
    venv_compose = REPO / ".cache/venv-containers/bin/docker-compose"
    return os.environ.get("COMPOSE", str(venv_compose))


# The variables compose.yaml reads. The tests set the ones they mean to and drop the others, and
# read no .env file, so neither the caller's shell nor a developer's .env changes what is tested.
COMPOSE_SETTINGS = ("API_USERNAME", "API_PASSWORD", "STORY_URL", "STUDENTS_API_URL",
                    "STUDENTS_API_PREFIX", "BACK_URL", "CORS_ALLOW_ORIGIN", "LOG_FORMAT",
                    "FRONT_PORT", "BACK_PORT", "PUBLISH_ADDRESS", "IMAGE_TAG",
                    "LOGIN_THROTTLE_FAILURES", "LOGIN_THROTTLE_WINDOW", "LOGIN_THROTTLE_MAX_CLIENTS",
                    "TRUSTED_PROXIES", "POSTGRES_PASSWORD", "FRONT_POSTGRES_PORT")


def compose_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in COMPOSE_SETTINGS}
    env.update(settings)
    return env


def compose(*args: str, files: tuple[str, ...] = ("compose.yaml",), env_file: str = "/dev/null",
            settings: dict[str, str] | None = None, project: str | None = None,
            check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    command = [compose_bin(), "--env-file", env_file]
    if project:
        command += ["--project-name", project]
    command += [flag for f in files for flag in ("-f", f)]
    return run([*command, *args], env=compose_env(**(settings or {})), check=check, timeout=timeout)


def run(args: list[str], *, env: dict[str, str] | None = None, check: bool = True,
        timeout: float = 180) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def docker(*args: str, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return run([docker_bin(), *args], check=check, timeout=timeout)


def inspect(obj: str) -> dict:
    return json.loads(docker("inspect", obj).stdout)[0]


def proc_file(container: str, name: str) -> str:
    """/proc/<pid>/<name> of the container's main process, read from the host."""
    pid = inspect(container)["State"]["Pid"]
    return Path(f"/proc/{pid}/{name}").read_text(encoding="utf-8")


def process_status(container: str) -> dict[str, str]:
    """/proc/<pid>/status of the container's main process."""
    status = proc_file(container, "status")
    return dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)


def tcp_active_opens(container: str) -> int:
    """TCP connections opened from the container's network namespace so far: ActiveOpens of its
    /proc/net/snmp."""
    snmp = proc_file(container, "net/snmp")
    names, values = (line.split() for line in snmp.splitlines() if line.startswith("Tcp:"))
    return int(values[names.index("ActiveOpens")])


def wait_healthy(container: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    status = "unknown"
    while time.monotonic() < deadline:
        state = inspect(container)["State"]
        status = state.get("Health", {}).get("Status", "none")
        if status == "healthy":
            return
        if not state["Running"]:
            break
        time.sleep(0.5)
    logs = docker("logs", "--tail", "30", container, check=False)
    raise AssertionError(f"{container} not healthy (last status {status}):\n{logs.stdout}{logs.stderr}")


@dataclass
class Stack:
    """The compose project under test, with the settings it was started with."""

    back_port: int
    front_port: int
    files: tuple[str, ...] = ("compose.yaml",)

    @property
    def back(self) -> str:
        return f"http://127.0.0.1:{self.back_port}"

    @property
    def front(self) -> str:
        return f"http://127.0.0.1:{self.front_port}"

    @property
    def story_url(self) -> str:
        # An absolute STORY_URL: the page then fetches stories from the back's published port.
        return f"{self.back}/racontemoiunehistoire"

    def settings(self) -> dict[str, str]:
        return {
            "IMAGE_TAG": IMAGE_TAG,
            "BACK_PORT": str(self.back_port),
            "FRONT_PORT": str(self.front_port),
            "STORY_URL": self.story_url,
            "CORS_ALLOW_ORIGIN": self.front,
        }

    def compose(self, *args: str, extra_files: tuple[str, ...] = (), check: bool = True,
                timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return compose(*args, files=(*self.files, *extra_files), settings=self.settings(),
                       project=PROJECT, check=check, timeout=timeout)

    def up(self, *extra_files: str) -> None:
        self.compose("up", "--detach", "--wait", "--no-build", extra_files=extra_files)

    def container(self, service: str) -> str:
        return self.compose("ps", "--quiet", service).stdout.strip()


@pytest.fixture(scope="session")
def engine() -> None:
    if docker("info", check=False).returncode != 0:
        pytest.fail("no Docker engine answers (scripts/stages/containers.sh starts one)")
    for image in (BACK_IMAGE, FRONT_IMAGE):
        if docker("image", "inspect", image, check=False).returncode != 0:
            pytest.fail(f"{image} is missing: run tests/containers/build_images.sh first")


@pytest.fixture(scope="module")
def stack(engine) -> Stack:
    """The stack, up and healthy, removed with its volumes when the module ends."""
    stack = Stack(back_port=free_port(), front_port=free_port())
    try:
        stack.up()
        yield stack
    finally:
        stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "5", check=False)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keeps each phase's report on the test item (rep_setup, rep_call...), for fixtures to read."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
