"""The release stage's fixtures: a real registry, a throwaway clone, and one real release into it.

- `registry`: Debian's docker-registry (the distribution project) on 127.0.0.1 and a free port,
  with its storage and config under the session's temporary directory; stopped at the end.
- `clone`: a throwaway clone of this repository (with the work tree's uncommitted changes
  committed there as one snapshot), so that the release's GitOps commit never touches this one,
  whose default registry is then the test registry's path (`scripts/version.sh registry set`, as
  the README's release steps do once): the release refuses another registry unless `--no-gitops`.
- `release`: `scripts/release.sh --skip-tests` run in the clone against the registry, under a
  registry path of its own; every image it leaves on the engine is removed at the end.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from testkit import Response, free_port, http, wait_http

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".cache" / "bin"
VENV_BIN = ROOT / ".cache" / "venv-release" / "bin"
DEPLOY_BIN = ROOT / ".cache" / "venv-deploy" / "bin"
DOCKER = os.environ.get("DOCKER") or ("/usr/bin/docker" if Path("/usr/bin/docker").exists() else "docker")
GITOPS_BRANCH = "release-test"
# The registry path of this session's releases: REGISTRY/NAMESPACE[-suffix].
NAMESPACE = f"racontemoi-release-test-{os.getpid()}"
KUBE_VERSION = "1.34.0"
# The release's dependency audit reads the RustSec database beside this repository, not beside
# the throwaway clones (scripts/audit.sh skips it with one line where it is absent).
ADVISORY_DB = ROOT.parent / "shared" / "advisory-db"


def env() -> dict[str, str]:
    """The tools of .cache first; git identity for the throwaway clone's commits; the advisory database."""
    path = os.pathsep.join([str(BIN), str(VENV_BIN), os.environ.get("PATH", "")])
    return dict(os.environ, PATH=path, REGISTRY_PLAIN_HTTP="1", ADVISORY_DB=str(ADVISORY_DB), GIT_AUTHOR_NAME="release test", GIT_AUTHOR_EMAIL="release-test@localhost",
                GIT_COMMITTER_NAME="release test", GIT_COMMITTER_EMAIL="release-test@localhost")


def run(*args, cwd: Path = ROOT, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, env=env(), **kwargs)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def docker(*args, check: bool = True) -> subprocess.CompletedProcess:
    return run(DOCKER, *args, check=check)


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    """host:port of a real registry on 127.0.0.1, storage in the session's temporary directory."""
    base = tmp_path_factory.mktemp("registry")
    port = free_port()
    config = base / "config.yml"
    config.write_text(f"""version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {base / 'storage'}
  delete:
    enabled: false
http:
  addr: 127.0.0.1:{port}
""")
    log = open(base / "registry.log", "w")  # noqa: SIM115 (the registry's stdout for its whole life; closed at the end)
    proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    host = f"127.0.0.1:{port}"
    try:
        try:
            wait_http(f"http://{host}/v2/", timeout=30, process=proc, interval=0.2)
        except TimeoutError:
            pytest.fail(f"docker-registry did not answer on {host}:\n{(base / 'registry.log').read_text()}")
        yield host
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def registry_get(url: str, headers: dict | None = None) -> Response:
    """A GET of the registry's API that must succeed."""
    answer = http("GET", url, headers=headers)
    assert answer.status == 200, f"GET {url}: {answer.status} {answer.text}"
    return answer


def registry_tags(host: str, name: str) -> list[str]:
    answer = http("GET", f"http://{host}/v2/{name}/tags/list")
    if answer.status == 404:
        return []
    assert answer.status == 200, f"tags of {name}: {answer.status} {answer.text}"
    return answer.json().get("tags") or []


def registry_catalog(host: str) -> list[str]:
    return registry_get(f"http://{host}/v2/_catalog").json()["repositories"]


