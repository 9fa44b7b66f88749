"""Object format v1: round trips, and every tampering named after the attack it stops."""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import struct
import tracemalloc
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given, settings
from hypothesis import strategies as st

from vault.crypto.objectformat import (
    HEADER_SIZE,
    TAG_SIZE,
    ObjectEncryptor,
    ObjectRef,
    ciphertext_size,
    decrypt_range,
    decrypt_stream,
    parse_header,
)
from vault.crypto.objectformat.buffers import _BufferPool
from vault.errors import IntegrityError, VaultError

KEY = bytes(range(32))
REF = ObjectRef(uuid.UUID(int=1), uuid.UUID(int=2), 1, 1)
SEGMENT = 64


def encrypt(plaintext: bytes, key: bytes = KEY, ref: ObjectRef = REF, piece: int = 50) -> bytes:
    out = bytearray()
    encryptor = ObjectEncryptor(key, ref, out.extend, segment_size=SEGMENT)
    for start in range(0, len(plaintext), piece):
        encryptor.write(plaintext[start : start + piece])
    encryptor.close()
    return bytes(out)


def decrypt(blob: bytes, key: bytes = KEY, ref: ObjectRef = REF) -> bytes:
    return b"".join(decrypt_stream(key, ref, io.BytesIO(blob).read))


def segments(blob: bytes) -> list[bytes]:
    body = blob[HEADER_SIZE:]
    step = SEGMENT + TAG_SIZE
    return [body[i : i + step] for i in range(0, len(body), step)]


@given(st.binary(max_size=1000), st.integers(min_value=1, max_value=200))
@settings(max_examples=200)
def test_any_plaintext_round_trips_whatever_the_write_sizes(data: bytes, piece: int) -> None:
    blob = encrypt(data, piece=piece)
    assert len(blob) == ciphertext_size(len(data), SEGMENT)
    assert decrypt(blob) == data


def test_same_plaintext_encrypts_differently_each_time() -> None:
    assert encrypt(b"x" * 100) != encrypt(b"x" * 100)


def test_memory_stays_bounded_by_one_segment_of_buffer() -> None:
    emitted: list[int] = []
    encryptor = ObjectEncryptor(
        KEY, REF, lambda view: emitted.append(len(view)), segment_size=SEGMENT
    )
    for _ in range(100):
        encryptor.write(b"y" * 1000)
        assert encryptor.buffered <= SEGMENT
    encryptor.close()
    assert max(emitted[1:]) == SEGMENT + TAG_SIZE


def test_truncated_stream_is_rejected() -> None:
    blob = encrypt(os.urandom(300))
    with pytest.raises(IntegrityError):
        decrypt(blob[:-1])


def test_dropped_last_segment_is_rejected() -> None:
    blob = encrypt(os.urandom(300))
    with pytest.raises(IntegrityError):
        decrypt(blob[:HEADER_SIZE] + b"".join(segments(blob)[:-1]))


def test_stream_cut_at_the_header_is_rejected() -> None:
    with pytest.raises(IntegrityError):
        decrypt(encrypt(b"abc")[:HEADER_SIZE])


def test_reordered_segments_are_rejected() -> None:
    blob = encrypt(os.urandom(300))
    parts = segments(blob)
    parts[0], parts[1] = parts[1], parts[0]
    with pytest.raises(IntegrityError):
        decrypt(blob[:HEADER_SIZE] + b"".join(parts))


def test_duplicated_segment_is_rejected() -> None:
    blob = encrypt(os.urandom(300))
    parts = segments(blob)
    with pytest.raises(IntegrityError):
        decrypt(blob[:HEADER_SIZE] + b"".join([parts[0], *parts]))


def test_segment_from_another_document_is_rejected() -> None:
    ours, theirs = encrypt(os.urandom(300)), encrypt(os.urandom(300))
    parts = segments(ours)
    parts[1] = segments(theirs)[1]
    with pytest.raises(IntegrityError):
        decrypt(ours[:HEADER_SIZE] + b"".join(parts))


@pytest.mark.parametrize("offset", range(HEADER_SIZE))
def test_header_edited_in_any_byte_is_rejected(offset: int) -> None:
    blob = bytearray(encrypt(b"payload"))
    blob[offset] ^= 0x01
    with pytest.raises(IntegrityError):
        decrypt(bytes(blob))


def test_flipped_ciphertext_bit_is_rejected() -> None:
    blob = bytearray(encrypt(os.urandom(200)))
    blob[HEADER_SIZE + 70] ^= 0x80
    with pytest.raises(IntegrityError):
        decrypt(bytes(blob))


def test_object_moved_to_another_document_is_rejected() -> None:
    blob = encrypt(b"payload")
    other = ObjectRef(REF.dossier_id, uuid.UUID(int=3), 1, 1)
    with pytest.raises(IntegrityError, match="does not belong"):
        decrypt(blob, ref=other)


def test_object_under_another_documents_key_is_rejected() -> None:
    with pytest.raises(IntegrityError, match="header failed authentication"):
        decrypt(encrypt(b"payload"), key=os.urandom(32))


