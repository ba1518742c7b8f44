"""The student store on PostgreSQL (issue 18) against PostgreSQL's own client, on one server in
one run: Debian's PostgreSQL started by testkit.postgres (a temp dir, a free port, its defaults:
fsync and synchronous_commit on), the back as its image ships it (bench/build-back.sh), and
Debian's pgbench beside it.

- writes: `wrk -t1 -c32` creating a new student per request through the back (bench/create.lua)
  against `pgbench -c32` running the one INSERT of a create, into the back's own table;
- reads: the legacy list of 100 students (`GET .../get_student_ages`, basic auth) through the back
  at 64 connections against `pgbench -c64` running the SELECT the back runs for it (the target);
  beside them the same list from the back on the file store, and pgbench running the one-row check
  statement the back's list cache runs instead while nothing changes (CHECK);
- idle RSS of the back on the file store and on PostgreSQL; the story route's instructions per
  request (callgrind, bench/instructions.py) of this build and of an earlier one (--before-binary);
  the stripped size of the static binary.

Each round runs the loads of a kind in turn, the order reversed every other round; each ratio is
the median of the rounds' own ratios (their range in brackets). Run it through bench/postgres.sh.
Prints Markdown and writes it to .cache/bench/postgres.md. Nothing fails on a missed target."""
import argparse
import datetime
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import bench
import procstat
import report
import servers
import wrk
from instructions import instructions
from store import write_store
from testkit import postgres

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
PREFIX = "/supmit/api/v1.0"
JSON = "Content-Type: application/json"
READ_STUDENTS = 100
MIB = 1024 * 1024

# For pgbench, on the back's own table (back/src/students/postgres/schema.rs): the one INSERT of a
# create, a new name each time as the back's are (the back's CREATE also reads the STUDENTS_MAX
# quota's limit in the same statement: that is its cost), and the back's LEGACY_LIST (the back's
# own also returns each row's hash of its version, for its cache).
INSERT = "INSERT INTO students (name, age) VALUES ('pgbench-' || gen_random_uuid(), (random() * 150)::int);"
SELECT = "SELECT name, age, legacy_age FROM students ORDER BY id;"
# What the back runs for a list its cache still holds (LIST_KEY, back/src/students/postgres/mod.rs):
# beside the target's SELECT, the statement the back's reads actually cost PostgreSQL.
CHECK = "SELECT count(*), coalesce(bit_xor(hashint8extended(rev, 0)), 0) FROM students;"

