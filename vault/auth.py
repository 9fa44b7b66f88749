"""Signed actor assertions: verifying the bearer tokens every call carries, and minting
development ones.

A token is a JWT signed with EdDSA (Ed25519) or ES256 by a configured issuer key. Claims:
`iss`, `aud`, `sub` (the actor's id: an INS for patients, an RPPS number for
professionals), `kind` (an `ActorKind`), optional `profession` and `specialty` codes,
an optional `secret_care` boolean (a professional acting in a minor's secret-care
context, CSP L.1111-5: their accesses are invisible to legal representatives),
`iat` and `exp`. Anything else (no token, another algorithm, a bad signature, an expired
or not-yet-valid token, the wrong audience or issuer, an unknown kind, a malformed
subject, a subject longer than 80 characters or a profession or specialty longer than
64, the sizes the index stores) is an `UnauthenticatedError`. Verification failures never
echo the token.

A token whose `iss` is one of the deployment's identity providers (`providers`, from the
file `token_providers_file` names: Pro Santé Connect, a patients' OIDC provider) is
checked instead against that provider's published JWKS and its claims mapped to an actor
(vault/claims.py, vault/jwks.py, docs/tokens.md); the checks after the signature are the
same.

With mutual TLS, the verifier also holds `ClientKinds` (vault/tls_material.py): a token is then
accepted only if the client certificate of the call may assert its `kind` (the patient
portal's certificate cannot carry a professional's token), else `UnauthenticatedError`.

A portal sends the same token with every call of a session: a verified token's actor is
kept (`_VerifiedTokens`, keyed by the token's SHA-256, the 10,000 most recently used)
until the token expires, so its signature is checked once, not on every call (0.3 ms of
EdDSA and JWT parsing a call). Only tokens that passed every check are kept; a kept
token past its expiry is refused as before; the client certificate check runs every call.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from vault.auth_settings import DEFAULT_AUDIENCE, DEV_ISSUER
from vault.claims import (
    LEEWAY_SECONDS,
    ClaimMapping,
    Provider,
    check_lifetime,
    map_claims,
)
from vault.claims import MAX_LIFETIME_SECONDS as MAX_LIFETIME_SECONDS
from vault.crypto.ed25519files import load_or_create_ed25519
from vault.domain.identifiers import parse_ins, parse_rpps
from vault.domain.model import INS_SUBJECT_KINDS, Actor, ActorKind
from vault.errors import ConfigurationError, UnauthenticatedError
from vault.tls_material import ClientKinds, PeerIdentity, call_peer

_LEEWAY_SECONDS = LEEWAY_SECONDS
_MAX_TOKEN_BYTES = 8192
VERIFIED_TOKENS = 10_000  # tokens whose verification is kept (about 3 MB)

PublicKey = Ed25519PublicKey | EllipticCurvePublicKey


def key_id(public_key: PublicKey) -> str:
    """A stable id for a public key: SHA-256 of its DER SubjectPublicKeyInfo, 16 hex."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()[:16]


def load_public_key(path: Path) -> PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as e:
        raise ConfigurationError(f"cannot load token issuer public key {path}") from e
    if isinstance(key, Ed25519PublicKey):
        return key
    if isinstance(key, EllipticCurvePublicKey) and isinstance(key.curve, SECP256R1):
        return key
    raise ConfigurationError("token issuer keys must be Ed25519 or P-256")


def _algorithm_for(key: PublicKey) -> str:
    return "EdDSA" if isinstance(key, Ed25519PublicKey) else "ES256"


def _subject(kind: ActorKind, subject: str) -> str:
    if kind in INS_SUBJECT_KINDS:
        return parse_ins(subject).value
    if kind is ActorKind.PROFESSIONAL:
        return parse_rpps(subject)
    return subject


_SECRET_CARE_CLAIM = "secret_care"  # noqa: S105 (a claim's name, not a password)
_OWN_CLAIMS = ClaimMapping(
    kind_claim="kind",
    profession="profession",
    specialty="specialty",
    structure="structure",
    secret_care=_SECRET_CARE_CLAIM,
)


def _actor(claims: dict[str, Any]) -> Actor:
    check_lifetime(claims)
    return map_claims(_OWN_CLAIMS, claims)


