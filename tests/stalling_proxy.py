"""`StallingProxy`: a loopback TCP proxy in front of a real server (moto S3, PostgreSQL)
that can stall: it keeps accepting connections but forwards nothing, either way, until
resumed; what was sent meanwhile waits in the kernel's buffers and is delivered then.
A stand-in for a dependency that accepts connections and never answers."""

from __future__ import annotations

import contextlib
import select
import socket
import threading


class StallingProxy:
    def __init__(self, host: str, port: int) -> None:
        self._upstream = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    def stall(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def close(self) -> None:
        self._closed.set()
        self._flowing.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()

    def __enter__(self) -> StallingProxy:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self._upstream, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while not self._closed.is_set():
                if not self._flowing.wait(timeout=0.1):
                    continue  # stalled: read nothing, forward nothing
                readable = readable_within(source, 0.1)
                if not readable:
                    continue
                data = source.recv(65536)
                if not data:
                    sink.shutdown(socket.SHUT_WR)
                    return
                sink.sendall(data)
        except (OSError, ValueError):
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.close()


def readable_within(sock: socket.socket, seconds: float) -> bool:
    """Whether `sock` has data (or its end) within `seconds`. poll(), not select(): a
    long test run holds more than 1,024 descriptors, past what select() can watch."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(seconds * 1000))
