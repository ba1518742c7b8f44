"""The path users take: the story through the front's nginx, against the back direct and a plain
nginx keepalive proxy (the peer), plus static files through the front and a sustained load.

Run it through bench/front.sh, which installs what it needs and builds the back first. The front
is the front's real configuration (front/nginx.conf and the rendered template, by the front's own
entrypoint steps) on Debian's nginx, started exactly as the front tests start it
(tests/front/harness.py). See docs/bench.md.
"""
import argparse
import datetime
import io
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

import bench
import procstat
import report
import servers
import wrk

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "front"))
import harness

GZIP = "Accept-Encoding: gzip"  # what every browser sends
# name -> (what wrk loads, path, extra headers, whether the back serves it)
SCENARIOS = {
    "direct": ("back", servers.STORY, (), True),
    "front": ("front", servers.STORY, (), True),
    "peer": ("peer", servers.STORY, (), True),
    "styles.css": ("front", "/styles.css", (GZIP,), False),
    "index.html": ("front", "/index.html", (GZIP,), False),
    "healthz": ("front", "/healthz", (), False),
}
LABELS = {
    "direct": "story, back direct",
    "front": "story, through the front",
    "peer": "story, plain nginx keepalive proxy (peer)",
    "styles.css": "`/styles.css` through the front (gzip)",
    "index.html": "`/index.html` through the front (gzip)",
    "healthz": "`/healthz`: the front's own `return 200`",
}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="1 round, 3 s runs, 20 s sustained")
    p.add_argument("--rounds", type=int, default=3, help="the order reverses every other round")
    p.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--sustain", type=int, default=70,
                   help="seconds of sustained load through the front (0: skip); the first and "
                        "last 5 s are compared")
    p.add_argument("--front-rev", metavar="REV",
                   help="measure front/ as it is in this git revision (e.g. a 'before' figure)")
    p.add_argument("--back", type=Path, help="the back binary (default: bench/build-back.sh's)")
    p.add_argument("--out", type=Path, default=bench.CACHE / "front.md")
    args = p.parse_args()
    if args.quick:
        args.rounds, args.duration, args.sustain = 1, 3, min(args.sustain, 20)
    return args


class Stack:
    """The back, the front proxying to it, and the peer proxying to it."""

    def __init__(self, tmp, args):
        fx = servers.Fixture(tmp, tmp / "stories.txt", tmp / "student_age.json")
        shutil.copyfile(bench.DEFAULT_STORIES, fx.stories)
        shutil.copyfile(ROOT / "back/data/student_age.sample.json", fx.students)
        binary = (args.back or bench.default_back()).resolve()
        if not binary.exists():
            sys.exit(f"bench: {binary} does not exist: run bench/build-back.sh")
        self.back = servers.Running(servers.back("back", binary, fx), tmp)
        back_addr = f"127.0.0.1:{self.back.port}"
        self.front = harness.Front(harness.new_workdir("bench-front"),
                                   env_overrides={"BACK_URL": f"http://{back_addr}"})
        self.front.start()
        self.peer = servers.Running(peer_server(tmp, back_addr), tmp)

    def url(self, who, path):
        if who == "front":
            return self.front.origin + path
        return (self.back if who == "back" else self.peer).url(path)

    def pids(self, who):
        """Processes whose CPU a request costs: the back, and the nginx it went through."""
        proxy = {"front": self.front.process.pid, "peer": self.peer.proc.pid}.get(who)
        return [self.back.proc.pid] + ([proxy] if proxy else [])

    def accepted(self):
        """The back's accepted TCP connections, less the one this read opens."""
        with urllib.request.urlopen(self.back.url("/metrics"), timeout=5) as response:
            text = response.read().decode()
        match = re.search(r"^http_connections_accepted_total (\d+)$", text, re.MULTILINE)
        return int(match.group(1)) if match else None

    def time_wait(self):
        """Sockets in TIME-WAIT towards the back's port (closed upstream connections)."""
        port = f"{self.back.port:04X}"
        count = 0
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table) as f:
                for line in f.readlines()[1:]:
                    fields = line.split()
                    if fields[2].endswith(":" + port) and fields[3] == "06":
                        count += 1
        return count

    def stop(self):
        self.peer.stop()
        self.front.stop()
        self.back.stop()
        shutil.rmtree(self.front.workdir, ignore_errors=True)


