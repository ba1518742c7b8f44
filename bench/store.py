"""Store-scaling benchmark of the student store (issue 10): for stores of 100, 10k, 100k and 1M
students, the back's time per write (sequential on one keep-alive connection, and with 32
concurrent writers), the same run's file-only write + fsync of the same file, startup time, RSS
and the legacy list's time. Python standard library only; everything on 127.0.0.1, bounded.

Usage: bench/store.sh [--quick] [--sizes 100,10000] [--dir DIR] [--compare PATH]
`--compare PATH` measures another back binary in the same run, size by size, right after this
one (an earlier release, whose store file is the wrapped {"student_ages": {...}} it reads).
Prints a Markdown table (and writes it to .cache/bench/store.md). Nothing fails on a missed
target: the table says so.
"""
import argparse
import base64
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import procstat

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "/supmit/api/v1.0"
AUTH = "Basic " + base64.b64encode(b"root:root").decode()
HEADERS = {"Authorization": AUTH, "Content-Type": "application/json"}
WRITERS = 32

# Per size: sequential writes (each followed by one file-only write + fsync), writes per
# concurrent writer, legacy GETs.
PLAN = {
    100: (60, 4, 20),
    10_000: (40, 3, 15),
    100_000: (25, 2, 9),
    1_000_000: (15, 1, 5),
}


def name(i):
    return f"student-{i:07d}"


def write_store(path, n, wrapped=False):
    """The original flat format, as json.dump(indent=4, ensure_ascii=False) writes it; or the
    wrapped form of earlier releases."""
    with open(path, "w", encoding="utf-8") as f:
        f.write('{\n  "student_ages": {\n' if wrapped else "{\n")
        f.write(",\n".join(f'    "{name(i)}": "{i % 151}"' for i in range(n)))
        f.write("\n  }\n}\n" if wrapped else "\n}")


