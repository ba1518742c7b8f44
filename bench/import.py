"""`back students import` against psql's `\\copy` of the same rows (issue 26 item 8): a flat
student_age.json of N students (default 1,000,000, the names in a scattered order, as real ones
come) imported by the back into a new database of one Debian PostgreSQL (testkit.postgres: a temp
dir, a free port, its defaults), with the back's default settings unless --statement-timeout is
given (an older back, whose statement_timeout cut the import, can then be measured too); then
psql's `\\copy` of the same names and ages, as CSV, into a table like students beside it (LIKE ...
INCLUDING ALL: its defaults, identity, constraints and indexes). Each round uses a new database;
the figure is the median of the rounds (their range in brackets). Prints Markdown. Nothing fails
on a slow import; a failed import is shown with its message.

    .cache/venv-api/bin/python bench/import.py [--binary PATH] [--students N] [--rounds N]
                                               [--statement-timeout 600s]"""
import argparse
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import report
from testkit import back as testkit_back
from testkit import postgres


def timed(command: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800,
                          stdin=subprocess.DEVNULL)
    return time.monotonic() - started, done


def figure(times: list[float]) -> str:
    if not times:
        return "–"
    return f"{statistics.median(times):.2f} s" + (f" [{min(times):.2f}–{max(times):.2f}]" if len(times) > 1 else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", type=Path, default=testkit_back.DEFAULT_BINARY)
    parser.add_argument("--students", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--statement-timeout", help="STUDENTS_DATABASE_STATEMENT_TIMEOUT for the import "
                        "(default: unset, the back's own default)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="racontemoi-bench-import-"))
    work.chmod(0o755)
    server = postgres.start(work / "pg")
    try:
        data, csv = work / "students.json", work / "students.csv"
        # Names in a scattered order, as real ones come, not in the order of the name index (n times
        # a prime, modulo a larger prime: a number of its own for each n).
        modulus = next(m for m in range(max(args.students, 2) + 1, 2 * args.students + 3)
                       if all(m % d for d in range(2, int(m ** 0.5) + 1)))
        names = [f"student-{n * 7919 % modulus:07d}" for n in range(args.students)]
        data.write_text("{\n" + ",\n".join(f'    "{name}": "{n % 151}"' for n, name in enumerate(names)) + "\n}")
        csv.write_text("".join(f"{name},{n % 151}\n" for n, name in enumerate(names)))
        imports, copies, failures = [], [], []
        for round_ in range(args.rounds):
            url = server.create_database(f"import_{round_}")
            env = {"PATH": "/usr/bin:/bin", "STUDENTS_DATABASE_URL": url}
            if args.statement_timeout:
                env["STUDENTS_DATABASE_STATEMENT_TIMEOUT"] = args.statement_timeout
            took, done = timed([str(args.binary), "students", "import", str(data)], env)
            if done.returncode == 0:
                imports.append(took)
            else:
                failures.append(f"exit {done.returncode} after {took:.1f} s: {done.stderr.strip()[:200]}")
            # The copy's table: like the back's students (created by the import, which commits the
            # schema before loading): its defaults, identity, constraints and indexes.
            database = f"import_{round_}"
            server.psql("CREATE TABLE copy_check (LIKE students INCLUDING ALL)", database=database)
            took, done = timed([str(postgres.bindir() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h",
                                str(server.dir), "-p", str(server.port), "-U", "postgres", "-d", database,
                                "-c", f"\\copy copy_check (name, age) FROM '{csv}' WITH (FORMAT csv)"],
                               os.environ.copy())
            if done.returncode != 0:
                raise RuntimeError(f"psql \\copy failed: {done.stderr.strip()}")
            copies.append(took)
            server.psql(f"DROP DATABASE {database}", database="postgres")
        ratio = (f"{statistics.median(imports) / statistics.median(copies):.2f}x" if imports else "–")
        print(f"## `back students import` against `psql \\copy` ({datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC)\n")
        print(f"{args.students:,} students, {args.rounds} rounds, binary {args.binary}, statement timeout "
              f"{args.statement_timeout or 'the default'}; load average {report.load_average()}\n")
        print("| | time (median [range]) | × psql \\copy |\n|---|---|---|")
        print(f"| `back students import` | {figure(imports)} | {ratio} |")
        print(f"| `psql \\copy` (CSV) | {figure(copies)} | 1.00x |")
        for failure in failures:
            print(f"\nimport failed: {failure}")
    finally:
        server.stop("immediate")
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
