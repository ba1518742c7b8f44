"""Benchmark harness: the back against its peers (Flask, gunicorn, nginx), in alternating rounds.

Run it through bench/run.sh, which installs wrk, nginx and the Flask venv first. See docs/bench.md.
"""
import argparse
import datetime
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import coldstart
import procstat
import report
import servers
import wrk

ROOT = Path(__file__).resolve().parent.parent
# The stories the servers answer with: the back's embedded default file.
DEFAULT_STORIES = ROOT / "back" / "data" / "stories" / "contes.txt"
CACHE = ROOT / ".cache" / "bench"
CAVEAT = ("2 cores shared by the server, wrk (-t1: one core at most) and whatever else runs on "
          "the machine: absolute figures are noisy, compare rows of this run only (rounds "
          "alternate the order A B / B A). When wrk's core is near 100 %, req/s and latency "
          "measure wrk as much as the server: between the fastest servers, CPU µs/request is "
          "the figure that separates them. spread = ±half the max–min range of req/s over the "
          "rounds.")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="1 round, 3 s runs, 5 cold starts")
    p.add_argument("--only", help="comma-separated servers, e.g. back,nginx")
    p.add_argument("--routes", default="story,students", help="comma-separated: story,students")
    p.add_argument("--rounds", type=int, default=4, help="the order reverses every other round")
    p.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    p.add_argument("--connections", default="64,256")
    p.add_argument("--coldstarts", type=int, default=20, help="cold starts per server, in all")
    p.add_argument("--back", action="append", metavar="NAME=PATH",
                   help="a back binary to measure (repeatable); default "
                        "back=target/<host>/release/back, as bench/build-back.sh builds it")
    p.add_argument("--stories", type=Path, default=DEFAULT_STORIES)
    p.add_argument("--students", type=Path, default=ROOT / "back/data/student_age.sample.json")
    p.add_argument("--out", type=Path, default=CACHE / "latest.md")
    args = p.parse_args()
    if args.quick:
        args.rounds, args.duration, args.coldstarts = 1, 3, 5
    args.coldstarts_per_round = math.ceil(args.coldstarts / args.rounds)
    args.connections = [int(c) for c in args.connections.split(",")]
    args.routes = args.routes.split(",")
    return args


def fixture(tmp, args):
    fx = servers.Fixture(tmp, tmp / "stories.txt", tmp / "student_age.json")
    shutil.copyfile(args.stories, fx.stories)
    shutil.copyfile(args.students, fx.students)
    return fx


def default_back():
    """Where bench/build-back.sh puts the back: target/<host triple>/release/back."""
    rustc = subprocess.run(["rustc", "-vV"], check=True, capture_output=True, text=True).stdout
    host = next(line.split()[1] for line in rustc.splitlines() if line.startswith("host:"))
    return ROOT / "target" / host / "release" / "back"


def server_list(args, fx, notes):
    backs = [b.split("=", 1) for b in args.back or [f"back={default_back()}"]]
    candidates = [servers.back(name, Path(path).resolve(), fx) for name, path in backs]
    candidates += [servers.nginx(fx), servers.flask(fx), servers.gunicorn(fx)]
    wanted = set(args.only.split(",")) if args.only else None
    unknown = (wanted or set()) - {s.name for s in candidates}
    if unknown:
        sys.exit(f"bench: unknown server(s) {', '.join(sorted(unknown))}; "
                 f"known: {', '.join(s.name for s in candidates)}")
    chosen = []
    for s in candidates:
        if wanted is not None and s.name not in wanted:
            continue
        if s.binary is not None and not s.binary.exists():
            notes.append(f"{s.name}: skipped, {s.binary} does not exist (build it first)")
            continue
        chosen.append(s)
    return chosen


