"""Bearer tokens: only a fresh token from a trusted issuer, for this audience, passes."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.conftest import PATIENT_INS
from vault.auth import TokenVerifier, key_id, load_public_key, mint_token
from vault.domain.model import Actor, ActorKind
from vault.errors import ConfigurationError, UnauthenticatedError
from vault.tls_material import ClientKinds, PeerIdentity

ISSUER_KEY = Ed25519PrivateKey.generate()
VERIFIER = TokenVerifier.from_keys([ISSUER_KEY.public_key()], "dossier-vault-dev")


def token(**overrides: object) -> str:
    claims: dict[str, object] = {
        "iss": "dossier-vault-dev",
        "aud": "dossier-vault",
        "sub": PATIENT_INS,
        "kind": "patient",
        "iat": int(time.time()),
        "exp": int(time.time()) + 60,
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(
        claims, ISSUER_KEY, algorithm="EdDSA", headers={"kid": key_id(ISSUER_KEY.public_key())}
    )


def test_a_valid_patient_token_names_the_patient() -> None:
    assert VERIFIER.verify(token()) == Actor(ActorKind.PATIENT, PATIENT_INS)


def test_a_professional_token_carries_profession_and_specialty() -> None:
    minted = mint_token(
        ISSUER_KEY,
        kind=ActorKind.PROFESSIONAL,
        subject="10003500005",
        ttl_seconds=60,
        profession="10",
        specialty="SM04",
    )
    assert VERIFIER.verify(minted) == Actor(ActorKind.PROFESSIONAL, "10003500005", "10", "SM04")


def test_a_professional_token_carries_the_structure_care_teams_match() -> None:
    minted = mint_token(
        ISSUER_KEY,
        kind=ActorKind.PROFESSIONAL,
        subject="10003500005",
        ttl_seconds=60,
        structure="750712184",
    )
    assert VERIFIER.verify(minted).structure == "750712184"


@pytest.mark.parametrize(
    "overrides",
    [
        {"structure": "750712184"},  # a patient's token names no structure
        {"kind": "professional", "sub": "10003500005", "structure": "CHU Nord"},
        {"kind": "professional", "sub": "10003500005", "structure": 750712184},
    ],
)
def test_a_structure_is_a_professionals_finess_or_siret_or_the_token_is_refused(
    overrides: dict[str, object],
) -> None:
    with pytest.raises(UnauthenticatedError):
        VERIFIER.verify(token(**overrides))


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": int(time.time()) - 120},
        {"aud": "another-service"},
        {"iss": "someone-else"},
        {"kind": "superuser"},
        {"sub": "184127645108947"},  # a patient INS with a wrong key
        {"exp": None},
        {"sub": None},
        {"profession": 10},
    ],
    ids=[
        "expired",
        "audience",
        "issuer",
        "unknown-kind",
        "malformed-ins",
        "no-exp",
        "no-sub",
        "profession-not-text",
    ],
)
def test_tokens_with_bad_claims_are_unauthenticated(overrides: dict[str, object]) -> None:
    with pytest.raises(UnauthenticatedError):
        VERIFIER.verify(token(**overrides))


def test_token_signed_by_an_untrusted_key_is_unauthenticated() -> None:
    forged = mint_token(
        Ed25519PrivateKey.generate(), kind=ActorKind.PATIENT, subject=PATIENT_INS, ttl_seconds=60
    )
    with pytest.raises(UnauthenticatedError):
        VERIFIER.verify(forged)


def _complete_claims() -> dict[str, object]:
    now = int(time.time())
    return {
        "iss": "dossier-vault-dev",
        "aud": "dossier-vault",
        "sub": PATIENT_INS,
        "kind": "patient",
        "iat": now,
        "exp": now + 60,
    }


def test_token_with_a_trusted_kid_but_another_ed25519_signature_is_unauthenticated() -> None:
    forged = jwt.encode(
        _complete_claims(),
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": key_id(ISSUER_KEY.public_key())},
    )
    with pytest.raises(UnauthenticatedError):
        VERIFIER.verify(forged)


def test_token_with_a_trusted_kid_but_another_algorithm_is_unauthenticated() -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    forged = jwt.encode(
        _complete_claims(),
        other,
        algorithm="ES256",
        headers={"kid": key_id(ISSUER_KEY.public_key())},
    )
    with pytest.raises(UnauthenticatedError):
        VERIFIER.verify(forged)


def test_unsigned_token_is_unauthenticated() -> None:
    unsigned = jwt.encode(
        _complete_claims(), "", algorithm="none", headers={"kid": key_id(ISSUER_KEY.public_key())}
    )
    with pytest.raises(UnauthenticatedError):
        VERIFIER.verify(unsigned)


def test_token_living_longer_than_a_day_is_unauthenticated() -> None:
    with pytest.raises(UnauthenticatedError, match="lifetime"):
        VERIFIER.verify(token(exp=int(time.time()) + 2 * 24 * 3600))


def test_token_with_a_huge_subject_is_unauthenticated() -> None:
    with pytest.raises(UnauthenticatedError):
        VERIFIER.verify(token(kind="auditor", sub="a" * 200))


def test_a_subject_longer_than_the_index_stores_is_unauthenticated() -> None:
    """Subjects are journaled and stored in 80-character columns (an operator placing a
    hold): a longer one must be refused at the door, not fail as INTERNAL later."""
    assert VERIFIER.verify(token(kind="operator", sub="o" * 80)).subject == "o" * 80
    with pytest.raises(UnauthenticatedError, match="subject"):
        VERIFIER.verify(token(kind="operator", sub="o" * 81))


@pytest.mark.parametrize("claim", ["profession", "specialty"])
def test_a_profession_or_specialty_longer_than_the_index_stores_is_unauthenticated(
    claim: str,
) -> None:
    fits = token(kind="professional", sub="10003500005", **{claim: "x" * 64})
    assert VERIFIER.verify(fits).kind is ActorKind.PROFESSIONAL
    too_long = token(kind="professional", sub="10003500005", **{claim: "x" * 65})
    with pytest.raises(UnauthenticatedError, match="too long"):
        VERIFIER.verify(too_long)


def test_issuer_key_on_another_curve_is_refused(tmp_path: Path) -> None:
    pem = (
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    (tmp_path / "issuer.pem").write_bytes(pem)
    with pytest.raises(ConfigurationError):
        load_public_key(tmp_path / "issuer.pem")


def test_es256_issuers_are_supported() -> None:
    issuer = ec.generate_private_key(ec.SECP256R1())
    verifier = TokenVerifier.from_keys([issuer.public_key()], "hospital-idp")
    signed = jwt.encode(
        {
            "iss": "hospital-idp",
            "aud": "dossier-vault",
            "sub": PATIENT_INS,
            "kind": "patient",
            "iat": int(time.time()),
            "exp": int(time.time()) + 60,
        },
        issuer,
        algorithm="ES256",
        headers={"kid": key_id(issuer.public_key())},
    )
    assert verifier.verify(signed).kind is ActorKind.PATIENT


# -- verified tokens are kept until they expire ------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _counting_decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens whose signature is checked from now on."""
    decoded: list[str] = []
    decode = jwt.decode

    def counting(token: str, *args: object, **kwargs: object) -> object:
        decoded.append(token)
        return decode(token, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jwt, "decode", counting)
    return decoded