def test_unknown_format_version_is_rejected() -> None:
    blob = bytearray(encrypt(b"payload"))
    blob[4] = 2
    with pytest.raises(IntegrityError, match="unsupported object format version 2"):
        decrypt(bytes(blob))


def test_only_authenticated_segments_are_released() -> None:
    blob = bytearray(encrypt(os.urandom(3 * SEGMENT + 5)))
    blob[-1] ^= 0x01  # corrupt the last segment only
    released: list[bytes] = []
    stream: Iterator[bytes] = decrypt_stream(KEY, REF, io.BytesIO(bytes(blob)).read)
    with pytest.raises(IntegrityError):
        released.extend(stream)
    assert len(released) == 3  # the three intact segments, never the tampered one


@given(st.binary(max_size=HEADER_SIZE + 200))
def test_parsing_arbitrary_bytes_raises_only_vault_errors(data: bytes) -> None:
    with pytest.raises(VaultError):
        decrypt(data)
    with contextlib.suppress(VaultError):
        parse_header(data[:HEADER_SIZE])


def _opener(blob: bytes):  # type: ignore[no-untyped-def]
    def open_at(offset: int, length: int):  # type: ignore[no-untyped-def]
        return io.BytesIO(blob[offset : offset + length]).read

    return open_at


@given(
    st.binary(max_size=400),
    st.integers(min_value=0, max_value=450),
    st.one_of(st.none(), st.integers(min_value=0, max_value=450)),
)
def test_any_range_decrypts_to_the_same_bytes_as_slicing(
    data: bytes, offset: int, length: int | None
) -> None:
    blob = encrypt(data)
    got = b"".join(decrypt_range(KEY, REF, _opener(blob), len(blob), offset, length))
    end = len(data) if length is None else offset + length
    assert got == data[offset:end]


def test_a_range_reads_only_the_segments_that_cover_it() -> None:
    blob = encrypt(os.urandom(10 * SEGMENT))
    asked: list[tuple[int, int]] = []

    def open_at(offset: int, length: int):  # type: ignore[no-untyped-def]
        asked.append((offset, length))
        return io.BytesIO(blob[offset : offset + length]).read

    b"".join(decrypt_range(KEY, REF, open_at, len(blob), 3 * SEGMENT + 5, 10))
    assert asked == [(0, HEADER_SIZE), (HEADER_SIZE + 3 * (SEGMENT + TAG_SIZE), SEGMENT + TAG_SIZE)]


def test_a_range_of_a_truncated_object_is_rejected() -> None:
    blob = encrypt(os.urandom(3 * SEGMENT))
    cut = blob[: -TAG_SIZE - 1]
    with pytest.raises(IntegrityError):
        b"".join(decrypt_range(KEY, REF, _opener(cut), len(blob), 2 * SEGMENT, 10))


def test_a_range_of_an_object_whose_recorded_size_was_shortened_is_rejected() -> None:
    blob = encrypt(os.urandom(3 * SEGMENT))
    shortened = len(blob) - (SEGMENT + TAG_SIZE)  # pretends segment 1 is the last one
    with pytest.raises(IntegrityError):
        b"".join(decrypt_range(KEY, REF, _opener(blob), shortened, SEGMENT, 10))


# -- the encryptor's paths: chunks held by reference, copied, or sealed in place ---------

SALT, NONCE_PREFIX = bytes(range(16)), bytes(range(7))
AROUND_SEGMENTS = sorted({n * SEGMENT + d for n in range(4) for d in (-1, 0, 1)} - {-1})
Chunk = bytes | bytearray | memoryview


def encrypt_chunks(chunks: Iterable[Chunk], segment_size: int = SEGMENT) -> bytes:
    """The object for these writes, with a fixed salt and nonce prefix."""
    out = bytearray()
    encryptor = ObjectEncryptor(
        KEY, REF, out.extend, segment_size=segment_size, salt=SALT, nonce_prefix=NONCE_PREFIX
    )
    for chunk in chunks:
        encryptor.write(chunk)
    encryptor.close()
    return bytes(out)


def specified_object(plaintext: bytes) -> bytes:
    """The object docs/format.md describes, sealed segment by segment with AESGCM."""
    header = encrypt_chunks([])[:HEADER_SIZE]  # depends on the key, ids, salt and prefix only
    segment_key = HKDF(hashes.SHA256(), 32, SALT, b"DVLT/v1/segment-key").derive(KEY)
    aead = AESGCM(segment_key)
    pieces = [plaintext[i : i + SEGMENT] for i in range(0, len(plaintext), SEGMENT)] or [b""]
    sealed = []
    for index, piece in enumerate(pieces):
        position = struct.pack(">IB", index, index == len(pieces) - 1)
        sealed.append(aead.encrypt(NONCE_PREFIX + position, piece, header + position))
    return header + b"".join(sealed)


def split(plaintext: bytes, piece: int) -> list[bytes]:
    return [plaintext[i : i + piece] for i in range(0, len(plaintext), piece)]


