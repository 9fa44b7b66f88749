"""An Ed25519 private key kept in a PEM file (PKCS#8, unencrypted, mode 0600), created on
first use: the development token issuer's and a witness's. Not for the master keys (the
key providers) nor the checkpoint signer (derived from them)."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vault.errors import ConfigurationError


def load_or_create_ed25519(path: Path, what: str) -> Ed25519PrivateKey:
    """The key in `path`, generated there first if the file is missing (its directory
    0700, the file 0600, created exclusively). ConfigurationError naming `what` if the
    file cannot be read or holds another kind of key."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as e:
        raise ConfigurationError(f"cannot read the {what} {path}") from e
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"the {what} is not Ed25519")
    return key
