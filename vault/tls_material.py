"""TLS material and peer identities, shared by the server, the client and the token
verifier.

This module reads and checks PEM files (a certificate chain and its private key, a CA
bundle), builds the client's channel credentials, names a caller by the certificate it
presented (`PeerIdentity`), and says which actor kinds a client certificate may assert
(`ClientKinds`, loaded from the file `VAULT_TLS_CLIENT_KINDS` names). It holds the
identity of the call being served (`bind_call_peer` / `call_peer`), which the server's
interceptor sets and `TokenVerifier.verify` reads.

It does not verify certificate chains or open ports: gRPC's TLS stack verifies the
client's chain against `VAULT_TLS_CLIENT_CA` before any handler runs; this module only
reads the identity of a certificate that stack accepted. Its errors never name a
certificate's subject (a professional's card certificate carries a person's name): logs
use the certificate's SHA-256 fingerprint.
"""

from __future__ import annotations

import functools
import logging
import tomllib
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import grpc
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.x509.oid import NameOID

from vault.domain.model import ActorKind
from vault.errors import ConfigurationError, UnauthenticatedError

_log = logging.getLogger(__name__)

# -- PEM files ---------------------------------------------------------------------------


def read_file(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise ConfigurationError(f"cannot read the {what} {path}") from e


def _certificates(data: bytes, path: Path, what: str) -> list[x509.Certificate]:
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        certificates = []
    if not certificates:
        raise ConfigurationError(f"the {what} {path} holds no PEM certificate")
    return certificates


def certificates_pem(path: Path, what: str) -> bytes:
    """The PEM content of `path`, once known to hold at least one certificate."""
    data = read_file(path, what)
    _certificates(data, path, what)
    return data


def _private_key(data: bytes, path: Path, what: str) -> PrivateKeyTypes:
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise ConfigurationError(f"the {what} {path} is encrypted; give it unencrypted") from None
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigurationError(f"the {what} {path} holds no usable PEM private key") from None


def _spki(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_key_pair(cert_path: Path, key_path: Path, what: str) -> tuple[bytes, bytes]:
    """(certificate chain PEM, private key PEM), once the key is known to be the
    certificate's: a mismatch would otherwise surface only as failed handshakes."""
    chain = read_file(cert_path, f"{what} certificate")
    leaf = _certificates(chain, cert_path, f"{what} certificate")[0]
    key = read_file(key_path, f"{what} key")
    if _spki(_private_key(key, key_path, f"{what} key").public_key()) != _spki(leaf.public_key()):
        raise ConfigurationError(f"the {what} key {key_path} does not match {cert_path}")
    return chain, key


def client_credentials(
    ca_file: Path | None = None, cert_file: Path | None = None, key_file: Path | None = None
) -> grpc.ChannelCredentials:
    """Channel credentials that trust `ca_file` (None: the system's roots) and present
    `cert_file`/`key_file` as the client certificate (both or neither)."""
    if (cert_file is None) != (key_file is None):
        raise ConfigurationError("a client certificate needs its key, and a key its certificate")
    roots = certificates_pem(ca_file, "server CA bundle") if ca_file is not None else None
    chain = key = None
    if cert_file is not None and key_file is not None:
        chain, key = load_key_pair(cert_file, key_file, "client")
    return grpc.ssl_channel_credentials(roots, key, chain)


# -- who is calling --------------------------------------------------------------------


class _HasAuthContext(Protocol):
    def auth_context(self) -> Mapping[str, Iterable[bytes]]: ...


@dataclass(frozen=True)
class PeerIdentity:
    """The names a verified client certificate carries. Only the fingerprint is shown:
    the subject may name a person."""

    fingerprint: str  # SHA-256 of the DER certificate, hex
    common_name: str | None = None
    dns_names: frozenset[str] = frozenset()
    uris: frozenset[str] = frozenset()

    def __repr__(self) -> str:
        return f"PeerIdentity(sha256:{self.fingerprint})"

    @classmethod
    def from_certificate(cls, certificate: x509.Certificate) -> PeerIdentity:
        names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        common_name = str(names[0].value) if names else None
        try:
            san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        except x509.ExtensionNotFound:
            dns: list[str] = []
            uris: list[str] = []
        else:
            dns = san.value.get_values_for_type(x509.DNSName)
            uris = san.value.get_values_for_type(x509.UniformResourceIdentifier)
        return cls(
            certificate.fingerprint(hashes.SHA256()).hex(),
            common_name,
            frozenset(name.lower() for name in dns),
            frozenset(uris),
        )

    @classmethod
    def from_auth_context(cls, auth: Mapping[str, Iterable[bytes]]) -> PeerIdentity | None:
        """The identity of the certificate in a gRPC auth context; None without one."""
        pems = list(auth.get("x509_pem_cert", ()))
        return _identity_of_pem(pems[0]) if pems else None

    @classmethod
    def from_context(cls, context: _HasAuthContext) -> PeerIdentity | None:
        """The identity of the peer of a call (a `grpc.aio.ServicerContext`)."""
        return cls.from_auth_context(context.auth_context())


@functools.lru_cache(maxsize=256)  # a few portals, each reconnecting: parse each once
def _identity_of_pem(pem: bytes) -> PeerIdentity:
    return PeerIdentity.from_certificate(x509.load_pem_x509_certificate(pem))


_CALL_PEER: ContextVar[PeerIdentity | None] = ContextVar("vault_call_peer", default=None)


def bind_call_peer(peer: PeerIdentity | None) -> None:
    """Binds the identity of the call being served. grpc.aio serves each call in its own
    asyncio task, so the binding belongs to that call and ends with it."""
    _CALL_PEER.set(peer)


def call_peer() -> PeerIdentity | None:
    """The client certificate's identity of the call being served (None: no TLS, no
    certificate, or not inside a call)."""
    return _CALL_PEER.get()


# -- which actor kinds a certificate may assert ------------------------------------------

Field = Literal["uri", "dns", "cn"]
_FIELDS: tuple[Field, ...] = ("uri", "dns", "cn")


@dataclass(frozen=True)
class ClientRule:
    """One `[[client]]` entry: a certificate name and the kinds it may assert."""

    field: Field
    name: str
    kinds: frozenset[ActorKind]

    def matches(self, peer: PeerIdentity) -> bool:
        if self.field == "uri":
            return self.name in peer.uris
        if self.field == "dns":
            return self.name in peer.dns_names
        return self.name == peer.common_name


def _rule(entry: object, where: str) -> ClientRule:
    if not isinstance(entry, dict):
        raise ConfigurationError(f"{where}: expected a table")
    unknown = set(entry) - {*_FIELDS, "kinds"}
    if unknown:
        raise ConfigurationError(f"{where}: unknown keys {sorted(unknown)}")
    named = [f for f in _FIELDS if f in entry]
    if len(named) != 1 or not isinstance(entry[named[0]], str) or not entry[named[0]]:
        raise ConfigurationError(f"{where}: give exactly one of uri, dns or cn, as a string")
    kinds = entry.get("kinds")
    if not isinstance(kinds, list) or not kinds:
        raise ConfigurationError(f"{where}: kinds must be a non-empty list of actor kinds")
    try:
        allowed = frozenset(ActorKind(str(kind)) for kind in kinds)
    except ValueError:
        raise ConfigurationError(
            f"{where}: kinds must be among {', '.join(k.value for k in ActorKind)}"
        ) from None
    field: Field = named[0]
    name = entry[field].lower() if field == "dns" else entry[field]
    return ClientRule(field, name, allowed)


@dataclass(frozen=True)
class ClientKinds:
    """Which actor kinds each client certificate may assert. A certificate may assert
    the kinds of every rule it matches; one matching no rule may assert none."""

    rules: tuple[ClientRule, ...]

    @classmethod
    def parse(cls, text: str, source: str) -> ClientKinds:
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ConfigurationError(f"{source} is not valid TOML ({e})") from None
        if set(document) != {"client"} or not isinstance(document["client"], list):
            raise ConfigurationError(f"{source}: expected [[client]] entries and nothing else")
        rules = tuple(
            _rule(entry, f"{source}, client entry {n}")
            for n, entry in enumerate(document["client"], 1)
        )
        names = [(rule.field, rule.name) for rule in rules]
        if len(set(names)) != len(names):
            raise ConfigurationError(f"{source}: a certificate name appears in two entries")
        return cls(rules)

    @classmethod
    def load(cls, path: Path) -> ClientKinds:
        try:
            text = read_file(path, "client kinds file").decode()
        except UnicodeDecodeError:
            raise ConfigurationError(f"the client kinds file {path} is not UTF-8") from None
        return cls.parse(text, str(path))

    def kinds_for(self, peer: PeerIdentity) -> frozenset[ActorKind]:
        return frozenset().union(*(rule.kinds for rule in self.rules if rule.matches(peer)))

    def check(self, peer: PeerIdentity | None, kind: ActorKind) -> None:
        """Raises UnauthenticatedError unless `peer`'s certificate may assert `kind`."""
        if peer is None:
            raise UnauthenticatedError("no client certificate")
        allowed = self.kinds_for(peer)
        if kind in allowed:
            return
        if not allowed:
            _log.warning("client certificate sha256:%s is in no client rule", peer.fingerprint)
            raise UnauthenticatedError("the client certificate may not assert any actor kind")
        _log.warning(
            "client certificate sha256:%s may not assert kind %s", peer.fingerprint, kind.value
        )
        raise UnauthenticatedError("the client certificate may not assert this actor kind")
