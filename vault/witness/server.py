"""The witness's HTTP edge: `POST /add-checkpoint` (c2sp.org/tlog-witness) on loopback.

Standard library only (http.server, one thread per connection, keep-alive). The body must
come with a Content-Length (411 without, 413 beyond 64 KiB) and within 10 seconds; the
witness's errors map to the spec's statuses: 400 malformed, 403 no valid log signature,
404 unknown origin, 409 stale old size (body `<size>\\n`, `text/x.tlog.size`) or a fork at
a cosigned size, 422 a consistency proof that fails, 503 the state cannot be written. A
200 carries the cosignature line. Any other path is 404, any other method 405. It binds
loopback addresses only: a witness reachable from elsewhere goes behind a TLS proxy or a
bastion (c2sp.org/https-bastion). Also here: the witness key file (PEM, PKCS#8, 0600,
created on first start). What it does not: decide (vault/witness/witness.py), or log
request bodies.
"""

from __future__ import annotations

import ipaddress
import logging
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vault.crypto.ed25519files import load_or_create_ed25519
from vault.errors import (
    ConfigurationError,
    ConflictError,
    IntegrityError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    VaultError,
)
from vault.witness.protocol import MAX_REQUEST, SIZE_CONTENT_TYPE
from vault.witness.witness import StaleSizeError, Witness

_log = logging.getLogger(__name__)
_PATH = "/add-checkpoint"
_STATUSES: list[tuple[type[VaultError], HTTPStatus]] = [
    (InvalidArgumentError, HTTPStatus.BAD_REQUEST),
    (PermissionDeniedError, HTTPStatus.FORBIDDEN),
    (NotFoundError, HTTPStatus.NOT_FOUND),
    (ConflictError, HTTPStatus.CONFLICT),
    (IntegrityError, HTTPStatus.UNPROCESSABLE_ENTITY),
]


def status_of(error: VaultError) -> HTTPStatus:
    for kind, status in _STATUSES:
        if isinstance(error, kind):
            return status
    return HTTPStatus.SERVICE_UNAVAILABLE


class _Handler(BaseHTTPRequestHandler):
    server: WitnessServer
    protocol_version = "HTTP/1.1"  # keep-alive, as the spec recommends
    timeout = 10.0

    def do_POST(self) -> None:
        if self.path != _PATH:
            self._reply(HTTPStatus.NOT_FOUND, "unknown path\n")
            return
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self._reply(HTTPStatus.LENGTH_REQUIRED, "Content-Length required\n")
            self.close_connection = True  # the body, if any, was not read
            return
        if int(length) > MAX_REQUEST:
            self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request too large\n")
            self.close_connection = True
            return
        body = self.rfile.read(int(length))
        try:
            line = self.server.witness.add_checkpoint(body)
        except StaleSizeError as stale:
            self._reply(HTTPStatus.CONFLICT, f"{stale.size}\n", SIZE_CONTENT_TYPE)
            return
        except VaultError as error:
            self._reply(status_of(error), f"{error}\n")
            return
        self._reply(HTTPStatus.OK, line)

    def _refuse_method(self) -> None:
        self._reply(HTTPStatus.METHOD_NOT_ALLOWED, "POST only\n")

    do_GET = do_PUT = do_DELETE = do_HEAD = _refuse_method  # noqa: N815

    def _reply(
        self, status: HTTPStatus, text: str, content_type: str = "text/plain; charset=utf-8"
    ) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        _log.info("witness: %s", format % args)  # method, path, status: no body


class WitnessServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], witness: Witness) -> None:
        if not _loopback(address[0]):
            raise ConfigurationError(
                "the witness listens on loopback only: put a TLS proxy in front of it"
            )
        self.witness = witness
        super().__init__(address, _Handler)


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The witness's Ed25519 key (created, mode 0600, on first start)."""
    return load_or_create_ed25519(path, "witness key")
