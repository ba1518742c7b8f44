"""scripts/release.sh against a real registry, and everything it published pulled back and checked."""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import tarfile
import time
import tomllib
from pathlib import Path

import pytest
import yaml

from conftest import (
    ADVISORY_DB,
    DOCKER,
    GITOPS_BRANCH,
    KUBE_VERSION,
    ROOT,
    docker,
    free_port,
    http,
    make_clone,
    manifest_digest,
    registry_catalog,
    registry_tags,
    release_command,
    run,
    set_registry,
)

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def repositories_under(host: str, namespace: str) -> list[str]:
    return [r for r in registry_catalog(host) if r.startswith(namespace + "/")]


def test_release_publishes_images_chart_and_sbom(release):
    env = release.env
    assert env["VERSION"] == release.version
    assert env["REVISION"] == release.head
    short = release.head[:7]
    for component in ("back", "front"):
        name = f"{release.namespace}/racontemoi-{component}"
        assert release.image(component) == f"{release.path}/racontemoi-{component}:{release.version}@{release.digest(component)}"
        assert DIGEST.fullmatch(release.digest(component))
        assert sorted(registry_tags(release.registry, name)) == sorted([release.version, f"sha-{short}"])
        # Both tags name the digest the release recorded.
        for tag in (release.version, f"sha-{short}"):
            assert manifest_digest(release.registry, name, tag) == release.digest(component)
    assert registry_tags(release.registry, f"{release.namespace}/charts/racontemoi") == [release.version]
    assert registry_tags(release.registry, f"{release.namespace}/racontemoi-sbom") == [release.version]
    # Nothing signs here (keyless signing needs GitHub's OIDC issuer), and the release says so.
    assert "release: these artifacts are unsigned: .github/workflows/release.yml signs them" in release.output
    print(f"\nback  {release.image('back')}\nfront {release.image('front')}\nchart {env['CHART']}\n"
          f"sbom  {env['SBOM']}\nrelease wall time {release.seconds:.0f}s")


@pytest.fixture(scope="module")
def pulled(release):
    """Both images removed locally by tag, then pulled back by digest."""
    short = release.head[:7]
    refs = {}
    for component in ("back", "front"):
        repo = f"{release.path}/racontemoi-{component}"
        docker("image", "rm", f"{repo}:{release.version}", f"{repo}:sha-{short}", check=False)
        ref = f"{repo}@{release.digest(component)}"
        out = docker("pull", ref).stdout
        assert f"Digest: {release.digest(component)}" in out, out
        refs[component] = ref
    return refs


def test_images_carry_the_oci_labels(release, pulled):
    for component, ref in pulled.items():
        labels = json.loads(docker("image", "inspect", "--format", "{{json .Config.Labels}}", ref).stdout)
        assert labels["org.opencontainers.image.version"] == release.version
        assert labels["org.opencontainers.image.revision"] == release.head
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", labels["org.opencontainers.image.created"])
        assert labels["org.opencontainers.image.source"].startswith("https://")
        assert labels["org.opencontainers.image.title"] == f"racontemoi-{component}"


def wait_for(url: str, timeout: float = 30):
    """The first successful answer of url (a container just started may refuse or fail at first)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            answer = http("GET", url)
            if answer.status < 400 or time.monotonic() > deadline:
                return answer
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.3)


def test_images_pulled_by_digest_run(release, pulled):
    """The back tells a story, the front serves its page and proxies a story to that back."""
    label = f"racontemoi.test={release.namespace}"
    network = f"{release.namespace}-net"
    docker("network", "create", "--label", label, network)
    try:
        back_port, front_port = free_port(), free_port()
        docker("run", "--detach", "--rm", "--label", label, "--network", network, "--network-alias", "back",
               "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
               "--publish", f"127.0.0.1:{back_port}:5000", pulled["back"])
        docker("run", "--detach", "--rm", "--label", label, "--network", network,
               "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
               "--env", "BACK_URL=http://back:5000", "--publish", f"127.0.0.1:{front_port}:8080", pulled["front"])
        story = wait_for(f"http://127.0.0.1:{back_port}/racontemoiunehistoire")
        assert story.status == 200 and story.headers["content-type"].startswith("text/plain") and story.body.strip()
        page = wait_for(f"http://127.0.0.1:{front_port}/")
        assert page.status == 200 and b"Raconte-moi une histoire" in page.body
        story = wait_for(f"http://127.0.0.1:{front_port}/racontemoiunehistoire")
        assert story.status == 200 and story.body.strip()
    finally:
        ids = docker("ps", "--all", "--quiet", "--filter", f"label={label}", check=False).stdout.split()
        if ids:
            docker("rm", "--force", *ids, check=False)
        docker("network", "rm", network, check=False)


@pytest.fixture(scope="module")
def chart_render(release, tmp_path_factory):
    """The chart pulled back from the registry with helm pull oci://, rendered with its defaults."""
    out = tmp_path_factory.mktemp("chart")
    run("helm", "pull", f"oci://{release.path}/charts/racontemoi", "--version", release.version,
        "--plain-http", "--destination", out)
    package = out / f"racontemoi-{release.version}.tgz"
    assert package.is_file()
    render = run("helm", "template", "racontemoi", package, "--namespace", "racontemoi",
                 "--kube-version", KUBE_VERSION).stdout
    path = out / "render.yaml"
    path.write_text(render)
    return path, [d for d in yaml.safe_load_all(render) if d]


