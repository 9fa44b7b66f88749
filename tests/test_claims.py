"""Identity providers' tokens: a token Pro Santé Connect or a patients' OIDC provider signs
maps to the right actor; every forgery a provider's published keys invite is refused."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import PATIENT_INS
from tests.identity_provider import (
    AUDIENCE,
    PATIENT_ISSUER,
    PSC_ISSUER,
    RPPS,
    ProviderKey,
    hand_signed,
    jwks,
    patient_claims,
    psc_claims,
)
from vault.auth import TokenVerifier
from vault.claims import Provider, claim_at, load_providers
from vault.config import Config
from vault.domain.model import Actor, ActorKind
from vault.errors import ConfigurationError, UnauthenticatedError

PSC_KEY = ProviderKey.rsa("psc-2026")
PATIENT_KEY = ProviderKey.p256("citizens-1")

PROVIDERS = """
[[provider]]
issuer = "{psc}"
audience = "dossier-vault"
jwks = "psc.jwks"
kind = "professional"
subject = "SubjectNameID"
subject_prefix = "8"
profession = "SubjectRefPro.exercices.0.codeProfession"
specialty = "SubjectRefPro.exercices.0.codeSavoirFaire"
structure = "SubjectRefPro.exercices.0.activities.0.numeroFinessSite"

