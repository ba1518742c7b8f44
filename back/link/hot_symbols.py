"""Writes back/link/hot-symbols.txt: the functions the back runs on the file store (start, the story
route, every student route, the operations routes, a graceful stop), in the order the linker
should place them first in `.text` (build.rs gives the file to rust-lld as
`--symbol-ordering-file`).

Why: Linux maps a running binary's text in windows of 64 KiB around each page it runs. With the
PostgreSQL client, its pool and TLS mixed among the file store's code, most of those windows held
code the file store never runs: its idle RSS went from 1.8 to 2.7 MiB. With the hot code first,
the rest is never paged in unless the database is used (docs/students.md, "Size").

    RACONTEMOI_KEEP_SYMBOLS=1 CARGO_TARGET_DIR=.cache/hot bench/build-back.sh   # prints BINARY
    PYTHONPATH=tests python3 back/link/hot_symbols.py BINARY

BINARY is built as the image is, with its symbols kept (build.rs then leaves out the linker's
--strip-all; cargo's own `strip` would change every symbol's hash). Symbol names carry hashes of
the crates and the compiler, so regenerate the list after a dependency or toolchain update or a
change of the hot path; names that no longer exist are skipped by the linker (only the memory
figure drifts back up). Needs valgrind (callgrind) and nm.
"""

import base64
import http.client
import json
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from testkit import free_port, wait_http

OUT = Path(__file__).resolve().parent / "hot-symbols.txt"
PREFIX = "/supmit/api/v1.0"
AUTH = {"Authorization": "Basic " + base64.b64encode(b"root:root").decode()}
JSON = {**AUTH, "Content-Type": "application/json"}
REQUESTS = [
    ("GET", "/racontemoiunehistoire", {}, None),
    ("GET", "/racontemoiunehistoire", {"Accept": "application/json"}, None),
    ("HEAD", "/racontemoiunehistoire", {}, None),
    ("OPTIONS", "/racontemoiunehistoire", {"Origin": "http://example.com"}, None),
    ("GET", "/healthz", {}, None),
    ("GET", "/readyz", {}, None),
    ("GET", "/metrics", {}, None),
    ("GET", "/openapi.json", {}, None),
    ("GET", "/nowhere", {}, None),
    ("GET", f"{PREFIX}/get_student_ages", AUTH, None),
    ("GET", f"{PREFIX}/get_student_ages/alice", AUTH, None),
    ("GET", f"{PREFIX}/get_student_ages/nobody", AUTH, None),
    ("GET", f"{PREFIX}/students", AUTH, None),
    ("GET", f"{PREFIX}/students?limit=1", AUTH, None),
    ("GET", f"{PREFIX}/students/bob", AUTH, None),
    ("POST", f"{PREFIX}/students", JSON, "CREATE"),
    ("PUT", f"{PREFIX}/students/alice", JSON, json.dumps({"age": 13})),
    ("DELETE", f"{PREFIX}/students/nobody", AUTH, None),
    ("POST", f"{PREFIX}/students", JSON, "{not json"),
    ("GET", f"{PREFIX}/students", {}, None),
    ("GET", f"{PREFIX}/students", {"Authorization": "Basic eDp5"}, None),
]


def executed(binary: Path, out: Path) -> list[str]:
    """The mangled names of the functions the back ran, in the order callgrind first saw them."""
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {"PATH": "/usr/bin:/bin", "HOST": "127.0.0.1", "PORT": str(port), "API_USERNAME": "root",
               "API_PASSWORD": "root", "STUDENT_AGE_FILE": f"{tmp}/student_age.json"}
        proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--demangle=no", f"--callgrind-out-file={out}",
                                 str(binary)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60, process=proc)
            for round_ in range(10):
                for method, path, headers, body in REQUESTS:
                    if body == "CREATE":
                        body = json.dumps({"name": f"student{round_}", "age": 9})
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    connection.request(method, path, body=body, headers=headers)
                    connection.getresponse().read()
                    connection.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    names = []
    for line in out.read_text(errors="replace").splitlines():
        match = re.match(r"^c?fn=\(\d+\) (.+)$", line)
        if match and match.group(1) not in names:
            names.append(match.group(1))
    return names


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    binary = Path(sys.argv[1])
    symbols = subprocess.run(["nm", str(binary)], capture_output=True, text=True, check=True).stdout
    code = {parts[2] for parts in (line.split() for line in symbols.splitlines())
            if len(parts) == 3 and parts[1] in "tTwW"}
    if not code:
        print(f"{binary} has no symbols: build it with RACONTEMOI_KEEP_SYMBOLS=1", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        hot = [name for name in executed(binary, Path(tmp) / "callgrind.out") if name in code]
    OUT.write_text("".join(f"{name}\n" for name in hot))
    print(f"{OUT}: {len(hot)} functions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
