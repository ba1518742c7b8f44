"""Cold start: time from spawning a server to its first 200, measured by the compiled poller.

As a command (bench/coldstart.sh): the back's time to its first *student* answer after a process
start, on the file store and on PostgreSQL, in one run:
    python bench/coldstart.py --binary PATH [--runs 20] [--rounds 4]
A real PostgreSQL (Debian's, testkit.postgres) is started twice, plain on 127.0.0.1 and with TLS
(its own CA: sslmode=verify-full, as the chart connects to CloudNativePG), each holding the same
100 students as the file store (`back students import`). Each cold start spawns the back and
polls `GET /supmit/api/v1.0/students` with basic auth until it answers 200: for PostgreSQL that
includes opening the first connection (TCP, TLS, SCRAM login) and the back's schema check at
start. The stores alternate within each round. Prints a Markdown table; nothing fails on a figure."""
import argparse
import base64
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from servers import PEERS, command
from testkit import free_port

SOURCE = Path(__file__).resolve().parent / "coldstart.rs"
CACHE = Path(__file__).resolve().parent.parent / ".cache" / "bench"
PREFIX = "/supmit/api/v1.0"
CREDENTIALS = ("root", "root")
STUDENTS = 100


def build(out_dir):
    """Compiles coldstart.rs with plain rustc (std only) when the binary is missing or older."""
    exe = out_dir / "coldstart"
    if not exe.exists() or exe.stat().st_mtime < SOURCE.stat().st_mtime:
        subprocess.run(["rustc", "-O", "--edition", "2021", "-o", str(exe), str(SOURCE)],
                       check=True)
    return exe


def poll(exe, runs, port, path, argv, env, cwd=None, header=None):
    """`runs` cold starts of argv (listening on port), each until `GET path` answers 200, in ms."""
    out = subprocess.run([str(exe), str(runs), str(port), path, *([header] if header else []), "--", *argv],
                         env=env, cwd=cwd, check=False, capture_output=True, text=True, timeout=60 + 30 * runs)
    if out.returncode != 0:
        raise RuntimeError(f"cold start: {out.stderr.strip()}")
    return [int(line) / 1000 for line in out.stdout.split()]


def measure(exe, server, runs):
    """`runs` cold starts of `server`, in milliseconds."""
    port = free_port()
    argv, env = command(server, port)
    path = next(iter(server.routes.values()))
    return poll(exe, runs, port, path, argv, env, cwd=PEERS)


def main() -> int:
    from store import write_store
    from testkit import postgres

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--binary", type=Path, required=True, help="the back (bench/build-back.sh)")
    parser.add_argument("--runs", type=int, default=20, help="cold starts per store, in all")
    parser.add_argument("--rounds", type=int, default=4, help="rounds alternating the stores")
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    exe = build(CACHE)
    work = Path(tempfile.mkdtemp(prefix="racontemoi-coldstart-"))
    work.chmod(0o755)  # the postgres user reaches its directories under it
    servers = []
    try:
        store = work / "student_age.json"
        write_store(store, STUDENTS)
        plain = postgres.start(work / "pg")
        servers.append(plain)
        tls = postgres.make_tls(work / "certs")
        secure = postgres.start(work / "pg-tls", ssl=tls)
        servers.append(secure)
        base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOST": "127.0.0.1", "ACCESS_LOG": "false",
                "API_USERNAME": CREDENTIALS[0], "API_PASSWORD": CREDENTIALS[1]}
        stores = {
            "file (100 students)": {"STUDENT_AGE_FILE": str(store)},
            "PostgreSQL, 127.0.0.1, sslmode=disable": {"STUDENTS_DATABASE_URL": f"{plain.url}?sslmode=disable"},
            "PostgreSQL, TLS, sslmode=verify-full": {"STUDENTS_DATABASE_URL": f"{secure.url}?sslmode=verify-full",
                                                      "STUDENTS_DATABASE_CA_FILE": str(tls.ca)},
        }
        for env in stores.values():
            if "STUDENTS_DATABASE_URL" in env:  # the same 100 students, and the schema made once
                subprocess.run([str(args.binary), "students", "import", str(store), "--replace"],
                               env={**base, **env}, check=True, capture_output=True, timeout=60)
        header = "Authorization: Basic " + base64.b64encode(":".join(CREDENTIALS).encode()).decode()
        routes = {"students": (f"{PREFIX}/students", header), "story": ("/racontemoiunehistoire", None)}
        times = {(route, name): [] for route in routes for name in stores}
        per_round = max(1, -(-args.runs // args.rounds))
        for round_ in range(args.rounds):
            order = list(times) if round_ % 2 == 0 else list(reversed(times))
            for route, name in order:
                port = free_port()
                path, route_header = routes[route]
                times[(route, name)] += poll(exe, per_round, port, path, [str(args.binary)],
                                             {**base, "PORT": str(port), **stores[name]}, header=route_header)
        print(f"Cold start of `{args.binary}`: spawn to the first 200, {per_round * args.rounds} starts each, "
              f"{args.rounds} rounds\n")
        print("| first answer | store | median | p90 | min | max | added to the file store's median |")
        print("|---|---|---|---|---|---|---|")
        for (route, name), values in times.items():
            values.sort()
            median = statistics.median(values)
            p90 = values[min(len(values) - 1, int(0.9 * len(values)))]
            file_median = statistics.median(times[(route, next(iter(stores)))])
            added = "" if name == next(iter(stores)) else f"{median - file_median:+.2f} ms"
            print(f"| {route} | {name} | {median:.2f} ms | {p90:.2f} ms | {values[0]:.2f} ms | {values[-1]:.2f} ms "
                  f"| {added} |")
    finally:
        for server in servers:
            server.stop()
        subprocess.run(["rm", "-rf", str(work)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
