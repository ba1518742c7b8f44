"""The back's name, as DNS gives it (issue 20): missing when the front starts, appearing later,
moving to another address (a back Service re-created with a new ClusterIP), or answered by no
DNS server at all. The front and the C library see a DNS server the test controls (Debian's
dnsmasq, on a loopback address of its own, port 53), through an /etc/resolv.conf of their own
(harness.Front.resolv_conf: a mount namespace, so root only). nginx's resolver reads DNS, never
/etc/hosts, so this is the only way to show what the image does in a cluster.

What each nginx does (docs/front.md): 1.27.3 and newer (the image ships 1.30) re-resolve the name
at run time; older ones (Debian's 1.22, which runs here) start with a placeholder that answers
the JSON 502, and the entrypoint's watcher reloads nginx when the name's addresses change. The
tests that serve traffic run the nginx at hand (FRONT_TEST_NGINX names a 1.30 build for a check
by hand); the 1.30 text is checked by rendering with `nginx -v` saying 1.30.0."""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from harness import BUSYBOX, Back, Front, with_resolv_conf
from testkit import stop_process

DOMAIN = "racontemoi.test"
DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="a resolv.conf of its own needs a mount namespace (root)")


def loopback_port_53() -> tuple[str, socket.socket]:
    """A loopback address of its own whose UDP port 53 is free (a resolv.conf names no port), and
    that port, bound (the caller closes it, or keeps it as a DNS server that never answers)."""
    for _ in range(50):
        address = f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((address, 53))
            return address, sock
        except OSError:
            sock.close()
    raise RuntimeError("no free loopback address for port 53")


class Dns:
    """dnsmasq answering for *.racontemoi.test from a hosts file the test rewrites (re-read on
    SIGHUP, which also empties its cache); names it does not hold answer NXDOMAIN."""

    def __init__(self, workdir: Path):
        self.hosts = workdir / "dns-hosts"
        self.hosts.write_text("")
        self.hosts.chmod(0o644)
        self.names: dict[str, str] = {}
        self.address, probe = loopback_port_53()
        probe.close()
        self.process = subprocess.Popen(
            [DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
             "--bind-interfaces", f"--listen-address={self.address}", "--port=53", f"--local=/{DOMAIN}/",
             f"--addn-hosts={self.hosts}", "--local-ttl=0", "--user=nobody", "--group=nogroup", "--pid-file="],
            stdout=subprocess.DEVNULL, stderr=open(workdir / "dnsmasq.log", "wb"),  # noqa: SIM115
        )
        self.wait_for(f"nothing.{DOMAIN}", None)

    def resolv_conf(self, path: Path, options: str = "") -> Path:
        path.write_text(f"nameserver {self.address}\nsearch {DOMAIN}\n{options}")
        path.chmod(0o644)
        return path

    def lookup(self, name: str) -> str | None:
        """What dnsmasq answers for name's A record (busybox nslookup, straight to it)."""
        result = subprocess.run([BUSYBOX, "nslookup", "-type=a", name, self.address],
                                capture_output=True, text=True, timeout=10)
        answers = [line.split()[-1] for line in result.stdout.splitlines()[2:] if line.startswith("Address")]
        return answers[0] if answers else None

    def wait_for(self, name: str, address: str | None) -> None:
        for _ in range(100):
            if self.process.poll() is not None:
                raise RuntimeError(f"dnsmasq exited: {(self.hosts.parent / 'dnsmasq.log').read_text()}")
            try:
                if self.lookup(name) == address:
                    return
            except subprocess.TimeoutExpired:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"dnsmasq does not answer {address} for {name}")

    def set(self, name: str, address: str | None) -> None:
        """name now has address (None: no longer exists)."""
        if address is None:
            self.names.pop(name, None)
        else:
            self.names[name] = address
        self.hosts.write_text("".join(f"{ip} {host}\n" for host, ip in self.names.items()))
        self.process.send_signal(signal.SIGHUP)
        self.wait_for(name, address)

    def stop(self) -> None:
        stop_process(self.process)


