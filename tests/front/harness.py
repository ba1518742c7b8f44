"""Runs the front the way its image does, on the host: the real back binary, and Debian's nginx
with the front's real nginx.conf and template, rendered by the front's real entrypoint steps
(under busybox, like the alpine image) with the image's ENV defaults.

The only differences from the image: the html root is a copy of front/html in a temporary
directory (compressed as the image's build does), every /tmp location of the image lives in that
directory, nginx listens on a free 127.0.0.1 port, and the wait for the back's name to resolve
is off (BACK_RESOLVE_TIMEOUT=0: the image's default back, "back", is no host here) unless a test
sets it. Like the image (uid 101), the steps and nginx run unprivileged: as `nobody` when
the tests run as root, with only that directory writable, so that nginx writing anywhere else
fails the start as it would on the image's read-only root filesystem."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import testkit.back
from testkit import free_port, stop_process, wait_http

REPO = Path(__file__).resolve().parents[2]
FRONT = REPO / "front"
STANDIN = Path(__file__).resolve().parent / "entrypoint_standin.sh"
# The stage builds target/release/back; FRONT_TEST_BACK_BINARY points elsewhere (a debug build).
BACK_BINARY = Path(os.environ.get("FRONT_TEST_BACK_BINARY", testkit.back.RELEASE_BINARY))
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
BUSYBOX = shutil.which("busybox") or "/usr/bin/busybox"
SETPRIV = shutil.which("setpriv") or "/usr/bin/setpriv"  # util-linux's, not busybox's
API_USER = "root"
API_PASSWORD = "root"
STUDENTS_PREFIX = "/supmit/api/v1.0"


UNPRIVILEGED_UID = 65534  # nobody


def unprivileged(command: list[str]) -> list[str]:
    """The command, run as nobody when the tests run as root (as the current user otherwise)."""
    if os.geteuid() != 0:
        return command
    uid = str(UNPRIVILEGED_UID)
    return [SETPRIV, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *command]


def give_to_unprivileged(path: Path) -> None:
    """Makes one file or directory (not its content) writable by the unprivileged user."""
    if os.geteuid() == 0:
        os.chown(path, UNPRIVILEGED_UID, UNPRIVILEGED_UID)


def dockerfile_env() -> dict[str, str]:
    """The ENV defaults of front/Dockerfile, as the image's processes see them."""
    env: dict[str, str] = {}
    instruction = ""
    for line in (FRONT / "Dockerfile").read_text().splitlines():
        line = line.strip()
        if not instruction and not line.startswith("ENV "):
            continue
        instruction += " " + line.rstrip("\\")
        if not line.endswith("\\"):
            for token in shlex.split(instruction.strip()[len("ENV") :]):
                name, _, value = token.partition("=")
                env[name] = value
            instruction = ""
    return env


def busybox_bin(directory: Path) -> Path:
    """A PATH directory with busybox's applets (what the alpine image has) plus envsubst."""
    directory.mkdir(parents=True, exist_ok=True)
    applets = subprocess.run([BUSYBOX, "--list"], check=True, capture_output=True, text=True).stdout.split()
    for applet in applets:
        link = directory / applet
        if not link.exists():
            link.symlink_to(BUSYBOX)
    # envsubst, and the C library's getent (the alpine image has musl's), which the wait step uses.
    for tool in ("envsubst", "getent"):
        link = directory / tool
        if not link.exists():
            link.symlink_to(shutil.which(tool))
    return directory


def gzip_static(html_dir: Path) -> None:
    """Compresses the page's files as the image's build does: the `find ... -name ... -exec gzip
    -9 -k` RUN line of front/Dockerfile, read from it, run by busybox (the alpine image's gzip)."""
    dockerfile = re.sub(r"\\\n\s*", "", (FRONT / "Dockerfile").read_text())
    run = re.search(r"^RUN find \S+ (.*?-exec gzip[^\n]*)", dockerfile, re.MULTILINE)
    if run is None:
        return  # a front without compressed files (an older revision, for the benchmark)
    names = re.findall(r"-name '([^']+)'", run.group(1))
    for path in html_dir.rglob("*"):
        if path.is_file() and any(path.match(name) for name in names):
            subprocess.run([BUSYBOX, "gzip", "-9", "-k", str(path)], check=True)


@dataclass
class Back:
    """The real back binary (testkit.back) with the students API enabled, on the port the kernel
    picks unless port is set (a restart on the same port)."""

    workdir: Path
    cors_allow_origin: str = ""
    # Changes to the environment below; None removes a variable.
    env_overrides: dict[str, str | None] = field(default_factory=dict)
    port: int = 0  # the port it listens on, once started
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Back:
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "API_USERNAME": API_USER,
            "API_PASSWORD": API_PASSWORD,
            "STUDENT_AGE_FILE": str(self.workdir / "student_age.json"),
            "CORS_ALLOW_ORIGIN": self.cors_allow_origin,
            "SHUTDOWN_TIMEOUT": "1s",
        }
        env.update(self.env_overrides)
        env = {name: value for name, value in env.items() if value is not None}
        running = testkit.back.start(env, self.workdir / "back.log", BACK_BINARY)
        self.process, self.port = running.process, running.port
        return self

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None


