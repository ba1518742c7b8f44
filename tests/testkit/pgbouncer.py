"""A real PgBouncer (Debian's `pgbouncer` package) between a client and a testkit.postgres server,
as CloudNativePG's Pooler puts one between the back and the primary: started on a free port of
127.0.0.1 in a directory of the caller's, with the server's role and password in its auth_file
(SCRAM towards both sides), TLS towards the clients when given a certificate (testkit.postgres's
make_tls), and a pool_mode (session or transaction). PgBouncer refuses to run as root: under root
its process drops to the `postgres` system user, as the server runs. Stopped by its own PID
(SIGINT: PgBouncer's immediate shutdown)."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from testkit import free_port
from testkit.postgres import APP, RunningPostgres, Tls

SYSTEM_USER = "postgres"


def binary() -> str:
    found = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None)
    if not found:
        raise RuntimeError("pgbouncer is not installed: scripts/setup/api.sh installs Debian's")
    return found


def version() -> tuple[int, int]:
    """PgBouncer's (major, minor), from `pgbouncer --version`."""
    out = subprocess.run([binary(), "--version"], capture_output=True, text=True, check=True).stdout
    found = re.search(r"PgBouncer (\d+)\.(\d+)", out)
    assert found, out
    return int(found.group(1)), int(found.group(2))


@dataclass
class RunningPgBouncer:
    dir: Path
    port: int
    process: subprocess.Popen
    password: str

    @property
    def log(self) -> Path:
        return self.dir / "pgbouncer.log"

    def url(self, database: str = APP, user: str = APP, host: str = "127.0.0.1") -> str:
        return f"postgres://{user}:{self.password}@{host}:{self.port}/{database}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(dir: Path, server: RunningPostgres, pool_mode: str = "session", tls: Tls | None = None,
          settings: dict[str, str] | None = None, timeout: float = 15.0) -> RunningPgBouncer:
    """PgBouncer in dir (created, given to the postgres user under root) listening on a free port,
    every database of server reachable under its own name."""
    dir = Path(dir).resolve()
    dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    userlist = dir / "userlist.txt"
    userlist.write_text(f'"{APP}" "{server.password}"\n')
    conf = {
        "listen_addr": "127.0.0.1",
        "listen_port": str(port),
        "unix_socket_dir": "",
        "auth_type": "scram-sha-256",
        "auth_file": str(userlist),
        "pool_mode": pool_mode,
        "logfile": str(dir / "pgbouncer.log"),
        "pidfile": str(dir / "pgbouncer.pid"),
        "max_client_conn": "200",
        "default_pool_size": "20",
        # As CloudNativePG's Pooler sets it: what libpq-style clients send at login.
        "ignore_startup_parameters": "extra_float_digits,options",
        "server_tls_sslmode": "disable",
    }
    if tls is not None:
        conf.update(client_tls_sslmode="require", client_tls_cert_file=str(tls.cert),
                    client_tls_key_file=str(tls.key), client_tls_ca_file=str(tls.ca))
    conf.update(settings or {})
    ini = dir / "pgbouncer.ini"
    settings_text = "".join(f"{key} = {value}\n" for key, value in conf.items())
    ini.write_text(f"[databases]\n* = host=127.0.0.1 port={server.port}\n\n[pgbouncer]\n{settings_text}")
    # Under root, the process itself drops to the postgres user (no runuser in between: the PID
    # the caller stops is PgBouncer's own).
    drop = {}
    if os.geteuid() == 0:
        account = pwd.getpwnam(SYSTEM_USER)
        for path in [dir, *dir.iterdir(), *([tls.cert.parent, tls.cert, tls.key, tls.ca] if tls else [])]:
            os.chown(path, account.pw_uid, account.pw_gid)
        drop = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    process = subprocess.Popen([binary(), str(ini)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, cwd=dir, **drop)
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                log = (dir / "pgbouncer.log").read_text(errors="replace") if (dir / "pgbouncer.log").exists() else ""
                process.poll() is None and process.kill()
                raise RuntimeError(f"pgbouncer did not listen on {port}:\n{log[-2000:]}") from None
            time.sleep(0.05)
    return RunningPgBouncer(dir, port, process, server.password)
