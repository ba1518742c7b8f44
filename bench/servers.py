"""The servers under test (the back and its peers): how each starts, stops, and what it serves.
The port, the readiness wait and the stop come from the tests' shared helpers (tests/testkit). The
back gets a port like its peers rather than port 0: its stdout, where it prints the `listening on`
line testkit.back reads, carries its access log and goes to /dev/null here, as measured before."""
import os
import shutil
import signal
import string
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from testkit import free_port, http_status, stop_process, wait_http

HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers"
STORY = "/racontemoiunehistoire"
STUDENTS = "/supmit/api/v1.0/get_student_ages"
AUTH = "Authorization: Basic cm9vdDpyb290"  # root:root
NGINX = "/usr/sbin/nginx"


@dataclass
class Server:
    name: str
    argv: callable  # port -> the command line
    routes: dict  # route name ("story", "students") -> path
    access_log: str  # where its access log goes, shown in the table
    binary: Path | None = None  # its executable, for the binary size
    env: dict = field(default_factory=dict)
    stdout_devnull: bool = False  # the back writes its access log on stdout


@dataclass
class Fixture:
    """Files every server reads, copied into a temp dir: the same stories and students for all."""
    dir: Path
    stories: Path
    students: Path


def back(name, binary, fx):
    env = {"HOST": "127.0.0.1", "API_USERNAME": "root", "API_PASSWORD": "root",
           "STUDENT_AGE_FILE": str(fx.students)}
    return Server(name, lambda port: [str(binary)], {"story": STORY, "students": STUDENTS},
                  "on, stdout → /dev/null", Path(binary), env, stdout_devnull=True)


def flask(fx):
    python = Path(sys.executable)
    return Server("flask", lambda port: [str(python), "-m", "flask", "--app", "flask_app", "run",
                                         "--host", "127.0.0.1", "--port", str(port)],
                  {"story": STORY, "students": STUDENTS}, "on (werkzeug), stderr → file",
                  env={"STORIES_FILE": str(fx.stories), "STUDENT_AGE_FILE": str(fx.students)})


def gunicorn(fx):
    exe = Path(sys.executable).with_name("gunicorn")
    return Server("gunicorn", lambda port: [str(exe), "-w", "2", "-k", "sync", "-b",
                                            f"127.0.0.1:{port}", "--access-logfile", "/dev/null",
                                            "flask_app:app"],
                  {"story": STORY, "students": STUDENTS}, "on, → /dev/null",
                  env={"STORIES_FILE": str(fx.stories), "STUDENT_AGE_FILE": str(fx.students)})


def nginx_argv(template, base_dir, **values):
    """argv(port) for an nginx peer: renders bench/peers/<template> with `dir`, `port` and values
    into base_dir/<template's stem>-<port>/nginx.conf (nginx takes its port from the config)."""
    def argv(port):
        conf_dir = base_dir / f"{Path(template).stem}-{port}"
        conf_dir.mkdir(exist_ok=True)
        conf = conf_dir / "nginx.conf"
        conf.write_text(string.Template((PEERS / template).read_text()).substitute(dir=conf_dir, port=port, **values))
        return [NGINX, "-q", "-c", str(conf), "-e", str(conf_dir / "error.log")]

    return argv


def nginx(fx):
    line = fx.stories.read_text(encoding="utf-8").splitlines()[0]
    body = "".join(c for c in line if c not in '"\\$')
    return Server("nginx", nginx_argv("nginx.conf", fx.dir, body=body), {"story": "/"}, "on, → /dev/null",
                  Path(NGINX))


def command(server, port):
    """The argv and full environment that start `server` on `port` (PORT is read by the back)."""
    return server.argv(port), os.environ | server.env | {"PORT": str(port)}


class Running:
    """One started server: its process (leader of its own session) and port."""

    def __init__(self, server, log_dir, ready_timeout=30.0):
        self.server, self.port = server, free_port()
        argv, env = command(server, self.port)
        self.log = log_dir / f"{server.name}.log"
        with open(self.log, "ab") as log:
            stdout = subprocess.DEVNULL if server.stdout_devnull else log
            self.proc = subprocess.Popen(argv, env=env, cwd=PEERS, stdin=subprocess.DEVNULL,
                                         stdout=stdout, stderr=log, start_new_session=True)
        self._wait_ready(ready_timeout)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def status(self, path, headers=()):
        return http_status(self.url(path), dict(h.split(": ", 1) for h in headers))

    def _wait_ready(self, timeout):
        path = next(iter(self.server.routes.values()))
        try:
            wait_http(self.url(path), timeout, self.proc, interval=0.02)
        except TimeoutError as error:
            self.stop()
            raise RuntimeError(f"{self.server.name}: {error}; see {self.log}") from None

    def stop(self):
        """SIGINT (fast shutdown for all four), then SIGKILL to the whole session after 10 s."""
        stop_process(self.proc, signal.SIGINT)


def stripped_size(binary, scratch_dir):
    """Size in bytes of `binary` once stripped (a stripped copy; the original is untouched)."""
    copy = scratch_dir / f"{binary.name}.stripped"
    shutil.copyfile(binary, copy)
    subprocess.run(["strip", str(copy)], check=True)
    return copy.stat().st_size


def is_static(binary):
    """True when the ELF file has no program interpreter (PT_INTERP), i.e. is statically linked."""
    data = Path(binary).read_bytes()
    phoff = int.from_bytes(data[0x20:0x28], "little")
    phentsize = int.from_bytes(data[0x36:0x38], "little")
    phnum = int.from_bytes(data[0x38:0x3A], "little")
    return all(int.from_bytes(data[phoff + i * phentsize:][:4], "little") != 3  # PT_INTERP
               for i in range(phnum))
