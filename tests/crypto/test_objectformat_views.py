"""`decrypt_views` and `decrypt_segments`: the sized read paths (no look-ahead, sealed
segments in place or in one reused buffer), against the same attacks as the others.

Each source kind takes its own path: whole views handed out in place, a `readinto` into
a reused buffer, and short reads gathered into that buffer. Both APIs go through every
attack; `decrypt_views` also through its buffers' lifetime.
"""

from __future__ import annotations

import io
import os
import pickle
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vault.blobstore.file import FileBlobStore
from vault.crypto import objectformat
from vault.crypto.objectformat import (
    HEADER_SIZE,
    TAG_SIZE,
    ObjectEncryptor,
    ObjectRef,
    ViewSource,
    decrypt_segments,
    decrypt_stream,
    decrypt_views,
)
from vault.crypto.objectformat.buffers import PLAINTEXT_BUFFERS
from vault.domain.ids import new_object_key
from vault.errors import IntegrityError, VaultError

KEY = bytes(range(32))
REF = ObjectRef(uuid.UUID(int=1), uuid.UUID(int=2), 1, 1)
SEGMENT = 64
SEALED = SEGMENT + TAG_SIZE


def encrypt(plaintext: bytes, segment_size: int = SEGMENT) -> bytes:
    out = bytearray()
    encryptor = ObjectEncryptor(KEY, REF, out.extend, segment_size=segment_size)
    encryptor.write(plaintext)
    encryptor.close()
    return bytes(out)


class InPlace:
    """Hands out views of an object in memory (no `readinto`)."""

    def __init__(self, data: bytes, most: int | None = None) -> None:
        self._data = memoryview(data)
        self._at = 0
        self._most = most  # a short read at most this long, as a socket may give

    def read(self, size: int) -> memoryview:
        start = self._at
        self._at = min(start + min(size, self._most or size), len(self._data))
        return self._data[start : self._at]


class Trickle(io.RawIOBase):
    """A `readinto` source that never fills more than `most` bytes at a time."""

    def __init__(self, data: bytes, most: int) -> None:
        super().__init__()
        self._stream = io.BytesIO(data)
        self._most = most

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        with memoryview(buffer) as view:
            return self._stream.readinto(view[: self._most])


SOURCES: dict[str, Callable[[bytes], ViewSource]] = {
    "in place": InPlace,
    "short views": lambda data: InPlace(data, most=7),
    "bytes": lambda data: io.BytesIO(data),  # readinto
    "short readinto": lambda data: Trickle(data, most=5),
    "read only": lambda data: type("Reads", (), {"read": io.BytesIO(data).read})(),
}


def _copied_views(source: ViewSource, size: int, ref: ObjectRef = REF) -> Iterator[bytes]:
    return (bytes(view) for view in decrypt_views(KEY, ref, source, size))  # the contract


def _segments(source: ViewSource, size: int, ref: ObjectRef = REF) -> Iterator[bytes]:
    return decrypt_segments(KEY, ref, source, size)


APIS: dict[str, Callable[[ViewSource, int], Iterator[bytes]]] = {
    "views": _copied_views,
    "segments": _segments,
}


ANY_SOURCE, ANY_API = st.sampled_from(sorted(SOURCES)), st.sampled_from(sorted(APIS))


def views(
    blob: bytes, source: str = "in place", size: int | None = None, api: str = "views"
) -> list[bytes]:
    """Every segment the object releases, as it is yielded."""
    made = SOURCES[source](blob)
    return list(APIS[api](made, len(blob) if size is None else size))


def split(blob: bytes) -> tuple[bytes, list[bytes]]:
    body = blob[HEADER_SIZE:]
    return blob[:HEADER_SIZE], [body[i : i + SEALED] for i in range(0, len(body), SEALED)]


@given(st.binary(max_size=6 * SEGMENT), ANY_SOURCE, ANY_API)
@settings(max_examples=300)
def test_any_plaintext_round_trips_from_any_kind_of_source(
    data: bytes, source: str, api: str
) -> None:
    blob = encrypt(data)
    released = views(blob, source, api=api)
    assert b"".join(released) == data
    assert released == list(decrypt_stream(KEY, REF, io.BytesIO(blob).read))


@pytest.mark.parametrize("api", sorted(APIS))
@pytest.mark.parametrize("source", sorted(SOURCES))
@pytest.mark.parametrize("size", [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT])
def test_segment_boundaries_round_trip(source: str, size: int, api: str) -> None:
    data = os.urandom(size)
    assert b"".join(views(encrypt(data), source, api=api)) == data


def test_a_yielded_view_is_released_when_the_next_one_is_asked_for() -> None:
    stream = decrypt_views(KEY, REF, InPlace(encrypt(os.urandom(3 * SEGMENT))), 3 * SEALED + 105)
    first = next(stream)
    assert len(first) == SEGMENT
    next(stream)
    with pytest.raises(ValueError, match="released"):
        bytes(first)
    stream.close()


