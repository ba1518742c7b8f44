"""scripts/audit.sh (the lint stage's and the release's dependency audit) can fail, and fails for
the right reasons: a copy of Cargo.lock with a crate version that has a known advisory in the real
RustSec database (../shared/advisory-db), an unmaintained or yanked crate, an ignore without its
reason and date; and a missing database is one line, not a failure. The lint stage audits the
repository's own Cargo.lock with the same script before these run."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AUDIT = ROOT / "scripts" / "audit.sh"
DB = ROOT.parent / "shared" / "advisory-db"
# Real advisories of the database, on crates of our kind (the back's HTTP stack):
VULNERABLE = ("hyper", "0.14.9", ["RUSTSEC-2021-0078", "RUSTSEC-2021-0079"])  # request smuggling, fixed in 0.14.10
UNMAINTAINED = ("paste", "1.0.15", "RUSTSEC-2024-0436")                         # informational = "unmaintained"
YANKED = ("mio", "0.7.0")  # yanked on crates.io; mio is in Cargo.lock, so cargo's index cache has it

pytestmark = pytest.mark.skipif(not DB.is_dir(), reason=f"no advisory database at {DB}")


def advisory(advisory_id: str) -> str:
    found = list((DB / "crates").glob(f"*/{advisory_id}.md"))
    assert found, f"{advisory_id} is not in {DB}"
    return found[0].read_text()


def lock_copy(tmp_path: Path, *crates: tuple[str, str], config: str | None = None) -> Path:
    """A copy of Cargo.lock (and of .cargo/audit.toml, or CONFIG) with these crate versions added."""
    (tmp_path / ".cargo").mkdir(parents=True)
    shutil.copy(ROOT / ".cargo" / "audit.toml", tmp_path / ".cargo" / "audit.toml")
    if config is not None:
        (tmp_path / ".cargo" / "audit.toml").write_text(config)
    text = (ROOT / "Cargo.lock").read_text()
    for name, version in crates:
        text += (f'\n[[package]]\nname = "{name}"\nversion = "{version}"\n'
                 'source = "registry+https://github.com/rust-lang/crates.io-index"\n')
    (tmp_path / "Cargo.lock").write_text(text)
    return tmp_path


def audit(directory: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    args = [str(AUDIT)] + ([str(directory)] if directory else [])
    proc = subprocess.run(args, capture_output=True, text=True, env=dict(os.environ, **env))
    print(proc.stdout + proc.stderr)
    return proc


def test_a_known_vulnerability_fails_naming_the_advisory(tmp_path):
    name, version, ids = VULNERABLE
    for advisory_id in ids:
        assert f'package = "{name}"' in advisory(advisory_id)
    proc = audit(lock_copy(tmp_path, (name, version)))
    assert proc.returncode != 0
    for advisory_id in ids:
        assert f"ID:        {advisory_id}" in proc.stdout, proc.stdout
    assert "vulnerabilities found" in proc.stderr


def test_an_unmaintained_crate_fails_unless_ignored_with_reason_and_date(tmp_path):
    name, version, advisory_id = UNMAINTAINED
    assert 'informational = "unmaintained"' in advisory(advisory_id)
    proc = audit(lock_copy(tmp_path / "plain", (name, version)))
    assert proc.returncode != 0 and advisory_id in proc.stdout and "denied warning" in proc.stderr

    ignored = f'[advisories]\nignore = [\n    "{advisory_id}",  # {name}: no fix exists, only a test; look again 2099-01-01\n]\n'
    assert audit(lock_copy(tmp_path / "ignored", (name, version), config=ignored)).returncode == 0

    bare = f'[advisories]\nignore = ["{advisory_id}"]\n'
    proc = audit(lock_copy(tmp_path / "bare", (name, version), config=bare))
    assert proc.returncode != 0 and f"ignores {advisory_id} without a comment" in proc.stderr

    expired = f'[advisories]\nignore = ["{advisory_id}"]  # {name}: no fix; look again 2020-01-01\n'
    proc = audit(lock_copy(tmp_path / "expired", (name, version), config=expired))
    assert proc.returncode != 0 and "2020-01-01: that date has passed" in proc.stderr


def test_a_yanked_crate_fails(tmp_path):
    # The yanked check reads cargo's index cache: the entry of a crate of Cargo.lock is in it once
    # cargo has fetched the lock's crates (as scripts/audit.sh does first).
    assert f'name = "{YANKED[0]}"' in (ROOT / "Cargo.lock").read_text()
    subprocess.run(["cargo", "fetch", "--locked", "--quiet"], cwd=ROOT, check=True)
    proc = audit(lock_copy(tmp_path, YANKED))
    assert proc.returncode != 0
    assert re.search(r"Crate:\s+mio\nVersion:\s+0\.7\.0\nWarning:\s+yanked", proc.stdout), proc.stdout


def test_a_missing_database_is_one_line_and_no_failure(tmp_path):
    proc = audit(ADVISORY_DB=str(tmp_path / "nothing"))
    assert proc.returncode == 0
    assert proc.stdout.count("\n") == 1 and proc.stdout.startswith("audit: no advisory database at "), proc.stdout
