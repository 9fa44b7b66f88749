"""The witness's decision (c2sp.org/tlog-witness add-checkpoint), one attack per test.

Each test submits request bodies as the vault would; the witness answers with a
cosignature or an error whose HTTP status the edge sends (vault/witness/server.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.witness.fixtures import (
    LOG_KEY,
    ORIGIN,
    WITNESS_NAME,
    WITNESS_SIGNER,
    MemoryLog,
    history,
)
from vault.crypto.localkeys import LocalCheckpointSigner
from vault.errors import (
    IntegrityError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    VaultError,
)
from vault.journal.checkpoint import Checkpoint, sign
from vault.witness.cosignature import WitnessKey, valid_cosigners
from vault.witness.protocol import encode_request
from vault.witness.server import load_or_create_key, status_of
from vault.witness.state import StateFile
from vault.witness.witness import ForkError, InconsistentProofError, StaleSizeError, Witness

KEY = WitnessKey(WITNESS_NAME, WITNESS_SIGNER.public_key)


def witness(tmp_path: Path) -> Witness:
    state = StateFile(tmp_path / "witness-state.json")
    return Witness(WITNESS_NAME, WITNESS_SIGNER, [LOG_KEY], state, clock=lambda: 1_764_000_000)


def submit(w: Witness, log: MemoryLog, old: int, note: str | None = None) -> str:
    note = log.note() if note is None else note
    line = w.add_checkpoint(encode_request(old, log.proof(old), note))
    assert valid_cosigners(note + line, [KEY]) == {KEY.identity}
    return line


def refused(w: Witness, body: bytes) -> VaultError:
    with pytest.raises(VaultError) as caught:
        w.add_checkpoint(body)
    return caught.value


def test_first_checkpoint_and_its_extensions_are_cosigned(tmp_path: Path) -> None:
    w, log = witness(tmp_path), history("a", 5)
    submit(w, log, 0)
    submit(w, log.append(b"6", b"7"), 5)
    submit(w, log, 7)  # the same tree again (a re-signed checkpoint): cosigned
    latest = w.latest(ORIGIN)
    assert latest is not None
    assert latest.size == 7


def test_stale_old_size_is_refused_with_the_witness_size(tmp_path: Path) -> None:
    w, log = witness(tmp_path), history("a", 5)
    submit(w, log, 0)
    error = refused(w, encode_request(0, [], log.append(b"6").note()))
    assert isinstance(error, StaleSizeError)
    assert error.size == 5
    assert status_of(error) == 409


def test_rollback_to_an_older_checkpoint_is_refused(tmp_path: Path) -> None:
    """The log shows the witness an older, smaller tree: its old size is not the witness's."""
    w, short = witness(tmp_path), history("a", 3)
    long = history("a", 6)
    submit(w, long, 0)
    error = refused(w, encode_request(3, [], short.note()))
    assert isinstance(error, StaleSizeError)
    assert error.size == 6


def test_fork_at_a_cosigned_size_is_refused(tmp_path: Path) -> None:
    """Split view: two histories of one size, both signed by the log key."""
    w, honest, forked = witness(tmp_path), history("a", 8), history("b", 8)
    submit(w, honest, 0)
    error = refused(w, encode_request(8, [], forked.note()))
    assert isinstance(error, ForkError)
    assert status_of(error) == 409


def test_fork_that_grew_past_the_cosigned_size_fails_its_consistency_proof(
    tmp_path: Path,
) -> None:
    """The forked history is larger; its own consistency proof cannot reach the root the
    witness holds."""
    w, honest = witness(tmp_path), history("a", 8)
    forked = history("a", 5).append(b"x6", b"x7", b"x8", b"x9")
    submit(w, honest, 0)
    error = refused(w, encode_request(8, forked.proof(8), forked.note()))
    assert isinstance(error, InconsistentProofError)
    assert status_of(error) == 422


