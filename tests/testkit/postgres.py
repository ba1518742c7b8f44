"""A real PostgreSQL server for the tests and the benchmark: Debian's `postgresql` package
(/usr/lib/postgresql/<major>/bin, the newest major installed, or $PG_BINDIR), initialised by
`initdb` in a directory of the caller's, started by `pg_ctl` on a free port of 127.0.0.1 (its
unix socket in that directory) as an unprivileged user: the caller, or the `postgres` system user
(`runuser -u postgres --`) when the caller is root. Clients log in with a password (SCRAM) as the
role `racontemoi`, owner of the database `racontemoi`; the superuser `postgres` has a password too
(admin_url). The directory holds:
    data/            the cluster (PGDATA)
    postgres.log     the server's log
    testkit.json     port and passwords, so that the same cluster starts again on the same port
    .s.PGSQL.<port>  the unix socket

As a command, for shell scripts (scripts/stages/back.sh, api.sh, bench/postgres.sh):
    python -m testkit.postgres --dir DIR     initialises DIR if new, starts the server, prints
                                             `URL PID` and exits, leaving it running
    python -m testkit.postgres --stop DIR    stops it (pg_ctl stop -m fast)

start_standby(primary, dir) adds a streaming standby of a running server (pg_basebackup -R over
the primary's unix socket, a `local replication` entry added to its pg_hba.conf), on a free port
of its own, synchronous by default (synchronous_standby_names = '*' on the primary once it
streams); RunningPostgres.promote() makes it a primary."""

from __future__ import annotations

import argparse
import json
import os
import pwd
import re
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from testkit import free_port

APP = "racontemoi"  # the role and the database the back uses
ADMIN = "postgres"  # the superuser
STATE = "testkit.json"
SYSTEM_USER = "postgres"  # who runs the server when the caller is root


def bindir() -> Path:
    """Debian's server binaries: $PG_BINDIR, else the newest /usr/lib/postgresql/<major>/bin."""
    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"])
    majors = sorted((p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "pg_ctl").exists()),
                    key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)])
    if not majors:
        raise RuntimeError("no /usr/lib/postgresql/*/bin/pg_ctl: install Debian's postgresql "
                           "(scripts/setup/api.sh does)")
    return majors[-1]


@dataclass
class Tls:
    """A server certificate signed by its own CA (make_tls); require: no plain-text login."""
    ca: Path
    cert: Path
    key: Path
    require: bool = True


@dataclass
class _State:
    port: int
    password: str
    admin_password: str
    tls: bool = False


