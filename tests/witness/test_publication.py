"""The vault's checkpoints, cosigned by real witnesses over HTTP before publication.

A Checkpointer with a Collector (vault/witness/collector.py) on a real journal database
(SQLite and PostgreSQL) and witnesses served on loopback: published only with the quorum,
a witness down or stalled costs the publication and nothing else.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.conftest import free_port
from tests.journal.test_chain import EVENT
from tests.stalling_proxy import StallingProxy
from tests.witness.fixtures import (
    LOG_KEY,
    LOG_SIGNER,
    ORIGIN,
    WITNESS_KEY,
    serving,
    witnessing,
)
from vault.crypto.localkeys import LocalCheckpointSigner
from vault.errors import UnavailableError
from vault.journal.checkpoint import open_note
from vault.journal.checkpointer import Checkpointer, DirectoryPublisher
from vault.journal.sql import SqlJournal
from vault.sqlstore import make_engine
from vault.witness.collector import Collector
from vault.witness.cosignature import WitnessKey, require_quorum
from vault.witness.settings import Witnessing

SECOND_SIGNER = LocalCheckpointSigner(Ed25519PrivateKey.from_private_bytes(bytes(range(64, 96))))
SECOND = ("witness.test/w2", SECOND_SIGNER)
SECOND_KEY = WitnessKey(SECOND[0], SECOND_SIGNER.public_key)


class FixedClock:
    def now(self) -> datetime:
        return datetime(2026, 11, 25, tzinfo=UTC)


@pytest.fixture
def journal(db_url: str) -> Iterator[SqlJournal]:
    engine = make_engine(db_url)
    journal = SqlJournal(engine)
    journal.create_schema()
    yield journal
    engine.dispose()


def append(journal: SqlJournal, count: int) -> None:
    start = journal.head().seq
    for i in range(start, start + count):
        journal.append(replace(EVENT, request_id=f"r{i}", time_us=EVENT.time_us + i))


def checkpointer(journal: SqlJournal, tmp_path: Path, settings: Witnessing) -> Checkpointer:
    publisher = DirectoryPublisher(tmp_path / "pub")
    return Checkpointer(
        journal, LOG_SIGNER, ORIGIN, publisher, FixedClock(), cosigner=Collector(settings)
    )


def published(tmp_path: Path) -> list[str]:
    return [p.read_text() for p in sorted((tmp_path / "pub").glob("checkpoint-*.txt"))]


def test_checkpoint_is_published_with_the_quorum_of_cosignatures(
    journal: SqlJournal, tmp_path: Path
) -> None:
    with serving(tmp_path / "w1.json") as w1, serving(tmp_path / "w2.json", SECOND) as w2:
        settings = witnessing([w1, w2], [WITNESS_KEY, SECOND_KEY], quorum=2)
        signer = checkpointer(journal, tmp_path, settings)
        append(journal, 5)
        signer.checkpoint()
        append(journal, 3)
        signer.checkpoint()  # each witness now checks a consistency proof from 5
    notes = published(tmp_path)
    assert [open_note(n, LOG_KEY).size for n in notes] == [5, 8]
    assert all(require_quorum(n, [WITNESS_KEY, SECOND_KEY], 2) == 2 for n in notes)
    assert journal.checkpoints()[-1][1] == notes[-1]  # exports carry the cosigned note


def test_witness_down_stops_only_the_publication_not_the_appends(
    journal: SqlJournal, tmp_path: Path
) -> None:
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with serving(tmp_path / "w1.json") as w1:
        strict = witnessing([w1, down], [WITNESS_KEY, SECOND_KEY], quorum=2)
        append(journal, 4)
        with pytest.raises(UnavailableError, match="quorum"):
            checkpointer(journal, tmp_path, strict).checkpoint()
        assert published(tmp_path) == []
        assert journal.last_checkpoint_size() == 0
        append(journal, 2)  # the journal goes on
        assert journal.head().seq == 6
        lenient = witnessing([w1, down], [WITNESS_KEY, SECOND_KEY], quorum=1)
        checkpointer(journal, tmp_path, lenient).checkpoint()  # learns w1's size from its 409
    (note,) = published(tmp_path)
    assert open_note(note, LOG_KEY).size == 6
    assert require_quorum(note, [WITNESS_KEY, SECOND_KEY], 1) == 1


def test_stalled_witness_holds_the_publication_to_its_timeout_and_appends_go_on(
    journal: SqlJournal, tmp_path: Path
) -> None:
    with serving(tmp_path / "w1.json") as w1:
        host, _, port = w1.removeprefix("http://").partition(":")
        proxy = StallingProxy(host, int(port))
        try:
            proxy.stall()
            settings = witnessing([f"http://127.0.0.1:{proxy.port}"], [WITNESS_KEY], 1, 1.0)
            signer = checkpointer(journal, tmp_path, settings)
            append(journal, 3)
            failures: list[BaseException] = []

            def sign() -> None:
                try:
                    signer.checkpoint()
                except BaseException as error:
                    failures.append(error)

            attempt = threading.Thread(target=sign)
            attempt.start()
            append(journal, 3)  # while the checkpointer waits on the witness
            assert journal.head().seq == 6
            attempt.join()
            assert len(failures) == 1
            assert isinstance(failures[0], UnavailableError)
            assert published(tmp_path) == []
            proxy.resume()
            signer.checkpoint()
        finally:
            proxy.close()
    (note,) = published(tmp_path)
    assert open_note(note, LOG_KEY).size == 6
    assert require_quorum(note, [WITNESS_KEY], 1) == 1
