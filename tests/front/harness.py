"""Runs the front the way its image does, on the host: the real back binary, and Debian's nginx
with the front's real nginx.conf and templates, rendered by the front's real entrypoint steps
with the image's ENV defaults. The steps run as the image runs them: under busybox ash (Debian's
busybox-static), by the stand-in of the official entrypoint that the containers stage's nginx
stand-in image uses (tests/containers/standins/nginx: docker-entrypoint.sh with its
15-local-resolvers.envsh and 20-envsubst-on-templates.sh), with busybox's applets first on PATH.

The only differences from the image: the html root is a copy of front/html in a temporary
directory (compressed as the image's build does), every /tmp location of the image lives in that
directory, nginx listens on a free 127.0.0.1 port, `nginx` on the steps' PATH is a wrapper naming
this front's nginx.conf (the image's sits at the default path), and the lookup of the back's
name is short (BACK_RESOLVE_TIMEOUT=0: the image's default back, "back", is no host here) unless
a test sets it. Like the image (uid 101), the steps and nginx run unprivileged: as `nobody` when
the tests run as root, with only that directory writable, so that nginx writing anywhere else
fails the start as it would on the image's read-only root filesystem.

With resolv_conf, the steps and nginx run in a mount namespace of their own where that file is
/etc/resolv.conf (root only): the C library's lookups (getent, nginx 1.22's) and the DNS servers
the steps give nginx's own resolver then come from it, as a container's do from its
/etc/resolv.conf. FRONT_TEST_NGINX names another nginx binary (a 1.30 built by hand)."""

from __future__ import annotations

