"""The entrypoint steps: config.js escaping with hostile values, the checks of every value that
lands in the nginx config, the CSP connect-src list, loud failures, and `nginx -t` on the
rendered configuration."""

from __future__ import annotations

import json
import subprocess

import pytest

from harness import BUSYBOX, FRONT, Front, RenderError, busybox_bin

CONFIG_STEP = FRONT / "docker-entrypoint.d" / "40-racontemoi-config.sh"

HOSTILE_VALUES = [
    '/x"; alert(1); //',
    "/x'; alert(1); //",
    "/x\\",
    "/x\\u0022",
    "/x</script><script>alert(1)</script>",
    "/x<!--",
    "/a\nb\r\nc",
    "/x\u2028y\u2029z",
    "/tab\there\x01\x1f\x7f",
    "/${HOME}`whoami`$(id)",
    "/é/日本/🙂",
    "http://127.0.0.1:8080/racontemoiunehistoire?x=1&y=<2>",
]


def run_config_step(workdir, server_conf: str | None = "server {}\n", **env):
    """Runs 40-racontemoi-config.sh alone, after the given rendered server config (None: none)."""
    conf_dir = workdir / "conf"
    conf_dir.mkdir(exist_ok=True)
    if server_conf is not None:
        (conf_dir / "default.conf").write_text(server_conf)
    full_env = {
        "PATH": str(busybox_bin(workdir / "bin")),
        "NGINX_ENVSUBST_OUTPUT_DIR": str(conf_dir),
        "FRONT_CONFIG_JS": str(workdir / "out" / "config.js"),
        "STORY_URL": "/racontemoiunehistoire",
        "STUDENTS_API_URL": "/supmit/api/v1.0",
    }
    full_env.update(env)
    return subprocess.run([BUSYBOX, "sh", str(CONFIG_STEP)], env=full_env, capture_output=True, text=True, timeout=30)


