"""An identity provider as the tests play it: generated RSA, P-256 and Ed25519 signing
keys, their public halves published as a JWKS in a file or over a loopback HTTP server
(a real `http.server`, counting its fetches), and tokens signed the way Pro Santé Connect
or a patients' OIDC provider signs them, hostile ones included (`hand_signed`: HS256 with
a public key's bytes, `alg: none`), which PyJWT refuses to produce.

What it does not: verify anything (vault/claims.py does).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from tests.conftest import PATIENT_INS

PSC_ISSUER = "https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet"
PATIENT_ISSUER = "https://patients.idp.example/realms/citizens"
AUDIENCE = "dossier-vault"
RPPS = "10003500005"  # a valid RPPS (Luhn)
FINESS = "750712184"


@dataclass(frozen=True)
class ProviderKey:
    """A provider's signing key, its `kid` and algorithm."""

    private: Any
    kid: str
    algorithm: str

    @classmethod
    def rsa(cls, kid: str, bits: int = 2048) -> ProviderKey:
        return cls(rsa.generate_private_key(65537, bits), kid, "RS256")

    @classmethod
    def p256(cls, kid: str) -> ProviderKey:
        return cls(ec.generate_private_key(ec.SECP256R1()), kid, "ES256")

    @classmethod
    def ed25519(cls, kid: str) -> ProviderKey:
        return cls(ed25519.Ed25519PrivateKey.generate(), kid, "EdDSA")

    def jwk(self) -> dict[str, Any]:
        """The public key as the provider publishes it."""
        public = self.private.public_key()
        if self.algorithm == "RS256":
            jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
        elif self.algorithm == "ES256":
            jwk = ECAlgorithm.to_jwk(public, as_dict=True)
        else:
            jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
        return jwk | {"kid": self.kid, "use": "sig", "alg": self.algorithm}

    def public_pem(self) -> bytes:
        pem: bytes = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return pem

    def sign(self, claims: dict[str, Any], kid: str | None = None) -> str:
        headers = {"kid": self.kid if kid is None else kid, "typ": "JWT"}
        return jwt.encode(claims, self.private, algorithm=self.algorithm, headers=headers)


def jwks(*keys: ProviderKey) -> bytes:
    return json.dumps({"keys": [k.jwk() for k in keys]}).encode()


def psc_claims(subject: str = "8" + RPPS, **overrides: Any) -> dict[str, Any]:
    """An access token's claims as Pro Santé Connect carries a professional (the shape
    docs/tokens.md maps; the names are unverified against PSC's own documentation)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": PSC_ISSUER,
        "aud": [AUDIENCE, "account"],
        "sub": "f:550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd:" + subject,
        "iat": now,
        "exp": now + 300,
        "SubjectNameID": subject,
        "SubjectRefPro": {
            "codeCivilite": "DR",
            "exercices": [
                {
                    "codeProfession": "10",
                    "codeCategorieProfessionnelle": "C",
                    "codeSavoirFaire": "SM04",
                    "activities": [{"numeroFinessSite": FINESS, "siretSite": None}],
                }
            ],
        },
    }
    return claims | overrides


def patient_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": PATIENT_ISSUER,
        "aud": AUDIENCE,
        "sub": "a6c1b3f0-2f6e-4d2b-9a51-3d2b7f4f1e77",
        "ins": PATIENT_INS,
        "iat": now,
        "exp": now + 300,
    }
    return claims | overrides


def hand_signed(header: dict[str, Any], claims: dict[str, Any], secret: bytes | None) -> str:
    """A token PyJWT would not make: HS256 keyed with `secret`, or unsigned if None."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    if secret is None:
        return signing_input + "."
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


class JwksServer:
    """A loopback HTTP server publishing `document` at /certs; `fetches` counts GETs;
    while `gate` is cleared, answers wait (a provider that hangs)."""

    def __init__(self, document: bytes) -> None:
        self.document = document
        self.fetches = 0
        self.gate = threading.Event()
        self.gate.set()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                outer.gate.wait(30)
                body = outer.document
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/certs"

    @contextmanager
    def running(self) -> Iterator[JwksServer]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.gate.set()
            self._server.shutdown()
            self._server.server_close()
            thread.join()