import contextlib
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
# The stand-in of the official image's entrypoint and its own steps (15 and 20).
STANDIN = REPO / "tests" / "containers" / "standins" / "nginx"
STANDIN_STEPS = ("15-local-resolvers.envsh", "20-envsubst-on-templates.sh")
# The stage builds target/release/back; FRONT_TEST_BACK_BINARY points elsewhere (a debug build).
BACK_BINARY = Path(os.environ.get("FRONT_TEST_BACK_BINARY", testkit.back.RELEASE_BINARY))
NGINX = os.environ.get("FRONT_TEST_NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"
BUSYBOX = shutil.which("busybox") or "/bin/busybox"
SETPRIV = shutil.which("setpriv") or "/usr/bin/setpriv"  # util-linux's, not busybox's
UNSHARE = shutil.which("unshare") or "/usr/bin/unshare"  # util-linux's
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
    # envsubst, and the C library's getent (the alpine image has musl's), which 30-racontemoi-back.sh
    # uses. Both give up on a DNS server that does not answer after about 10 s (5 s, twice).
    for tool in ("envsubst", "getent"):
        link = directory / tool
        if not link.exists():
            link.symlink_to(shutil.which(tool))
    return directory


def nginx_wrapper(path: Path, conf: Path, version: str | None = None) -> None:
    """`nginx` for the steps (nginx -v, nginx -s reload): this front's nginx with its nginx.conf;
    `version` makes `nginx -v` name another version (to render that version's variant only)."""
    fake = f'[ "$1" != -v ] || {{ echo "nginx version: nginx/{version}" >&2; exit 0; }}\n' if version else ""
    path.write_text(f'#!/bin/sh\n{fake}exec {shlex.quote(NGINX)} -e stderr -c {shlex.quote(str(conf))} "$@"\n')
    path.chmod(0o755)


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


def with_resolv_conf(resolv_conf: Path | None, command: list[str]) -> list[str]:
    """The command in a mount namespace of its own whose /etc/resolv.conf is resolv_conf."""
    if resolv_conf is None:
        return command
    mount = 'mount --bind "$0" /etc/resolv.conf && exec "$@"'
    return [UNSHARE, "--mount", "--propagation", "private", "--", "sh", "-c", mount, str(resolv_conf), *command]


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
    resolv_conf: Path | None = None  # the /etc/resolv.conf the steps and nginx see (root only)
    nginx_version: str | None = None  # what `nginx -v` says to the steps (None: the real one)
    host: str = "127.0.0.1"  # where the tests reach nginx ([::1] for a FRONT_LISTEN of [::]:port)

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def html_dir(self) -> Path:
        return self.workdir / "image" / "html"

    @property
    def nginx_conf(self) -> Path:
        return self.workdir / "nginx.conf"

    def in_workdir(self, image_path: str) -> str:
        """Where an image path under /tmp lives for this test."""
        return str(self.workdir / image_path.removeprefix("/tmp/")) if image_path.startswith("/tmp/") else image_path

    @property
    def upstream_conf(self) -> Path:
        """The upstream's servers that 30-racontemoi-back.sh chose."""
        return self.workdir / "nginx-conf.d" / "racontemoi-back.upstream"

    def environment(self) -> dict[str, str]:
        env = {name: self.in_workdir(value) for name, value in dockerfile_env().items()}
        env.update(FRONT_HTML_DIR=str(self.html_dir), FRONT_LISTEN=f"127.0.0.1:{self.port}")
        env.update(BACK_RESOLVE_TIMEOUT="0", NGINX_ENVSUBST_TEMPLATE_DIR=str(self.workdir / "image" / "templates"))
        env.update(STANDIN_ENTRYPOINT_DIR=str(self.workdir / "image" / "docker-entrypoint.d"))
        env.update(self.env_overrides)
        env["PATH"] = str(busybox_bin(self.workdir / "bin"))
        return env

    def render(self) -> subprocess.CompletedProcess:
        """Runs the entrypoint steps; raises RenderError when they fail. What they print is in
        .stdout and .stderr (files: 30-racontemoi-back.sh's watcher writes on after them)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o755)
        # Copies, as the image has them: the checkout may not be readable by nginx's user.
        image = self.workdir / "image"
        if not image.exists():
            for part in ("html", "templates", "docker-entrypoint.d"):
                shutil.copytree(FRONT / part, image / part)
            gzip_static(image / "html")
            for step in STANDIN_STEPS:
                shutil.copy2(STANDIN / step, image / "docker-entrypoint.d" / step)
            shutil.copy2(STANDIN / "docker-entrypoint.sh", image / "docker-entrypoint.sh")
        self.nginx_conf.write_text((FRONT / "nginx.conf").read_text().replace("/tmp/", f"{self.workdir}/"))
        nginx_wrapper(busybox_bin(self.workdir / "bin") / "nginx", self.nginx_conf, self.nginx_version)
        give_to_unprivileged(self.workdir)  # the image's /tmp; everything else stays root's
        with self._log("entrypoint.out") as out, self._log("entrypoint.err") as err:
            # The stand-in entrypoint runs the steps for an nginx command, then runs it: `nginx -v`.
            entrypoint = [BUSYBOX, "sh", str(image / "docker-entrypoint.sh")]
            result = subprocess.run(
                self.wrap([*entrypoint, "nginx", "-v"]),
                env=self.environment(), stdout=out, stderr=err, timeout=60,
            )
        result.stdout = (self.workdir / "entrypoint.out").read_text()
        result.stderr = (self.workdir / "entrypoint.err").read_text()
        if result.returncode != 0:
            raise RenderError(result)
        return result

    def entrypoint_log(self) -> str:
        """What the steps, and the watcher they may leave, printed so far (stdout)."""
        path = self.workdir / "entrypoint.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def wrap(self, command: list[str]) -> list[str]:
        """The command as the image's processes run: unprivileged, seeing resolv_conf."""
        return with_resolv_conf(self.resolv_conf, unprivileged(command))

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
                self.wrap(self.nginx_command("-t")), stdout=log, stderr=subprocess.STDOUT, timeout=30
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
                self.wrap(self.nginx_command("-g", "daemon off;")), stdout=log, stderr=subprocess.STDOUT
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
        # The watcher 30-racontemoi-back.sh may have left (in the image, it ends with the container).
        watcher = self.workdir / "nginx-conf.d" / "racontemoi-back" / "watch.pid"
        if watcher.exists():
            with contextlib.suppress(ValueError, ProcessLookupError):
                os.kill(int(watcher.read_text()), signal.SIGTERM)
            watcher.unlink()

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