@dataclass
class Measured:
    """One load: what its client counted, and the CPU each process spent during it."""
    ops: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_s: dict = field(default_factory=dict)  # "back", "postgres", "client" -> CPU seconds

    def cpu_us(self, who):
        return self.cpu_s[who] * 1e6 / max(self.ops, 1) if who in self.cpu_s else None

    def cores(self, who):
        return self.cpu_s[who] / self.seconds if who in self.cpu_s else None


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", type=Path, required=True, help="the back, static (bench/build-back.sh)")
    p.add_argument("--before-binary", type=Path, help="an earlier back, for the story's instructions and size")
    p.add_argument("--before-label", default="before", help="what --before-binary is (a git revision)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=int, default=5, help="seconds per load")
    p.add_argument("--writers", type=int, default=32)
    p.add_argument("--readers", type=int, default=64)
    p.add_argument("--pool-size", type=int, help="STUDENTS_DATABASE_POOL_SIZE of the backs (default: the back's)")
    p.add_argument("--pgbench-threads", type=int, default=1, help="pgbench -j (wrk runs -t1)")
    p.add_argument("--no-instructions", action="store_true", help="skip callgrind (about 40 s a binary)")
    p.add_argument("--quick", action="store_true", help="1 round of 3 s, no callgrind")
    p.add_argument("--out", type=Path, default=ROOT / ".cache" / "bench" / "postgres.md")
    args = p.parse_args()
    if args.quick:
        args.rounds, args.duration, args.no_instructions = 1, 3, True
    args.binary = args.binary.resolve()
    if args.before_binary:
        args.before_binary = args.before_binary.resolve()
    return args


class Setup:
    """The server, its two databases (writes: empty; reads: 100 students imported by the back's
    own CLI) and three backs: on each database, and on the same 100 students in a file."""

    def __init__(self, tmp, binary, pool_size=None):
        self.tmp, self.backs, self.pool_size = tmp, {}, pool_size
        self.pg = postgres.start(tmp / "pg")
        try:
            self._start(binary)
        except BaseException:
            self.stop()
            raise

    def _start(self, binary):
        tmp = self.tmp
        writes_url, reads_url = self.pg.create_database("writes"), self.pg.create_database("reads")
        students = tmp / "student_age.json"
        write_store(students, READ_STUDENTS)
        imported = subprocess.run([str(binary), "students", "import", str(students)], capture_output=True,
                                  text=True, env={"PATH": os.environ["PATH"], "STUDENTS_DATABASE_URL": reads_url})
        if imported.returncode != 0:
            raise RuntimeError(f"back students import: {imported.stderr.strip()}")
        fixture = servers.Fixture(tmp, ROOT / "back" / "data" / "stories" / "contes.txt", students)
        self.idle_kib = {}
        for name, url in (("file", None), ("reads", reads_url), ("writes", writes_url)):
            server = servers.back(f"back-{name}", binary, fixture)
            if url:
                server.env.update(STUDENTS_DATABASE_URL=url, STUDENTS_MAX="100000000")
                if self.pool_size:
                    server.env["STUDENTS_DATABASE_POOL_SIZE"] = str(self.pool_size)
            self.backs[name] = servers.Running(server, tmp)
            time.sleep(0.5)
            self.idle_kib[name] = procstat.memory_kib(self.backs[name].proc.pid, "VmRSS")
            self.idle_kib[name + " anon"] = procstat.memory_kib(self.backs[name].proc.pid, "RssAnon")

    def stop(self):
        for back in self.backs.values():
            back.stop()
        self.pg.stop("immediate")


def idle_rss(binary, tmp):
    """VmRSS and RssAnon of a back on the file store (the 100 students), 0.5 s after it first answered."""
    students = tmp / "student_age-idle.json"
    write_store(students, READ_STUDENTS)
    back = servers.Running(servers.back("back-idle", binary, servers.Fixture(tmp, students, students)), tmp)
    try:
        time.sleep(0.5)
        return [procstat.memory_kib(back.proc.pid, key) for key in ("VmRSS", "RssAnon")]
    finally:
        back.stop()


def through_back(setup, back, path, connections, seconds, script_args=None):
    """wrk -t1 against one back: a create per request (script_args: the names' prefix) or a GET."""
    headers = [servers.AUTH] + ([JSON] if script_args else [])
    pids = {"back": setup.backs[back].proc.pid, "postgres": setup.pg.pid}
    before = {who: procstat.cpu_seconds(pid, reaped=True) for who, pid in pids.items()}
    load = wrk.run(setup.backs[back].url(path), connections, seconds, headers,
                   script=HERE / "create.lua" if script_args else None, script_args=script_args or ())
    cpu = {who: procstat.cpu_seconds(pid, reaped=True) - before[who] for who, pid in pids.items()}
    if back == "file":
        cpu.pop("postgres")
    cpu["client"] = load.wrk_cpu_s
    return Measured(load.requests, load.seconds, load.rps, load.p50_ms, load.p99_ms, load.errors, cpu)


def through_pgbench(setup, sql, clients, seconds, database, threads):
    """pgbench -M prepared running sql as its one-statement script; latencies from its
    per-transaction log (-l, one transaction in 10 sampled)."""
    run = Path(tempfile.mkdtemp(prefix="pgbench-", dir=setup.tmp))
    script = run / "script.sql"
    script.write_text(sql + "\n")
    before_pg = procstat.cpu_seconds(setup.pg.pid, reaped=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = setup.pg.pgbench("-n", "-M", "prepared", "-c", str(clients), "-j", str(threads), "-T", str(seconds),
                           "-f", str(script), "-l", "--sampling-rate", "0.1", "--log-prefix", str(run / "log"),
                           database=database, timeout=seconds + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = {"postgres": procstat.cpu_seconds(setup.pg.pid, reaped=True) - before_pg,
           "client": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)}
    try:
        done = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))
        failed = re.search(r"number of failed transactions: (\d+)", out)
        tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", out).group(1))
    except AttributeError:
        raise RuntimeError(f"cannot read pgbench's output:\n{out}") from None
    latencies = sorted(int(line.split()[2]) / 1000 for log in run.glob("log.*") for line in log.open())
    shutil.rmtree(run)

    def percentile(q):
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else None

    return Measured(done, done / tps if tps else seconds, tps, percentile(0.5), percentile(0.99),
                    int(failed.group(1)) if failed else 0, cpu)


