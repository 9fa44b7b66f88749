"""A minor's confidential care (CSP L.1111-5) through the real server: what the parents
(legal representatives) can call never shows that care, nor who gave it; only the minor
lifts the secret. The property test over any sequence is tests/service/test_minors_property.py.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass

import pytest

from tests.conftest import RunningVault
from tests.server.test_access import MINOR, NURSE, PARENT, TREATING
from vault import archive
from vault.auth import mint_token
from vault.client import VaultClient
from vault.domain.model import ActorKind, DocumentCategory, DocumentMetadata, Visibility
from vault.errors import PermissionDeniedError, UnauthenticatedError
from vault.journal.verify import verify_export

CARE = DocumentMetadata("Contraception", DocumentCategory.TREATMENTS_AND_CARE, "text/plain")
VACCINE = DocumentMetadata("Vaccin", DocumentCategory.VACCINATION, "text/plain")
SECRET = Visibility.HIDDEN_FROM_REPRESENTATIVES


@dataclass
class MinorsDossier:
    vault: RunningVault
    dossier_id: str

    def minor(self) -> VaultClient:
        return self.vault.client(self.vault.token(subject=MINOR))

    def parent(self) -> VaultClient:
        return self.vault.client(self.vault.token(ActorKind.LEGAL_REPRESENTATIVE, PARENT))

    def nurse(self) -> VaultClient:
        token = self.vault.token(ActorKind.PROFESSIONAL, NURSE, profession="nurse")
        return self.vault.client(token)


@pytest.fixture
def minors(running_vault: RunningVault) -> MinorsDossier:
    with running_vault.client(running_vault.token(subject=MINOR)) as minor:
        dossier = minor.create_dossier(MINOR).dossier_id
        minor.add_representative(dossier, PARENT)
        minor.authorise(dossier, NURSE)
        minor.put_document(dossier, VACCINE, b"v")
    return MinorsDossier(running_vault, str(dossier))


def _actors(client: VaultClient, dossier_id: str) -> set[str]:
    records, _ = client.query_journal(dossier_id=dossier_id, page_size=1000)
    return {e.actor_ref for _, e in records}


def test_the_parents_history_does_not_name_the_nurse_who_gave_secret_care(
    minors: MinorsDossier,
) -> None:
    with minors.nurse() as nurse:
        secret = nurse.put_document(minors.dossier_id, CARE, b"c", visibility=SECRET)
        b"".join(nurse.get_document(minors.dossier_id, secret.document_id))
    with minors.parent() as parent:
        assert NURSE not in _actors(parent, minors.dossier_id)
    with minors.minor() as minor:
        assert NURSE in _actors(minor, minors.dossier_id)


def test_the_parents_copy_does_not_name_the_nurse_who_gave_secret_care(
    minors: MinorsDossier,
) -> None:
    with minors.nurse() as nurse:
        nurse.put_document(minors.dossier_id, CARE, b"c", visibility=SECRET)
    copy = io.BytesIO()
    with minors.parent() as parent:
        parent.export_dossier(minors.dossier_id, copy)
    with zipfile.ZipFile(copy) as zipped:
        names = zipped.namelist()
        history = b"".join(zipped.read(n) for n in names if n != archive.METADATA)
        metadata = json.loads(zipped.read(archive.METADATA))
    assert [d["title"] for d in metadata["documents"]] == ["Vaccin"]
    assert NURSE.encode() not in history


def test_a_parents_history_page_is_never_short_for_the_secret_entries_it_skips(
    minors: MinorsDossier,
) -> None:
    with minors.nurse() as nurse:
        secret = nurse.put_document(minors.dossier_id, CARE, b"c", visibility=SECRET)
        for _ in range(3):
            b"".join(nurse.get_document(minors.dossier_id, secret.document_id))
    with minors.parent() as parent:
        page, token = parent.query_journal(dossier_id=minors.dossier_id, page_size=2)
        assert len(page) == 2
        assert token
        everything: list[int] = [seq for seq, _ in page]
        while token:
            page, token = parent.query_journal(
                dossier_id=minors.dossier_id, page_size=2, page_token=token
            )
            assert len(page) == 2 or not token
            everything += [seq for seq, _ in page]
    assert everything == sorted(set(everything))


def test_neither_the_author_nor_the_treating_physician_lifts_the_minors_secret(
    minors: MinorsDossier,
) -> None:
    with minors.vault.client(minors.vault.token(ActorKind.INSURER, "cnam")) as insurer:
        insurer.set_treating_physician(minors.dossier_id, TREATING)
    with minors.nurse() as nurse:
        secret = nurse.put_document(minors.dossier_id, CARE, b"c", visibility=SECRET)
        with pytest.raises(PermissionDeniedError, match="visibility-not-settable"):
            nurse.set_visibility(minors.dossier_id, secret.document_id, Visibility.NORMAL)
    treating_token = minors.vault.token(
        ActorKind.PROFESSIONAL, TREATING, profession="physician", specialty="general_medicine"
    )
    with (
        minors.vault.client(treating_token) as treating,
        pytest.raises(PermissionDeniedError, match="visibility-not-settable"),
    ):
        treating.set_visibility(minors.dossier_id, secret.document_id, Visibility.NORMAL)
    with minors.minor() as minor:
        lifted = minor.set_visibility(minors.dossier_id, secret.document_id, Visibility.NORMAL)
    assert lifted.visibility is Visibility.NORMAL


def _secret_care_nurse(minors: MinorsDossier) -> VaultClient:
    """The nurse in the DMP's secret connection: the token's `secret_care` claim."""
    token = mint_token(
        minors.vault.issuer,
        kind=ActorKind.PROFESSIONAL,
        subject=NURSE,
        ttl_seconds=600,
        profession="nurse",
        secret_care=True,
    )
    return minors.vault.client(token)


def test_a_professionals_secret_care_session_is_invisible_to_the_parents_everywhere(
    minors: MinorsDossier,
) -> None:
    with _secret_care_nurse(minors) as nurse:
        assert len(list(nurse.iter_documents(minors.dossier_id))) == 1
        nurse.count_documents(minors.dossier_id)
    with minors.parent() as parent:
        assert NURSE not in _actors(parent, minors.dossier_id)
        assert not [n for n in parent.notifications(minors.dossier_id) if n.subject == NURSE]
        copy = io.BytesIO()
        parent.export_dossier(minors.dossier_id, copy)
    with zipfile.ZipFile(copy) as zipped:
        assert NURSE.encode() not in zipped.read(archive.HISTORY)
    with minors.minor() as minor:
        records, _ = minor.query_journal(dossier_id=minors.dossier_id, page_size=1000)
    assert [e.action for _, e in records if e.actor_ref == NURSE] == [
        "document.list",
        "document.list",
    ]


def test_a_secret_care_session_leaves_the_journal_chain_whole(
    minors: MinorsDossier,
) -> None:
    with _secret_care_nurse(minors) as nurse:
        nurse.count_documents(minors.dossier_id)
    with minors.vault.client(minors.vault.token(ActorKind.AUDITOR, "cnil")) as auditor:
        lines = list(auditor.export_journal())
    entries = [json.loads(line)["entry"] for line in lines if b'"entry"' in line]
    secret = [e for e in entries if "secret_care" in e]
    assert [(e["actor_ref"], e["action"], e["secret_care"]) for e in secret] == [
        (NURSE, "document.list", True)
    ]
    assert verify_export(lines, None).entries == len(entries)


def test_only_a_professional_may_claim_the_secret_care_context(
    minors: MinorsDossier,
) -> None:
    token = mint_token(
        minors.vault.issuer,
        kind=ActorKind.PATIENT,
        subject=MINOR,
        ttl_seconds=600,
        secret_care=True,
    )
    with (
        minors.vault.client(token) as minor,
        pytest.raises(UnauthenticatedError),
    ):
        minor.count_documents(minors.dossier_id)
