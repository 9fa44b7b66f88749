"""An Ed25519 key file created on first use (the dev issuer's, a witness's)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vault.crypto.ed25519files import load_or_create_ed25519
from vault.errors import ConfigurationError


def _raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_a_key_is_created_private_once_and_read_back_the_same(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "witness-key.pem"
    first = load_or_create_ed25519(path, "witness key")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0
    assert _raw(load_or_create_ed25519(path, "witness key")) == _raw(first)


def test_a_key_of_another_kind_in_its_place_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "witness-key.pem"
    path.write_bytes(
        generate_private_key(SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(ConfigurationError, match="the witness key is not Ed25519"):
        load_or_create_ed25519(path, "witness key")


def test_a_damaged_key_file_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "dev-token-issuer.pem"
    path.write_bytes(b"not a key")
    with pytest.raises(ConfigurationError, match="cannot read the development issuer key"):
        load_or_create_ed25519(path, "development issuer key")