class RenderError(RuntimeError):
    def __init__(self, result: subprocess.CompletedProcess):
        super().__init__(f"render exited {result.returncode}:\n{result.stdout}{result.stderr}")
        self.result = result


@dataclass
class Front:
    """The front's config rendered by its real entrypoint steps, served by host nginx."""

    workdir: Path
    env_overrides: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    rendered: subprocess.CompletedProcess | None = None  # what the steps printed, once started

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def html_dir(self) -> Path:
        return self.workdir / "image" / "html"

    @property
    def nginx_conf(self) -> Path:
        return self.workdir / "nginx.conf"

    def in_workdir(self, image_path: str) -> str:
        """Where an image path under /tmp lives for this test."""
        return str(self.workdir / image_path.removeprefix("/tmp/")) if image_path.startswith("/tmp/") else image_path

    def environment(self) -> dict[str, str]:
        env = {name: self.in_workdir(value) for name, value in dockerfile_env().items()}
        env.update(FRONT_HTML_DIR=str(self.html_dir), FRONT_LISTEN=f"127.0.0.1:{self.port}")
        env.update(BACK_RESOLVE_TIMEOUT="0")
        env.update(self.env_overrides)
        env["PATH"] = str(busybox_bin(self.workdir / "bin"))
        return env

    def render(self) -> subprocess.CompletedProcess:
        """Runs the entrypoint steps; raises RenderError when they fail."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o755)
        # Copies, as the image has them: the checkout may not be readable by nginx's user.
        image = self.workdir / "image"
        if not image.exists():
            for part in ("html", "templates", "docker-entrypoint.d"):
                shutil.copytree(FRONT / part, image / part)
            gzip_static(image / "html")
            shutil.copy2(STANDIN, image / STANDIN.name)
        self.nginx_conf.write_text((FRONT / "nginx.conf").read_text().replace("/tmp/", f"{self.workdir}/"))
        give_to_unprivileged(self.workdir)  # the image's /tmp; everything else stays root's
        steps = [str(image / STANDIN.name), str(image / "docker-entrypoint.d"), str(image / "templates")]
        result = subprocess.run(
            unprivileged([BUSYBOX, "sh", *steps]),
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=30,
        )
        if result.returncode != 0:
            raise RenderError(result)
        return result

    def nginx_command(self, *args: str) -> list[str]:
        return [NGINX, "-e", "stderr", "-c", str(self.nginx_conf), *args]

    def _log(self, name: str):
        """A log file for nginx's stdout and stderr. nginx reopens /dev/stdout for its access log,
        so the file belongs to nginx's user, as runc gives a container's stdio to its user."""
        path = self.workdir / name
        log = open(path, "ab")  # noqa: SIM115 (the caller hands it to nginx and closes it)
        give_to_unprivileged(path)
        return log

    def check_config(self) -> subprocess.CompletedProcess:
        """`nginx -t` on the rendered configuration; its output is in .stdout."""
        with self._log("nginx-t.log") as log:
            result = subprocess.run(
                unprivileged(self.nginx_command("-t")), stdout=log, stderr=subprocess.STDOUT, timeout=30
            )
        result.stdout = (self.workdir / "nginx-t.log").read_text()
        return result

    def start(self) -> Front:
        self.rendered = self.render()
        return self.serve()

    def serve(self) -> Front:
        """Starts nginx on the configuration render() wrote."""
        with self._log("nginx.log") as log:
            self.process = subprocess.Popen(
                unprivileged(self.nginx_command("-g", "daemon off;")), stdout=log, stderr=subprocess.STDOUT
            )
        try:
            wait_http(f"{self.origin}/healthz")
        except TimeoutError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        stop_process(self.process, signal.SIGQUIT)
        self.process = None

    def log(self) -> str:
        path = self.workdir / "nginx.log"
        return path.read_text(errors="replace") if path.exists() else ""


@dataclass
class Stack:
    back: Back
    front: Front

    def stop(self) -> None:
        self.front.stop()
        self.back.stop()


def start_stack(workdir: Path, index: int, back_env: dict[str, str | None] | None = None,
                **front_env: str) -> Stack:
    """Starts the real back and a front proxying to it (BACK_URL, unless front_env sets it), in
    workdir/back<index> and workdir/front<index>; the back allows the front's origin (CORS)."""
    front = Front(workdir / f"front{index}", env_overrides=front_env)
    back = Back(workdir / f"back{index}", cors_allow_origin=front.origin, env_overrides=back_env or {}).start()
    front.env_overrides.setdefault("BACK_URL", back.url)
    try:
        front.start()
    except BaseException:
        back.stop()
        raise
    return Stack(back, front)


def new_workdir(prefix: str) -> Path:
    # Not pytest's tmp_path: its parents are private to the user, and nginx's workers are not.
    path = Path(tempfile.mkdtemp(prefix=f"racontemoi-{prefix}-"))
    path.chmod(0o755)
    return path
