"""`CuttingProxy`: a loopback TCP proxy in front of a real server that drops its first
connection once the client has sent `cut_after` bytes through it and `ready()` holds (both
sockets closed, as a network cut or a load balancer's reset would), then forwards every
later connection in full. Until `ready()`, it forwards nothing more on that connection.
A stand-in for a mobile network that drops in the middle of a large upload."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable

from tests.stalling_proxy import readable_within


class CuttingProxy:
    def __init__(
        self, host: str, port: int, cut_after: int, ready: Callable[[], bool] = lambda: True
    ) -> None:
        self._upstream = (host, port)
        self._cut_after = cut_after
        self._ready = ready
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.target = f"127.0.0.1:{self.port}"
        self.cuts = 0
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="cut-proxy-accept", daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()

    def __enter__(self) -> CuttingProxy:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _accept(self) -> None:
        first = True
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._upstream, timeout=5)
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            limit = self._cut_after if first else None
            first = False
            threading.Thread(target=self._pump, args=(client, upstream, limit), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, None), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, limit: int | None) -> None:
        forwarded = 0
        try:
            while not self._closed.is_set():
                readable = readable_within(source, 0.1)
                if not readable:
                    continue
                data = source.recv(65536)
                if not data:
                    sink.shutdown(socket.SHUT_WR)
                    return
                sink.sendall(data)
                forwarded += len(data)
                if limit is not None and forwarded >= limit:
                    while not (self._ready() or self._closed.wait(0.05)):
                        pass  # the test's condition for the cut (the server began)
                    self.cuts += 1
                    raise OSError("cut")
        except (OSError, ValueError):
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()