@pytest.mark.parametrize("size", AROUND_SEGMENTS)
def test_aligned_bytes_held_by_reference_give_the_same_object_as_copied_chunks(
    size: int,
) -> None:
    plaintext = os.urandom(size)
    aligned = split(plaintext, SEGMENT)
    expected = specified_object(plaintext)
    assert encrypt_chunks(aligned) == expected  # bytes: held by reference
    assert encrypt_chunks(bytearray(c) for c in aligned) == expected  # copied
    assert encrypt_chunks(memoryview(bytearray(c)) for c in aligned) == expected  # copied
    assert encrypt_chunks([plaintext]) == expected  # sealed in place, the tail copied
    assert encrypt_chunks(split(plaintext, 7)) == expected  # unaligned: copied
    assert encrypt_chunks(split(plaintext, 2 * SEGMENT)) == expected


_KINDS: dict[str, Callable[[bytes], Chunk]] = {
    "bytes": bytes,
    "bytearray": bytearray,
    "memoryview": lambda b: memoryview(bytearray(b)),
    "readonly memoryview": memoryview,
}


@given(st.data())
@settings(max_examples=300)
def test_any_mix_of_chunk_kinds_and_sizes_gives_the_specified_object(data: st.DataObject) -> None:
    plaintext = data.draw(st.binary(max_size=5 * SEGMENT))
    size = len(plaintext)
    cut = st.one_of(st.integers(0, size), st.sampled_from(range(0, size + 1, SEGMENT)))
    cuts = sorted({0, size, *data.draw(st.lists(cut, max_size=8))})
    spans = list(itertools.pairwise(cuts))
    kinds = data.draw(st.lists(st.sampled_from(sorted(_KINDS)), min_size=len(spans)))
    chunks = [_KINDS[kind](plaintext[a:b]) for kind, (a, b) in zip(kinds, spans, strict=False)]
    assert encrypt_chunks(chunks) == specified_object(plaintext)


def test_a_buffer_the_caller_reuses_after_write_does_not_change_the_object() -> None:
    plaintext = os.urandom(3 * SEGMENT + 10)
    reused = bytearray(SEGMENT)
    out = bytearray()
    encryptor = ObjectEncryptor(
        KEY, REF, out.extend, segment_size=SEGMENT, salt=SALT, nonce_prefix=NONCE_PREFIX
    )
    for piece in split(plaintext, SEGMENT):
        reused[: len(piece)] = piece
        encryptor.write(memoryview(reused)[: len(piece)])
        reused[:] = b"\xff" * SEGMENT  # the caller fills its buffer with the next chunk
    chunk = bytearray(b"tail")
    encryptor.write(chunk)
    chunk.clear()  # a BufferError if the encryptor had kept a view of it
    encryptor.close()
    assert bytes(out) == specified_object(plaintext + b"tail")


def _peak_memory_while_encrypting(chunks: list[Chunk], segment_size: int) -> int:
    encryptor = ObjectEncryptor(KEY, REF, lambda view: None, segment_size=segment_size)
    tracemalloc.start()
    try:
        for chunk in chunks:
            encryptor.write(chunk)
        encryptor.close()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_aligned_bytes_are_sealed_without_a_copy_into_a_reused_buffer() -> None:
    size = 64 * 1024
    chunks = [os.urandom(size) for _ in range(8)]
    encrypt_chunks(chunks[:1], segment_size=size)  # leaves a sealed buffer in the pool
    assert _peak_memory_while_encrypting(list(chunks), size) < size // 4
    copies = [bytearray(chunk) for chunk in chunks]  # the copying path, for contrast
    assert _peak_memory_while_encrypting(list(copies), size) >= size


def test_the_sealed_buffer_pool_stays_bounded() -> None:
    pool = _BufferPool(keep=2, largest=100)
    given_back = [bytearray(10) for _ in range(3)]
    for buffer in given_back:
        pool.give(buffer)
    pool.give(bytearray(101))  # too large to keep
    assert pool.take(10) is given_back[1]  # the oldest was dropped
    assert pool.take(10) is given_back[2]
    assert all(pool.take(10) is not buffer for buffer in given_back)
    assert len(pool.take(101)) == 101


def test_encryptors_in_many_threads_never_share_a_buffer() -> None:
    plaintexts = [os.urandom(3 * SEGMENT + i) for i in range(16)] * 4
    with ThreadPoolExecutor(8) as threads:
        blobs = list(threads.map(lambda p: encrypt(p, piece=SEGMENT), plaintexts))
    assert [decrypt(blob) for blob in blobs] == plaintexts


def test_a_reader_that_returns_short_reads_decrypts_the_same() -> None:
    plaintext = os.urandom(3 * SEGMENT + 5)
    stream = io.BytesIO(encrypt(plaintext))

    def read(size: int) -> bytes:
        return stream.read(min(size, 7))

    assert b"".join(decrypt_stream(KEY, REF, read)) == plaintext
