"""Starts the real back binary: on port 0 unless told otherwise, its address read from its
`listening on` log line, ready once /healthz answers 200, stopped by PID.

As a command, for shell scripts (scripts/stages/api.sh):
    python -m testkit.back --log FILE [--binary PATH] NAME=VALUE...
starts the back with exactly those variables (plus the caller's PATH; HOST=127.0.0.1 and PORT=0
unless given), waits until it is ready, prints `ADDRESS PID` and exits, leaving the back running:
the caller stops it with `kill PID`."""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from testkit import stop_process, wait_http

REPO = Path(__file__).resolve().parents[2]
# What the stages build (`cargo build --release -p back`).
RELEASE_BINARY = REPO / "target" / "release" / "back"
# The binary start() runs by default: $RACONTEMOI_BACK_BINARY (another build, e.g. of another
# worktree), else the release build.
DEFAULT_BINARY = Path(os.environ.get("RACONTEMOI_BACK_BINARY") or RELEASE_BINARY)
LISTENING = re.compile(r"listening on (\S+:\d+)")


@dataclass
class RunningBack:
    process: subprocess.Popen
    address: str  # host:port, from the back's own `listening on` line
    log: Path  # its stdout and stderr

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    @property
    def port(self) -> int:
        return int(self.address.rpartition(":")[2])

    def stop(self, sig: int = signal.SIGTERM) -> None:
        stop_process(self.process, sig)


def start(env: dict[str, str], log: Path, binary: Path = DEFAULT_BINARY, timeout: float = 30.0) -> RunningBack:
    """Starts binary with exactly env (HOST=127.0.0.1 and PORT=0 unless env sets them), its stdout
    and stderr appended to log, and waits until it listens and answers 200 on /healthz."""
    if not Path(binary).exists():
        raise RuntimeError(f"{binary} is missing: run `cargo build --release -p back` first")
    env = {"HOST": "127.0.0.1", "PORT": "0", **env}
    log = Path(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    offset = log.stat().st_size if log.exists() else 0
    with open(log, "ab") as out:
        process = subprocess.Popen([str(binary)], env=env, stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        address = _listening_address(process, log, offset, timeout)
        wait_http(f"http://{address}/healthz", timeout=timeout, process=process)
    except TimeoutError as error:
        stop_process(process)
        tail = log.read_text(errors="replace")[offset:][-2000:]
        raise TimeoutError(f"{error}\n{binary} logged:\n{tail}") from None
    return RunningBack(process, address, log)


def _listening_address(process: subprocess.Popen, log: Path, offset: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        with open(log, "rb") as lines:
            lines.seek(offset)
            found = LISTENING.search(lines.read().decode(errors="replace"))
        if found:
            return found.group(1)
        if process.poll() is not None:
            raise TimeoutError(f"the back exited ({process.returncode}) before listening")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the back printed no `listening on` line within {timeout}s")
        time.sleep(0.05)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m testkit.back", description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", type=Path, required=True, help="the back's stdout and stderr go there")
    parser.add_argument("--binary", type=Path, default=DEFAULT_BINARY)
    parser.add_argument("settings", nargs="*", metavar="NAME=VALUE")
    args = parser.parse_args()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for setting in args.settings:
        name, equals, value = setting.partition("=")
        if not equals:
            parser.error(f"{setting!r} is not NAME=VALUE")
        env[name] = value
    try:
        back = start(env, args.log, args.binary)
    except (RuntimeError, TimeoutError) as error:
        print(f"testkit.back: {error}", file=sys.stderr)
        return 1
    print(back.address, back.process.pid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
