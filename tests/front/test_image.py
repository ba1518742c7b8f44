"""front/Dockerfile and the files it copies, checked without a Docker engine: lint, the rules
the image must follow on the old engine here, exec bits, and what it adds to the base image.
hadolint lints it in the lint stage (scripts/stages/lint.sh)."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from harness import BUSYBOX, FRONT, REPO, Front, busybox_bin, dockerfile_env

DOCKERFILE = FRONT / "Dockerfile"
STEPS = sorted((FRONT / "docker-entrypoint.d").iterdir())
COPIED = [FRONT / "nginx.conf", FRONT / "templates", FRONT / "docker-entrypoint.d", FRONT / "html"]
MAX_ADDED_BYTES = 200 * 1024


def instructions() -> list[tuple[str, str]]:
    """(keyword, arguments) of each Dockerfile instruction, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            result.append((keyword.upper(), arguments.strip()))
    return result


def test_the_dockerfile_fits_the_old_engine_and_keeps_the_official_entrypoint():
    text = DOCKERFILE.read_text()
    keywords = [keyword for keyword, _ in instructions()]
    assert instructions()[0] == ("FROM", "nginx:1.30-alpine-slim")
    assert keywords.count("FROM") == 1
    assert "CMD" not in keywords and "ENTRYPOINT" not in keywords
    assert not re.search(r"^#\s*syntax=", text, re.MULTILINE)
    assert "<<" not in text and "--link" not in text and "--chmod" not in text
    assert ("USER", "101") in instructions()
    assert ("EXPOSE", "8080") in instructions()
    healthcheck = dict(instructions())["HEALTHCHECK"]
    assert "/healthz" in healthcheck and "wget" in healthcheck
    labels = dict(instructions())["LABEL"]
    assert "org.opencontainers.image.title" in labels and "org.opencontainers.image.version" in labels


def test_the_env_defaults_are_the_architecture_s():
    env = dockerfile_env()
    assert env["BACK_URL"] == "http://back:5000"
    assert env["STORY_URL"] == "/racontemoiunehistoire"
    assert env["STUDENTS_API_URL"] == "/supmit/api/v1.0"
    assert env["STUDENTS_API_PREFIX"] == "/supmit/api/v1.0"
    assert env["FRONT_LISTEN"] == "8080"
    # Everything the start writes is under /tmp, and the main config includes what it renders.
    assert env["NGINX_ENVSUBST_OUTPUT_DIR"].startswith("/tmp/")
    assert env["FRONT_CONFIG_JS"].startswith("/tmp/")
    nginx_conf = (FRONT / "nginx.conf").read_text()
    assert f"include {env['NGINX_ENVSUBST_OUTPUT_DIR']}/*.conf;" in nginx_conf
    for line in nginx_conf.splitlines():
        if re.match(r"\s*(pid|\w+_temp_path)\s", line):
            assert " /tmp/" in line, line


def test_the_template_variables_all_have_defaults():
    templates = sorted((FRONT / "templates").rglob("*.template"))
    assert len(templates) == 4
    used = {name for path in templates for name in re.findall(r"\$\{([A-Z_]+)\}", path.read_text())}
    env = dockerfile_env()
    # Derived by 19-racontemoi-env.envsh: the CSP from the page's URLs, the upstream from BACK_URL
    # and /etc/resolv.conf.
    computed = {"FRONT_CSP_CONNECT_SRC", "FRONT_BACK_SCHEME", "FRONT_BACK_SERVER", "FRONT_BACK_HOST",
                "FRONT_BACK_HOSTNAME", "FRONT_BACK_RESOLVE_SERVER", "FRONT_BACK_RESOLVER", "FRONT_BACK_UPSTREAM"}
    assert used - computed <= set(env)
    names = re.compile(env["NGINX_ENVSUBST_FILTER"])
    assert all(names.search(name) for name in used)


def test_the_entrypoint_steps_are_executable_in_git():
    listing = subprocess.run(
        ["git", "ls-files", "-s", "front/docker-entrypoint.d"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    modes = {line.split("\t")[1]: line.split()[0] for line in listing.splitlines()}
    assert modes, "no entrypoint step is tracked by git"
    for step in STEPS:
        assert modes.get(f"front/docker-entrypoint.d/{step.name}") == "100755", step.name


def test_the_entrypoint_steps_sort_around_the_official_envsubst_step():
    names = sorted([step.name for step in STEPS] + ["20-envsubst-on-templates.sh"])
    assert names.index("19-racontemoi-env.envsh") < names.index("20-envsubst-on-templates.sh")
    assert names.index("20-envsubst-on-templates.sh") < names.index("40-racontemoi-config.sh")


def test_shellcheck_finds_nothing_in_the_steps():
    result = subprocess.run(
        ["shellcheck", "--shell=sh", *map(str, STEPS)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_adds_at_most_200_kb_to_the_base():
    added = sum(
        path.stat().st_size
        for source in COPIED
        for path in ([source] if source.is_file() else source.rglob("*"))
        if path.is_file()
    )
    print(f"front image payload: {added} bytes")
    assert added <= MAX_ADDED_BYTES


@pytest.mark.parametrize(("listen", "host"), [
    ("{port}", "127.0.0.1"),
    ("127.0.0.1:{port}", "127.0.0.1"),
    ("0.0.0.0:{port}", "127.0.0.1"),
    ("[::]:{port}", "[::1]"),
    ("[::1]:{port}", "[::1]"),
])
def test_the_healthcheck_asks_where_front_listen_says(workdir, listen, host):
    """The image's HEALTHCHECK command, run by busybox as the image runs it, against nginx
    listening where FRONT_LISTEN says; then against nothing (nginx stopped): unhealthy."""
    command = json.loads(dict(instructions())["HEALTHCHECK"].split(" CMD ", 1)[1])
    assert command[:2] == ["/bin/sh", "-c"]
    front = Front(workdir / "front", host=host)
    front.env_overrides["FRONT_LISTEN"] = listen.format(port=front.port)
    env = {"PATH": str(busybox_bin(workdir / "bin")), "FRONT_LISTEN": front.env_overrides["FRONT_LISTEN"]}
    try:
        front.start()
        healthy = subprocess.run([BUSYBOX, "sh", "-c", command[2]], env=env, capture_output=True, timeout=30)
        assert healthy.returncode == 0, healthy.stderr
    finally:
        front.stop()
    unhealthy = subprocess.run([BUSYBOX, "sh", "-c", command[2]], env=env, capture_output=True, timeout=30)
    assert unhealthy.returncode == 1
