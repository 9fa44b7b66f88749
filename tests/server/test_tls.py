"""Mutual TLS end to end: a real server with a certificate, real clients with (or
without) certificates from a CA the test makes, and the binding of certificates to the
actor kinds they may assert."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PATIENT_INS
from tests.pki import Issued, TestCA, dns, uri
from vault.auth import load_or_create_dev_issuer, mint_token
from vault.client import VaultClient, client_credentials
from vault.config import Config, TlsSettings
from vault.domain.model import ActorKind, DocumentCategory, DocumentMetadata
from vault.errors import UnauthenticatedError, UnavailableError
from vault.journal.sql import SqlJournal
from vault.server.app import BackgroundServer
from vault.sqlstore import make_engine

RPPS = "10000000009"
SUBJECTS = {
    ActorKind.PATIENT: PATIENT_INS,
    ActorKind.LEGAL_REPRESENTATIVE: PATIENT_INS,
    ActorKind.PROFESSIONAL: RPPS,
    ActorKind.INSURER: "insurer-1",
    ActorKind.OPERATOR: "operator-1",
    ActorKind.AUDITOR: "auditor-1",
}
CLIENT_KINDS = """
[[client]]
uri = "spiffe://dmp.test/patient-portal"
kinds = ["patient", "legal_representative"]

[[client]]
dns = "pro-portal.dmp.test"
kinds = ["professional"]

