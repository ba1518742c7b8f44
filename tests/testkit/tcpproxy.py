"""A TCP proxy on 127.0.0.1 that the tests control, playing a database's moving address (the
`-rw` Service of CloudNativePG, a managed database's endpoint): it forwards every connection to a
target port of 127.0.0.1 it can switch, and can black-hole the connections, as a node that dies
does to them.

    proxy = TcpProxy(primary.port)       # listens on 127.0.0.1:proxy.port
    proxy.blackhole()                    # every open connection goes silent; new ones too
    proxy.move_to(standby.port)          # new connections go there (open ones are left as they are)
    proxy.close()

A black-holed connection is neither closed nor reset: both its sockets stay open and nothing more
is forwarded either way (what was read is dropped, and the proxy stops reading). The kernel
still acknowledges what the client sends into its buffers, so a client's TCP keepalive or
TCP_USER_TIMEOUT does not see the silence: only the client's own timeouts do. Connections
accepted while black-holed are held the same way (accepted, never forwarded: a login that gets
no answer) until move_to; they stay held after it. move_to does not touch the connections already
forwarded: they keep going to the old target (a connection opened on a server stays on it, as a
TCP connection does when the address moves). Sockets are closed only by close() (or when the
other side of a forwarded, not black-holed, connection closes its own)."""

from __future__ import annotations

import selectors
import socket
import threading
from typing import Self

CHUNK = 65536


class _Pipe:
    """One client connection and its upstream, forwarded both ways by one thread."""

    def __init__(self, client: socket.socket, upstream: socket.socket | None):
        self.client, self.upstream = client, upstream
        self.held = threading.Event()  # black-holed: nothing forwarded any more
        self.closed = threading.Event()

    def run(self) -> None:
        if self.upstream is None:
            self.held.set()
        try:
            if not self.held.is_set():
                self._forward()
            self.closed.wait()  # held: both sockets stay open until close()
        finally:
            self.close()

    def _forward(self) -> None:
        peers = {self.client: self.upstream, self.upstream: self.client}
        with selectors.DefaultSelector() as selector:
            for sock in peers:
                selector.register(sock, selectors.EVENT_READ)
            while not self.held.is_set() and not self.closed.is_set():
                for key, _ in selector.select(timeout=0.1):
                    if self.held.is_set():
                        return
                    try:
                        data = key.fileobj.recv(CHUNK)
                    except OSError:
                        data = b""
                    if self.held.is_set():
                        return  # read after the black hole: dropped
                    if not data:
                        self.closed.set()  # one side closed (not black-holed): close the other
                        return
                    try:
                        peers[key.fileobj].sendall(data)
                    except OSError:
                        self.closed.set()
                        return

    def close(self) -> None:
        self.closed.set()
        for sock in (self.client, self.upstream):
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass


class TcpProxy:
    """Listens on 127.0.0.1:port (a free one) and forwards to 127.0.0.1:target (see the module)."""

    def __init__(self, target_port: int):
        self._lock = threading.Lock()
        self._target: int | None = target_port
        self._pipes: list[_Pipe] = []
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=256)
        self.port: int = self._listener.getsockname()[1]
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name=f"tcpproxy-{self.port}", daemon=True)
        self._thread.start()

    @property
    def target(self) -> int | None:
        """The port new connections go to; None while black-holed."""
        return self._target

    def move_to(self, port: int) -> None:
        """New connections go to 127.0.0.1:port from now on (and no longer into the black hole)."""
        with self._lock:
            self._target = port

    def blackhole(self) -> None:
        """Every open connection goes silent both ways (sockets kept open, no reset); new
        connections are accepted and held silent too, until move_to."""
        with self._lock:
            self._target = None
            for pipe in self._pipes:
                pipe.held.set()

    def connections(self) -> int:
        """Connections open now (forwarded or held)."""
        with self._lock:
            return sum(not pipe.closed.is_set() for pipe in self._pipes)

    def close(self) -> None:
        """Stops listening and closes every connection."""
        with self._lock:
            self._closed = True
            pipes = list(self._pipes)
        try:
            self._listener.close()
        except OSError:
            pass
        for pipe in pipes:
            pipe.close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                if self._closed:
                    client.close()
                    return
                target = self._target
            upstream = None
            if target is not None:
                try:
                    upstream = socket.create_connection(("127.0.0.1", target), timeout=5)
                    upstream.settimeout(None)
                except OSError:
                    client.close()  # the target refuses: so does the proxy
                    continue
            pipe = _Pipe(client, upstream)
            with self._lock:
                self._pipes = [p for p in self._pipes if not p.closed.is_set()]
                self._pipes.append(pipe)
                if self._target is None:
                    pipe.held.set()
            threading.Thread(target=pipe.run, name=f"tcpproxy-{self.port}-pipe", daemon=True).start()