def front_workers():
    """worker_processes of the front's nginx.conf (of the revision measured)."""
    conf = (harness.FRONT / "nginx.conf").read_text()
    return re.search(r"^worker_processes\s+(\w+);", conf, re.MULTILINE).group(1)


def peer_server(tmp, back_addr):
    argv = servers.nginx_argv("nginx-proxy.conf", tmp, back=back_addr, workers=front_workers())
    return servers.Server("peer", argv, {"story": servers.STORY}, "on, → file", Path(servers.NGINX))


def load(stack, name, seconds, connections):
    """One wrk run, with the CPU of the processes it costs and the back's new connections."""
    who, path, headers, proxied = SCENARIOS[name]
    pids = stack.pids(who) if proxied else [stack.front.process.pid]
    accepted = stack.accepted() if proxied else None
    cpu = sum(procstat.cpu_seconds(pid) for pid in pids)
    result = wrk.run(stack.url(who, path), connections, seconds, headers)
    cpu = sum(procstat.cpu_seconds(pid) for pid in pids) - cpu
    opened = stack.accepted() - accepted if accepted is not None else None
    return report.Run(result, cpu), opened


def rounds(stack, args, started):
    runs, opened = defaultdict(list), defaultdict(list)
    names = list(SCENARIOS)
    for name in names:  # warm-up: first connections, the page's files in the cache
        who, path, headers, _ = SCENARIOS[name]
        wrk.run(stack.url(who, path), args.connections, 1, headers)
    for r in range(args.rounds):
        for name in names if r % 2 == 0 else reversed(names):
            print(f"[round {r + 1}/{args.rounds}] {name} ({time.monotonic() - started:.0f} s)",
                  file=sys.stderr, flush=True)
            run, new = load(stack, name, args.duration, args.connections)
            runs[name].append(run)
            if new is not None:
                opened[name].append(new)
    return runs, opened


def sustained(stack, args, started):
    """Load through the front for args.sustain seconds, in three back-to-back wrk runs: the
    first 5 s, the middle, the last 5 s."""
    print(f"[sustained] {args.sustain} s through the front ({time.monotonic() - started:.0f} s)",
          file=sys.stderr, flush=True)
    parts = [5, max(args.sustain - 10, 1), 5]
    accepted = stack.accepted()
    results = [load(stack, "front", seconds, args.connections)[0] for seconds in parts]
    return results, stack.accepted() - accepted, stack.time_wait()


def median(values):
    return report._median(values)


def load_table(runs, opened):
    rows = []
    for name, label in LABELS.items():
        rs = runs.get(name)
        if not rs:
            continue
        requests = sum(r.load.requests for r in rs)
        new = sum(opened[name]) if opened.get(name) else None
        rows.append([label, report._num(median([r.load.rps for r in rs])),
                     report._num(median([r.load.p50_ms for r in rs]), " ms"),
                     report._num(median([r.load.p99_ms for r in rs]), " ms"),
                     sum(r.load.errors for r in rs),
                     report._num(median([r.cpu_us for r in rs])),
                     (f"{median([r.server_cores for r in rs]):.0%} / "
                     f"{median([r.wrk_cores for r in rs]):.0%}"),
                     f"{new:,} / {requests:,}" if new is not None else "–"])
    return report._table(["scenario", "req/s", "p50", "p99", "errors",
                          "CPU µs/req (nginx + back)", "cores: nginx + back / wrk",
                          "back's new connections / requests"], rows)


def sustained_table(results, new, time_wait):
    first, middle, last = results
    total = sum(r.load.requests for r in results)
    rows = [[f"first {first.load.seconds:.0f} s", report._num(first.load.rps),
             report._num(first.load.p99_ms, " ms"), first.load.errors],
            [f"next {middle.load.seconds:.0f} s", report._num(middle.load.rps),
             report._num(middle.load.p99_ms, " ms"), middle.load.errors],
            [f"last {last.load.seconds:.0f} s", report._num(last.load.rps),
             report._num(last.load.p99_ms, " ms"), last.load.errors]]
    text = report._table(["through the front", "req/s", "p99", "errors"], rows)
    return (text + f"\n\nThe back accepted {new:,} connections for {total:,} proxied requests; "
            f"{time_wait:,} sockets towards the back's port were in TIME-WAIT at the end.")


