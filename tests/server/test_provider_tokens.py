"""Tokens of a deployment's identity providers, through the real gRPC server: a patient
signed in at a patients' OIDC provider (JWKS in a file) opens a dossier and authorises a
professional signed in at Pro Santé Connect (JWKS over loopback HTTP); the vault knows
them both by the claims the providers' tokens carry; a rotated key works at once; each
forgery is UNAUTHENTICATED."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PATIENT_INS
from tests.identity_provider import (
    PATIENT_ISSUER,
    PSC_ISSUER,
    RPPS,
    JwksServer,
    ProviderKey,
    hand_signed,
    jwks,
    patient_claims,
    psc_claims,
)
from tests.server.test_grpc import REPORT
from vault.auth import load_or_create_dev_issuer, mint_token
from vault.client import VaultClient
from vault.config import Config
from vault.domain.model import ActorKind
from vault.errors import UnauthenticatedError
from vault.server.app import BackgroundServer

PSC_KEY = ProviderKey.rsa("psc-2026")
PATIENT_KEY = ProviderKey.ed25519("citizens-1")


@dataclass
class Deployment:
    target: str
    psc: JwksServer
    data_dir: Path

    def client(self, token: str) -> VaultClient:
        return VaultClient(self.target, token, timeout=30)


def _providers_file(directory: Path, psc_url: str) -> Path:
    (directory / "patients.jwks").write_bytes(jwks(PATIENT_KEY))
    path = directory / "providers.toml"
    path.write_text(
        f"""
[[provider]]
issuer = "{PSC_ISSUER}"
audience = "dossier-vault"
jwks = "{psc_url}"
refetch_seconds = 0
kind = "professional"
subject = "SubjectNameID"
subject_prefix = "8"
profession = "SubjectRefPro.exercices.0.codeProfession"
specialty = "SubjectRefPro.exercices.0.codeSavoirFaire"
structure = "SubjectRefPro.exercices.0.activities.0.numeroFinessSite"

[provider.professions]  # the national code of a physician, as the matrix names it
"10" = "physician"

[[provider]]
issuer = "{PATIENT_ISSUER}"
audience = "dossier-vault"
jwks = "patients.jwks"
kind = "patient"
subject = "ins"
"""
    )
    return path


@pytest.fixture
def deployment(db_url: str, tmp_path: Path) -> Iterator[Deployment]:
    with JwksServer(jwks(PSC_KEY)).running() as psc:
        config = Config(
            listen="127.0.0.1:0",
            data_dir=tmp_path / "data",
            database_url=db_url,
            workers=4,
            token_providers_file=_providers_file(tmp_path, psc.url),
        )
        server = BackgroundServer(config).start()
        try:
            yield Deployment(server.target, psc, config.data_dir)
        finally:
            server.stop()


def _patient_opens_a_dossier_for(deployment: Deployment) -> str:
    with deployment.client(PATIENT_KEY.sign(patient_claims())) as patient:
        dossier = str(patient.create_dossier(PATIENT_INS).dossier_id)
        patient.authorise(dossier, RPPS)
    return dossier


def test_provider_tokens_name_the_patient_and_the_professional_with_their_practice(
    deployment: Deployment,
) -> None:
    dossier = _patient_opens_a_dossier_for(deployment)
    with deployment.client(PSC_KEY.sign(psc_claims())) as professional:
        professional.put_document(dossier, REPORT, b"compte rendu")
    with deployment.client(PATIENT_KEY.sign(patient_claims())) as patient:
        [document] = list(patient.iter_documents(dossier))
    assert document.author is not None
    assert (document.author.kind, document.author.professional_id) == (
        ActorKind.PROFESSIONAL,
        RPPS,
    )
    assert (document.author.profession, document.author.specialty) == ("physician", "SM04")


def test_a_key_the_provider_rotates_in_is_accepted_without_a_restart(
    deployment: Deployment,
) -> None:
    dossier = _patient_opens_a_dossier_for(deployment)
    with deployment.client(PSC_KEY.sign(psc_claims())) as professional:
        assert list(professional.iter_documents(dossier)) == []
    rotated = ProviderKey.p256("psc-2027")
    deployment.psc.document = jwks(PSC_KEY, rotated)
    with deployment.client(rotated.sign(psc_claims())) as professional:
        assert list(professional.iter_documents(dossier)) == []


def _forgery(name: str) -> str:
    now = int(time.time())
    header = {"kid": PSC_KEY.kid, "typ": "JWT"}
    if name == "unknown-kid-after-refetch":
        return ProviderKey.rsa("psc-2099").sign(psc_claims())
    if name == "wrong-issuer":
        return PSC_KEY.sign(psc_claims(iss="https://auth.evil.example/realms/esante-wallet"))
    if name == "hs256-with-the-jwks-public-key":
        return hand_signed(header | {"alg": "HS256"}, psc_claims(), PSC_KEY.public_pem())
    if name == "alg-none":
        return hand_signed(header | {"alg": "none"}, psc_claims(), None)
    assert name == "expired-beyond-the-skew"
    return PSC_KEY.sign(psc_claims(iat=now - 900, exp=now - 120))


@pytest.mark.parametrize(
    "forgery",
    [
        "unknown-kid-after-refetch",
        "wrong-issuer",
        "hs256-with-the-jwks-public-key",
        "alg-none",
        "expired-beyond-the-skew",
    ],
)
def test_a_forged_provider_token_is_unauthenticated(deployment: Deployment, forgery: str) -> None:
    dossier = _patient_opens_a_dossier_for(deployment)
    fetched = deployment.psc.fetches
    with (
        deployment.client(_forgery(forgery)) as forger,
        pytest.raises(UnauthenticatedError),  # the client's name for UNAUTHENTICATED
    ):
        list(forger.iter_documents(dossier))
    if forgery == "unknown-kid-after-refetch":
        assert deployment.psc.fetches > fetched  # the JWKS was fetched again first


def test_the_development_issuer_is_not_trusted_beside_configured_providers(
    deployment: Deployment,
) -> None:
    dev_token = mint_token(
        load_or_create_dev_issuer(deployment.data_dir),
        kind=ActorKind.PATIENT,
        subject=PATIENT_INS,
        ttl_seconds=60,
    )
    with deployment.client(dev_token) as developer, pytest.raises(UnauthenticatedError):
        developer.create_dossier(PATIENT_INS)


def test_dev_token_still_works_without_providers(db_url: str, tmp_path: Path) -> None:
    config = Config(listen="127.0.0.1:0", data_dir=tmp_path / "data", database_url=db_url)
    issuer = load_or_create_dev_issuer(config.data_dir)
    server = BackgroundServer(config).start()
    try:
        token = mint_token(issuer, kind=ActorKind.PATIENT, subject=PATIENT_INS, ttl_seconds=60)
        with VaultClient(server.target, token, timeout=30) as patient:
            assert patient.create_dossier(PATIENT_INS).dossier_id
    finally:
        server.stop()
