"""The front's proxy to the back and its static files, as tuned for performance: upstream
connections reused (counted by the back's /metrics), a restart of the back between requests,
BACK_URL forms, pre-compressed files, caching per file, and the buffered access log. The back's
name (missing, appearing, moving) is test_back_name.py's."""

from __future__ import annotations

import http.client
import re
import secrets
import signal
import socketserver
import threading
import time
import urllib.request

import pytest

from harness import Back, Front, RenderError


def accepted_connections(back: Back) -> int:
    """The back's http_connections_accepted_total (the request reading it counts itself)."""
    with urllib.request.urlopen(f"{back.url}/metrics", timeout=10) as response:
        text = response.read().decode()
    return int(re.search(r"^http_connections_accepted_total (\d+)$", text, re.MULTILINE).group(1))


def get_on(connection: http.client.HTTPConnection, path: str, headers: dict | None = None):
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    return response.status, response.headers, response.read()


def test_upstream_connections_are_reused(stack):
    """N proxied requests on one client connection: the back accepts far fewer than N
    connections (without an upstream keepalive, nginx opens one per request)."""
    requests = 200
    before = accepted_connections(stack.back)
    connection = http.client.HTTPConnection("127.0.0.1", stack.front.port, timeout=10)
    try:
        for _ in range(requests):
            status, _, _ = get_on(connection, "/racontemoiunehistoire")
            assert status == 200
    finally:
        connection.close()
    opened = accepted_connections(stack.back) - before - 1  # less the /metrics request's own
    assert opened <= requests // 50, f"the back accepted {opened} connections for {requests} requests"


def test_upstream_connections_are_reused_after_many_concurrent_requests(stack):
    """200 requests in flight through the front at once, three times: the back is paused
    (SIGSTOP) while 200 clients each send a request, so that nginx holds 200 upstream
    connections at the same moment, then resumed. The connections freed afterwards are all kept
    for the next round: the back accepts about 200 connections in all. With an idle cache
    smaller than the load (keepalive 64), nginx closed the rest after each round and opened them
    again (472 here; under wrk -c256 a quarter of the requests opened a connection and
    throughput halved)."""
    clients, rounds = 200, 3
    connections = [http.client.HTTPConnection("127.0.0.1", stack.front.port, timeout=30)
                   for _ in range(clients)]
    statuses: list[int | str] = []

    def ask(connection: http.client.HTTPConnection) -> None:
        try:
            statuses.append(get_on(connection, "/racontemoiunehistoire")[0])
        except Exception as error:  # noqa: BLE001 (reported by the assertion below)
            statuses.append(repr(error))

    before = accepted_connections(stack.back)
    try:
        for _ in range(rounds):
            stack.back.process.send_signal(signal.SIGSTOP)
            try:
                threads = [threading.Thread(target=ask, args=(c,)) for c in connections]
                for thread in threads:
                    thread.start()
                time.sleep(1.5)  # every request reaches nginx, which sends it to the paused back
            finally:
                stack.back.process.send_signal(signal.SIGCONT)
            for thread in threads:
                thread.join(timeout=60)
    finally:
        for connection in connections:
            connection.close()
    assert statuses == [200] * clients * rounds, sorted(set(map(str, statuses)))
    opened = accepted_connections(stack.back) - before - 1
    assert opened <= clients + clients // 4, f"the back accepted {opened} connections for {clients} clients"


def test_a_restart_of_the_back_between_requests_gives_no_502(stack):
    """The connections nginx keeps belong to the old process; the next request must still reach
    the new one, whether the back stopped gracefully or was killed."""
    connection = http.client.HTTPConnection("127.0.0.1", stack.front.port, timeout=10)
    try:
        assert get_on(connection, "/racontemoiunehistoire")[0] == 200
        for stop_signal in (signal.SIGTERM, signal.SIGKILL, signal.SIGTERM):
            port = stack.back.port
            stack.back.process.send_signal(stop_signal)
            stack.back.process.wait(timeout=10)
            stack.back = Back(stack.back.workdir, stack.back.cors_allow_origin, port=port).start()
            for _ in range(5):
                status, _headers, body = get_on(connection, "/racontemoiunehistoire")
                assert status == 200, (stop_signal, status, body)
    finally:
        connection.close()


class _ClosesReusedConnections(socketserver.BaseRequestHandler):
    """A stand-in back that answers the first request of each connection and closes the
    connection when a second request arrives on it: what nginx sees when the back closes a kept
    connection just as nginx reuses it (the real back's close would race; this one never misses)."""

    def handle(self):
        received = b""
        answered = 0
        while True:
            chunk = self.request.recv(65536)
            if not chunk:
                return
            received += chunk
            while b"\r\n\r\n" in received:
                _, received = received.split(b"\r\n\r\n", 1)
                if answered:
                    return  # closed with the request unanswered
                self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n")
                answered += 1


