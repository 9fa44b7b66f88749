"""The tests' loopback proxies keep forwarding in a long run: past 1,024 open descriptors
select() cannot watch a socket, and a proxy built on it closed every connection then
(the resumable-upload test failed only in the full suite)."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator

import pytest

from tests.cutting_proxy import CuttingProxy
from tests.stalling_proxy import StallingProxy


@pytest.fixture
def many_descriptors() -> Iterator[None]:
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        yield
    finally:
        for descriptor in held:
            os.close(descriptor)


def _echo_server() -> tuple[socket.socket, int]:
    server = socket.create_server(("127.0.0.1", 0))

    def echo() -> None:
        connection, _ = server.accept()
        with connection:
            connection.sendall(connection.recv(100))

    threading.Thread(target=echo, daemon=True).start()
    return server, server.getsockname()[1]


@pytest.mark.usefixtures("many_descriptors")
@pytest.mark.parametrize("kind", ["cutting", "stalling"])
def test_a_proxy_forwards_a_socket_numbered_past_1024(kind: str) -> None:
    server, port = _echo_server()
    proxy = (
        CuttingProxy("127.0.0.1", port, cut_after=2**40)
        if kind == "cutting"
        else StallingProxy("127.0.0.1", port)
    )
    with (
        server,
        proxy,
        socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as client,
    ):
        assert client.fileno() > 1024
        client.sendall(b"hello")
        assert client.recv(100) == b"hello"
