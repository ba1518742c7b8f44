"""Cold start: time from spawning a server to its first 200, measured by the compiled poller."""
import subprocess
from pathlib import Path

from servers import PEERS, command
from testkit import free_port

SOURCE = Path(__file__).resolve().parent / "coldstart.rs"


def build(out_dir):
    """Compiles coldstart.rs with plain rustc (std only) when the binary is missing or older."""
    exe = out_dir / "coldstart"
    if not exe.exists() or exe.stat().st_mtime < SOURCE.stat().st_mtime:
        subprocess.run(["rustc", "-O", "--edition", "2021", "-o", str(exe), str(SOURCE)],
                       check=True)
    return exe


def measure(exe, server, runs):
    """`runs` cold starts of `server`, in milliseconds."""
    port = free_port()
    argv, env = command(server, port)
    path = next(iter(server.routes.values()))
    out = subprocess.run([str(exe), str(runs), str(port), path, "--", *argv], env=env, cwd=PEERS,
                         check=False, capture_output=True, text=True, timeout=60 + 30 * runs)
    if out.returncode != 0:
        raise RuntimeError(f"cold start: {out.stderr.strip()}")
    return [int(line) / 1000 for line in out.stdout.split()]
