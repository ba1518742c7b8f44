"""Collects the figures of every round and renders them as Markdown: loads, processes, targets."""
import os
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass

from wrk import Load

MIB = 1024  # KiB


def load_average():
    """The machine's 1, 5 and 15 minute load averages, as a report's header shows them."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@dataclass
class Run:
    load: Load
    server_cpu_s: float  # utime+stime over the server's process tree during the load

    @property
    def cpu_us(self):
        """Server CPU per request served, in µs."""
        return self.server_cpu_s * 1e6 / max(self.load.requests, 1)

    @property
    def server_cores(self):
        """Cores the server kept busy during the run (1.0 = one core all along)."""
        return self.server_cpu_s / self.load.seconds

    @property
    def wrk_cores(self):
        """Cores wrk kept busy: near 1.0, wrk (one thread) was the limit."""
        return self.load.wrk_cpu_s / self.load.seconds

    def get(self, attr):
        """A figure of this run: one of the properties above or a field of its Load."""
        return getattr(self if attr in ("cpu_us", "server_cores", "wrk_cores") else self.load, attr)


class Results:
    def __init__(self):
        self.runs = defaultdict(list)  # (server, route, connections) -> [Run per round]
        self.cold_ms = defaultdict(list)  # server -> [ms]
        self.idle_kib = defaultdict(list)  # server -> [KiB per round]
        self.idle_anon_kib = defaultdict(list)  # the part of it not backed by files (heap, stacks)
        self.peak_kib = defaultdict(list)
        self.notes = []  # what was skipped or failed, and why

    def median(self, server, route, connections, attr):
        """Median over the rounds of one figure (a Load field or cpu_us), None if not measured."""
        return _median([run.get(attr) for run in self.runs.get((server, route, connections), [])])


def publish(parts, out, started):
    """Joins the report's sections, ends it with the run's total time, writes it to `out` and prints it."""
    text = "\n\n".join([*parts, f"_Total time {time.monotonic() - started:.0f} s._"]) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    print(f"(written to {out})", file=sys.stderr)


def _median(values, scale=1):
    return statistics.median(values) / scale if values else None


def _num(x, unit=""):
    """About 3 significant digits: 172,345 / 52.1 / 4.24 / 0.352."""
    if x is None:
        return "n/a"
    digits = 0 if x >= 100 else 1 if x >= 10 else 2 if x >= 1 else 3
    return f"{x:,.{digits}f}{unit}"


def _mib(kib_values):
    return _num(_median(kib_values, MIB), " MiB")


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)


def load_table(res, servers):
    rows = []
    for route in ("story", "students"):
        for (name, r, conns), runs in res.runs.items():
            if r != route:
                continue
            rps = [run.load.rps for run in runs]
            half_range = (max(rps) - min(rps)) / 2 / _median(rps) if len(rps) > 1 else None
            rows.append([route, f"{name} `{servers[name].routes[route]}`", conns,
                         _num(_median(rps)),
                         f"±{half_range:.0%}" if half_range is not None else "–",
                         _num(res.median(name, route, conns, "p50_ms"), " ms"),
                         _num(res.median(name, route, conns, "p99_ms"), " ms"),
                         sum(run.load.errors for run in runs),
                         _num(res.median(name, route, conns, "cpu_us")),
                         (f"{res.median(name, route, conns, 'server_cores'):.0%} / "
                          f"{res.median(name, route, conns, 'wrk_cores'):.0%}")])
    return _table(["route", "server `path`", "conns", "req/s", "spread", "p50", "p99",
                   "errors", "CPU µs/req", "cores: server / wrk"], rows)


def _binary(size_static):
    size, static = size_static
    return _num(size / MIB / MIB, f" MiB ({'static' if static else 'dynamic'})")


def process_table(res, servers, binaries):
    rows = []
    for name, server in servers.items():
        cold = res.cold_ms.get(name)
        cold_text = (f"{_num(_median(cold), ' ms')} "
                     f"({_num(min(cold))}–{_num(max(cold))}, n={len(cold)})") if cold else "n/a"
        idle = f"{_mib(res.idle_kib.get(name))} ({_mib(res.idle_anon_kib.get(name))} anon)"
        rows.append([name, cold_text, idle, _mib(res.peak_kib.get(name)),
                     _binary(binaries[name]) if name in binaries else "n/a", server.access_log])
    return _table(["server", "cold start median (min–max)", "idle RSS (of it anon)",
                   "peak RSS (VmHWM)", "binary (stripped)", "access log"], rows)


def _check(label, value, op, limit, unit):
    """One target row: label, measured, goal, PASS/MISS (n/a when this run did not measure it)."""
    goal = f"{op} {limit}{unit}"
    if value is None:
        return [label, "n/a", goal, "n/a"]
    ok = value >= limit if op == "≥" else value <= limit
    measured = f"{value:,.2f}×" if unit == "×" else _num(value, unit)
    return [label, measured, goal, "PASS" if ok else "MISS"]


def targets(res, back, peak_conns, binaries):
    """The targets for one back, against the peers measured in this same run."""
    def mine(route, conns, attr):
        return res.median(back, route, conns, attr)

    def vs(peer, route, conns, attr):
        a, b = mine(route, conns, attr), res.median(peer, route, conns, attr)
        return a / b if a is not None and b else None

    size, static = binaries.get(back, (None, None))
    linkage = "" if static is None else " (static)" if static else " (dynamic: glibc build)"
    rows = [
        _check("story req/s vs Flask's server @64", vs("flask", "story", 64, "rps"), "≥", 100, "×"),
        _check("students req/s vs Flask's server @64", vs("flask", "students", 64, "rps"),
               "≥", 50, "×"),
    ]
    for conns in sorted({64, peak_conns}):  # one set of rows when the run used 64 only
        rows += [
            _check(f"story req/s vs nginx (1 worker) @{conns}", vs("nginx", "story", conns, "rps"),
                   "≥", 1.0, "×"),
            _check(f"story CPU/req vs nginx (both logging) @{conns}",
                   vs("nginx", "story", conns, "cpu_us"), "≤", 1.0, "×"),
        ]
    rows += [
        _check("story p99 @64", mine("story", 64, "p99_ms"), "≤", 1, " ms"),
        _check("story p99 vs nginx @64", vs("nginx", "story", 64, "p99_ms"), "≤", 1.0, "×"),
        _check("students p99 @64", mine("students", 64, "p99_ms"), "≤", 1.5, " ms"),
        _check("cold start, median", _median(res.cold_ms.get(back)), "≤", 5, " ms"),
        _check("idle RSS", _median(res.idle_kib.get(back), MIB), "≤", 2, " MiB"),
        _check(f"peak RSS after @{peak_conns}", _median(res.peak_kib.get(back), MIB),
               "≤", 8, " MiB"),
        _check("binary, stripped" + linkage, size / MIB / MIB if size else None, "≤", 2, " MiB"),
    ]
    measured = [row for row in rows if row[1] != "n/a"]
    missing = [row[0] for row in rows if row[1] == "n/a"]
    text = _table(["target", "measured", "goal", "result"], measured)
    return text + (f"\n\nNot measured in this run: {'; '.join(missing)}." if missing else "")