def evaluate_config_js(path):
    """window.APP_CONFIG as a JavaScript engine (node) reads the rendered file."""
    script = (
        "const vm = require('vm'); const fs = require('fs');"
        "const sandbox = { window: {} };"
        "vm.runInNewContext(fs.readFileSync(process.argv[1], 'utf8'), sandbox);"
        "process.stdout.write(JSON.stringify(sandbox.window.APP_CONFIG));"
    )
    result = subprocess.run(["node", "-e", script, str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_config_js_keeps_hostile_values_inside_their_string(workdir, value):
    result = run_config_step(workdir, STORY_URL=value, STUDENTS_API_URL=value + "/api")
    assert result.returncode == 0, result.stderr
    config_js = workdir / "out" / "config.js"
    assert evaluate_config_js(config_js) == {"storyUrl": value, "studentsApiUrl": value + "/api"}
    text = config_js.read_text(encoding="utf-8")
    lines = text.splitlines()
    # The file keeps its shape: one property a line, nothing that could end a script element.
    assert len(lines) == 5 and lines[2].startswith("  storyUrl: ") and lines[3].startswith("  studentsApiUrl: ")
    for forbidden in ("<", ">", "\u2028", "\u2029", "\r", "'"):
        assert forbidden not in text.split("\n", 1)[1], forbidden


def test_config_js_is_valid_json_inside_the_object(workdir):
    """The escapes are JSON escapes too: each value can be read back by a JSON parser."""
    value = HOSTILE_VALUES[4] + HOSTILE_VALUES[7]
    run_config_step(workdir, STORY_URL=value)
    line = (workdir / "out" / "config.js").read_text(encoding="utf-8").splitlines()[2]
    assert json.loads(line.removeprefix("  storyUrl: ").rstrip(",")) == value


def test_config_step_fails_when_config_js_cannot_be_written(workdir):
    blocker = workdir / "a-file"
    blocker.write_text("")
    result = run_config_step(workdir, FRONT_CONFIG_JS=str(blocker / "config.js"))
    assert result.returncode != 0
    assert "cannot" in result.stderr


def test_config_step_fails_when_the_server_config_was_not_rendered(workdir):
    result = run_config_step(workdir, server_conf=None)
    assert result.returncode != 0
    assert "was not rendered" in result.stderr


def test_config_step_fails_when_a_template_variable_was_left_unset(workdir):
    result = run_config_step(workdir, server_conf="server { listen ${FRONT_LISTEN}; }\n")
    assert result.returncode != 0
    assert "${FRONT_LISTEN}" in result.stderr


def test_the_whole_start_fails_loudly_when_its_output_cannot_be_written(workdir):
    """Like a read-only filesystem without the /tmp tmpfs: the start must stop, not go on with
    nginx's stock config."""
    blocker = workdir / "a-file"
    blocker.write_text("")
    front = Front(workdir / "front", env_overrides={"NGINX_ENVSUBST_OUTPUT_DIR": str(blocker / "conf.d")})
    with pytest.raises(RenderError) as failure:
        front.render()
    assert "NGINX_ENVSUBST_OUTPUT_DIR" in failure.value.result.stderr


@pytest.mark.parametrize(
    "name, value",
    [
        ("BACK_URL", "http://back:5000/api"),
        ("BACK_URL", "back:5000"),
        ("BACK_URL", "http://back:5000; return 200"),
        ("STORY_URL", "javascript:alert(1)"),
        ("STORY_URL", "//evil.example/story"),
        ("STORY_URL", "http://evil.example; script-src *"),
        ("STORY_URL", "http://a.example'/x"),
        ("STORY_URL", "/story\nhttp://evil.example"),
        ("STUDENTS_API_URL", "ftp://files.example/api"),
        ("STUDENTS_API_PREFIX", "/api; }"),
        ("STUDENTS_API_PREFIX", "api"),
        ("FRONT_LISTEN", "8080 ssl"),
    ],
)
def test_values_that_would_break_the_nginx_config_are_refused(workdir, name, value):
    front = Front(workdir / "front", env_overrides={name: value})
    with pytest.raises(RenderError) as failure:
        front.render()
    assert name in failure.value.result.stderr


def rendered_csp(front: Front) -> str:
    front.render()
    conf = (front.workdir / "nginx-conf.d" / "default.conf").read_text()
    line = next(line for line in conf.splitlines() if "Content-Security-Policy" in line)
    return line.split("connect-src ", 1)[1].split(";", 1)[0]


def test_csp_connect_src_is_self_for_same_origin_paths(workdir):
    assert rendered_csp(Front(workdir / "front")) == "'self'"


def test_csp_connect_src_lists_each_absolute_origin_once(workdir):
    front = Front(
        workdir / "front",
        env_overrides={
            "STORY_URL": "https://stories.example:8443/racontemoiunehistoire",
            "STUDENTS_API_URL": "https://stories.example:8443/supmit/api/v1.0",
        },
    )
    assert rendered_csp(front) == "'self' https://stories.example:8443"
    front = Front(
        workdir / "front2",
        env_overrides={"STORY_URL": "http://[::1]:5000/s", "STUDENTS_API_URL": "https://api.example/v1"},
    )
    assert rendered_csp(front) == "'self' http://[::1]:5000 https://api.example"


def test_the_rendered_configuration_passes_nginx_t(workdir):
    # nginx resolves the back's host name when it loads the config; "back" is no host here.
    front = Front(workdir / "front", env_overrides={"BACK_URL": "http://127.0.0.1:9"})
    front.render()
    result = front.check_config()
    assert result.returncode == 0, result.stdout
    assert "syntax is ok" in result.stdout and "test is successful" in result.stdout
    assert "[warn]" not in result.stdout and "[emerg]" not in result.stdout


def test_the_render_substitutes_only_the_template_variables(workdir):
    """nginx's own $variables survive envsubst, even when the environment defines the same name."""
    front = Front(workdir / "front", env_overrides={"host": "HIJACKED", "remote_addr": "HIJACKED"})
    front.render()
    conf = (front.workdir / "nginx-conf.d" / "default.conf").read_text()
    assert "HIJACKED" not in conf
    assert "$remote_addr" in conf and "$proxy_add_x_forwarded_for" in conf
    assert "${" not in conf

