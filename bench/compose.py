"""The issue's own measurement on the compose stack: the story from the back's published port and
through the front's, the first 5 s, then after a minute of such load (the median of three 5 s
runs, by req/s), and the front's /styles.css and /healthz; wrk -t1 -c32, as the issue ran it.

Run it through bench/compose.sh, which builds the images and starts and removes the stack.
"""
import argparse
import datetime
import time
from pathlib import Path

import bench
import report
import wrk

CONNECTIONS = 32
STORY = "/racontemoiunehistoire"


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--back", required=True, help="the back's published origin, http://host:port")
    p.add_argument("--front", required=True, help="the front's published origin")
    p.add_argument("--front-rev", help="the revision the front image was built from (the label)")
    p.add_argument("--out", type=Path, default=bench.CACHE / "compose.md")
    args = p.parse_args()
    started = time.monotonic()
    load_avg = report.load_average()

    def load(url, seconds=5, headers=()):
        return wrk.run(url, CONNECTIONS, seconds, headers)

    direct = load(args.back + STORY)
    first = load(args.front + STORY)
    load(args.front + STORY, 50)
    after = sorted((load(args.front + STORY) for _ in range(3)), key=lambda run: run.rps)[1]
    styles = load(args.front + "/styles.css", headers=("Accept-Encoding: gzip",))
    healthz = load(args.front + "/healthz")

    rows = [[label, report._num(run.rps), report._num(run.p99_ms, " ms")] for label, run in [
        ("story, the back's port", direct),
        ("story through the front, first 5 s", first),
        ("the same after a minute of such load (3 runs of 5 s, median)", after),
        ("`/styles.css` through the front (gzip)", styles),
        ("`/healthz` (the front's `return 200`)", healthz),
    ]]
    now = datetime.datetime.now(datetime.UTC)
    rev = f" --front-rev {args.front_rev}" if args.front_rev else ""
    report.publish([
        (f"## racontemoi on the compose stack, {now:%Y-%m-%d %H:%M} UTC\n\n"
         f"`bench/compose.sh{rev}` · front image from {args.front_rev or 'the working tree'} · "
         f"wrk `-t1 -c{CONNECTIONS} -d5s` · load average at start {load_avg}"),
        report._table(["path", "req/s", "p99"], rows),
    ], args.out, started)


if __name__ == "__main__":
    main()