def test_a_kept_connection_closed_by_the_back_as_it_is_reused_gives_no_502(workdir):
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _ClosesReusedConnections)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    front = Front(workdir / "front", env_overrides={"BACK_URL": f"http://127.0.0.1:{server.server_address[1]}"})
    connection = http.client.HTTPConnection("127.0.0.1", front.port, timeout=10)
    try:
        front.start()
        for _ in range(5):
            status, _, body = get_on(connection, "/racontemoiunehistoire")
            assert (status, body) == (200, b"ok\n")
    finally:
        connection.close()
        front.stop()
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("back_url", "server", "host"),
    [
        ("http://back:5000", "back:5000", "back:5000"),
        ("http://back", "back:80", "back"),
        # Knative's cluster-local address of a Service: no port.
        ("http://racontemoi-back.prod.svc.cluster.local", "racontemoi-back.prod.svc.cluster.local:80",
         "racontemoi-back.prod.svc.cluster.local"),
        ("https://api.example", "api.example:443", "api.example"),
        ("http://[::1]:5000", "[::1]:5000", "[::1]:5000"),
    ],
)
def test_the_upstream_server_and_host_come_from_back_url(workdir, back_url, server, host):
    front = Front(workdir / "front", env_overrides={"BACK_URL": back_url})
    try:
        front.render()
    finally:
        front.stop()  # the watcher a name leaves on nginx 1.22
    conf = (front.workdir / "nginx-conf.d" / "default.conf").read_text()
    assert f"include {front.upstream_conf};" in conf
    fixed = (front.workdir / "nginx-conf.d" / "racontemoi-back" / "fixed.conf").read_text()
    assert f"server {server} max_fails=0;" in fixed
    assert f"proxy_set_header Host {host};" in conf
    scheme = back_url.split("://")[0]
    assert conf.count(f"proxy_pass {scheme}://racontemoi_back;") == 2


@pytest.mark.parametrize("back_url", ["http://back:99999", "http://back:0", "http://[::1]:65536"])
def test_a_back_url_port_out_of_range_is_refused(workdir, back_url):
    front = Front(workdir / "front", env_overrides={"BACK_URL": back_url})
    with pytest.raises(RenderError) as error:
        front.render()
    assert f"19-racontemoi-env.envsh: ERROR: BACK_URL's port must be 1 to 65535; got: {back_url.rsplit(':', 1)[1]}" in error.value.result.stderr


def test_the_proxy_works_with_a_back_url_naming_a_host(workdir):
    """BACK_URL with a name of /etc/hosts (nginx's resolver does not read it: the address is
    fixed when nginx starts, on every version) and a trailing slash."""
    back = Back(workdir / "back").start()
    front = Front(workdir / "front", env_overrides={"BACK_URL": f"http://localhost:{back.port}/"})
    try:
        front.start()
        assert "localhost (BACK_URL) is in /etc/hosts" in front.rendered.stdout
        with urllib.request.urlopen(front.origin + "/racontemoiunehistoire", timeout=10) as response:
            assert response.status == 200
    finally:
        front.stop()
        back.stop()


def test_a_bad_resolve_timeout_is_refused(workdir):
    front = Front(workdir / "front", env_overrides={"BACK_RESOLVE_TIMEOUT": "soon"})
    with pytest.raises(RenderError) as error:
        front.render()
    assert "BACK_RESOLVE_TIMEOUT" in error.value.result.stderr


def test_static_files_are_sent_precompressed(stack):
    """The .gz made at build time is sent as is (gzip_static), not compressed again."""
    connection = http.client.HTTPConnection("127.0.0.1", stack.front.port, timeout=10)
    try:
        for name in ("styles.css", "index.html", "story.js"):
            status, headers, body = get_on(connection, f"/{name}", {"Accept-Encoding": "gzip"})
            assert status == 200
            assert headers["Content-Encoding"] == "gzip"
            assert body == (stack.front.html_dir / f"{name}.gz").read_bytes(), name
            assert "Accept-Encoding" in headers["Vary"]
        status, headers, body = get_on(connection, "/styles.css")
        assert "Content-Encoding" not in headers
        assert body == (stack.front.html_dir / "styles.css").read_bytes()
    finally:
        connection.close()


def test_cache_headers_fit_each_file(stack):
    connection = http.client.HTTPConnection("127.0.0.1", stack.front.port, timeout=10)
    try:
        for path in ("/", "/index.html", "/styles.css", "/api.js"):
            status, headers, _ = get_on(connection, path, {"Accept-Encoding": "gzip"})
            assert status == 200 and headers["Cache-Control"] == "no-cache", path
            # Revalidation: the same validator gives a 304 without the file.
            status, headers304, body = get_on(
                connection, path, {"Accept-Encoding": "gzip", "If-None-Match": headers["ETag"]}
            )
            assert status == 304 and body == b"", path
            assert headers304["Cache-Control"] == "no-cache"
        status, headers, _ = get_on(connection, "/config.js")
        assert headers["Cache-Control"] == "no-store"
        status, headers, _ = get_on(connection, "/favicon.svg")
        assert status == 200 and headers["Cache-Control"] == "public, max-age=86400"
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    finally:
        connection.close()


def test_access_log_lines_arrive_promptly_with_their_timings(stack):
    marker = f"/racontemoiunehistoire?log={secrets.token_hex(4)}"
    urllib.request.urlopen(stack.front.origin + marker, timeout=10).read()
    for _ in range(100):  # written by the buffer's flush timer (1 s), not at the next request
        lines = [line for line in stack.front.log().splitlines() if marker in line]
        if lines:
            break
        time.sleep(0.1)
    assert lines, "the access-log line did not reach nginx's stdout within 10 s"
    assert re.search(r" 200 \d+ .* rt=\d+\.\d+ urt=\d+\.\d+$", lines[0]), lines[0]
