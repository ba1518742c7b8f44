"""A front pod told to stop loses no request of a client that keeps its connection (issue 21,
item 4). In Kubernetes the pod leaves the Service's endpoints while its preStop pause runs, then
gets SIGQUIT; a kept connection stays with the old pod (conntrack) until one side closes it.
nginx closes idle kept connections when it quits (and when it reloads), and a client whose next
request was already on its way gets nothing (Python's http.client: RemoteDisconnected). Here a
kept connection is closed by nginx itself, with `Connection: close` on an answer, once it is
keepalive_time old, and the preStop pause of k8s/ and the chart outlasts that: the client then
opens a new connection, which the Service sends to another pod, before the old one quits."""

from __future__ import annotations

import http.client
import re
import socket
import threading
import time

from harness import FRONT, REPO, Front

RATE = 25  # requests a second, as the client
MARGIN = 2  # the preStop pause is at least keepalive_time times this


def nginx_keepalive_time() -> int:
    """front/nginx.conf's keepalive_time, in seconds."""
    return int(re.search(r"^\s*keepalive_time (\d+)s;", (FRONT / "nginx.conf").read_text(), re.MULTILINE).group(1))


def k8s_front_pre_stop() -> int:
    text = (REPO / "k8s" / "front-deployment.yaml").read_text()
    return int(re.search(r"preStop:\s*\n\s*sleep:\s*\n\s*seconds:\s*(\d+)", text).group(1))


def chart_front_pre_stop() -> int:
    values = (REPO / "helm" / "racontemoi" / "values.yaml").read_text()
    front = values[re.search(r"^front:\s*$", values, re.MULTILINE).end():]
    return int(re.search(r"^  preStopSleepSeconds: (\d+)", front, re.MULTILINE).group(1))


class Service:
    """What kube-proxy does for a Service with one ready endpoint: a new connection goes to the
    current endpoint; an established one stays with the endpoint it was opened to."""

    def __init__(self, port: int):
        self.endpoint = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                pod = socket.create_connection(("127.0.0.1", self.endpoint), timeout=5)
            except OSError:
                client.close()
                continue
            for source, sink in ((client, pod), (pod, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)  # the close reaches the other side as it happened
        except OSError:
            for end in (source, sink):
                end.close()

    def close(self) -> None:
        self.listener.close()


class KeepAliveClient:
    """Python's http.client on one kept connection, RATE requests a second, as the issue's client;
    it opens a new connection only after an answer said `Connection: close` (or a failure)."""

    def __init__(self, port: int):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.statuses: list[int] = []
        self.failures: list[str] = []
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while self.running:
            started = time.monotonic()
            try:
                self.connection.request("GET", "/racontemoiunehistoire")
                answer = self.connection.getresponse()
                answer.read()
                self.statuses.append(answer.status)
            except (OSError, http.client.HTTPException) as error:
                self.failures.append(repr(error))
                self.connection.close()
            time.sleep(max(0.0, 1 / RATE - (time.monotonic() - started)))

    def stop(self) -> None:
        self.running = False
        self.thread.join(timeout=30)
        self.connection.close()


def test_the_pre_stop_pause_outlasts_a_kept_connection():
    """k8s/ and the chart pause the front (preStop) long enough for every kept connection to reach
    keepalive_time, and be closed by an answer, before nginx gets SIGQUIT."""
    assert k8s_front_pre_stop() == chart_front_pre_stop()
    assert k8s_front_pre_stop() >= MARGIN * nginx_keepalive_time()


def test_a_front_told_to_stop_loses_no_request_of_a_keep_alive_client(make_stack, workdir):
    stack = make_stack()
    old, new = stack.front, Front(workdir / "front-new", env_overrides={"BACK_URL": stack.back.url}).start()
    service = Service(old.port)
    client = KeepAliveClient(service.port)
    try:
        time.sleep(1)
        assert client.statuses, client.failures
        # The pod is told to stop: it leaves the endpoints, and its preStop pause runs...
        service.endpoint = new.port
        time.sleep(k8s_front_pre_stop())
        # ...then kubelet sends the image's STOPSIGNAL (SIGQUIT): nginx closes what is left.
        old.stop()
        time.sleep(1)
    finally:
        client.stop()
        service.close()
        new.stop()
    served_by_new = new.log().count("GET /racontemoiunehistoire")
    print(f"{len(client.statuses)} requests, {len(client.failures)} failed, {served_by_new} served by the new pod")
    assert client.failures == []
    assert set(client.statuses) == {200}
    assert served_by_new > 0, "the client never moved to the other pod"