def targets(runs, opened, sustain):
    """Each ratio is the median of the rounds' own ratios: the two runs of a round are next to
    each other in time, so a drift of the machine's speed over the run cancels out. The range of
    the rounds' ratios follows in brackets."""
    def paired(a, b, attr):
        pairs = zip(runs.get(a, []), runs.get(b, []), strict=True)
        ratios = [ra.get(attr) / rb.get(attr) for ra, rb in pairs if rb.get(attr)]
        return (median(ratios), min(ratios), max(ratios)) if ratios else (None, None, None)

    def check(label, a, b, attr, op, limit):
        value, lo, hi = paired(a, b, attr)
        row = report._check(label, value, op, limit, "×")
        if value is not None and lo != hi:
            row[1] += f" ({lo:.2f}–{hi:.2f})"
        return row

    proxied = sum(r.load.requests for r in runs.get("front", []))
    rows = [
        check("front CPU/req vs direct", "front", "direct", "cpu_us", "≤", 2.5),
        check("front req/s vs direct", "front", "direct", "rps", "≥", 0.45),
        report._check("back connections per proxied request",
                      sum(opened["front"]) / proxied if proxied else None, "≤", 0.01, ""),
        check("front CPU/req vs peer", "front", "peer", "cpu_us", "≤", 1.0),
        check("front p99 vs peer", "front", "peer", "p99_ms", "≤", 1.0),
        check("styles.css req/s vs healthz", "styles.css", "healthz", "rps", "≥", 0.8),
        check("index.html req/s vs healthz", "index.html", "healthz", "rps", "≥", 0.8),
    ]
    if sustain:
        first, _, last = sustain[0]
        rows.append(report._check("sustained: last 5 s req/s vs first 5 s",
                                  last.load.rps / first.load.rps, "≥", 0.8, "×"))
    return report._table(["target", "measured (rounds' range)", "goal", "result"], rows)


def front_at(rev, tmp):
    """front/ of a git revision, extracted into tmp."""
    archive = subprocess.run(["git", "archive", rev, "front"], cwd=ROOT, check=True,
                             capture_output=True).stdout
    target = tmp / f"front-{rev}"
    target.mkdir()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target / "front"


def main():
    signal.signal(signal.SIGINT, signal.default_int_handler)
    args = parse_args()
    started = time.monotonic()
    now = datetime.datetime.now(datetime.UTC)
    load_avg = report.load_average()
    with tempfile.TemporaryDirectory(prefix="racontemoi-bench-front-") as tmp_name:
        tmp = Path(tmp_name)
        tmp.chmod(0o755)
        if args.front_rev:
            harness.FRONT = front_at(args.front_rev, tmp)
        stack = Stack(tmp, args)
        try:
            runs, opened = rounds(stack, args, started)
            sustain = sustained(stack, args, started) if args.sustain else None
        finally:
            stack.stop()
    front = f"front/ of `{args.front_rev}`" if args.front_rev else "front/ of the working tree"
    parts = [
        (f"## racontemoi through the front, {now:%Y-%m-%d %H:%M} UTC\n\n"
        f"`bench/front.sh {' '.join(sys.argv[1:])}` · {front} · {os.cpu_count()} cores, "
        f"Linux {platform.release()} · nginx 1.22 (Debian) · wrk `-t1 -c{args.connections} "
        f"-d{args.duration}s --latency` · {args.rounds} round(s), medians · load average at "
        f"start {load_avg}\n\n> {bench.CAVEAT}"),
        "### Story and static files", load_table(runs, opened),
    ]
    if sustain:
        parts += [f"### Sustained load ({args.sustain} s)", sustained_table(*sustain)]
    parts += ["### Targets", targets(runs, opened, sustain)]
    report.publish(parts, args.out, started)


if __name__ == "__main__":
    main()