def test_a_token_is_verified_once_then_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    verifier = TokenVerifier.from_keys([ISSUER_KEY.public_key()], "dossier-vault-dev")
    decoded = _counting_decodes(monkeypatch)
    kept = token()
    for _ in range(3):
        assert verifier.verify(kept) == Actor(ActorKind.PATIENT, PATIENT_INS)
    assert decoded == [kept]


def test_a_kept_token_still_expires() -> None:
    clock = _Clock()
    verifier = TokenVerifier(
        {key_id(ISSUER_KEY.public_key()): ISSUER_KEY.public_key()},
        "dossier-vault-dev",
        clock=clock,
    )
    expiring = token(exp=int(clock.now) + 60)
    assert verifier.verify(expiring).kind is ActorKind.PATIENT
    clock.now += 60 + 29  # within the leeway, as jwt.decode allows
    assert verifier.verify(expiring).kind is ActorKind.PATIENT
    clock.now += 2  # past it: refused, though jwt.decode (on the real clock) would pass it
    with pytest.raises(UnauthenticatedError, match="expired"):
        verifier.verify(expiring)


def test_a_token_signed_by_an_unknown_key_is_never_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    verifier = TokenVerifier.from_keys([ISSUER_KEY.public_key()], "dossier-vault-dev")
    forged = jwt.encode(
        _complete_claims(),
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": key_id(ISSUER_KEY.public_key())},
    )
    decoded = _counting_decodes(monkeypatch)
    for _ in range(2):
        with pytest.raises(UnauthenticatedError):
            verifier.verify(forged)
    assert decoded == [forged, forged]
    unknown = mint_token(
        Ed25519PrivateKey.generate(), kind=ActorKind.PATIENT, subject=PATIENT_INS, ttl_seconds=60
    )
    for _ in range(2):
        with pytest.raises(UnauthenticatedError, match="unknown key"):
            verifier.verify(unknown)
    assert len(verifier._verified) == 0


def test_kept_tokens_are_bounded_least_recently_used_out_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    verifier = TokenVerifier(
        {key_id(ISSUER_KEY.public_key()): ISSUER_KEY.public_key()},
        "dossier-vault-dev",
        verified_tokens=2,
    )
    first, second, third = (token(exp=int(time.time()) + 60 + n) for n in range(3))
    decoded = _counting_decodes(monkeypatch)
    verifier.verify(first)
    verifier.verify(second)
    verifier.verify(first)  # kept, and now the most recently used
    verifier.verify(third)  # pushes `second` out
    assert len(verifier._verified) == 2
    verifier.verify(first)
    verifier.verify(third)
    assert decoded == [first, second, third]
    verifier.verify(second)
    assert decoded == [first, second, third, second]


def test_a_kept_token_still_meets_the_client_certificate_check() -> None:
    kinds = ClientKinds.parse(
        '[[client]]\ncn = "patient-portal"\nkinds = ["patient"]\n', "kinds.toml"
    )
    verifier = TokenVerifier.from_keys(
        [ISSUER_KEY.public_key()], "dossier-vault-dev", client_kinds=kinds
    )
    kept = token()
    portal = PeerIdentity("00", common_name="patient-portal")
    other = PeerIdentity("01", common_name="another-service")
    assert verifier.verify(kept, portal).kind is ActorKind.PATIENT
    with pytest.raises(UnauthenticatedError):
        verifier.verify(kept, other)
    assert verifier.verify(kept, portal).kind is ActorKind.PATIENT
