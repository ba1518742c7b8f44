"""Instructions per request of one or more back binaries, counted by valgrind's callgrind:
repeatable to the instruction whatever else the machine does, so two builds compare exactly where
wall-clock figures drift. For each binary and route, the back runs under callgrind twice, serving
200 then 1,200 keep-alive requests on one connection; the difference over 1,000 requests is the
per-request cost (startup and shutdown cancel out).

    python3 bench/instructions.py BINARY [BINARY...]

Build a binary as the image does with `bench/build-back.sh` (CARGO_PROFILE_RELEASE_STRIP=false
keeps the symbols, for `callgrind_annotate` of the .out files left in .cache/bench/callgrind/).
Needs valgrind (Debian's `valgrind`). Each binary takes about 20 s.
"""

import base64
import http.client
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from testkit import free_port, wait_http

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / ".cache" / "bench" / "callgrind"
ROUTES = (("story", "/racontemoiunehistoire", False), ("students", "/supmit/api/v1.0/get_student_ages", True))
# The wrapped form of earlier releases: every back, old or new, reads it.
STORE = '{\n  "student_ages": {\n    "alice": "12",\n    "bob": "13"\n  }\n}\n'


def instructions(binary: Path, requests: int, path: str, auth: bool, out: Path) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "student_age.json"
        store.write_text(STORE)
        port = free_port()
        env = {"PATH": "/usr/bin:/bin", "HOST": "127.0.0.1", "PORT": str(port), "API_USERNAME": "root",
               "API_PASSWORD": "root", "STUDENT_AGE_FILE": str(store)}
        proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", str(binary)],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60, process=proc)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            headers = {"Authorization": "Basic " + base64.b64encode(b"root:root").decode()} if auth else {}
            for _ in range(requests):
                conn.request("GET", path, headers=headers)
                answer = conn.getresponse()
                answer.read()
                if answer.status != 200:
                    sys.exit(f"{binary} answered {answer.status} to {path}")
            conn.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    return int(re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.MULTILINE).group(1))


def main() -> None:
    binaries = [Path(arg).resolve() for arg in sys.argv[1:]]
    if not binaries:
        sys.exit(__doc__)
    OUT.mkdir(parents=True, exist_ok=True)
    print("| binary | " + " | ".join(f"{name} (instructions/request)" for name, _, _ in ROUTES) + " |")
    print("|---|" + "---|" * len(ROUTES))
    for index, binary in enumerate(binaries):
        cells = []
        for name, path, auth in ROUTES:
            few, many = (instructions(binary, n, path, auth, OUT / f"{index}-{name}-{n}.out") for n in (200, 1200))
            cells.append(f"{(many - few) / 1000:,.0f}")
        print(f"| `{binary}` | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
