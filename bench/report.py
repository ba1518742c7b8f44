"""Collects the figures of every round and renders them as Markdown: loads, processes, targets."""
import statistics
from collections import defaultdict
from dataclasses import dataclass

from wrk import Load

MIB = 1024  # KiB


@dataclass
class Run:
    load: Load
    cpu_us: float  # server CPU (utime+stime over its process tree) per request served


class Results:
    def __init__(self):
        self.runs = defaultdict(list)  # (server, route, connections) -> [Run per round]
        self.cold_ms = defaultdict(list)  # server -> [ms]
        self.idle_kib = defaultdict(list)  # server -> [KiB per round]
        self.peak_kib = defaultdict(list)
        self.notes = []  # what was skipped or failed, and why

    def median(self, server, route, connections, attr):
        runs = self.runs.get((server, route, connections))
        if not runs:
            return None
        return statistics.median(r.cpu_us if attr == "cpu_us" else getattr(r.load, attr)
                                 for r in runs)


def _num(x, unit=""):
    if x is None:
        return "n/a"
    text = f"{x:,.0f}" if x >= 100 else f"{x:.1f}" if x >= 10 else f"{x:.3f}" if x < 1 else f"{x:.2f}"
    return text + unit


def _mib(kib_values):
    return f"{statistics.median(kib_values) / MIB:.2f} MiB" if kib_values else "n/a"


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
            spread = (max(rps) - min(rps)) / statistics.median(rps) if len(rps) > 1 else None
            rows.append([route, f"{name} `{servers[name].routes[route]}`", conns,
                         _num(statistics.median(rps)),
                         f"±{spread * 50:.0f}%" if spread is not None else "–",
                         _num(res.median(name, route, conns, "p50_ms"), " ms"),
                         _num(res.median(name, route, conns, "p99_ms"), " ms"),
                         sum(run.load.errors for run in runs),
                         _num(res.median(name, route, conns, "cpu_us"))])
    return _table(["route", "server `path`", "conns", "req/s", "spread", "p50", "p99",
                   "errors", "CPU µs/req"], rows)


def _binary(size_static):
    size, static = size_static
    return f"{size / MIB / MIB:.2f} MiB ({'static' if static else 'dynamic'})"


def process_table(res, servers, binaries):
    rows = []
    for name, server in servers.items():
        cold = res.cold_ms.get(name)
        cold_text = (f"{_num(statistics.median(cold), ' ms')} "
                     f"({_num(min(cold))}–{_num(max(cold))}, n={len(cold)})") if cold else "n/a"
        rows.append([name, cold_text, _mib(res.idle_kib.get(name)), _mib(res.peak_kib.get(name)),
                     _binary(binaries[name]) if name in binaries else "n/a", server.access_log])
    return _table(["server", "cold start median (min–max)", "idle RSS", "peak RSS (VmHWM)",
                   "binary (stripped)", "access log"], rows)


def targets(res, back, peak_conns, binaries):
    """(target, measured, goal, PASS/MISS) for one back against the peers measured in this run."""
    def m(server, route, conns, attr):
        return res.median(server, route, conns, attr)

    def ratio(num, den):
        return num / den if num is not None and den else None

    checks = []  # [target, measured, goal, PASS/MISS/n/a]

    def check(label, value, goal, passed, fmt):
        checks.append([label, "n/a" if value is None else fmt(value), goal,
                       "n/a" if value is None else ("PASS" if passed(value) else "MISS")])

    times = lambda x: f"{x:,.2f}×"  # noqa: E731
    for route, factor in (("story", 100), ("students", 50)):
        check(f"{route} req/s vs Flask's server @64", ratio(
            m(back, route, 64, "rps"), m("flask", route, 64, "rps")), f"≥ {factor}×",
            lambda v, f=factor: v >= f, times)
    for conns in (64, peak_conns):
        check(f"story req/s vs nginx (1 worker) @{conns}",
              ratio(m(back, "story", conns, "rps"), m("nginx", "story", conns, "rps")),
              "≥ 1.0×", lambda v: v >= 1.0, times)
        check(f"story CPU/req vs nginx (both logging) @{conns}",
              ratio(m(back, "story", conns, "cpu_us"), m("nginx", "story", conns, "cpu_us")),
              "≤ 1.0×", lambda v: v <= 1.0, times)
    ms = lambda x: f"{x:.3f} ms"  # noqa: E731
    check("story p99 @64", m(back, "story", 64, "p99_ms"), "≤ 1 ms", lambda v: v <= 1.0, ms)
    check("students p99 @64", m(back, "students", 64, "p99_ms"), "≤ 1.5 ms",
          lambda v: v <= 1.5, ms)
    cold = res.cold_ms.get(back)
    check("cold start, median", statistics.median(cold) if cold else None, "≤ 5 ms",
          lambda v: v <= 5.0, ms)
    mib = lambda x: f"{x:.2f} MiB"  # noqa: E731
    idle, peak = res.idle_kib.get(back), res.peak_kib.get(back)
    check("idle RSS", statistics.median(idle) / MIB if idle else None, "≤ 2 MiB",
          lambda v: v <= 2.0, mib)
    check(f"peak RSS after @{peak_conns}", statistics.median(peak) / MIB if peak else None,
          "≤ 8 MiB", lambda v: v <= 8.0, mib)
    size, static = binaries.get(back, (None, None))
    check("binary, stripped" + ("" if static is None else " (static)" if static else
                                " (dynamic: glibc build)"),
          size / MIB / MIB if size else None, "≤ 2 MiB", lambda v: v <= 2.0, mib)
    return _table(["target", "measured", "goal", "result"], checks)
