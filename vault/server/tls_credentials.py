"""The server's side of TLS: credentials from `TlsSettings`, the interceptor that binds
each call's client certificate, and the warning for a plaintext port off loopback.

`load` reads and checks every file when the server starts: a missing or unreadable
file, one without PEM, a key that is not the certificate's, or a bad client kinds file
is a `ConfigurationError` before any port is opened. With a client CA, gRPC requires a
client certificate issued by that CA on every connection and refuses the handshake
otherwise. This module does not decide which actor kinds a certificate may assert: that
is `vault.tls_material.ClientKinds`, applied by `TokenVerifier.verify` to the identity that
`PeerInterceptor` binds to each call.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc

from vault.config import TlsSettings
from vault.server.handlers import RebuildingInterceptor, prepared, rebuilt
from vault.tls_material import (
    ClientKinds,
    PeerIdentity,
    bind_call_peer,
    certificates_pem,
    load_key_pair,
)

_log = logging.getLogger(__name__)

Behavior = Callable[..., Any]  # grpc.aio behaviours; the grpc stubs type only sync ones


@dataclass(frozen=True)
class ServerTls:
    """What the server needs from its TLS files, read and checked."""

    credentials: grpc.ServerCredentials
    client_kinds: ClientKinds | None  # None: clients present no certificate


def load(settings: TlsSettings) -> ServerTls:
    chain, key = load_key_pair(settings.cert_file, settings.key_file, "server")
    roots, kinds = None, None
    if settings.client_ca_file is not None and settings.client_kinds_file is not None:
        roots = certificates_pem(settings.client_ca_file, "client CA bundle")
        kinds = ClientKinds.load(settings.client_kinds_file)
    credentials = grpc.ssl_server_credentials(
        [(key, chain)], root_certificates=roots, require_client_auth=roots is not None
    )
    return ServerTls(credentials, kinds)


# -- binding each call's client certificate --------------------------------------------


def _bound(behavior: Behavior) -> Behavior:
    """`behavior`, run with its call's client certificate bound (vault.tls_material.call_peer).
    A synchronous one is left as is: it sees no peer, and a verifier refuses it."""

    def bind(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        bind_call_peer(PeerIdentity.from_context(context))
        return request

    return prepared(behavior, bind)


class PeerInterceptor(RebuildingInterceptor):
    """Binds the identity of each call's client certificate before its handler runs, so
    `TokenVerifier.verify` checks the token's kind against the certificate of the call
    that carried it."""

    def rebuild(
        self, handler: grpc.RpcMethodHandler[Any, Any], method: str
    ) -> grpc.RpcMethodHandler[Any, Any]:
        return rebuilt(handler, _bound)


# -- the plaintext warning -------------------------------------------------------------


def is_loopback(listen: str) -> bool:
    """Whether a listen address (`host:port`, `[v6]:port`, `unix:path`) stays on this
    host. A host name other than localhost counts as reachable from elsewhere."""
    if listen.startswith(("unix:", "unix-abstract:")):
        return True
    host = listen.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def warn_if_exposed(listen: str, settings: TlsSettings | None) -> None:
    if is_loopback(listen):
        return
    if settings is None:
        _log.warning(
            "LISTENING WITHOUT TLS on %s, which is not a loopback address: tokens and "
            "documents cross the network in clear. Set VAULT_TLS_CERT and VAULT_TLS_KEY "
            "(and VAULT_TLS_CLIENT_CA, VAULT_TLS_CLIENT_KINDS), or listen on loopback",
            listen,
        )
    elif not settings.mutual:
        _log.warning(
            "TLS without client certificates on %s: any holder of a valid token may "
            "assert any actor kind. Set VAULT_TLS_CLIENT_CA and VAULT_TLS_CLIENT_KINDS",
            listen,
        )
