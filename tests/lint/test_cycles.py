"""scripts/cycles.sh (the lint stage's module-cycle check, cargo-cycles) fails on a loop of `use`
between modules, direct or through a third, and passes a crate whose children only use their
parent's items through `super::` (what the back's layout does). The lint stage checks the back
itself with the same script before these run."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CYCLES = ROOT / "scripts" / "cycles.sh"

pytestmark = pytest.mark.skipif(shutil.which("cargo-cycles") is None,
                                reason="cargo-cycles is missing: scripts/setup/lint.sh installs it")


def crate(tmp_path: Path, files: dict[str, str]) -> Path:
    """A workspace of one crate, `demo` (laid out as the back is), with these files under demo/src/."""
    (tmp_path / "Cargo.toml").write_text('[workspace]\nmembers = ["demo"]\nresolver = "2"\n')
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "Cargo.toml").write_text('[package]\nname = "demo"\nversion = "0.1.0"\nedition = "2021"\n')
    for name, text in files.items():
        path = tmp_path / "demo" / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def check(directory: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(CYCLES), str(directory)], capture_output=True, text=True)
    print(proc.stdout + proc.stderr)
    return proc


def test_a_loop_through_a_third_module_fails_naming_it(tmp_path):
    proc = check(crate(tmp_path, {
        "lib.rs": "mod config;\nmod store;\nmod url;\n",
        "config.rs": "use crate::url::Target;\npub struct Config(pub Target);\n",
        "url.rs": "use crate::store::Pool;\npub struct Target(pub Pool);\n",
        "store.rs": "use crate::config::Config;\npub struct Pool;\npub fn open(_: &Config) {}\n",
    }))
    assert proc.returncode != 0
    for module in ("demo::config", "demo::url", "demo::store"):
        assert module in proc.stderr
    assert "in a loop" in proc.stderr


def test_a_direct_loop_fails(tmp_path):
    proc = check(crate(tmp_path, {
        "lib.rs": "mod file;\nmod lock;\n",
        "file.rs": "use crate::lock::Lock;\npub struct File(pub Lock);\n",
        "lock.rs": "use crate::file::File;\npub struct Lock;\npub fn of(_: &File) -> Lock { Lock }\n",
    }))
    assert proc.returncode != 0
    assert "demo::file" in proc.stderr and "demo::lock" in proc.stderr


def test_children_using_their_parent_through_super_pass(tmp_path):
    proc = check(crate(tmp_path, {
        "lib.rs": "mod store;\n",
        "store/mod.rs": "mod file;\npub struct Failure;\npub fn open() -> file::File { file::File }\n",
        "store/file/mod.rs": "mod lock;\nuse super::Failure;\npub struct File;\n"
                             "pub fn fail() -> Failure { lock::check(); Failure }\n",
        "store/file/lock.rs": "use super::File;\npub fn check() -> Option<File> { None }\n",
    }))
    assert proc.returncode == 0, proc.stderr
    assert "no loop" in proc.stdout


def test_the_back_has_no_loop():
    proc = check(ROOT)
    assert proc.returncode == 0, proc.stderr
