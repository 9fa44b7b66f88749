"""The listening address: `VAULT_LISTEN` parsed, and the port checked free before serving.

gRPC binds its listeners with SO_REUSEPORT by default: a second server started on a port
a running one holds would bind too, and the kernel would split the connections between
two vaults with different stores and keys (issue #17). The server turns the option off
(`grpc.so_reuseport`) unless `VAULT_REUSE_PORT` says the port is shared within one
deployment, and `check_available` tries the same bind first, with the same option, so a
taken port or a malformed address stops `serve` with one line and the configuration
exit code, before anything is built or logged (ADR 0012). What it does not: bind the
server's port (vault/server/app.py does, through gRPC) or start processes
(vault/server/workers.py).
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass

from vault.errors import ConfigurationError

_FORM = "host:port, e.g. 127.0.0.1:50051 or [::]:50051"


@dataclass(frozen=True)
class ListenAddress:
    host: str  # without the brackets of an IPv6 literal
    port: int  # 0: any free port

    @classmethod
    def parse(cls, text: str) -> ListenAddress:
        """`host:port` or `[v6 address]:port`; anything else is a ConfigurationError."""
        host, sep, port_text = text.rpartition(":")
        if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
            raise ConfigurationError(f"VAULT_LISTEN {text!r} is not an address ({_FORM})")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if not host or any(c in host for c in "[]/ ") or (":" in host and "[" not in text):
            raise ConfigurationError(f"VAULT_LISTEN {text!r} is not an address ({_FORM})")
        return cls(host, int(port_text))

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def check_available(address: ListenAddress, *, reuse_port: bool) -> None:
    """Binds (and releases) every address `address.host` resolves to, as gRPC will: a
    port another process holds, or an address this host does not have, is a
    ConfigurationError naming it. With `reuse_port`, a port held by other processes
    that share it (SO_REUSEPORT, same user) passes. Port 0 is always free."""
    try:
        infos = socket.getaddrinfo(
            address.host, address.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except (socket.gaierror, UnicodeError):
        raise ConfigurationError(f"cannot listen on {address}: unknown host") from None
    failure = "no address"
    bound = 0
    for family, kind, proto, _name, sockaddr in infos:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC does
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            try:
                sock.bind(sockaddr)
            except OSError as error:
                if error.errno == errno.EADDRINUSE:
                    failure = "the port is in use by another process"
                    if reuse_port:
                        failure += " that does not share it (VAULT_REUSE_PORT)"
                    raise ConfigurationError(f"cannot listen on {address}: {failure}") from None
                failure = error.strerror or str(error)  # e.g. ::1 on a host without IPv6
                continue
            bound += 1
    if bound == 0:
        raise ConfigurationError(f"cannot listen on {address}: {failure}")