def test_a_consumer_holding_an_export_of_a_view_stops_the_stream_not_its_bytes() -> None:
    stream = decrypt_views(KEY, REF, InPlace(encrypt(os.urandom(3 * SEGMENT))), 3 * SEALED + 105)
    held = pickle.PickleBuffer(next(stream))  # an export of the view itself
    kept = bytes(held.raw())
    with pytest.raises(BufferError):
        next(stream)  # the buffer may not be overwritten under `held`
    assert bytes(held.raw()) == kept


# -- attacks, through the new path -------------------------------------------------------


@pytest.mark.parametrize("api", sorted(APIS))
@pytest.mark.parametrize("source", sorted(SOURCES))
def test_a_truncated_object_is_rejected(source: str, api: str) -> None:
    blob = encrypt(os.urandom(3 * SEGMENT + 5))
    for cut in (1, TAG_SIZE, 6, SEALED):
        with pytest.raises(IntegrityError, match="truncated"):
            views(blob[:-cut], source, size=len(blob), api=api)


@given(st.binary(min_size=1, max_size=4 * SEGMENT), st.data())
def test_any_truncation_fails_and_releases_only_whole_authenticated_segments(
    data: bytes, draw: st.DataObject
) -> None:
    blob = encrypt(data)
    cut = draw.draw(st.integers(0, len(blob) - 1))
    source = draw.draw(ANY_SOURCE)
    api = draw.draw(ANY_API)
    released: list[bytes] = []
    stream = APIS[api](SOURCES[source](blob[:cut]), len(blob))
    with pytest.raises(IntegrityError):
        released.extend(stream)
    intact = max(0, (cut - HEADER_SIZE) // SEALED)
    assert len(released) <= intact
    assert b"".join(released) == data[: len(released) * SEGMENT]


def test_an_object_whose_recorded_size_was_cut_by_a_segment_is_rejected() -> None:
    blob = encrypt(os.urandom(3 * SEGMENT))
    with pytest.raises(IntegrityError):
        views(blob, size=len(blob) - SEALED)  # segment 1 is not marked last


def test_bytes_appended_after_the_last_segment_are_rejected() -> None:
    blob = encrypt(os.urandom(2 * SEGMENT + 3))
    with pytest.raises(IntegrityError, match="past its recorded size"):
        views(blob + b"\x00", size=len(blob))


def test_an_appended_segment_the_recorded_size_counts_is_rejected() -> None:
    blob = encrypt(os.urandom(2 * SEGMENT))
    header, parts = split(blob)
    longer = header + b"".join([*parts, parts[-1]])
    with pytest.raises(IntegrityError):
        views(longer)


def test_reordered_segments_are_rejected() -> None:
    header, parts = split(encrypt(os.urandom(3 * SEGMENT + 5)))
    parts[0], parts[1] = parts[1], parts[0]
    with pytest.raises(IntegrityError, match="segment 0 failed"):
        views(header + b"".join(parts))


def test_a_dropped_segment_is_rejected_even_with_a_matching_recorded_size() -> None:
    header, parts = split(encrypt(os.urandom(3 * SEGMENT + 5)))
    with pytest.raises(IntegrityError):
        views(header + b"".join([parts[0], *parts[2:]]))


def test_a_segment_from_another_object_is_rejected() -> None:
    ours, theirs = split(encrypt(os.urandom(3 * SEGMENT))), split(encrypt(os.urandom(3 * SEGMENT)))
    parts = [ours[1][0], theirs[1][1], ours[1][2]]
    with pytest.raises(IntegrityError, match="segment 1 failed"):
        views(ours[0] + b"".join(parts))


@pytest.mark.parametrize("api", sorted(APIS))
@pytest.mark.parametrize("source", sorted(SOURCES))
def test_a_tampered_tag_releases_nothing_of_its_segment(source: str, api: str) -> None:
    plaintext = os.urandom(3 * SEGMENT + 5)
    blob = bytearray(encrypt(plaintext))
    blob[HEADER_SIZE + 2 * SEALED - 1] ^= 0x01  # the tag of segment 1
    released: list[bytes] = []
    stream = APIS[api](SOURCES[source](bytes(blob)), len(blob))
    with pytest.raises(IntegrityError, match="segment 1 failed"):
        released.extend(stream)
    assert released == [plaintext[:SEGMENT]]


@given(st.binary(min_size=1, max_size=3 * SEGMENT), st.data())
@settings(max_examples=200)
def test_any_flipped_bit_is_rejected(data: bytes, draw: st.DataObject) -> None:
    blob = bytearray(encrypt(data))
    at = draw.draw(st.integers(0, len(blob) - 1))
    blob[at] ^= 1 << draw.draw(st.integers(0, 7))
    source, api = (
        draw.draw(ANY_SOURCE),
        draw.draw(ANY_API),
    )
    with pytest.raises(IntegrityError):
        views(bytes(blob), source, api=api)


@pytest.mark.parametrize("api", [_copied_views, _segments])
def test_an_object_of_another_document_is_rejected(
    api: Callable[[ViewSource, int, ObjectRef], Iterator[bytes]],
) -> None:
    blob = encrypt(b"payload")
    other = ObjectRef(REF.dossier_id, REF.document_id, 2, 1)
    with pytest.raises(IntegrityError, match="does not belong"):
        list(api(InPlace(blob), len(blob), other))
    huge = ObjectRef(REF.dossier_id, REF.document_id, 2**40, 1)  # beyond the header's field
    with pytest.raises(IntegrityError, match="does not belong"):
        list(api(InPlace(blob), len(blob), huge))


@given(
    st.binary(max_size=HEADER_SIZE + 3 * SEALED),
    st.integers(0, HEADER_SIZE + 4 * SEALED),
    ANY_API,
)
def test_arbitrary_bytes_and_sizes_raise_only_vault_errors(
    data: bytes, size: int, api: str
) -> None:
    with pytest.raises(VaultError):
        list(APIS[api](InPlace(data), size))


def test_a_failed_segment_leaves_no_plaintext_in_the_buffer() -> None:
    plaintext = b"\xaa" * SEGMENT
    header, parts = split(encrypt(plaintext + b"tail"))
    decryptor = objectformat.ObjectDecryptor(KEY, header, REF)
    forged = bytearray(parts[0])
    forged[-1] ^= 0x01
    out = bytearray(SEGMENT)
    with pytest.raises(IntegrityError):
        decryptor.open_segment_into(0, memoryview(bytes(forged)), False, memoryview(out))
    assert out == bytes(SEGMENT)  # AESGCM had written the plaintext before it checked


# -- the buffers --------------------------------------------------------------------------


def _pooled_plaintext() -> list[bytearray]:
    return list(PLAINTEXT_BUFFERS._idle)


def test_a_buffer_still_referenced_by_a_kept_slice_is_never_reused() -> None:
    size = objectformat.DEFAULT_SEGMENT_SIZE
    first, second = os.urandom(2 * size), os.urandom(2 * size)
    blobs = [encrypt(first, size), encrypt(second, size)]
    kept: list[memoryview] = []
    for view in decrypt_views(KEY, REF, InPlace(blobs[0]), len(blobs[0])):
        kept.append(view[:16])  # breaks the contract: a slice outlives its iteration
    assert all(kept[-1].obj is not pooled for pooled in _pooled_plaintext())
    assert b"".join(views(blobs[1])) == second
    assert bytes(kept[-1]) == first[size : size + 16]  # nobody wrote into it


def test_the_plaintext_buffer_goes_back_to_the_pool_and_is_reused() -> None:
    size = objectformat.DEFAULT_SEGMENT_SIZE
    blob = encrypt(os.urandom(3 * size), size)
    buffers: set[int] = set()
    for _ in range(3):
        for view in decrypt_views(KEY, REF, InPlace(blob), len(blob)):
            buffers.add(id(view.obj))
    assert len(buffers) == 1


def test_decryptions_in_many_threads_never_share_a_buffer() -> None:
    size = objectformat.DEFAULT_SEGMENT_SIZE // 16
    plaintexts = [os.urandom(3 * size + i) for i in range(12)] * 3
    blobs = [encrypt(p, size) for p in plaintexts]

    def read(blob: bytes) -> bytes:
        parts: Iterator[memoryview] = decrypt_views(KEY, REF, io.BytesIO(blob), len(blob))
        return b"".join(bytes(view) for view in parts)

    with ThreadPoolExecutor(6) as threads:
        assert list(threads.map(read, blobs)) == plaintexts


def test_an_object_in_a_file_blob_store_is_read_into_the_reused_buffer(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    plaintext = os.urandom(5 * SEGMENT + 9)
    key = new_object_key()
    writer = store.create(key)
    writer.write(encrypt(plaintext))
    writer.commit()
    reader = store.open(key)
    size = HEADER_SIZE + len(plaintext) + 6 * TAG_SIZE
    assert b"".join(bytes(view) for view in decrypt_views(KEY, REF, reader, size)) == plaintext
    reader.close()


def _outcome(make: Callable[[], object]) -> str:
    try:
        make()
    except IntegrityError as e:
        return str(e)
    return "accepted"


@given(st.integers(0, HEADER_SIZE - 1), st.integers(0, 7), st.booleans())
def test_a_header_checked_as_bytes_is_judged_as_the_parsed_one(
    at: int, bit: int, foreign: bool
) -> None:
    header = bytearray(encrypt(b"payload")[:HEADER_SIZE])
    header[at] ^= 1 << bit
    data = bytes(header)
    expected = ObjectRef(REF.dossier_id, REF.document_id, 2, 1) if foreign else REF
    as_bytes = _outcome(lambda: objectformat.ObjectDecryptor(KEY, data, expected))
    parsed = _outcome(
        lambda: objectformat.ObjectDecryptor(KEY, objectformat.parse_header(data), expected)
    )
    assert as_bytes == parsed != "accepted"