def images_of(docs):
    found = []
    for doc in docs:
        spec = doc["spec"] if doc["kind"] == "Pod" else doc.get("spec", {}).get("template", {}).get("spec")
        for container in (spec or {}).get("containers", []):
            found.append(container["image"])
    return found


def test_pulled_chart_pins_images_by_digest(release, chart_render):
    _, docs = chart_render
    images = images_of(docs)
    assert images
    expected = {f"{release.path}/racontemoi-back@{release.digest('back')}",
                f"{release.path}/racontemoi-front@{release.digest('front')}"}
    assert set(images) == expected, images
    chart = run("helm", "show", "chart", f"oci://{release.path}/charts/racontemoi", "--version", release.version,
                "--plain-http").stdout
    meta = yaml.safe_load(chart)
    assert meta["version"] == release.version and meta["appVersion"] == release.version


def test_pulled_chart_passes_kubernetes_validate(chart_render, deploy_tool):
    path, docs = chart_render
    proc = run(deploy_tool("kubernetes-validate"), "--strict", "--kubernetes-version", KUBE_VERSION, path,
               check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count(" passed for resource ") == len(docs)


def test_pulled_chart_passes_checkov_without_the_digest_skips(chart_render, deploy_tool, tmp_path):
    """The repository's checkov settings minus CKV_K8S_43 and CKV_K8S_15: both must pass here."""
    path, _ = chart_render
    config = yaml.safe_load((ROOT / ".checkov.yaml").read_text())
    config["skip-check"] = [c for c in config["skip-check"] if c not in ("CKV_K8S_43", "CKV_K8S_15")]
    config_path = tmp_path / "checkov.yaml"
    config_path.write_text(yaml.safe_dump(config))
    proc = run(deploy_tool("checkov"), "--config-file", config_path, "--output", "json", "--framework",
               "kubernetes", "--file", path, check=False)
    reports = json.loads(proc.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [f"{c['check_id']} {c['resource']}" for r in reports for c in r["results"]["failed_checks"]]
    assert not failed, failed
    passed = {c["check_id"] for r in reports for c in r["results"]["passed_checks"]}
    assert {"CKV_K8S_43", "CKV_K8S_15"} <= passed


def dependency_tree(clone, edges: str) -> set[tuple[str, str]]:
    """(name, version) of every crate the back depends on through these kinds of edges, for every target."""
    proc = run("cargo", "tree", "--manifest-path", clone / "back" / "Cargo.toml", "--locked", "--offline",
               "-e", edges, "--target", "all", "--prefix", "none", "--format", "{p}")
    crates = set()
    for line in proc.stdout.splitlines():
        name, _, version = line.split(" (")[0].partition(" v")
        if name and name != "back":
            crates.add((name, version.strip()))
    return crates


def test_sbom_lists_every_crate_of_cargo_lock(release, tmp_path):
    proc = run("python3", ROOT / "scripts" / "release" / "oci.py", "pull",
               release.env["SBOM"].rpartition("@")[0], tmp_path)
    paths = proc.stdout.split()
    assert len(paths) == 1 and paths[0].endswith(".cdx.json"), paths
    sbom = json.loads(Path(paths[0]).read_text())
    assert sbom["bomFormat"] == "CycloneDX"
    listed = {(c["name"], c["version"]) for c in sbom["components"]}
    lock = tomllib.loads((release.clone / "Cargo.lock").read_text())
    crates = {(p["name"], p["version"]) for p in lock["package"] if p["name"] != "back"}
    # The SBOM describes what ships: the crates built into the binary (normal and build
    # dependencies). Whatever else Cargo.lock holds is a test-only (dev) dependency, or an optional
    # dependency no enabled feature turns on: Cargo.lock lists those too (spki's base64ct, zeroize's
    # derive), and cargo tree, which resolves the features, shows they are never built.
    shipped, with_tests = (dependency_tree(release.clone, edges) for edges in ("normal,build", "normal,build,dev"))
    assert shipped <= with_tests <= crates, (shipped - crates, with_tests - crates)
    missing = crates - listed
    assert not (missing & shipped), f"crates built into /back missing from the SBOM: {sorted(missing & shipped)}"
    root = sbom["metadata"]["component"]
    assert (root["name"], root["version"]) == ("back", release.version)
    never_built = sorted(name for name, _ in crates - with_tests)
    print(f"\nSBOM: {len(sbom['components'])} components; Cargo.lock: {len(crates)} crates, {len(shipped)} built "
          f"into /back, {len(with_tests - shipped)} test-only, {len(never_built)} never built {never_built}")


def test_second_release_of_the_version_is_refused(release):
    before = {c: manifest_digest(release.registry, f"{release.namespace}/racontemoi-{c}", release.version)
              for c in ("back", "front")}
    branch_before = run("git", "rev-parse", GITOPS_BRANCH, cwd=release.clone).stdout
    proc = release_command(release.clone, release.path, "--skip-tests", "--gitops-branch", GITOPS_BRANCH,
                           check=False)
    assert proc.returncode != 0
    assert "already published" in proc.stderr, proc.stderr
    after = {c: manifest_digest(release.registry, f"{release.namespace}/racontemoi-{c}", release.version)
             for c in ("back", "front")}
    assert after == before
    assert run("git", "rev-parse", GITOPS_BRANCH, cwd=release.clone).stdout == branch_before


def test_release_whose_tests_fail_pushes_nothing(release, tmp_path):
    """The test command fails (a stage that fails, committed in another throwaway clone)."""
    namespace = f"{release.namespace}-failing"
    path = f"{release.registry}/{namespace}"
    clone = make_clone(tmp_path / "failing", path)
    stage = clone / "scripts" / "stages" / "failing.sh"
    stage.write_text("#!/usr/bin/env bash\necho 'a test that fails'\nexit 1\n")
    run("git", "add", stage, cwd=clone)
    run("git", "commit", "--quiet", "-m", "a failing test", cwd=clone)
    old = os.environ.get("SKIP_SETUP")
    os.environ["SKIP_SETUP"] = "1"
    try:
        proc = release_command(clone, path, "--test-stages", "failing", "--gitops-branch", GITOPS_BRANCH,
                               check=False)
    finally:
        if old is None:
            del os.environ["SKIP_SETUP"]
        else:
            os.environ["SKIP_SETUP"] = old
    assert proc.returncode != 0
    assert "tests failed: nothing was pushed" in proc.stderr, proc.stdout + proc.stderr
    assert not [r for r in registry_catalog(release.registry) if r.startswith(namespace + "/")]
    assert not run("git", "branch", "--list", GITOPS_BRANCH, cwd=clone).stdout.strip()
    built = docker("image", "ls", "--quiet", f"{path}/racontemoi-back").stdout.strip()
    assert not built, "nothing is even built when the tests fail"


def test_release_whose_build_fails_pushes_nothing(release, tmp_path):
    """The back's Dockerfile fails (in another throwaway clone): no image, chart or SBOM is pushed."""
    namespace = f"{release.namespace}-broken-build"
    clone = make_clone(tmp_path / "broken-build", f"{release.registry}/{namespace}")
    dockerfile = clone / "back" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("WORKDIR /src\n", "WORKDIR /src\nRUN exit 3\n", 1))
    run("git", "commit", "--quiet", "-am", "a build that fails", cwd=clone)
    proc = release_command(clone, f"{release.registry}/{namespace}", "--skip-tests", "--gitops-branch",
                           GITOPS_BRANCH, check=False)
    assert proc.returncode != 0
    assert "the back image did not build: nothing was pushed" in proc.stderr, proc.stdout + proc.stderr
    assert not [r for r in registry_catalog(release.registry) if r.startswith(namespace + "/")]
    assert not run("git", "branch", "--list", GITOPS_BRANCH, cwd=clone).stdout.strip()


@pytest.mark.skipif(not ADVISORY_DB.is_dir(), reason=f"no advisory database at {ADVISORY_DB}")
def test_release_whose_audit_fails_builds_and_pushes_nothing(release, tmp_path):
    """Cargo.lock with hyper 0.14.9 (RUSTSEC-2021-0078, in the real database): the release's checks
    run the lint stage's audit, and stop before any build or push."""
    namespace = f"{release.namespace}-vulnerable"
    path = f"{release.registry}/{namespace}"
    clone = make_clone(tmp_path / "vulnerable", path)
    lock = clone / "Cargo.lock"
    lock.write_text(lock.read_text() + '\n[[package]]\nname = "hyper"\nversion = "0.14.9"\n'
                    'source = "registry+https://github.com/rust-lang/crates.io-index"\n')
    run("git", "commit", "--quiet", "-am", "a crate with a known advisory", cwd=clone)
    proc = release_command(clone, path, "--skip-tests", "--gitops-branch", GITOPS_BRANCH, check=False)
    assert proc.returncode != 0
    assert "the dependency audit failed (scripts/audit.sh): nothing was built or pushed" in proc.stderr, proc.stderr
    assert "RUSTSEC-2021-0078" in proc.stderr
    assert not repositories_under(release.registry, namespace)
    assert not docker("image", "ls", "--quiet", f"{path}/racontemoi-back").stdout.strip(), "nothing is built"
    assert not run("git", "branch", "--list", GITOPS_BRANCH, cwd=clone).stdout.strip()


def test_gitops_commit_changes_exactly_the_dev_values(release):
    clone = release.clone
    assert run("git", "rev-parse", "HEAD", cwd=clone).stdout.strip() == release.head, "HEAD did not move"
    assert not run("git", "status", "--porcelain", "--untracked-files=no", cwd=clone).stdout
    commit = run("git", "rev-parse", GITOPS_BRANCH, cwd=clone).stdout.strip()
    assert run("git", "rev-parse", f"{commit}^", cwd=clone).stdout.strip() == release.head
    changed = run("git", "diff", "--name-only", release.head, commit, cwd=clone).stdout.split()
    assert changed == ["helm/racontemoi/values-dev.yaml"]
    diff = run("git", "diff", "--unified=0", release.head, commit, cwd=clone).stdout
    lines = [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert len([line for line in lines if line.startswith("+")]) <= 6
    assert all(re.match(r"^[+-]    (repository|tag|digest): ", line) for line in lines), lines
    old = yaml.safe_load(run("git", "show", f"{release.head}:helm/racontemoi/values-dev.yaml", cwd=clone).stdout)
    new = yaml.safe_load(run("git", "show", f"{commit}:helm/racontemoi/values-dev.yaml", cwd=clone).stdout)
    for component in ("back", "front"):
        assert new[component]["image"] == {"repository": f"{release.path}/racontemoi-{component}",
                                           "tag": release.version, "digest": release.digest(component)}
        old[component]["image"] = new[component]["image"]
    assert new == old, "only the image lines change"
    message = run("git", "log", "-1", "--format=%B", commit, cwd=clone).stdout
    assert message.startswith(f"deploy(dev): racontemoi {release.version}")


def back_binary(image: str) -> bytes:
    container = docker("create", image).stdout.strip()
    try:
        tar = subprocess.run([DOCKER, "cp", f"{container}:/back", "-"], capture_output=True, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(tar)) as t:
            return t.extractfile("back").read()
    finally:
        docker("rm", container, check=False)


def test_back_binary_is_reproducible(release, pulled):
    """A second build of the same commit, without the layer cache, gives the same /back."""
    tag = f"{release.path}/racontemoi-back-rebuild:{release.version}"
    epoch = run("git", "log", "-1", "--format=%ct", release.head, cwd=release.clone).stdout.strip()
    started = time.monotonic()
    docker("build", "--no-cache", "--file", release.clone / "back" / "Dockerfile",
           "--build-arg", f"VERSION={release.version}", "--build-arg", f"SOURCE_DATE_EPOCH={epoch}",
           "--tag", tag, release.clone)
    rebuilt_binary, published_binary = back_binary(tag), back_binary(pulled["back"])
    rebuilt, published = (hashlib.sha256(b).hexdigest() for b in (rebuilt_binary, published_binary))
    print(f"\n/back sha256 published {published}, rebuilt without cache {rebuilt} "
          f"({time.monotonic() - started:.0f}s)")
    assert rebuilt == published
    # The build paths are remapped: neither the build directory nor cargo's home is in the binary,
    # so a build elsewhere embeds the same paths.
    assert b"/usr/local/cargo/registry" not in published_binary
    assert b"/src/back/src" not in published_binary
    assert b"/cargo/registry/src/" in published_binary or b"/racontemoi/back/src" in published_binary


def test_release_in_phases_as_the_jenkinsfile_runs_it(release, tmp_path):
    """build, push and deploy as three calls (the Jenkinsfile's Build, Push and Deploy stages)."""
    path = f"{release.path}-phases"
    clone = make_clone(tmp_path / "phases", path)
    head = run("git", "rev-parse", "HEAD", cwd=clone).stdout.strip()
    release_command(clone, path, "--phase", "build")
    assert not [r for r in registry_catalog(release.registry) if r.startswith(f"{release.namespace}-phases/")], \
        "the build phase pushes nothing"
    release_command(clone, path, "--phase", "push")
    env = dict(line.split("=", 1) for line in
               (clone / "dist" / "release" / release.version / "release.env").read_text().splitlines())
    assert env["BACK_IMAGE"].startswith(f"{path}/racontemoi-back:{release.version}@sha256:")
    release_command(clone, path, "--phase", "deploy", "--gitops-branch", GITOPS_BRANCH)
    changed = run("git", "diff", "--name-only", head, GITOPS_BRANCH, cwd=clone).stdout.split()
    assert changed == ["helm/racontemoi/values-dev.yaml"]


def test_release_to_another_registry_twice(release, tmp_path):
    """Issue 21: a release to a registry that is not the configured default, run twice as a user
    would. Its GitOps commit would write that registry into values-dev.yaml, after which
    `scripts/version.sh check`, and every later release, failed ("the version places disagree").
    Now the release refuses it at the start, naming `scripts/version.sh registry set`, and changes
    nothing; with --no-gitops it publishes, and the next release passes its checks; made the
    default, a release commits it to the checked-out branch and the next one still passes them."""
    clone = make_clone(tmp_path / "another")  # the repository's own default registry
    version_sh = clone / "scripts" / "version.sh"
    default = run(version_sh, "registry", cwd=clone).stdout.strip()
    namespace = f"{release.namespace}-another"
    path = f"{release.registry}/{namespace}"
    assert path != default
    head = run("git", "rev-parse", "HEAD", cwd=clone).stdout.strip()
    branch = "main-another"  # checked out, as main is where the user released
    run("git", "checkout", "--quiet", "-B", branch, cwd=clone)

    def passes_checks(proc):
        assert "places disagree" not in proc.stderr, proc.stderr
        assert run(version_sh, "check", cwd=clone, check=False).returncode == 0

    # As the user ran it: the GitOps commit would go to the branch Argo CD follows.
    for attempt in ("first", "second"):
        proc = release_command(clone, path, "--skip-tests", "--gitops-branch", branch, check=False)
        print(f"\n{attempt} release to {path} (default {default}): exit {proc.returncode}\n{proc.stderr.strip()}")
        assert proc.returncode != 0
        assert f"scripts/version.sh registry set {path}" in proc.stderr and "--no-gitops" in proc.stderr
        passes_checks(proc)
        assert not repositories_under(release.registry, namespace), "refused before anything is pushed"
        assert run("git", "rev-parse", "HEAD", cwd=clone).stdout.strip() == head
        assert not run("git", "status", "--porcelain", "--untracked-files=no", cwd=clone).stdout

    # --no-gitops: published there, no commit; the second run is refused only as a version that
    # is already published (every check before it passed).
    first = release_command(clone, path, "--skip-tests", "--no-gitops")
    assert "GitOps" not in first.stdout
    assert registry_tags(release.registry, f"{namespace}/racontemoi-back")
    assert run("git", "rev-parse", "HEAD", cwd=clone).stdout.strip() == head
    second = release_command(clone, path, "--skip-tests", "--no-gitops", check=False)
    print(f"second --no-gitops release: exit {second.returncode}\n{second.stderr.strip()}")
    assert second.returncode != 0 and "already published" in second.stderr, second.stderr
    passes_checks(second)

    # Made the default (the README's once-only step): the GitOps commit lands on the checked-out
    # branch, as in the issue, and the next release still passes every check.
    path = f"{path}-default"
    set_registry(clone, path)
    release_command(clone, path, "--skip-tests", "--gitops-branch", branch)
    assert run("git", "log", "-1", "--format=%s", cwd=clone).stdout.startswith("deploy(dev): ")
    dev = yaml.safe_load((clone / "helm" / "racontemoi" / "values-dev.yaml").read_text())
    assert dev["back"]["image"]["repository"] == f"{path}/racontemoi-back"
    after = release_command(clone, path, "--skip-tests", "--gitops-branch", branch, check=False)
    print(f"release after the GitOps commit: exit {after.returncode}\n{after.stderr.strip()}")
    assert after.returncode != 0 and "already published" in after.stderr, after.stderr
    passes_checks(after)