LOADS = {
    # kind -> [(label, function(setup, args, round) -> Measured)]
    "writes": [
        ("back on PostgreSQL: `POST .../students` (wrk, bench/create.lua)",
         lambda s, a, r: through_back(s, "writes", f"{PREFIX}/students", a.writers, a.duration, [f"w{r}"])),
        ("pgbench: the one INSERT of a create",
         lambda s, a, r: through_pgbench(s, INSERT, a.writers, a.duration, "writes", a.pgbench_threads)),
    ],
    "reads": [
        ("back on PostgreSQL: legacy list of 100 (`GET .../get_student_ages`)",
         lambda s, a, r: through_back(s, "reads", f"{PREFIX}/get_student_ages", a.readers, a.duration)),
        ("pgbench: the legacy list's SELECT",
         lambda s, a, r: through_pgbench(s, SELECT, a.readers, a.duration, "reads", a.pgbench_threads)),
        ("back on the file store: the same list",
         lambda s, a, r: through_back(s, "file", f"{PREFIX}/get_student_ages", a.readers, a.duration)),
        ("pgbench: the list cache's check statement",
         lambda s, a, r: through_pgbench(s, CHECK, a.readers, a.duration, "reads", a.pgbench_threads)),
    ],
}


def rounds(setup, args, started):
    runs = {label: [] for loads in LOADS.values() for label, _ in loads}
    for kind, loads in LOADS.items():  # warm-up: the pools' connections, the caches
        for _, measure in loads:
            measure(setup, argparse.Namespace(**{**vars(args), "duration": 1}), f"warm{kind}")
    for r in range(args.rounds):
        for kind, loads in LOADS.items():
            for label, measure in loads if r % 2 == 0 else reversed(loads):
                print(f"[round {r + 1}/{args.rounds}] {kind}: {label} ({time.monotonic() - started:.0f} s)",
                      file=sys.stderr, flush=True)
                runs[label].append(measure(setup, args, r))
    return runs


def _median(values):
    return report._median([v for v in values if v is not None])


def load_table(runs, args):
    rows = []
    for kind, loads in LOADS.items():
        for label, _ in loads:
            ms = runs[label]
            conns = args.writers if kind == "writes" else args.readers

            def per(who, ms=ms):
                value = _median([m.cpu_us(who) for m in ms])
                return report._num(value) if value is not None else "–"

            def cores(who, ms=ms):
                value = _median([m.cores(who) for m in ms])
                return f"{value:.0%}" if value is not None else "–"

            rows.append([kind, label, conns, report._num(_median([m.rps for m in ms])),
                         report._num(_median([m.p50_ms for m in ms]), " ms"),
                         report._num(_median([m.p99_ms for m in ms]), " ms"),
                         sum(m.errors for m in ms),
                         " / ".join(per(who) for who in ("back", "postgres", "client")),
                         " / ".join(cores(who) for who in ("back", "postgres", "client"))])
    return report._table(["load", "through", "conns", "req/s (tps)", "p50", "p99", "errors",
                          "CPU µs/op: back / postgres / client", "cores: back / postgres / client"], rows)


def paired(runs, a, b):
    """Median and range of the rounds' own ratios a/b of req/s."""
    ratios = [ra.rps / rb.rps for ra, rb in zip(runs[a], runs[b], strict=True) if rb.rps]
    return (report._median(ratios), min(ratios), max(ratios)) if ratios else (None, None, None)


def ratio_row(label, ratio, limit):
    value, lo, hi = ratio
    row = report._check(label, value, "≥", limit, "×")
    if value is not None and lo != hi:
        row[1] += f" ({lo:.2f}–{hi:.2f})"
    return row