[[client]]
cn = "operator-tool"
kinds = ["operator", "auditor"]
"""
REPORT = DocumentMetadata("Compte rendu", DocumentCategory.REPORTS, "application/pdf")


class Pki:
    def __init__(self, directory: Path) -> None:
        self.ca = TestCA(directory, "portals")
        self.server = self.ca.issue("server", common_name="dossier-vault", server=True)
        self.patient_portal = self.ca.issue(
            "patient-portal", names=(uri("spiffe://dmp.test/patient-portal"),)
        )
        self.pro_portal = self.ca.issue("pro-portal", names=(dns("pro-portal.dmp.test"),))
        self.operator_tool = self.ca.issue("operator-tool", common_name="operator-tool")
        self.stranger = self.ca.issue("stranger", common_name="stranger")
        self.kinds_file = directory / "client-kinds.toml"
        self.kinds_file.write_text(CLIENT_KINDS)

    def settings(self, *, mutual: bool = True) -> TlsSettings:
        if not mutual:
            return TlsSettings(self.server.cert, self.server.key)
        return TlsSettings(self.server.cert, self.server.key, self.ca.bundle, self.kinds_file)


class TlsVault:
    def __init__(self, server: BackgroundServer, pki: Pki) -> None:
        self.server = server
        self.pki = pki
        self.issuer = load_or_create_dev_issuer(server.config.data_dir)

    def token(self, kind: ActorKind) -> str:
        return mint_token(self.issuer, kind=kind, subject=SUBJECTS[kind], ttl_seconds=600)

    def client(
        self, token: str, credentials_of: Issued | None, ca: Path | None = None
    ) -> VaultClient:
        cert = credentials_of.cert if credentials_of else None
        key = credentials_of.key if credentials_of else None
        credentials = client_credentials(ca or self.pki.ca.bundle, cert, key)
        return VaultClient(self.server.target, token, credentials=credentials, timeout=10)

    def journal(self) -> list[tuple[str, str, str]]:
        journal = SqlJournal(make_engine(self.server.config.journal_url))
        return [(e.event.decision, e.event.reason, e.event.actor_ref) for e in journal.entries()]


def _start(tmp_path: Path, settings: TlsSettings) -> BackgroundServer:
    config = Config(listen="127.0.0.1:0", data_dir=tmp_path / "data", workers=4, tls=settings)
    return BackgroundServer(config).start()


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path)


@pytest.fixture
def vault(tmp_path: Path, pki: Pki) -> Iterator[TlsVault]:
    server = _start(tmp_path, pki.settings())
    try:
        yield TlsVault(server, pki)
    finally:
        server.stop()


def test_patient_portal_stores_and_reads_a_document_over_mutual_tls(vault: TlsVault) -> None:
    with vault.client(vault.token(ActorKind.PATIENT), vault.pki.patient_portal) as client:
        dossier = client.create_dossier(PATIENT_INS)
        stored = client.put_document(dossier.dossier_id, REPORT, b"%PDF-1.7 scan")
        received = b"".join(client.get_document(dossier.dossier_id, stored.document_id))
        listed = client.list_documents(dossier.dossier_id)
    assert received == b"%PDF-1.7 scan"
    assert [d.document_id for d in listed.documents] == [stored.document_id]
    assert {decision for decision, _, _ in vault.journal()} == {"allow"}


def test_operator_tool_may_assert_an_auditor_and_read_the_journal(vault: TlsVault) -> None:
    with vault.client(vault.token(ActorKind.AUDITOR), vault.pki.operator_tool) as client:
        lines = list(client.export_journal())
    assert lines  # the export itself is journaled, so it is never empty


@pytest.mark.parametrize(
    ("portal", "kind"),
    [
        ("patient_portal", ActorKind.PROFESSIONAL),
        ("patient_portal", ActorKind.AUDITOR),
        ("pro_portal", ActorKind.PATIENT),
        ("operator_tool", ActorKind.PATIENT),
    ],
)
def test_a_portal_certificate_cannot_carry_a_token_of_another_kind(
    vault: TlsVault, portal: str, kind: ActorKind
) -> None:
    stolen = vault.token(kind)  # a valid token, but from the wrong service
    with (
        vault.client(stolen, getattr(vault.pki, portal)) as client,
        pytest.raises(UnauthenticatedError),
    ):
        client.create_dossier(PATIENT_INS)
    assert vault.journal() == [("deny", "unauthenticated", "-")]
    with vault.client(vault.token(ActorKind.PATIENT), vault.pki.patient_portal) as client:
        client.create_dossier(PATIENT_INS)  # nothing was created by the refused call


def test_streaming_calls_check_the_certificate_too(vault: TlsVault) -> None:
    with vault.client(vault.token(ActorKind.PATIENT), vault.pki.patient_portal) as client:
        dossier = client.create_dossier(PATIENT_INS)
        stored = client.put_document(dossier.dossier_id, REPORT, b"scan")
    with vault.client(vault.token(ActorKind.PATIENT), vault.pki.pro_portal) as client:
        with pytest.raises(UnauthenticatedError):
            client.put_document(dossier.dossier_id, REPORT, b"planted")
        with pytest.raises(UnauthenticatedError):
            b"".join(client.get_document(dossier.dossier_id, stored.document_id))
    assert vault.journal()[-2:] == [("deny", "unauthenticated", "-")] * 2
    with vault.client(vault.token(ActorKind.PATIENT), vault.pki.patient_portal) as client:
        assert len(client.list_documents(dossier.dossier_id).documents) == 1


def test_certificate_the_kinds_file_does_not_name_asserts_nothing(vault: TlsVault) -> None:
    with (
        vault.client(vault.token(ActorKind.PATIENT), vault.pki.stranger) as client,
        pytest.raises(UnauthenticatedError),
    ):
        client.create_dossier(PATIENT_INS)
    assert vault.journal() == [("deny", "unauthenticated", "-")]


def test_client_without_a_certificate_is_refused_at_the_handshake(vault: TlsVault) -> None:
    with (
        vault.client(vault.token(ActorKind.PATIENT), None) as client,
        pytest.raises(UnavailableError),
    ):
        client.create_dossier(PATIENT_INS)
    assert vault.journal() == []  # no call reached the service


def test_certificate_from_another_ca_is_refused_even_with_a_known_name(
    vault: TlsVault, tmp_path: Path
) -> None:
    rogue = TestCA(tmp_path, "rogue").issue(
        "patient-portal", names=(uri("spiffe://dmp.test/patient-portal"),)
    )
    with (
        vault.client(vault.token(ActorKind.PATIENT), rogue) as client,
        pytest.raises(UnavailableError),
    ):
        client.create_dossier(PATIENT_INS)
    assert vault.journal() == []


def test_plaintext_client_cannot_talk_to_a_tls_server(vault: TlsVault) -> None:
    token = vault.token(ActorKind.PATIENT)
    with (
        VaultClient(vault.server.target, token, timeout=10) as client,
        pytest.raises(UnavailableError),
    ):
        client.create_dossier(PATIENT_INS)
    assert vault.journal() == []


def test_client_refuses_a_server_its_ca_bundle_did_not_issue(
    vault: TlsVault, tmp_path: Path
) -> None:
    other = TestCA(tmp_path, "other")
    token = vault.token(ActorKind.PATIENT)
    with (
        vault.client(token, vault.pki.patient_portal, ca=other.bundle) as client,
        pytest.raises(UnavailableError),
    ):
        client.create_dossier(PATIENT_INS)
    assert vault.journal() == []


def test_server_only_tls_serves_clients_without_certificates(tmp_path: Path, pki: Pki) -> None:
    server = _start(tmp_path, pki.settings(mutual=False))
    try:
        vault = TlsVault(server, pki)
        with vault.client(vault.token(ActorKind.PATIENT), None) as client:
            assert client.create_dossier(PATIENT_INS).dossier_id
    finally:
        server.stop()
