"""docs/tokens.md's examples are the vault's bytes: its example tokens re-mint from the
page's key byte for byte and verify, its `kid` is the page's derivation, and its
providers' TOML examples load. A second implementation built from the page would
otherwise be built on a wrong example."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vault.auth import key_id, mint_token
from vault.claims import load_providers
from vault.domain.model import ActorKind

PAGE = (Path(__file__).parent.parent / "docs" / "tokens.md").read_text()
SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
KEY = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(SEED))
ISSUED = 1796644800


def blocks(language: str = "") -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", PAGE, flags=re.DOTALL)


def test_the_pages_key_and_kid_are_the_vaults() -> None:
    public = KEY.public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert SEED in PAGE
    assert pem in blocks()
    assert der.hex() in PAGE
    assert f"`kid` = `{key_id(public)}`" in PAGE


@pytest.mark.parametrize(
    ("kind", "subject", "ttl", "codes"),
    [
        (ActorKind.PROFESSIONAL, "10003500005", 3600, {"profession": "10", "specialty": "SM04"}),
        (ActorKind.PATIENT, "184127645108946", 900, {}),
    ],
)
def test_the_pages_example_tokens_are_minted_byte_for_byte(
    kind: ActorKind, subject: str, ttl: int, codes: dict[str, str]
) -> None:
    token = mint_token(
        KEY,
        kind=kind,
        subject=subject,
        ttl_seconds=ttl,
        issuer="https://idp.hospital.example",
        now=ISSUED,
        profession=codes.get("profession"),
        specialty=codes.get("specialty"),
    )
    assert f"{token}\n" in blocks()
    header, payload, _ = token.split(".")
    decoded = [base64.urlsafe_b64decode(part + "==").decode() for part in (header, payload)]
    assert "\n".join(decoded) + "\n" in blocks()
    claims = jwt.decode(
        token,
        KEY.public_key(),
        algorithms=["EdDSA"],
        audience="dossier-vault",
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["kind"] == kind.value


def test_the_pages_provider_examples_load(tmp_path: Path) -> None:
    examples = blocks("toml")
    assert len(examples) == 2
    for number, example in enumerate(examples):
        path = tmp_path / f"providers-{number}.toml"
        path.write_text(example)
        assert len(load_providers(path)) == 1