def test_proof_from_size_zero_must_be_empty(tmp_path: Path) -> None:
    w, log = witness(tmp_path), history("a", 4)
    error = refused(w, encode_request(0, [bytes(32)], log.note()))
    assert isinstance(error, IntegrityError)
    assert status_of(error) == 422


def test_checkpoint_not_signed_by_the_log_key_is_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    w, log = witness(tmp_path), history("a", 4)
    impostor = LocalCheckpointSigner(Ed25519PrivateKey.generate())
    body = log.note().partition("\n\n")[0] + "\n"
    forged = f"{body}\n\u2014 {ORIGIN} {sign_stamp(body, impostor)}\n"
    error = refused(w, encode_request(0, [], forged))
    assert isinstance(error, PermissionDeniedError)
    assert status_of(error) == 403
    assert w.latest(ORIGIN) is None


def sign_stamp(body: str, signer: LocalCheckpointSigner) -> str:
    from vault.journal.checkpoint import sign_note

    return sign_note(body, ORIGIN, signer).rsplit(" ", 1)[1].strip()


def test_unknown_origin_is_not_found(tmp_path: Path) -> None:
    w, log = witness(tmp_path), history("a", 2)
    other = log.note().replace(ORIGIN, "another.example/log")
    error = refused(w, encode_request(0, [], other))
    assert isinstance(error, NotFoundError)
    assert status_of(error) == 404


@pytest.mark.parametrize(
    "body",
    [b"", b"old 01\n\nx", b"old -1\n\nx", b"old 1\nnot base64!\n\nx", b"new 1\n\nx", b"\xff"],
)
def test_malformed_requests_are_bad_requests(tmp_path: Path, body: bytes) -> None:
    error = refused(witness(tmp_path), body)
    assert isinstance(error, InvalidArgumentError)
    assert status_of(error) == 400


def test_old_size_beyond_the_checkpoint_is_a_bad_request(tmp_path: Path) -> None:
    log = history("a", 2)
    error = refused(witness(tmp_path), encode_request(3, [], log.note()))
    assert status_of(error) == 400


def test_v1_checkpoint_without_a_merkle_root_is_refused(tmp_path: Path) -> None:
    from tests.witness.fixtures import LOG_SIGNER

    v1 = sign(Checkpoint(ORIGIN, 2, bytes(32), 1), ORIGIN, LOG_SIGNER)
    assert status_of(refused(witness(tmp_path), encode_request(0, [], v1))) == 400


def test_state_survives_a_restart_and_still_refuses_the_fork(tmp_path: Path) -> None:
    honest, forked = history("a", 8), history("b", 8)
    submit(witness(tmp_path), honest, 0)
    restarted = witness(tmp_path)  # a new process on the same state file
    assert isinstance(refused(restarted, encode_request(0, [], forked.note())), StaleSizeError)
    assert isinstance(refused(restarted, encode_request(8, [], forked.note())), ForkError)
    submit(restarted, honest.append(b"9"), 8)


def test_corrupt_state_file_stops_the_witness_rather_than_forgetting(tmp_path: Path) -> None:
    """A witness that silently restarted from size 0 would cosign any fork."""
    submit(witness(tmp_path), history("a", 3), 0)
    path = tmp_path / "witness-state.json"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(IntegrityError):
        witness(tmp_path)


def test_state_file_is_replaced_whole_and_no_temporary_is_left(tmp_path: Path) -> None:
    w, log = witness(tmp_path), history("a", 3)
    submit(w, log, 0)
    submit(w, log.append(b"4"), 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["witness-state.json"]
    assert b'"size":4' in (tmp_path / "witness-state.json").read_bytes()


def test_witness_key_is_created_once_and_private(tmp_path: Path) -> None:
    first = load_or_create_key(tmp_path / "k" / "witness-key.pem")
    again = load_or_create_key(tmp_path / "k" / "witness-key.pem")
    assert first.private_bytes_raw() == again.private_bytes_raw()
    assert (tmp_path / "k" / "witness-key.pem").stat().st_mode & 0o077 == 0