def main():
    signal.signal(signal.SIGINT, signal.default_int_handler)
    args = parse_args()
    started = time.monotonic()
    now = datetime.datetime.now(datetime.UTC)
    load_avg = report.load_average()
    tmp = Path(tempfile.mkdtemp(prefix="racontemoi-bench-pg-"))
    tmp.chmod(0o755)  # the server's directory is below it, owned by the postgres user
    try:
        setup = Setup(tmp, args.binary, args.pool_size)
        try:
            runs = rounds(setup, args, started)
            after_kib = procstat.memory_kib(setup.backs["writes"].proc.pid, "VmRSS")
            peak_kib = procstat.memory_kib(setup.backs["writes"].proc.pid, "VmHWM")
            version = setup.pg.psql("SHOW server_version", database="postgres").strip()
        finally:
            setup.stop()
        if args.before_binary:
            setup.idle_kib["before"], setup.idle_kib["before anon"] = idle_rss(args.before_binary, tmp)
        binaries = {"this build": args.binary}
        if args.before_binary:
            binaries[args.before_label] = args.before_binary
        sizes = {name: servers.stripped_size(Path(path), tmp) for name, path in binaries.items()}
        counted = {}
        if not args.no_instructions:
            out = ROOT / ".cache" / "bench" / "callgrind"
            out.mkdir(parents=True, exist_ok=True)
            for index, (name, path) in enumerate(binaries.items()):
                print(f"[callgrind] {name}: {path} ({time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)
                few, many = (instructions(Path(path), n, servers.STORY, False, out / f"pg-{index}-story-{n}.out")
                             for n in (200, 1200))
                counted[name] = (many - few) / 1000
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    labels = list(runs)
    write_ratio, read_ratio = paired(runs, labels[0], labels[1]), paired(runs, labels[2], labels[3])
    check_ratio = paired(runs, labels[2], labels[5])
    idle = setup.idle_kib

    def mib(kib):
        return report._num(kib / 1024, " MiB") if kib is not None else "–"

    rows = [["this build, file store", mib(idle["file"]), mib(idle["file anon"]), "–"],
            ["this build, PostgreSQL", mib(idle["reads"]), mib(idle["reads anon"]),
             f"{mib(after_kib)} ({mib(peak_kib)})"]]
    if "before" in idle:
        rows.append([f"{args.before_label}, file store", mib(idle["before"]), mib(idle["before anon"]), "–"])
    memory = report._table(["back", "idle RSS", "of it anon (not the mapped binary)",
                            "after the loads (peak), writes' back"], rows)
    builds = report._table(
        ["binary", "size (stripped, static)", "story: instructions/request (callgrind)"],
        [[name, f"{report._num(sizes[name] / MIB, ' MiB')} ({sizes[name]:,} bytes)",
          f"{counted[name]:,.0f}" if name in counted else "n/a"] for name in binaries])
    rows = [ratio_row(f"writes: back vs pgbench @{args.writers}", write_ratio, 0.7),
            ratio_row(f"reads: back vs pgbench @{args.readers}", read_ratio, 0.7),
            [(f"reads: back vs pgbench running the cache's check @{args.readers} (no target: what a "
              "cached list costs PostgreSQL)"), *ratio_row("", check_ratio, 0.0)[1:2], "–", "–"],
            report._check("idle RSS, file store", idle["file"] / 1024, "≤", 2.5, " MiB"),
            report._check("binary, stripped (static)", sizes["this build"] / MIB, "≤", 4, " MiB")]
    if len(counted) == 2:
        rows.append(report._check(f"story instructions/request vs {args.before_label}",
                                  counted["this build"] / counted[args.before_label], "≤", 1.03, "×"))
    busiest = max(sum(m.cores(who) or 0 for who in ("back", "postgres", "client"))
                  for ms in runs.values() for m in ms)
    parts = [
        (f"## The student store on PostgreSQL, {now:%Y-%m-%d %H:%M} UTC\n\n"
         f"`bench/postgres.sh {' '.join(sys.argv[1:])}` · {os.cpu_count()} cores, Linux {platform.release()} · "
         f"PostgreSQL {version} (Debian, default settings: fsync and synchronous_commit on) · "
         f"wrk `-t1 --latency`, pgbench `-M prepared -j{args.pgbench_threads}` · {args.duration} s per load, "
         f"{args.rounds} round(s), medians · load average at start {load_avg}\n\n> {bench.CAVEAT}"),
        "### Loads", load_table(runs, args),
        (f"Busiest load: {busiest:.0%} of one core in all (back + PostgreSQL + client) of the machine's "
         f"{os.cpu_count()}: where that is near {os.cpu_count() * 100}%, the machine, not the back, was the limit."),
        "### Memory", memory, "### Binary", builds,
        "### Targets", report._table(["target", "measured (rounds' range)", "goal", "result"], rows),
    ]
    report.publish(parts, args.out, started)


if __name__ == "__main__":
    main()
