"""cosignature/v1 (c2sp.org/tlog-cosignature): the bytes, the key id, and what counts."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.witness.fixtures import ORIGIN, WITNESS_NAME, WITNESS_SIGNER, history
from vault.crypto.localkeys import LocalCheckpointSigner
from vault.errors import InvalidArgumentError
from vault.journal.checkpoint import Checkpoint
from vault.witness.cosignature import (
    QuorumNotMetError,
    WitnessKey,
    cosign,
    require_quorum,
    signed_message,
    valid_cosigners,
    with_cosignatures,
)

KEY = WitnessKey(WITNESS_NAME, WITNESS_SIGNER.public_key)
BODY = Checkpoint(ORIGIN, 3, bytes(range(32)), 1_764_000_000_000_000, bytes(32)).body()
TIME = 1_764_000_000


def test_vector_cosignature_bytes_as_docs_format_states() -> None:
    """docs/format.md, "Witness cosignatures": fixed keys, fixed time."""
    assert KEY.encode() == VECTOR_KEY
    assert signed_message(BODY, TIME) == b"cosignature/v1\ntime 1764000000\n" + BODY.encode()
    line = cosign(BODY, WITNESS_NAME, WITNESS_SIGNER, TIME)
    assert line == VECTOR_LINE
    stamp = base64.b64decode(line.split(" ")[2])
    assert stamp[:4] == KEY.key_id
    assert int.from_bytes(stamp[4:12], "big") == TIME
    assert len(stamp) == 76


VECTOR_KEY = "witness.test/w1+ad1959f2+BCmsuuFBvMrwsi4alNNNC8c2HlJtC/4SyJeUvJMilm3X"
VECTOR_LINE = (
    "\u2014 witness.test/w1 rRlZ8gAAAABpJIEAqKsmTGxC6JAnXWoAW669XPZEBBpDFq0fEeykiymQ1csjZlAJ"
    "gYCMIPI18xP6dr9hKSKVHZ4r+JEO6jCLOhyVBg==\n"
)


def test_key_round_trips_and_a_wrong_key_id_is_refused() -> None:
    assert WitnessKey.parse(KEY.encode()) == KEY
    name, _, rest = KEY.encode().partition("+")
    with pytest.raises(InvalidArgumentError):
        WitnessKey.parse(f"{name}+00000000+{rest.partition('+')[2]}")


def test_log_signature_type_is_not_a_cosigner_key() -> None:
    """A note vkey of type 0x01 (the log's) is not a cosignature/v1 key (0x04)."""
    raw = base64.b64encode(b"\x01" + bytes(32)).decode()
    with pytest.raises(InvalidArgumentError):
        WitnessKey.parse(f"{WITNESS_NAME}+00000000+{raw}")


def test_cosignature_on_another_body_does_not_count() -> None:
    note = history("a", 3).note()
    forged = note + cosign(BODY, WITNESS_NAME, WITNESS_SIGNER, TIME)  # another checkpoint's
    assert valid_cosigners(forged, [KEY]) == set()


def test_cosignature_with_its_timestamp_changed_does_not_count() -> None:
    note = history("a", 3).note()
    line = cosign(note.partition("\n\n")[0] + "\n", WITNESS_NAME, WITNESS_SIGNER, TIME)
    assert valid_cosigners(note + line, [KEY]) == {KEY.identity}
    stamp = bytearray(base64.b64decode(line.split(" ")[2]))
    stamp[11] ^= 1
    tampered = f"\u2014 {WITNESS_NAME} {base64.b64encode(bytes(stamp)).decode()}\n"
    assert valid_cosigners(note + tampered, [KEY]) == set()


def test_one_witness_cosigning_twice_counts_once_toward_the_quorum() -> None:
    note = history("a", 3).note()
    body = note.partition("\n\n")[0] + "\n"
    twice = with_cosignatures(
        note, [cosign(body, WITNESS_NAME, WITNESS_SIGNER, t) for t in (TIME, TIME + 1)]
    )
    assert require_quorum(twice, [KEY, KEY], 1) == 1
    with pytest.raises(QuorumNotMetError):
        require_quorum(twice, [KEY, KEY], 2)


def test_unknown_witness_cosignature_is_ignored() -> None:
    other = LocalCheckpointSigner(Ed25519PrivateKey.generate())
    note = history("a", 3).note()
    body = note.partition("\n\n")[0] + "\n"
    stranger = note + cosign(body, WITNESS_NAME, other, TIME)  # same name, another key
    with pytest.raises(QuorumNotMetError):
        require_quorum(stranger, [KEY], 1)


def test_with_cosignatures_appends_each_line_once() -> None:
    note = history("a", 2).note()
    line = cosign(note.partition("\n\n")[0] + "\n", WITNESS_NAME, WITNESS_SIGNER, TIME)
    assert with_cosignatures(with_cosignatures(note, [line]), [line, line]) == note + line