def manifest_digest(host: str, name: str, reference: str) -> str:
    accept = ("application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
              "application/vnd.docker.distribution.manifest.v2+json, "
              "application/vnd.docker.distribution.manifest.list.v2+json")
    return registry_get(f"http://{host}/v2/{name}/manifests/{reference}", headers={"Accept": accept}).headers[
        "docker-content-digest"]


def make_clone(dest: Path, registry_path: str | None = None) -> Path:
    """A clone of this repository's HEAD plus the work tree's uncommitted changes, as one commit;
    with registry_path, then a second commit that makes it the default registry."""
    run("git", "clone", "--quiet", "--no-hardlinks", ROOT, dest)
    diff = run("git", "diff", "HEAD", "--binary").stdout
    if diff:
        run("git", "apply", "--whitespace=nowarn", "-", cwd=dest, input=diff)
    for name in run("git", "ls-files", "--others", "--exclude-standard", "-z").stdout.split("\0"):
        if name:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    run("git", "add", "--all", cwd=dest)
    if run("git", "status", "--porcelain", cwd=dest).stdout:
        run("git", "commit", "--quiet", "-m", "release test: the work tree's changes", cwd=dest)
    if registry_path:
        set_registry(dest, registry_path)
    return dest


def set_registry(clone: Path, path: str) -> None:
    """`scripts/version.sh registry set PATH`, committed: the README's once-only release step."""
    run(clone / "scripts" / "version.sh", "registry", "set", path, cwd=clone)
    run("git", "commit", "--quiet", "-am", f"release test: registry {path}", cwd=clone)


@pytest.fixture(scope="session")
def clone(registry, tmp_path_factory) -> Path:
    return make_clone(tmp_path_factory.mktemp("clone") / "racontemoi", f"{registry}/{NAMESPACE}")


@dataclass
class Release:
    registry: str        # host:port
    path: str            # host:port/namespace: what release.sh was given
    namespace: str
    version: str
    clone: Path
    head: str            # the clone's commit that was released
    env: dict            # release.env
    seconds: float
    output: str

    def image(self, component: str) -> str:
        return self.env[f"{component.upper()}_IMAGE"]

    def digest(self, component: str) -> str:
        return self.image(component).rpartition("@")[2]


def release_command(clone: Path, path: str, *options: str, check: bool = True) -> subprocess.CompletedProcess:
    return run(clone / "scripts" / "release.sh", *options, path, cwd=clone, check=check)


def remove_images(prefix: str) -> None:
    """Removes every reference under PREFIX: tags, and the digests of images pulled by digest."""
    listing = docker("image", "ls", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}",
                     check=False).stdout.splitlines()
    refs = set()
    for repository, tag, digest in (line.split() for line in listing if line.startswith(prefix)):
        refs.add(f"{repository}:{tag}" if tag != "<none>" else f"{repository}@{digest}")
    if refs:
        docker("image", "rm", "--force", *sorted(refs), check=False)


@pytest.fixture(scope="session")
def release(registry, clone) -> Release:
    namespace = NAMESPACE
    path = f"{registry}/{namespace}"
    version = run(clone / "scripts" / "version.sh", cwd=clone).stdout.strip()
    head = run("git", "rev-parse", "HEAD", cwd=clone).stdout.strip()
    started = time.monotonic()
    try:
        proc = release_command(clone, path, "--skip-tests", "--gitops-branch", GITOPS_BRANCH)
        seconds = time.monotonic() - started
        values = dict(line.split("=", 1) for line in
                      (clone / "dist" / "release" / version / "release.env").read_text().splitlines() if "=" in line)
        print(f"\nrelease: {seconds:.0f}s\n{proc.stdout}")
        yield Release(registry, path, namespace, version, clone, head, values, seconds, proc.stdout)
    finally:
        remove_images(f"{registry}/")


@pytest.fixture(scope="session")
def deploy_tool():
    def find(name: str) -> str:
        for candidate in (BIN / name, DEPLOY_BIN / name, VENV_BIN / name):
            if candidate.exists():
                return str(candidate)
        pytest.fail(f"{name} not found: run scripts/setup/release.sh")
    return find