def file_only_write(path, content):
    """What the back must do at least for one write: temp file, write, fsync, rename, dir fsync."""
    temp = path.with_name("." + path.name + ".bench-tmp")
    start = time.perf_counter()
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(temp, path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return time.perf_counter() - start


def status_of(pid, field):
    """A `kB` field of /proc/<pid>/status (VmRSS, VmHWM), in bytes."""
    return procstat.memory_kib(pid, field) * 1024


class Back:
    def __init__(self, binary, store, max_students):
        env = {"PATH": os.environ.get("PATH", ""), "HOST": "127.0.0.1", "PORT": "0", "ACCESS_LOG": "false",
               "API_USERNAME": "root", "API_PASSWORD": "root", "STUDENT_AGE_FILE": str(store),
               "STUDENTS_MAX": str(max_students)}
        self.started = time.perf_counter()
        self.proc = subprocess.Popen([str(binary)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline()
        match = re.search(r"listening on ([0-9.]+):([0-9]+)", line)
        if not match:
            self.proc.kill()
            raise RuntimeError(f"the back did not start: {line} {self.proc.stderr.read()}")
        self.port = int(match.group(2))
        # Startup: spawn to the first 200 of /readyz (the store is loaded and locked by then).
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.0005)
        self.startup = time.perf_counter() - self.started
        # utime + stime so far (on a shared machine, wall time also counts waiting for a core).
        self.startup_cpu = procstat.cpu_seconds(self.proc.pid)
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()

    def connection(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def put(conn, who, age):
    conn.request("PUT", f"{PREFIX}/students/{who}", body=json.dumps({"age": age}), headers=HEADERS)
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise RuntimeError(f"PUT {who}: {response.status}")


def timed_get(conn, path):
    start = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": AUTH})
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - start
    if response.status != 200:
        raise RuntimeError(f"GET {path}: {response.status}")
    return elapsed, len(body)


def measure(binary, workdir, n, wrapped=False):
    sequential, per_writer, legacy_reps = PLAN[n]
    store = workdir / f"student_age-{n}.json"
    write_store(store, n, wrapped)
    size = store.stat().st_size
    content = store.read_bytes()
    row = {"n": n, "size": size}

    back = Back(binary, store, max(n * 2, 100_000))
    row["startup"], row["startup_cpu"] = back.startup, back.startup_cpu
    row["rss_start"] = status_of(back.proc.pid, "VmRSS")
    try:
        conn = back.connection()
        put(conn, name(0), 1)  # warm-up
        # Sequential writes on one keep-alive connection, each followed by the same run's file-only
        # write + fsync of a file of the same size (next to the store, same disk): both medians see
        # the same moments of a shared machine.
        writes, files = [], []
        for i in range(sequential):
            start = time.perf_counter()
            put(conn, name(i % n), i % 151)
            writes.append(time.perf_counter() - start)
            files.append(file_only_write(workdir / "file-only.json", content))
        row["write"] = statistics.median(writes)
        row["file_only"] = statistics.median(files)

        # 32 writers, each on its own connection, at once: time per write = wall time / writes.
        errors = []

        def writer(w, barrier):
            try:
                c = back.connection()
                c.connect()
                barrier.wait()
                for j in range(per_writer):
                    put(c, name((w * per_writer + j) % n), j % 151)
                c.close()
            except Exception as e:  # noqa: BLE001 (any failure of a writer is reported below)
                errors.append(e)

        barrier = threading.Barrier(WRITERS + 1)
        threads = [threading.Thread(target=writer, args=(w, barrier)) for w in range(WRITERS)]
        for t in threads:
            t.start()
        barrier.wait()
        start = time.perf_counter()
        for t in threads:
            t.join()
        if errors:
            raise RuntimeError(f"concurrent writers failed: {errors[0]}")
        row["concurrent"] = (time.perf_counter() - start) / (WRITERS * per_writer)

        # The legacy list: the first GET after a write renders it, the next ones are served as rendered.
        put(conn, name(1 % n), 7)
        first, length = timed_get(conn, f"{PREFIX}/get_student_ages")
        rest = [timed_get(conn, f"{PREFIX}/get_student_ages")[0] for _ in range(legacy_reps)]
        row["legacy_first"], row["legacy"], row["legacy_bytes"] = first, statistics.median(rest), length
        page, _ = timed_get(conn, f"{PREFIX}/students?limit=100")
        row["page"] = page
        conn.close()
        row["rss"] = status_of(back.proc.pid, "VmRSS")
        row["hwm"] = status_of(back.proc.pid, "VmHWM")
    finally:
        back.stop()
    for leftover in (store, workdir / "file-only.json", store.with_name("." + store.name + ".lock")):
        leftover.unlink(missing_ok=True)
    return row


def ms(seconds):
    return f"{seconds * 1000:.1f} ms" if seconds >= 0.001 else f"{seconds * 1000:.2f} ms"


def mib(n):
    return f"{n / 1048576:.1f} MiB" if n >= 1048576 else f"{n / 1024:.0f} KiB"


def table(rows):
    out = [("| students | file | file-only write+fsync | write (sequential) | ratio | write (32 writers, per write) "
            "| startup (its CPU time) | RSS (after the run) | RSS / file | peak RSS | legacy list (first after a write / then) "
            "| REST page of 100 |"),
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(
            f"| {r['n']:,} | {mib(r['size'])} | {ms(r['file_only'])} | {ms(r['write'])} "
            f"| {r['write'] / r['file_only']:.2f}× | {ms(r['concurrent'])} | {ms(r['startup'])} ({r['startup_cpu'] * 1000:.0f} ms) | {mib(r['rss'])} "
            f"| {r['rss'] / r['size']:.1f}× | {mib(r['hwm'])} | {ms(r['legacy_first'])} / {ms(r['legacy'])} "
            f"| {ms(r['page'])} |")
    return "\n".join(out)


def targets(rows):
    lines = []
    by_n = {r["n"]: r for r in rows}
    for n in (100_000, 1_000_000):
        if n in by_n:
            ratio = by_n[n]["write"] / by_n[n]["file_only"]
            lines.append(f"- {n:,}: sequential write / file-only = {ratio:.2f}× (target ≤ 2×): "
                         f"{'met' if ratio <= 2 else 'MISS'}")
    if 1_000_000 in by_n:
        r = by_n[1_000_000]
        lines.append(f"- 1,000,000: RSS / file = {r['rss'] / r['size']:.1f}× (target ≤ 4×): "
                     f"{'met' if r['rss'] <= 4 * r['size'] else 'MISS'}; peak {r['hwm'] / r['size']:.1f}×")
        lines.append(f"- 1,000,000: startup {ms(r['startup'])} (target ≤ 500 ms): "
                     f"{'met' if r['startup'] <= 0.5 else 'MISS'}; the back's own CPU time until ready: "
                     f"{r['startup_cpu'] * 1000:.0f} ms (10 ms ticks)")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", type=Path, required=True)
    p.add_argument("--dir", type=Path, default=ROOT / ".cache/bench/store",
                   help="where the store files go (a real disk: fsync on tmpfs is free)")
    p.add_argument("--sizes", default="100,10000,100000,1000000")
    p.add_argument("--quick", action="store_true", help="100, 10k and 100k students only")
    p.add_argument("--compare", type=Path, help="another back binary (an earlier release), measured in the same run")
    args = p.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.quick:
        sizes = [s for s in sizes if s <= 100_000]
    unknown = [s for s in sizes if s not in PLAN]
    if unknown:
        p.error(f"sizes must be among {sorted(PLAN)}")
    args.dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    rows, compared = [], []
    for n in sizes:
        print(f"store bench: {n:,} students...", file=sys.stderr, flush=True)
        rows.append(measure(args.binary, args.dir, n))
        if args.compare:
            print(f"store bench: {n:,} students, {args.compare}...", file=sys.stderr, flush=True)
            compared.append(measure(args.compare, args.dir, n, wrapped=True))
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    report = (f"Store scaling, {stamp}, {os.cpu_count()} cores, `bench/store.sh{' --quick' if args.quick else ''}` "
              f"({time.time() - started:.0f} s), store files in {args.dir.name}/ on "
              f"{subprocess.run(['stat', '-f', '-c', '%T', str(args.dir)], capture_output=True, text=True).stdout.strip()}:"
              f"\n\n{table(rows)}\n\n{targets(rows)}\n")
    if compared:
        report += f"\nThe same run, `{args.compare}` (wrapped store file):\n\n{table(compared)}\n\n"
        report += "\n".join(
            f"- {new['n']:,}: sequential write {ms(new['write'])} here against {ms(old['write'])} there "
            f"({new['write'] / old['write']:.2f}×), legacy list {ms(new['legacy'])} against {ms(old['legacy'])}"
            for new, old in zip(rows, compared, strict=True)) + "\n"
    print(report)
    out = ROOT / ".cache/bench/store.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)


if __name__ == "__main__":
    main()
