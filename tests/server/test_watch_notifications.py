"""`WatchNotifications` through the real server, on SQLite and PostgreSQL: the outbox,
then each new notice as it is queued, resumable from an id; the stream ends with OK at
the call's deadline; beyond the server's bound on watchers, RESOURCE_EXHAUSTED."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PATIENT_INS, RunningVault
from tests.server.test_access import CARDIOLOGIST, TREATING
from vault.auth import load_or_create_dev_issuer
from vault.config import Config
from vault.domain.model import ActorKind, NotificationKind
from vault.errors import PermissionDeniedError, ResourceExhaustedError
from vault.server.app import BackgroundServer


def _first_access(vault: RunningVault, dossier_id: str, number: str) -> None:
    """The patient authorises a professional, who counts the documents: a notice."""
    with vault.client() as patient:
        patient.authorise(dossier_id, number)
    token = vault.token(ActorKind.PROFESSIONAL, number, profession="physician", specialty="x")
    with vault.client(token) as professional:
        professional.count_documents(dossier_id)


def _dossier(vault: RunningVault) -> str:
    with vault.client() as patient:
        return str(patient.create_dossier(PATIENT_INS).dossier_id)


def test_a_watch_gives_the_outbox_then_each_new_notice_and_ends_ok_at_its_deadline(
    running_vault: RunningVault,
) -> None:
    dossier = _dossier(running_vault)
    _first_access(running_vault, dossier, CARDIOLOGIST)
    received = []
    with running_vault.client() as patient:
        for notice in patient.watch_notifications(dossier, timeout=4):
            received.append(notice)
            if len(received) == 1:  # the watch is live: a new notice must reach it
                _first_access(running_vault, dossier, TREATING)
        # the loop ended without an error: the server closed the stream with OK
    assert [(n.kind, n.subject) for n in received] == [
        (NotificationKind.FIRST_ACCESS, CARDIOLOGIST),
        (NotificationKind.FIRST_ACCESS, TREATING),
    ]
    with running_vault.client() as patient:
        resumed = list(
            patient.watch_notifications(dossier, after_id=received[0].notification_id, timeout=1)
        )
    assert [n.subject for n in resumed] == [TREATING]


def test_a_stranger_cannot_watch_a_dossiers_outbox(running_vault: RunningVault) -> None:
    dossier = _dossier(running_vault)
    token = running_vault.token(ActorKind.PROFESSIONAL, CARDIOLOGIST, profession="physician")
    with running_vault.client(token) as stranger, pytest.raises(PermissionDeniedError):
        list(stranger.watch_notifications(dossier, timeout=2))


@pytest.fixture(name="one_watcher")
def a_server_following_one_watch(db_url: str, tmp_path: Path) -> Iterator[RunningVault]:
    config = Config(
        listen="127.0.0.1:0",
        data_dir=tmp_path / "data",
        database_url=db_url,
        workers=4,
        notification_watchers=1,
    )
    issuer = load_or_create_dev_issuer(config.data_dir)
    server = BackgroundServer(config).start()
    try:
        yield RunningVault(server, issuer)
    finally:
        server.stop()


def test_watchers_beyond_the_servers_bound_are_refused_and_a_place_comes_back(
    one_watcher: RunningVault,
) -> None:
    dossier = _dossier(one_watcher)
    _first_access(one_watcher, dossier, CARDIOLOGIST)
    with one_watcher.client() as patient, one_watcher.client() as other:
        watching = patient.watch_notifications(dossier, timeout=3)
        assert next(watching).subject == CARDIOLOGIST  # this watch holds the one place
        with pytest.raises(ResourceExhaustedError):
            next(other.watch_notifications(dossier, timeout=3))
        assert len(list(watching)) == 0  # ends OK at its deadline, its place given back
        assert [n.subject for n in other.watch_notifications(dossier, timeout=1)] == [CARDIOLOGIST]
