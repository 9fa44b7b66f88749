"""Signed checkpoints (C2SP signed note): format, signature, and forgeries refused."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vault.errors import IntegrityError, InvalidArgumentError
from vault.journal.checkpoint import Checkpoint, VerifierKey, open_note, sign, sign_note


class KeySigner:
    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()

    @property
    def public_key(self):  # type: ignore[no-untyped-def]
        return self.key.public_key()

    def sign(self, message: bytes) -> bytes:
        return self.key.sign(message)


SIGNER = KeySigner()
ORIGIN = "dossier-vault.test/journal"
KEY = VerifierKey(ORIGIN, SIGNER.public_key)
CHECKPOINT = Checkpoint(ORIGIN, 42, bytes(range(32)), 1_764_000_000_000_000)


def test_note_has_the_tlog_checkpoint_layout() -> None:
    note = sign(CHECKPOINT, ORIGIN, SIGNER)
    body, signature = note.split("\n\n")
    assert body.split("\n") == [
        ORIGIN,
        "42",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "time 1764000000000000",
    ]
    assert signature.startswith(f"\u2014 {ORIGIN} ")


def test_signed_note_opens_with_the_verifier_key() -> None:
    assert open_note(sign(CHECKPOINT, ORIGIN, SIGNER), KEY) == CHECKPOINT


def test_verifier_key_round_trips_as_text() -> None:
    assert VerifierKey.parse(KEY.encode()).encode() == KEY.encode()


def test_verifier_key_with_a_wrong_key_id_is_refused() -> None:
    name, _, encoded = KEY.encode().split("+", 2)
    with pytest.raises(InvalidArgumentError):
        VerifierKey.parse(f"{name}+00000000+{encoded}")


@pytest.mark.parametrize(("old", "new"), [("\n42\n", "\n43\n"), ("time 17", "time 18")])
def test_edited_checkpoint_body_is_rejected(old: str, new: str) -> None:
    note = sign(CHECKPOINT, ORIGIN, SIGNER).replace(old, new)
    with pytest.raises(IntegrityError, match="signature is invalid"):
        open_note(note, KEY)


def test_checkpoint_signed_by_another_key_is_rejected() -> None:
    note = sign(CHECKPOINT, ORIGIN, KeySigner())
    with pytest.raises(IntegrityError, match="no signature by the expected key"):
        open_note(note, KEY)


@pytest.mark.parametrize("note", ["", "garbage", "a\nb\n\n", "x\n1\n!!\ntime 1\n\n\u2014 x y\n"])
def test_malformed_notes_are_integrity_errors(note: str) -> None:
    with pytest.raises(IntegrityError):
        open_note(note, KEY)


V2 = Checkpoint(ORIGIN, 42, bytes(range(32)), 1_764_000_000_000_000, bytes(range(32, 64)))


def _signed_body(body: str) -> str:
    return sign_note(body, ORIGIN, SIGNER)


def test_a_v2_checkpoint_round_trips_and_is_told_from_v1_by_its_chain_line() -> None:
    opened = open_note(sign(V2, ORIGIN, SIGNER), KEY)
    assert opened == V2
    assert (opened.version, opened.root, opened.chain_hash) == (2, V2.head, V2.chain)
    assert open_note(sign(CHECKPOINT, ORIGIN, SIGNER), KEY).version == 1


@pytest.mark.parametrize(
    "body",
    [
        V2.body().replace("chain ", "chain  "),  # two spaces
        V2.body().replace("chain ", "Chain "),
        V2.body().replace("chain ", "head "),  # another extension line
        V2.body() + "chain " + V2.body().split("chain ")[1],  # two chain lines
        V2.body().replace("time", "chain", 1),  # no time line
        V2.body().replace("=\n", "\n", 2),  # unpadded base64
        V2.body().replace(V2.body().split("chain ")[1], "AAAA\n"),  # a short hash
    ],
)
def test_a_v2_body_that_is_not_canonical_is_refused(body: str) -> None:
    with pytest.raises(IntegrityError):
        open_note(_signed_body(body), KEY)