@pytest.fixture
def dns(workdir):
    server = Dns(workdir)
    yield server
    server.stop()


def story(front: Front) -> tuple[int, dict]:
    """One story through the front's proxy: status and JSON body."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(front.origin + "/racontemoiunehistoire", headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_for_story(front: Front, seconds: float = 40) -> float:
    """Waits until the front serves a story (200); returns how long it took."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        status, _ = story(front)
        if status == 200:
            return time.monotonic() - started
        assert front.process.poll() is None, front.log()
        time.sleep(0.2)
    raise AssertionError(f"no story within {seconds}s: {story(front)}\n{front.entrypoint_log()}\n{front.log()}")


@pytest.mark.parametrize("form", ["full name", "short name"])
def test_a_missing_back_name_gives_502_then_stories_then_follows_a_move(workdir, dns, form):
    """The front starts while DNS has no answer for the back (the Service does not exist yet):
    nginx keeps running and the proxied routes answer the JSON 502. Once the name exists, stories
    flow with no restart; once it moves to another address (the Service re-created, a new
    ClusterIP) and the old address goes dead, the front follows. BACK_URL holds the full name
    (what the chart and k8s/ give), or a short one that the search list of resolv.conf completes."""
    short = f"back-{secrets.token_hex(4)}"
    name = f"{short}.{DOMAIN}"
    first = Back(workdir / "back1").start()
    second = Back(workdir / "back2", env_overrides={"HOST": "127.0.0.2"}, port=first.port)
    front = Front(workdir / "front", resolv_conf=dns.resolv_conf(workdir / "resolv.conf"), env_overrides={
        "BACK_URL": f"http://{name if form == 'full name' else short}:{first.port}",
        "BACK_RESOLVE_TIMEOUT": "1",
    })
    try:
        front.start()
        nginx = front.process.pid
        print(front.rendered.stdout, front.rendered.stderr)
        status, body = story(front)
        assert (status, body) == (502, {"error": "bad gateway: the back is unreachable"})

        dns.set(name, "127.0.0.1")
        print(f"stories {wait_for_story(front):.1f}s after the name appeared")

        second.start()
        dns.set(name, "127.0.0.2")
        first.stop()
        print(f"stories {wait_for_story(front):.1f}s after the name moved and the old back stopped")
        assert front.process.pid == nginx and front.process.poll() is None
    finally:
        print(front.entrypoint_log())
        front.stop()
        first.stop()
        second.stop()


def test_a_back_name_that_never_resolves_leaves_the_front_running(workdir, dns):
    """No answer for the name, ever: the front still serves its page and /healthz, and the
    proxied routes answer the JSON 502, after the wait and long after it."""
    name = f"back-{secrets.token_hex(4)}.{DOMAIN}"
    front = Front(workdir / "front", resolv_conf=dns.resolv_conf(workdir / "resolv.conf"),
                  env_overrides={"BACK_URL": f"http://{name}:5000", "BACK_RESOLVE_TIMEOUT": "1"})
    try:
        front.start()
        for _ in range(3):
            time.sleep(3)  # past the wait, and the watcher's (or nginx's) next lookups
            assert story(front) == (502, {"error": "bad gateway: the back is unreachable"})
        assert front.process.poll() is None
    finally:
        front.stop()


