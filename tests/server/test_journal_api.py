"""The journal over gRPC: auditors export and filter it, a holder reads their history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import OTHER_INS, PATIENT_INS, RunningVault
from vault.auth import load_or_create_dev_issuer
from vault.composition import build_checkpointer, key_provider, open_journal
from vault.config import Config
from vault.domain.model import ActorKind, DocumentCategory, DocumentMetadata
from vault.errors import InvalidArgumentError, PermissionDeniedError
from vault.journal.verify import verify_export
from vault.server.app import BackgroundServer
from vault.sqlstore import make_engine

NOTE = DocumentMetadata("Ordonnance", DocumentCategory.TREATMENTS_AND_CARE, "application/pdf")


def auditor(vault: RunningVault) -> str:
    return vault.token(ActorKind.AUDITOR, "audit-team-1")


def seed(vault: RunningVault) -> str:
    with vault.client() as client:
        dossier = client.create_dossier(PATIENT_INS)
        client.put_document(dossier.dossier_id, NOTE, b"x")
        client.list_documents(dossier.dossier_id)
    with (
        vault.client(vault.token(subject=OTHER_INS)) as stranger,
        pytest.raises(PermissionDeniedError),
    ):
        stranger.list_documents(dossier.dossier_id)
    return str(dossier.dossier_id)


def test_auditor_export_verifies_offline_against_a_signed_checkpoint(
    running_vault: RunningVault,
) -> None:
    seed(running_vault)
    config = running_vault.config
    checkpointer = build_checkpointer(config, open_journal(config), key_provider(config))
    assert checkpointer.checkpoint() is not None  # as an operator's `journal checkpoint`
    with running_vault.client(auditor(running_vault)) as client:
        lines = list(client.export_journal())
    published = [p.read_text() for p in config.checkpoint_dir.glob("checkpoint-*.txt")]
    summary = verify_export(lines, checkpointer.verifier_key, published)
    assert summary.entries >= 4
    assert summary.anchored_at_genesis
    assert summary.checkpoints_matched == [4]


def test_export_of_a_sequence_range(running_vault: RunningVault) -> None:
    seed(running_vault)
    with running_vault.client(auditor(running_vault)) as client:
        lines = list(client.export_journal(from_seq=2, to_seq=3))
    summary = verify_export(lines, None)
    assert (summary.first_seq, summary.last_seq) == (2, 3)


def test_export_of_a_time_window_in_the_future_is_empty(running_vault: RunningVault) -> None:
    seed(running_vault)
    future = datetime.now(UTC) + timedelta(days=1)
    with running_vault.client(auditor(running_vault)) as client:
        assert list(client.export_journal(since=future)) == []


@pytest.mark.parametrize(
    ("kwargs"),
    [
        {"from_seq": 5, "to_seq": 2},
        {"since": datetime(2026, 2, 1, tzinfo=UTC), "until": datetime(2026, 1, 1, tzinfo=UTC)},
    ],
    ids=["sequence-range-reversed", "time-range-reversed"],
)
def test_ranges_the_wrong_way_round_are_invalid(
    running_vault: RunningVault, kwargs: dict[str, object]
) -> None:
    with (
        running_vault.client(auditor(running_vault)) as client,
        pytest.raises(InvalidArgumentError),
    ):
        list(client.export_journal(**kwargs))  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", [ActorKind.PATIENT, ActorKind.OPERATOR, ActorKind.INSURER])
def test_only_auditors_export(running_vault: RunningVault, kind: ActorKind) -> None:
    subject = PATIENT_INS if kind is ActorKind.PATIENT else "someone"
    with (
        running_vault.client(running_vault.token(kind, subject)) as client,
        pytest.raises(PermissionDeniedError),
    ):
        list(client.export_journal())


def test_holder_reads_their_dossier_history_in_order(running_vault: RunningVault) -> None:
    dossier = seed(running_vault)
    with running_vault.client() as client:
        records, token = client.query_journal(dossier_id=dossier)
    actions = [(event.action, event.decision) for _, event in records]
    assert actions[:4] == [
        ("dossier.create", "allow"),
        ("document.write", "allow"),
        ("document.list", "allow"),
        ("document.list", "deny"),
    ]
    assert [seq for seq, _ in records] == sorted(seq for seq, _ in records)
    assert token == ""


def test_a_stranger_cannot_read_someone_elses_history(running_vault: RunningVault) -> None:
    dossier = seed(running_vault)
    with running_vault.client(running_vault.token(subject=OTHER_INS)) as client:
        with pytest.raises(PermissionDeniedError):
            client.query_journal(dossier_id=dossier)
        with pytest.raises(PermissionDeniedError):
            client.query_journal(denials_only=True)


def test_auditor_filters_denials_and_actors(running_vault: RunningVault) -> None:
    seed(running_vault)
    with running_vault.client(auditor(running_vault)) as client:
        denials, _ = client.query_journal(denials_only=True)
        assert [e.reason for _, e in denials] == ["not-holder"]
        by_actor, _ = client.query_journal(actor_ref=denials[0][1].actor_ref)
        assert {e.actor_ref for _, e in by_actor} == {denials[0][1].actor_ref}
        assert client.query_journal(emergency_only=True) == ([], "")


def test_journal_pages_follow_their_tokens(running_vault: RunningVault) -> None:
    seed(running_vault)
    with running_vault.client(auditor(running_vault)) as client:
        first, token = client.query_journal(page_size=2)
        second, _ = client.query_journal(page_size=2, page_token=token)
        with pytest.raises(InvalidArgumentError):  # a token of another query
            client.query_journal(page_size=2, page_token=token, denials_only=True)
        with pytest.raises(InvalidArgumentError):  # a forged token
            client.query_journal(page_size=2, page_token=token[:-2] + "AA")
    assert [s for s, _ in first] == [1, 2]
    assert [s for s, _ in second] == [3, 4]


@pytest.mark.parametrize("page_size", [1001, 10**6])
def test_huge_page_size_is_invalid(running_vault: RunningVault, page_size: int) -> None:
    with (
        running_vault.client(auditor(running_vault)) as client,
        pytest.raises(InvalidArgumentError),
    ):
        client.query_journal(page_size=page_size)


def test_the_journal_can_live_in_its_own_database(tmp_path: Path) -> None:
    journal_url = f"sqlite:///{tmp_path / 'journal.sqlite3'}"
    config = Config(
        listen="127.0.0.1:0",
        data_dir=tmp_path / "data",
        journal_database_url=journal_url,
        workers=2,
    )
    issuer = load_or_create_dev_issuer(config.data_dir)
    server = BackgroundServer(config).start()
    try:
        vault = RunningVault(server, issuer)
        with vault.client() as client:
            client.create_dossier(PATIENT_INS)
    finally:
        server.stop()
    journal = make_engine(journal_url)
    index = make_engine(config.index_url)
    with journal.connect() as conn:
        assert conn.execute(text("select count(*) from journal_entries")).scalar() == 1
    with index.connect() as conn:
        tables = set(conn.execute(text("select name from sqlite_master")).scalars())
    assert "journal_entries" not in tables
    assert "dossiers" in tables
    published = list((config.data_dir / "checkpoints").glob("checkpoint-*.txt"))
    assert len(published) == 1  # the server signed its tail when it stopped
