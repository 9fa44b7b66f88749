"""A small document comes back whole from the trip that opens it; a large one with its
first segment only; a failure while reading ahead reaches the client where it would
have, after what was authenticated (vault/server/downloads.py)."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from tests.conftest import RunningVault
from tests.server.test_failures import iter_into, only_blob, stored
from tests.server.test_grpc import _journal
from vault.domain.model import Document
from vault.errors import IntegrityError
from vault.server.downloads import INLINE_BYTES, Chunks, open_inline

SEGMENT = 1024 * 1024


class Segments:
    """A document's plaintext segment by segment, with the end check after the last
    one (as decrypt_segments reads and verifies the object's end); records how far it
    was read and whether it was closed."""

    def __init__(self, segments: list[bytes], end_fails: bool = False) -> None:
        self.segments = segments
        self.end_fails = end_fails
        self.end_checked = False
        self.closed = False

    def __call__(self) -> tuple[Document, Chunks]:
        return object(), self._chunks()  # type: ignore[return-value]

    def _chunks(self) -> Generator[bytes, None, None]:
        try:
            yield from self.segments
            if self.end_fails:
                raise IntegrityError("trailing data after the last segment")
            self.end_checked = True
        finally:
            self.closed = True


def test_a_small_document_comes_back_whole_with_its_end_verified() -> None:
    source = Segments([b"4 KiB report"])
    opened = open_inline(source)
    assert (opened.ready, opened.rest, opened.failure) == ((b"4 KiB report",), None, None)
    assert source.end_checked
    assert source.closed


def test_a_small_document_whose_end_fails_verification_is_not_complete() -> None:
    source = Segments([b"4 KiB report"], end_fails=True)
    opened = open_inline(source)
    assert opened.ready == (b"4 KiB report",)
    assert isinstance(opened.failure, IntegrityError)
    assert opened.rest is None
    assert source.closed


def test_a_large_document_brings_only_its_first_segment() -> None:
    source = Segments([bytes(SEGMENT), bytes(SEGMENT), bytes(10)])
    opened = open_inline(source)
    assert [len(chunk) for chunk in opened.ready] == [SEGMENT]
    assert opened.rest is not None
    assert not source.closed
    assert [len(chunk) for chunk in opened.rest] == [SEGMENT, 10]
    assert source.end_checked


def test_what_is_read_in_the_opening_trip_stays_under_the_inline_bound() -> None:
    small = INLINE_BYTES // 4
    source = Segments([bytes(small)] * 8)
    opened = open_inline(source)
    assert sum(map(len, opened.ready)) == INLINE_BYTES
    assert opened.rest is not None
    opened.close()
    assert source.closed


def test_a_tampered_small_document_is_data_loss_after_its_metadata_and_is_journaled_once(
    running_vault: RunningVault,
) -> None:
    dossier, document = stored(running_vault, 4096)
    blob = only_blob(running_vault)
    data = bytearray(blob.read_bytes())
    data[-100] ^= 0x01
    blob.write_bytes(bytes(data))
    before = len(_journal(running_vault))
    received = bytearray()
    with running_vault.client() as client, pytest.raises(IntegrityError):
        received.extend(b"".join(iter_into(client.get_document(dossier, document), received)))
    assert received == b""  # not one unauthenticated byte
    entries = _journal(running_vault)[before:]
    assert [(e["action"], e["decision"]) for e in entries] == [("document.read", "allow")]