def test_each_lookup_is_bounded_when_dns_does_not_answer(workdir):
    """A DNS server that never answers: the C library then gives up after about 10 s a lookup
    (musl's as glibc's: 5 s, twice), yet the wait of nginx 1.22's path ends after about
    BACK_RESOLVE_TIMEOUT (here 2 s), and says it waits at the first failure. Both run at once
    in the same namespace: the wait must end well before one unbounded lookup does."""
    address, silent = loopback_port_53()  # bound, never read: queries go unanswered
    resolv = workdir / "resolv-silent.conf"
    resolv.write_text(f"nameserver {address}\n")
    resolv.chmod(0o644)
    name = f"back-{secrets.token_hex(4)}.{DOMAIN}"
    front = Front(workdir / "front", resolv_conf=resolv, nginx_version="1.22.1",
                  env_overrides={"BACK_URL": f"http://{name}:5000", "BACK_RESOLVE_TIMEOUT": "2"})
    lookup: dict[str, float] = {}

    def unbounded_lookup():
        started = time.monotonic()
        subprocess.run(with_resolv_conf(resolv, ["getent", "hosts", name]), capture_output=True, timeout=120)
        lookup["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=unbounded_lookup)
    try:
        thread.start()
        started = time.monotonic()
        result = front.render()
        waited = time.monotonic() - started
        thread.join(timeout=120)
    finally:
        front.stop()
        silent.close()
    print(f"the wait took {waited:.1f}s, one unbounded lookup {lookup['seconds']:.1f}s")
    assert f"{name} (BACK_URL) does not resolve yet; waiting up to 2s" in result.stdout
    assert f"{name} (BACK_URL) still does not resolve after" in result.stderr
    assert waited < lookup["seconds"] / 2
    assert "unix:/dev/null/racontemoi-back-unresolved" in front.upstream_conf.read_text()


def rendered_upstream(workdir: Path, back_url: str, resolv: Path, version: str = "1.30.0") -> str:
    front = Front(workdir, resolv_conf=resolv, nginx_version=version, env_overrides={"BACK_URL": back_url})
    try:
        front.render()
    finally:
        front.stop()
    return front.upstream_conf.read_text()


def test_nginx_1_30_resolves_the_back_at_run_time(workdir, dns):
    """The text of the run-time path (Debian's nginx 1.22 cannot parse `resolve`): `nginx -v`
    says 1.30.0. The resolver is resolv.conf's nameserver, the name is completed from its search
    list when it has no dot, unless ndots:0 (Docker's); an IP address, or a name of /etc/hosts,
    keeps a fixed server. The upstream keeps its connections (keepalive, in default.conf)."""
    resolv = dns.resolv_conf(workdir / "resolv.conf")
    text = rendered_upstream(workdir / "full", f"http://back.{DOMAIN}:5000", resolv)
    for line in ("zone racontemoi_back 128k;", f"resolver {dns.address} valid=5s;", "resolver_timeout 1s;",
                 f"server back.{DOMAIN}:5000 max_fails=0 resolve;"):
        assert line in text.splitlines(), (line, text)
    conf = (workdir / "full" / "nginx-conf.d" / "default.conf").read_text()
    assert "keepalive 1024;" in conf
    assert f"server back.{DOMAIN}:80 max_fails=0 resolve;" in rendered_upstream(workdir / "short", "http://back", resolv)
    docker = dns.resolv_conf(workdir / "resolv-docker.conf", "options ndots:0\n")
    assert "server back:5000 max_fails=0 resolve;" in rendered_upstream(workdir / "docker", "http://back:5000", docker)
    for fixed, server in (("http://10.0.0.7:5000", "10.0.0.7:5000"), ("http://[fd00::7]:5000", "[fd00::7]:5000"),
                          ("http://localhost:5000", "localhost:5000")):
        text = rendered_upstream(workdir / f"fixed{len(server)}", fixed, resolv)
        assert f"server {server} max_fails=0;" in text and "resolve" not in text.split("server ")[1]


def test_nginx_1_22_waits_then_watches(workdir, dns):
    """The fallback's text: nginx 1.22 is given the name (resolved when it starts or reloads) once
    it resolves, the placeholder while it does not."""
    resolv = dns.resolv_conf(workdir / "resolv.conf")
    name = f"back-{secrets.token_hex(4)}.{DOMAIN}"
    dns.set(name, "127.0.0.1")
    assert f"server {name}:5000 max_fails=0;" in rendered_upstream(workdir / "a", f"http://{name}:5000", resolv, "1.22.1")
    dns.set(name, None)
    assert "server unix:/dev/null/racontemoi-back-unresolved max_fails=0;" in rendered_upstream(
        workdir / "b", f"http://{name}:5000", resolv, "1.22.1")
