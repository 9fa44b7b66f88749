"""Instrumented ports and the journal's commit observer: every operation reported, errors
re-raised unchanged, no key, object name or context in a label; registries isolated."""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from tests.journal.test_chain import EVENT
from vault.blobstore.file import FileBlobStore
from vault.crypto.localkeys import LocalKeyFileProvider, create_key_file
from vault.errors import IntegrityError, UnavailableError
from vault.journal.chain import JournalEntry, JournalEvent
from vault.journal.group import GroupCommitJournal
from vault.observability.instrumented import InstrumentedBlobStore, InstrumentedKeyProvider
from vault.observability.metrics import BLOB_STORE, KEY_PROVIDER, VaultMetrics

OBJECT_KEY = "5f0c" * 8  # object keys are 32 hex digits (vault/blobstore/base.py)
Reported = list[tuple[str, float, BaseException | None]]


def recorder() -> tuple[Reported, object]:
    reported: Reported = []

    def observe(operation: str, seconds: float, error: BaseException | None) -> None:
        reported.append((operation, seconds, error))

    return reported, observe


def labels(registry: CollectorRegistry) -> set[str]:
    return {
        value
        for family in registry.collect()
        for sample in family.samples
        for value in sample.labels.values()
    }


def test_a_blob_read_of_a_vanished_object_is_reported_and_reraised_unchanged(
    tmp_path: Path,
) -> None:
    registry = CollectorRegistry()
    metrics = VaultMetrics(registry)
    store = InstrumentedBlobStore(FileBlobStore(tmp_path), metrics.dependency_observer(BLOB_STORE))
    writer = store.create(OBJECT_KEY)
    writer.write(b"sealed bytes")
    writer.commit()
    store.delete(OBJECT_KEY)
    with pytest.raises(IntegrityError):
        store.open(OBJECT_KEY)
    ops = metrics._dependencies[BLOB_STORE][1]
    assert ops.labels("open", "data_loss")._value.get() == 1
    assert ops.labels("commit", "ok")._value.get() == 1
    assert not any(OBJECT_KEY in value for value in labels(registry))


def test_reads_into_the_caller_s_buffer_stay_copy_free_through_the_wrapper(
    tmp_path: Path,
) -> None:
    reported, observe = recorder()
    store = InstrumentedBlobStore(FileBlobStore(tmp_path), observe)  # type: ignore[arg-type]
    writer = store.create(OBJECT_KEY)
    writer.write(b"0123456789")
    writer.commit()
    reader = store.open(OBJECT_KEY, offset=2)
    buffer = memoryview(bytearray(4))
    assert reader.readinto(buffer) == 4  # type: ignore[attr-defined]
    assert bytes(buffer) == b"2345"
    reader.close()
    assert [op for op, _, _ in reported] == ["create", "write", "commit", "open", "read"]


def test_a_reader_without_readinto_gets_no_readinto() -> None:
    class Plain:
        def __init__(self) -> None:
            self._data = io.BytesIO(b"abc")

        def read(self, size: int) -> bytes:
            return self._data.read(size)

        def close(self) -> None:
            pass

    class PlainStore(FileBlobStore):
        def open(self, key: str, offset: int = 0, length: int | None = None) -> Plain:  # type: ignore[override]
            return Plain()

    _reported, observe = recorder()
    reader = InstrumentedBlobStore(PlainStore(Path("/nonexistent")), observe).open("k")  # type: ignore[arg-type]
    assert not hasattr(reader, "readinto")
    assert reader.read(10) == b"abc"


def test_a_refused_unwrap_is_counted_as_data_loss_without_its_context(tmp_path: Path) -> None:
    create_key_file(tmp_path / "keys.json")
    registry = CollectorRegistry()
    metrics = VaultMetrics(registry)
    keys = InstrumentedKeyProvider(
        LocalKeyFileProvider(tmp_path / "keys.json"), metrics.dependency_observer(KEY_PROVIDER)
    )
    wrapped = keys.wrap(b"k" * 32, b"dossier-context-A")
    assert keys.unwrap(wrapped, b"dossier-context-A") == b"k" * 32
    with pytest.raises(IntegrityError):
        keys.unwrap(wrapped, b"dossier-context-B")
    ops = metrics._dependencies[KEY_PROVIDER][1]
    assert ops.labels("unwrap", "ok")._value.get() == 1
    assert ops.labels("unwrap", "data_loss")._value.get() == 1
    assert not any("context" in value for value in labels(registry))


class _Store:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def append_many(self, events: Sequence[JournalEvent]) -> list[JournalEntry]:
        if self.fail:
            raise UnavailableError("database unavailable")
        return [JournalEntry(n, e, b"p" * 32, b"h" * 32, b"c" * 32) for n, e in enumerate(events)]


def test_each_group_commit_transaction_is_reported_with_its_size_and_outcome() -> None:
    registry = CollectorRegistry()
    metrics = VaultMetrics(registry)
    journal = GroupCommitJournal(_Store(), on_commit=metrics.journal_commit)
    threads = [threading.Thread(target=journal.append, args=(EVENT,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    journal.close()  # the committer thread has reported every batch
    assert metrics.journal_appends.labels("ok")._value.get() == 8
    assert registry.get_sample_value("vault_journal_commit_batch_size_sum") == 8
    failing = GroupCommitJournal(_Store(fail=True), on_commit=metrics.journal_commit)
    with pytest.raises(UnavailableError):
        failing.append(EVENT)
    failing.close()
    assert metrics.journal_appends.labels("unavailable")._value.get() == 1


def test_an_observer_that_fails_never_stalls_the_journal() -> None:
    def broken(size: int, seconds: float, error: BaseException | None) -> None:
        raise RuntimeError("observer bug")

    journal = GroupCommitJournal(_Store(), on_commit=broken)
    assert journal.append(EVENT).event == EVENT
    assert journal.append(EVENT).event == EVENT  # the committer thread lived on
    journal.close()


def test_two_servers_in_one_process_keep_their_own_counts() -> None:
    first, second = VaultMetrics(CollectorRegistry()), VaultMetrics(CollectorRegistry())
    first.request("GetDossier", "OK", 0.01)
    assert (
        first.registry.get_sample_value(
            "vault_requests_total", {"method": "GetDossier", "code": "OK"}
        )
        == 1
    )
    assert (
        second.registry.get_sample_value(
            "vault_requests_total", {"method": "GetDossier", "code": "OK"}
        )
        is None
    )