def load_route(running, route, path, args, res):
    """Warm-up, then one wrk run per connection count, with the server's CPU around each."""
    name, pid = running.server.name, running.proc.pid
    headers = (servers.AUTH,) if route == "students" else ()
    status = running.status(path, headers)
    if status != 200:
        res.notes.append(f"{name} {route}: skipped, {path} answered {status}")
        return
    wrk.run(running.url(path), args.connections[0], 1, headers)
    for conns in args.connections:
        before = procstat.cpu_seconds(pid)
        load = wrk.run(running.url(path), conns, args.duration, headers)
        cpu = procstat.cpu_seconds(pid) - before
        res.runs[(name, route, conns)].append(report.Run(load, cpu))
        if route == "story" and conns == max(args.connections):
            res.peak_kib[name].append(procstat.memory_kib(pid, "VmHWM"))


def measure(server, args, res, poller, log_dir):
    """One server's turn in a round: cold starts, then start it once for memory and load."""
    name = server.name
    if args.coldstarts_per_round:
        res.cold_ms[name] += coldstart.measure(poller, server, args.coldstarts_per_round)
    running = servers.Running(server, log_dir)
    try:
        time.sleep(0.5)  # let gunicorn's second worker settle
        res.idle_kib[name].append(procstat.memory_kib(running.proc.pid, "VmRSS"))
        res.idle_anon_kib[name].append(procstat.memory_kib(running.proc.pid, "RssAnon"))
        for route, path in server.routes.items():
            if route in args.routes:
                try:
                    load_route(running, route, path, args, res)
                except (RuntimeError, subprocess.SubprocessError) as e:
                    res.notes.append(f"{name} {route}: {e}")
    finally:
        running.stop()


def header(args):
    cpu = next((line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "?")
    wrk_version = subprocess.run(["wrk", "-v"], check=False, capture_output=True,
                                 text=True).stdout.split()[1]
    now = datetime.datetime.now(datetime.UTC)
    load = report.load_average()
    return (f"## racontemoi benchmark, {now:%Y-%m-%d %H:%M} UTC\n\n"
            f"`bench/run.sh {' '.join(sys.argv[1:])}` · {os.cpu_count()} cores ({cpu}), "
            f"Linux {platform.release()} · wrk {wrk_version} "
            f"`-t1 -c<conns> -d{args.duration}s --latency` · {args.rounds} round(s) · "
            f"load average at start {load}\n\n> {CAVEAT}\n")


def run_rounds(chosen, args, res, tmp, started):
    """Every server in turn, the order reversed every other round (A B, B A, ...)."""
    poller = coldstart.build(CACHE)
    for r in range(args.rounds):
        for server in chosen if r % 2 == 0 else reversed(chosen):
            print(f"[round {r + 1}/{args.rounds}] {server.name} "
                  f"({time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)
            try:
                measure(server, args, res, poller, tmp)
            except (RuntimeError, subprocess.SubprocessError) as e:
                res.notes.append(f"{server.name} round {r + 1}: {e}")


def main():
    # A shell starts background jobs with SIGINT ignored, and the servers would inherit that:
    # Flask would then never stop. Restore the default so that every child obeys SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    args = parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    res = report.Results()
    started = time.monotonic()
    title = header(args)
    with tempfile.TemporaryDirectory(prefix="racontemoi-bench-") as tmp_name:
        tmp = Path(tmp_name)
        chosen = server_list(args, fixture(tmp, args), res.notes)
        run_rounds(chosen, args, res, tmp, started)
        binaries = {s.name: (servers.stripped_size(s.binary, tmp), servers.is_static(s.binary))
                    for s in chosen if s.binary}
    by_name = {s.name: s for s in chosen}
    parts = [title, "### Throughput, latency, CPU", report.load_table(res, by_name),
             "### Processes", report.process_table(res, by_name, binaries)]
    for back in (s.name for s in chosen if s.name.startswith("back")):
        parts += [f"### Targets: {back}",
                  report.targets(res, back, max(args.connections), binaries)]
    if res.notes:
        parts += ["### Notes", "\n".join(f"- {n}" for n in res.notes)]
    report.publish(parts, args.out, started)


if __name__ == "__main__":
    main()
