"""What the front's nginx answers, over plain HTTP: security headers, caching, the health check,
gzip, and the proxy to the back (auth passed on, JSON when the back is down)."""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import os
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

from harness import API_PASSWORD, API_USER, FRONT, STUDENTS_PREFIX, UNPRIVILEGED_UID


def get(url, headers=None):
    """(status, headers, body) of a GET, error statuses included."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_security_headers_on_the_page(stack):
    status, headers, _ = get(stack.front.origin + "/")
    assert status == 200
    csp = headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Server"] == "nginx"  # server_tokens off: no version


def test_security_headers_on_every_kind_of_answer(stack):
    for path in ("/config.js", "/healthz", "/styles.css", "/missing", "/racontemoiunehistoire"):
        _, headers, _ = get(stack.front.origin + path)
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], path


def test_config_js_is_never_cached(stack):
    status, headers, body = get(stack.front.origin + "/config.js")
    assert status == 200
    assert headers["Cache-Control"] == "no-store"
    assert "javascript" in headers["Content-Type"]
    assert body.decode().count("window.APP_CONFIG") == 1


def test_healthz_answers_from_nginx_itself(stack):
    stack.back.stop()
    status, headers, body = get(stack.front.origin + "/healthz")
    assert status == 200
    assert json.loads(body) == {"status": "ok"}
    assert headers["Cache-Control"] == "no-store"


def test_static_files_are_gzipped(stack):
    status, headers, body = get(stack.front.origin + "/students.js", {"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == (FRONT / "html" / "students.js").read_bytes()


def test_the_story_is_proxied_to_the_back(stack):
    status, headers, body = get(stack.front.origin + "/racontemoiunehistoire")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain")
    assert body.strip()
    status, headers, body = get(stack.front.origin + "/racontemoiunehistoire", {"Accept": "application/json"})
    assert status == 200
    assert json.loads(body)["histoire"]


def test_the_students_api_is_proxied_with_the_authorization_header(stack):
    url = f"{stack.front.origin}{STUDENTS_PREFIX}/get_student_ages"
    status, _, body = get(url, basic(API_USER, API_PASSWORD))
    assert status == 200
    assert isinstance(json.loads(body)["student_ages"], dict)


def test_a_401_through_the_front_never_asks_the_browser_for_credentials(stack):
    status, headers, _ = get(f"{stack.front.origin}{STUDENTS_PREFIX}/get_student_ages", basic(API_USER, "wrong"))
    assert status == 401
    assert "WWW-Authenticate" not in headers


def get_from(source_ip, origin, path, headers):
    """(status, headers, body) of a GET to the front sent from the loopback address `source_ip`,
    so that nginx's $remote_addr, hence the X-Forwarded-For it adds, is that end user."""
    host, port = origin.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10, source_address=(source_ip, 0))
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def test_failed_logins_are_throttled_per_end_user_behind_the_front(make_stack):
    """The back trusts the front's nginx (TRUSTED_PROXIES), which sends X-Forwarded-For
    $proxy_add_x_forwarded_for: each end user has its own count, and what a client writes in
    X-Forwarded-For itself changes nothing."""
    stack = make_stack(back_env={"TRUSTED_PROXIES": "127.0.0.1", "LOGIN_THROTTLE_FAILURES": "2"})
    path = f"{STUDENTS_PREFIX}/get_student_ages"
    wrong, right = basic(API_USER, "wrong"), basic(API_USER, API_PASSWORD)
    assert get_from("127.0.0.2", stack.front.origin, path, wrong)[0] == 401
    assert get_from("127.0.0.2", stack.front.origin, path, wrong)[0] == 401
    status, headers, body = get_from("127.0.0.2", stack.front.origin, path, right)
    assert status == 429, body
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert json.loads(body)["error"].startswith("too many failed logins")
    forged = {**right, "X-Forwarded-For": "198.51.100.7"}
    assert get_from("127.0.0.2", stack.front.origin, path, forged)[0] == 429
    # Another end user of the same front is unaffected.
    assert get_from("127.0.0.3", stack.front.origin, path, right)[0] == 200
    assert get_from("127.0.0.3", stack.front.origin, path, wrong)[0] == 401


def test_a_clean_json_502_when_the_back_is_down(stack):
    stack.back.stop()
    status, headers, body = get(stack.front.origin + "/racontemoiunehistoire")
    assert status == 502
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["error"]


def test_nginx_runs_unprivileged_and_writes_only_under_its_tmp(stack):
    status_lines = Path(f"/proc/{stack.front.process.pid}/status").read_text().splitlines()
    real_uid = int(next(line for line in status_lines if line.startswith("Uid:")).split()[1])
    assert real_uid == (UNPRIVILEGED_UID if os.geteuid() == 0 else os.geteuid())
    assert real_uid != 0
    written = {path.name for path in stack.front.workdir.iterdir()}
    assert {"nginx.pid", "client_temp", "proxy_temp", "nginx-conf.d", "racontemoi"} <= written


class _InlineFinder(HTMLParser):
    def __init__(self):
        super().__init__()
        self.problems = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script" and "src" not in attributes:
            self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("<style> element")
        for name in attributes:
            if name == "style" or name.startswith("on"):
                self.problems.append(f"{name}= on <{tag}>")


def test_the_page_has_no_inline_script_or_style():
    finder = _InlineFinder()
    finder.feed((FRONT / "html" / "index.html").read_text())
    assert finder.problems == []
