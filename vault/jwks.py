"""An identity provider's published signing keys (a JWKS), from a file or a URL, kept
current without a restart.

A file is re-read when its modification time or size changes (checked on every lookup:
one `stat`). A URL is fetched on first use and again when a token names a `kid` the set
does not hold (the provider rotated its keys), at most once per `refetch_seconds`, so a
flood of tokens with invented `kid`s costs one fetch per interval, not one per token; the
fetch runs in a thread and a token waits for it at most `wait_seconds`. A failed fetch
keeps the keys already held.

Only asymmetric signing keys are kept: RSA (2048 bits or more, RS256), P-256 (ES256) and
Ed25519 (EdDSA). A key of type `oct` (a shared secret, HS*), a key whose `alg` is
anything else, a key for encryption (`use: enc`) or a key without a `kid` is skipped, so a
token can only ever be checked with the algorithm its key decides (never `none`, never
HS256 with a public key's bytes as the secret).

What it does not: decode tokens or map claims (vault/claims.py), log or echo a key.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from vault.errors import ConfigurationError

ALGORITHMS = ("RS256", "ES256", "EdDSA")  # the only ones a provider's key may carry
REFETCH_SECONDS = 30.0  # a URL is fetched again for an unknown kid at most this often
FETCH_TIMEOUT_SECONDS = 5.0  # a fetch thread gives up after this
FETCH_WAIT_SECONDS = 1.0  # a token waits this long at most for the fetch it started
MAX_JWKS_BYTES = 1 << 20
_MIN_RSA_BITS = 2048


@dataclass(frozen=True)
class SigningKey:
    """One usable key: its algorithm (decided by the key, never by a token) and the key."""

    algorithm: str
    key: Any


def _algorithm(jwk: Mapping[str, Any], key: Any) -> str | None:
    """The one algorithm `key` verifies, or None when the vault refuses such a key."""
    if isinstance(key, RSAPublicKey) and key.key_size >= _MIN_RSA_BITS:
        algorithm = "RS256"
    elif isinstance(key, EllipticCurvePublicKey) and isinstance(key.curve, SECP256R1):
        algorithm = "ES256"
    elif isinstance(key, Ed25519PublicKey):
        algorithm = "EdDSA"
    else:
        return None
    declared = jwk.get("alg")
    return algorithm if declared in (None, algorithm) else None


def parse_jwks(document: bytes) -> dict[str, SigningKey]:
    """The usable signing keys of a JWKS document, by `kid` (see the module docstring)."""
    try:
        entries = json.loads(document)["keys"]
        if not isinstance(entries, list):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise ConfigurationError("a JWKS is not a JSON object with a list of keys") from None
    keys: dict[str, SigningKey] = {}
    for jwk in entries:
        if not isinstance(jwk, dict) or jwk.get("kty") not in ("RSA", "EC", "OKP"):
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid or jwk.get("use", "sig") != "sig":
            continue
        if jwk.get("alg") not in (None, *ALGORITHMS):
            continue  # PyJWK would honour it (`none` included): never asked to
        try:
            key = jwt.PyJWK(jwk).key
        except (jwt.PyJWTError, ValueError, TypeError, KeyError, AttributeError):
            continue
        algorithm = _algorithm(jwk, key)
        if algorithm is not None:
            keys[kid] = SigningKey(algorithm, key)
    return keys


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310
        document: bytes = response.read(MAX_JWKS_BYTES + 1)
    if len(document) > MAX_JWKS_BYTES:
        raise ConfigurationError("a JWKS is larger than 1 MiB")
    return document


class JwksKeys:
    """The keys of one JWKS `source`: an `http(s)://` URL or a file path. Thread-safe.

    A URL is fetched in a thread of its own, never under the lock: a token that needs a
    fetch waits for it at most `wait_seconds` (tokens are verified on the server's event
    loop, so a slow provider stalls it that long at most, once per `refetch_seconds`);
    a fetch still running then lands for the next token."""

    def __init__(
        self,
        source: str,
        *,
        refetch_seconds: float = REFETCH_SECONDS,
        wait_seconds: float = FETCH_WAIT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self._is_url = source.startswith(("https://", "http://"))
        self._refetch = refetch_seconds
        self._wait = wait_seconds
        self._clock = clock
        self._keys: dict[str, SigningKey] = {}
        self._stamp: tuple[int, int] | None = None  # the file's (mtime_ns, size)
        self._fetched_at: float | None = None
        self._in_flight: threading.Event | None = None
        self._fetch_count = 0
        self._lock = threading.Lock()

    def key(self, kid: str) -> SigningKey | None:
        """The key `kid` names, after a re-read (file changed) or a refetch (URL, unknown
        kid, interval passed); None if the provider does not publish it."""
        if not self._is_url:
            with self._lock:
                self._reload_file_if_changed()
                return self._keys.get(kid)
        with self._lock:
            if kid in self._keys:
                return self._keys[kid]
            fetched = self._fetch_if_due()
        if fetched is None:
            return None
        fetched.wait(self._wait)
        with self._lock:
            return self._keys.get(kid)

    @property
    def fetches(self) -> int:
        """How many times the URL was fetched (tests and the operator's status)."""
        return self._fetch_count

    def _fetch_if_due(self) -> threading.Event | None:
        """The fetch to wait for: the one running, a new one if the interval passed, or
        None. Called under the lock."""
        if self._in_flight is not None:
            return self._in_flight
        if self._fetched_at is not None and self._clock() - self._fetched_at < self._refetch:
            return None
        self._fetched_at = self._clock()
        self._fetch_count += 1
        done = self._in_flight = threading.Event()
        threading.Thread(target=self._fetch_into, args=(done,), daemon=True).start()
        return done

    def _fetch_into(self, done: threading.Event) -> None:
        try:
            keys = parse_jwks(_fetch(self.source))
            with self._lock:
                self._keys = keys
        except (OSError, ValueError, ConfigurationError):
            pass  # the provider unreachable or its answer garbled: the keys held stay
        finally:
            with self._lock:
                self._in_flight = None
            done.set()

    def _reload_file_if_changed(self) -> None:
        try:
            status = os.stat(self.source)
            stamp = (status.st_mtime_ns, status.st_size)
            if stamp != self._stamp:
                self._keys = parse_jwks(Path(self.source).read_bytes())
                self._stamp = stamp
        except (OSError, ConfigurationError):
            pass  # mid-rewrite or removed: the keys held stay until a readable version