[[provider]]
issuer = "{patients}"
audience = "dossier-vault"
jwks = "patients.jwks"
kind = "patient"
subject = "ins"
"""


def write_providers(directory: Path, psc_jwks: str = "psc.jwks") -> Path:
    (directory / "psc.jwks").write_bytes(jwks(PSC_KEY))
    (directory / "patients.jwks").write_bytes(jwks(PATIENT_KEY))
    path = directory / "providers.toml"
    text = PROVIDERS.format(psc=PSC_ISSUER, patients=PATIENT_ISSUER)
    path.write_text(text.replace('"psc.jwks"', f'"{psc_jwks}"'))
    return path


@pytest.fixture
def providers(tmp_path: Path) -> dict[str, Provider]:
    return load_providers(write_providers(tmp_path))


@pytest.fixture
def verifier(providers: dict[str, Provider]) -> TokenVerifier:
    return TokenVerifier.from_keys([], "dossier-vault-dev", providers=providers)


def test_a_pro_sante_connect_token_names_the_professional_and_their_practice(
    verifier: TokenVerifier,
) -> None:
    actor = verifier.verify(PSC_KEY.sign(psc_claims()))
    assert actor == Actor(ActorKind.PROFESSIONAL, RPPS, "10", "SM04", structure="750712184")


def test_a_patients_provider_token_names_the_patient_by_ins(verifier: TokenVerifier) -> None:
    assert verifier.verify(PATIENT_KEY.sign(patient_claims())) == Actor(
        ActorKind.PATIENT, PATIENT_INS
    )


def test_a_providers_specialty_code_is_translated_into_the_vaults_words(
    tmp_path: Path,
) -> None:
    path = write_providers(tmp_path)
    text = path.read_text().replace(
        '[[provider]]\nissuer = "https://patients',
        '[provider.specialties]\n"SM26" = "emergency_medicine"\n\n'
        '[[provider]]\nissuer = "https://patients',
    )
    path.write_text(text)
    verifier = TokenVerifier.from_keys([], "dossier-vault-dev", providers=load_providers(path))
    practice = {"exercices": [{"codeProfession": "10", "codeSavoirFaire": "SM26"}]}
    actor = verifier.verify(PSC_KEY.sign(psc_claims(SubjectRefPro=practice)))
    assert (actor.profession, actor.specialty) == ("10", "emergency_medicine")


def test_a_token_expired_within_the_clock_skew_still_passes(verifier: TokenVerifier) -> None:
    now = int(time.time())
    token = PATIENT_KEY.sign(patient_claims(iat=now - 300, exp=now - 10))
    assert verifier.verify(token).kind is ActorKind.PATIENT


def _forged(name: str) -> str:
    now = int(time.time())
    public_pem = PSC_KEY.public_pem()
    header = {"kid": PSC_KEY.kid, "typ": "JWT"}
    forgeries: dict[str, Any] = {
        "expired-beyond-skew": lambda: PSC_KEY.sign(psc_claims(iat=now - 600, exp=now - 60)),
        "wrong-issuer": lambda: PSC_KEY.sign(psc_claims(iss="https://evil.example/realm")),
        "other-providers-issuer": lambda: PSC_KEY.sign(psc_claims(iss=PATIENT_ISSUER)),
        "wrong-audience": lambda: PSC_KEY.sign(psc_claims(aud="another-service")),
        "unknown-kid": lambda: PSC_KEY.sign(psc_claims(), kid="psc-2099"),
        "another-key-same-kid": lambda: ProviderKey.rsa(PSC_KEY.kid).sign(psc_claims()),
        "hs256-with-public-key": lambda: hand_signed(
            header | {"alg": "HS256"}, psc_claims(), public_pem
        ),
        "alg-none": lambda: hand_signed(header | {"alg": "none"}, psc_claims(), None),
        "lifetime-over-a-day": lambda: PSC_KEY.sign(psc_claims(exp=now + 25 * 3600)),
        "no-iat": lambda: PSC_KEY.sign({k: v for k, v in psc_claims().items() if k != "iat"}),
        "rpps-bad-luhn": lambda: PSC_KEY.sign(psc_claims(SubjectNameID="810003500006")),
        "structure-not-finess": lambda: PSC_KEY.sign(
            psc_claims(SubjectRefPro={"exercices": [{"activities": [{"numeroFinessSite": "x"}]}]})
        ),
        "patient-ins-bad-key": lambda: PATIENT_KEY.sign(patient_claims(ins="184127645108947")),
        "patient-no-ins": lambda: PATIENT_KEY.sign(patient_claims(ins=None)),
    }
    forged: str = forgeries[name]()
    return forged


FORGERIES = [
    "expired-beyond-skew",
    "wrong-issuer",
    "other-providers-issuer",
    "wrong-audience",
    "unknown-kid",
    "another-key-same-kid",
    "hs256-with-public-key",
    "alg-none",
    "lifetime-over-a-day",
    "no-iat",
    "rpps-bad-luhn",
    "structure-not-finess",
    "patient-ins-bad-key",
    "patient-no-ins",
]


@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_forged_or_stale_provider_token_is_unauthenticated(
    verifier: TokenVerifier, forgery: str
) -> None:
    with pytest.raises(UnauthenticatedError) as refused:
        verifier.verify(_forged(forgery))
    assert RPPS not in str(refused.value)
    assert PATIENT_INS not in str(refused.value)


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ('kind = "professional"\nkind_claim = "k"', "exactly one"),
        ("", "exactly one"),
        ('kind = "superuser"', "actor kind"),
        ('kind = "patient"\nclaims = "x"', "unknown keys"),
        ('kind = "patient"\nrefetch_seconds = -1', "refetch_seconds"),
        ('kind = "patient"\nspecialties = {SM26 = 3}', "specialties"),
    ],
)
def test_a_bad_providers_file_refuses_to_start(tmp_path: Path, entry: str, reason: str) -> None:
    path = tmp_path / "providers.toml"
    path.write_text(f'[[provider]]\nissuer = "i"\naudience = "a"\njwks = "k.json"\n{entry}\n')
    with pytest.raises(ConfigurationError, match=reason):
        load_providers(path)


def test_an_issuer_declared_twice_refuses_to_start(tmp_path: Path) -> None:
    entry = '[[provider]]\nissuer = "i"\naudience = "a"\njwks = "k.json"\nkind = "patient"\n'
    (tmp_path / "p.toml").write_text(entry * 2)
    with pytest.raises(ConfigurationError, match="twice"):
        load_providers(tmp_path / "p.toml")


def test_a_jwks_url_is_kept_as_a_url_and_a_relative_file_beside_the_providers_file(
    tmp_path: Path,
) -> None:
    providers = load_providers(write_providers(tmp_path, psc_jwks="https://idp.example/certs"))
    assert providers[PSC_ISSUER].keys.source == "https://idp.example/certs"
    assert providers[PATIENT_ISSUER].keys.source == str(tmp_path / "patients.jwks")
    assert providers[PSC_ISSUER].audience == AUDIENCE


CLAIMS = st.recursive(
    st.none() | st.integers() | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "0"]), inner, max_size=3)
    ),
)
STEPS = st.lists(st.sampled_from(["a", "b"]) | st.integers(0, 3), min_size=1, max_size=4)


@given(STEPS, st.text(max_size=8))
def test_a_claim_path_finds_the_value_nested_at_it(steps: list[str | int], leaf: str) -> None:
    nested: object = leaf
    for step in reversed(steps):
        nested = {step: nested} if isinstance(step, str) else [None] * step + [nested]
    assert claim_at({"root": nested}, ".".join(["root", *map(str, steps)])) == leaf


@given(CLAIMS, st.lists(st.sampled_from(["a", "b", "0", "9", ""]), min_size=1, max_size=4))
def test_a_claim_path_through_anything_never_raises(claims: object, steps: list[str]) -> None:
    claim_at({"root": claims}, ".".join(["root", *steps]))


def test_production_keys_may_be_identity_providers_alone(tmp_path: Path) -> None:
    production = {"VAULT_REQUIRE_PRODUCTION_KEYS": "1", "VAULT_MASTER_KEY_FILE": "/k.json"}
    with pytest.raises(ConfigurationError, match="VAULT_TOKEN_PROVIDERS_FILE"):
        Config.from_env(production)
    path = write_providers(tmp_path)
    config = Config.from_env(production | {"VAULT_TOKEN_PROVIDERS_FILE": str(path)})
    assert config.token_providers_file == path
    assert config.token_public_keys == ()