@dataclass
class RunningPostgres:
    dir: Path
    state: _State

    @property
    def port(self) -> int:
        return self.state.port

    @property
    def data_dir(self) -> Path:
        return self.dir / "data"

    @property
    def log(self) -> Path:
        return self.dir / "postgres.log"

    @property
    def password(self) -> str:
        return self.state.password

    def url_for(self, database: str, user: str = APP) -> str:
        password = self.state.password if user == APP else self.state.admin_password
        return f"postgres://{user}:{password}@127.0.0.1:{self.port}/{database}"

    @property
    def url(self) -> str:
        """The back's URL: role and database `racontemoi`, password login over TCP."""
        return self.url_for(APP)

    @property
    def admin_url(self) -> str:
        return self.url_for(ADMIN, ADMIN)

    @property
    def pid(self) -> int | None:
        """The postmaster's PID while it runs (first line of postmaster.pid)."""
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def start(self) -> None:
        """Starts the server on its data and port (again after stop); returns once it accepts."""
        _run(_as_server([str(bindir() / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(self.data_dir),
                         "-l", str(self.log)]), f"pg_ctl start ({self.log})")

    def stop(self, mode: str = "fast") -> None:
        """pg_ctl stop -m fast|smart|immediate (immediate: a crash, recovered at the next start)."""
        if self.pid is None:
            return
        _run(_as_server([str(bindir() / "pg_ctl"), "stop", "-w", "-t", "60", "-m", mode,
                         "-D", str(self.data_dir)]), "pg_ctl stop")

    def promote(self) -> None:
        """pg_ctl promote of a standby (start_standby); returns once it accepts writes."""
        _run(_as_server([str(bindir() / "pg_ctl"), "promote", "-w", "-t", "60", "-D", str(self.data_dir)]),
             "pg_ctl promote")

    def reload(self) -> None:
        """pg_ctl reload: pg_hba.conf and the reloadable settings read again."""
        _run(_as_server([str(bindir() / "pg_ctl"), "reload", "-D", str(self.data_dir)]), "pg_ctl reload")

    def psql(self, sql: str, database: str = APP, user: str = ADMIN) -> str:
        """Runs sql through the unix socket (trusted locally) and returns its unaligned output."""
        return _run([str(bindir() / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                     "-h", str(self.dir), "-p", str(self.port), "-U", user, "-d", database, "-c", sql],
                    "psql").stdout

    def create_database(self, name: str) -> str:
        """A new empty database owned by the back's role; returns its URL."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError(f"database name {name!r}: lower-case letters, digits and _ only")
        self.psql(f"CREATE DATABASE {name} OWNER {APP}", database=ADMIN)
        return self.url_for(name)

    def pgbench(self, *args: str, database: str = APP, timeout: float = 600) -> str:
        """Runs Debian's pgbench against database as the back's role over TCP; returns its output."""
        env = {**os.environ, "PGPASSWORD": self.state.password}
        return _run([str(bindir() / "pgbench"), "-h", "127.0.0.1", "-p", str(self.port), "-U", APP, *args,
                     database], "pgbench", env=env, timeout=timeout).stdout


def start(dir: Path, ssl: Tls | None = None, settings: dict[str, str] | None = None) -> RunningPostgres:
    """Starts PostgreSQL on dir: initialises it first if it holds no cluster yet (a free port,
    new passwords, the role and database `racontemoi`; with ssl, TLS on with its certificate, and
    when ssl.require, password logins over TCP only with TLS), else starts the existing cluster again
    on its port. settings go to postgresql.conf (at initialisation)."""
    dir = Path(dir).resolve()
    dir.mkdir(parents=True, exist_ok=True)
    state_file = dir / STATE
    if state_file.exists():
        server = RunningPostgres(dir, _State(**json.loads(state_file.read_text())))
        if server.pid is None:
            server.start()
        return server
    state = _State(free_port(), secrets.token_hex(12), secrets.token_hex(12), tls=ssl is not None)
    server = RunningPostgres(dir, state)
    _give_to_server_user(dir)
    pwfile = dir / "admin-password"
    pwfile.write_text(state.admin_password + "\n")
    _give_to_server_user(pwfile)
    _run(_as_server([str(bindir() / "initdb"), "-D", str(server.data_dir), "-U", ADMIN, f"--pwfile={pwfile}",
                     "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
                     "--no-instructions"]), "initdb")
    pwfile.unlink()
    conf = {"listen_addresses": "'127.0.0.1'", "port": str(state.port),
            "unix_socket_directories": f"'{dir}'", "max_connections": "200",
            "logging_collector": "off", "log_line_prefix": "'%m [%p] %q%u@%d '"}
    hba = ["local all all trust", "host all all 127.0.0.1/32 scram-sha-256"]
    if ssl is not None:
        for name, source in (("server.crt", ssl.cert), ("server.key", ssl.key)):
            shutil.copyfile(source, server.data_dir / name)
            os.chmod(server.data_dir / name, 0o600)
            _give_to_server_user(server.data_dir / name)
        conf.update(ssl="on", ssl_cert_file="'server.crt'", ssl_key_file="'server.key'")
        if ssl.require:
            hba = ["local all all trust", "hostssl all all 127.0.0.1/32 scram-sha-256",
                   "hostnossl all all 127.0.0.1/32 reject"]
    conf.update(settings or {})
    with open(server.data_dir / "postgresql.conf", "a") as out:
        out.write("\n# testkit.postgres\n" + "".join(f"{k} = {v}\n" for k, v in conf.items()))
    (server.data_dir / "pg_hba.conf").write_text("\n".join(hba) + "\n")
    state_file.write_text(json.dumps(asdict(state)))
    server.start()
    server.psql(f"CREATE ROLE {APP} LOGIN PASSWORD '{state.password}'", database=ADMIN)
    server.psql(f"CREATE DATABASE {APP} OWNER {APP}", database=ADMIN)
    return server


def start_standby(primary: RunningPostgres, dir: Path, synchronous: bool = True,
                  timeout: float = 60) -> RunningPostgres:
    """A streaming standby of primary (running) in dir: pg_basebackup -R -X stream over the
    primary's unix socket as the superuser (a `local replication all trust` line is added to the
    primary's pg_hba.conf), started on a free port of 127.0.0.1 with its own unix socket in dir;
    the same roles and passwords as the primary (its testkit.json records them and its port).
    synchronous: the primary's synchronous_standby_names becomes '*' once the standby streams
    (ALTER SYSTEM), so that a commit is acknowledged only once the standby flushed it; returns
    when pg_stat_replication shows it `sync` (else `streaming`)."""
    dir = Path(dir).resolve()
    dir.mkdir(parents=True, exist_ok=True)
    _give_to_server_user(dir)
    hba = primary.data_dir / "pg_hba.conf"
    if "local replication all trust" not in hba.read_text():
        with open(hba, "a") as out:
            out.write("local replication all trust\n")
        primary.reload()
    state = _State(free_port(), primary.state.password, primary.state.admin_password, tls=primary.state.tls)
    server = RunningPostgres(dir, state)
    _run(_as_server([str(bindir() / "pg_basebackup"), "-D", str(server.data_dir), "-R", "-X", "stream",
                     "-c", "fast", "-h", str(primary.dir), "-p", str(primary.port), "-U", ADMIN]),
         "pg_basebackup", timeout=timeout)
    # The primary's settings came with the copy; the last line of a setting wins.
    with open(server.data_dir / "postgresql.conf", "a") as out:
        out.write(f"\n# testkit.postgres standby\nport = {state.port}\nunix_socket_directories = '{dir}'\n"
                  "hot_standby = on\n")
    (dir / STATE).write_text(json.dumps(asdict(state)))
    server.start()
    wanted = "sync" if synchronous else "streaming"
    if synchronous:
        primary.psql("ALTER SYSTEM SET synchronous_standby_names = '*'", database=ADMIN)
        primary.psql("SELECT pg_reload_conf()", database=ADMIN)
    deadline = time.monotonic() + timeout
    column = "sync_state" if synchronous else "state"
    while primary.psql(f"SELECT {column} FROM pg_stat_replication", database=ADMIN).strip() != wanted:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the standby in {dir} is not {wanted} after {timeout}s ({server.log})")
        time.sleep(0.1)
    return server


def make_tls(dir: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost"), name: str = "ca") -> Tls:
    """With the openssl CLI: a CA of its own (dir/NAME.crt) and a server certificate it signs for
    hosts (dir/server-NAME.crt and .key, the IP addresses and names in subjectAltName)."""
    dir = Path(dir)
    dir.mkdir(parents=True, exist_ok=True)
    ca, ca_key = dir / f"{name}.crt", dir / f"{name}.key"
    cert, key, csr = dir / f"server-{name}.crt", dir / f"server-{name}.key", dir / f"server-{name}.csr"
    san = ",".join(("IP:" if re.fullmatch(r"[\d.]+|[0-9a-f:]+", h) else "DNS:") + h for h in hosts)
    ext = dir / f"server-{name}.ext"
    ext.write_text(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                   "extendedKeyUsage=serverAuth\n")
    _run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
          "-keyout", str(ca_key), "-out", str(ca), "-days", "2", "-subj", f"/CN=racontemoi test {name}"],
         "openssl req (CA)")
    _run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
          "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={hosts[0]}"], "openssl req (server)")
    _run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
          "-out", str(cert), "-days", "2", "-extfile", str(ext)], "openssl x509 (sign)")
    return Tls(ca, cert, key)


def stop(dir: Path, mode: str = "fast") -> None:
    """Stops the server of dir (started by start or the command), if it runs."""
    dir = Path(dir).resolve()
    RunningPostgres(dir, _State(**json.loads((dir / STATE).read_text()))).stop(mode)


def _as_root() -> bool:
    return os.geteuid() == 0


def _as_server(command: list[str]) -> list[str]:
    """command run as the server's user: postgres refuses to run as root."""
    return ["runuser", "-u", SYSTEM_USER, "--", *command] if _as_root() else command


def _give_to_server_user(path: Path) -> None:
    """As root: path belongs to the `postgres` user, and that user can reach it (every directory
    above it must be searchable by others: a mktemp -d under /tmp is, pytest's tmp_path is not)."""
    if not _as_root():
        return
    shutil.chown(path, SYSTEM_USER, SYSTEM_USER)
    uid = pwd.getpwnam(SYSTEM_USER).pw_uid
    for parent in Path(path).resolve().parents:
        status = os.stat(parent)
        if not (status.st_mode & 0o001 or (status.st_uid == uid and status.st_mode & 0o100)):
            raise RuntimeError(f"{parent} is not searchable by the {SYSTEM_USER} user: give start() a directory of "
                               "its own, e.g. tempfile.mkdtemp() or mktemp -d (pytest's tmp_path is under a 0700 directory)")


def _run(command: list[str], what: str, env: dict[str, str] | None = None,
         timeout: float = 120) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return done


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m testkit.postgres", description=__doc__.split("\n\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--dir", type=Path, help="start (initialise if new) the server of DIR; print `URL PID`")
    action.add_argument("--stop", type=Path, metavar="DIR", help="stop the server of DIR")
    args = parser.parse_args()
    try:
        if args.stop:
            stop(args.stop)
            return 0
        server = start(args.dir)
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as error:
        print(f"testkit.postgres: {error}", file=sys.stderr)
        return 1
    print(server.url, server.pid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