class _VerifiedTokens:
    """The actors of tokens verified already, with their expiry: at most `capacity`,
    least recently used out first. Thread-safe (calls authenticate on the event loop,
    tools may from any thread)."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[bytes, tuple[Actor, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: bytes) -> tuple[Actor, int] | None:
        with self._lock:
            entry = self._entries.get(digest)
            if entry is not None:
                self._entries.move_to_end(digest)
            return entry

    def put(self, digest: bytes, actor: Actor, exp: int) -> None:
        with self._lock:
            self._entries[digest] = (actor, exp)
            self._entries.move_to_end(digest)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(frozen=True)
class TokenVerifier:
    """Verifies bearer tokens against the trusted issuer keys, looked up by `kid`, and,
    when `client_kinds` is set (mutual TLS), the caller's certificate against the kind.
    A verified token is kept until it expires (`verified_tokens` of them at most), so
    its signature is checked once; `clock` is what a kept token's expiry is read on."""

    keys: dict[str, PublicKey]
    issuer: str
    audience: str = DEFAULT_AUDIENCE
    client_kinds: ClientKinds | None = None
    providers: Mapping[str, Provider] = field(default_factory=dict)
    verified_tokens: int = field(default=VERIFIED_TOKENS, compare=False)
    clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)
    _verified: _VerifiedTokens = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_verified", _VerifiedTokens(self.verified_tokens))

    @classmethod
    def from_keys(
        cls,
        keys: list[PublicKey],
        issuer: str,
        audience: str = DEFAULT_AUDIENCE,
        client_kinds: ClientKinds | None = None,
        providers: Mapping[str, Provider] | None = None,
    ) -> TokenVerifier:
        keyed = {key_id(k): k for k in keys}
        return cls(keyed, issuer, audience, client_kinds, providers or {})

    def verify(self, token: str, peer: PeerIdentity | None = None) -> Actor:
        """The actor `token` asserts. `peer` is the client certificate's identity (None:
        the one bound to the call being served, `vault.tls_material.call_peer`)."""
        actor = self._verified_actor(token)
        if self.client_kinds is not None:
            self.client_kinds.check(peer or call_peer(), actor.kind)
        return actor

    def _verified_actor(self, token: str) -> Actor:
        if len(token) > _MAX_TOKEN_BYTES:
            raise UnauthenticatedError("token too large")
        digest = hashlib.sha256(token.encode()).digest()
        kept = self._verified.get(digest)
        if kept is not None:
            actor, exp = kept
            if exp <= self.clock() - _LEEWAY_SECONDS:  # what jwt.decode checks
                raise UnauthenticatedError("token expired")
            return actor
        actor, exp = self._verify_signed(token)
        self._verified.put(digest, actor, exp)
        return actor

    def _verify_signed(self, token: str) -> tuple[Actor, int]:
        """The actor and expiry of a token that passes every check, signature first: a
        provider's (vault/claims.py) when its unverified `iss` names one, else ours."""
        provider = self.providers.get(_unverified_issuer(token)) if self.providers else None
        if provider is not None:
            return provider.verify(token)
        try:
            header = jwt.get_unverified_header(token)
            key = self.keys.get(str(header.get("kid")))
            if key is None:
                raise UnauthenticatedError("token signed by an unknown key")
            claims = jwt.decode(
                token,
                key,
                algorithms=[_algorithm_for(key)],  # the key decides, never the token
                audience=self.audience,
                issuer=self.issuer,
                leeway=_LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise UnauthenticatedError("token expired") from None
        except jwt.PyJWTError:
            raise UnauthenticatedError("token invalid") from None
        return _actor(claims), int(claims["exp"])


def _unverified_issuer(token: str) -> str:
    """The `iss` a token claims, only to choose whose keys check it ("" if unreadable)."""
    try:
        issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        return ""
    return issuer if isinstance(issuer, str) else ""


def load_or_create_dev_issuer(directory: Path) -> Ed25519PrivateKey:
    """The development issuer key in `directory` (created, mode 0600, on first use)."""
    return load_or_create_ed25519(directory / "dev-token-issuer.pem", "development issuer key")


def mint_token(
    private_key: Ed25519PrivateKey,
    *,
    kind: ActorKind,
    subject: str,
    ttl_seconds: int,
    issuer: str = DEV_ISSUER,
    audience: str = DEFAULT_AUDIENCE,
    profession: str | None = None,
    specialty: str | None = None,
    now: float | None = None,
    secret_care: bool = False,
    structure: str | None = None,
) -> str:
    """A signed EdDSA token for one actor (development and tests)."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": _subject(kind, subject),
        "kind": kind.value,
        "iat": issued,
        "exp": issued + ttl_seconds,
    }
    if profession is not None:
        claims["profession"] = profession
    if specialty is not None:
        claims["specialty"] = specialty
    if secret_care:
        claims["secret_care"] = True
    if structure is not None:
        claims["structure"] = structure
    kid = key_id(private_key.public_key())
    return jwt.encode(claims, private_key, algorithm="EdDSA", headers={"kid": kid})
