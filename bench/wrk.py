"""Runs wrk (one thread, --latency) against one URL and parses what it prints."""
import re
import resource
import subprocess
from dataclasses import dataclass

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}  # to milliseconds


@dataclass
class Load:
    requests: int
    seconds: float  # as wrk measured it
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int  # socket errors (connect, read, write, timeout) plus non-2xx/3xx answers
    wrk_cpu_s: float = 0.0  # wrk's own CPU time (utime+stime): near `seconds`, wrk was the limit


def _ms(text):
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * _UNITS[unit]


def run(url, connections, seconds, headers=(), script=None, script_args=()):
    """script: a Lua file for wrk's -s (e.g. bench/create.lua), script_args what follows `--`."""
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    for header in headers:
        cmd += ["-H", header]
    if script is not None:
        cmd += ["-s", str(script), "--", *map(str, script_args)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         timeout=seconds + 30).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        load = _parse(out)
    except (AttributeError, KeyError) as e:
        raise RuntimeError(f"cannot read wrk's output ({e!r}):\n{out}") from None
    load.wrk_cpu_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return load


def _parse(out):
    percentile = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.MULTILINE))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = sum(map(int, socket_errors.groups())) if socket_errors else 0
    requests, elapsed = re.search(r"(\d+) requests in ([\d.]+\w+),", out).groups()
    return Load(
        requests=int(requests),
        seconds=_ms(elapsed) / 1e3,
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        p50_ms=_ms(percentile["50"]),
        p99_ms=_ms(percentile["99"]),
        errors=errors + (int(non_2xx.group(1)) if non_2xx else 0),
    )
