"""Witness cosignatures of checkpoints: c2sp.org/tlog-cosignature, `cosignature/v1` (Ed25519).

A cosignature is one more signed-note line under a checkpoint, by a witness:

    \\u2014 <witness name> base64(key id (4) || timestamp (8, big-endian) || signature (64))\\n

key id = SHA-256(<name> || 0x0A || 0x04 || 32-byte Ed25519 public key)[:4]; the
signature is Ed25519 over `cosignature/v1\\ntime <timestamp>\\n` followed by the whole
checkpoint body (every line before the blank line, newlines included); the timestamp is
POSIX seconds, decimal without leading zeros, at most 2^63 - 1. A witness key is written as
a note vkey `<name>+<key id hex>+<base64(0x04 || public key)>`.

`valid_cosigners` counts the configured witnesses with a valid cosignature on a note and
ignores every other line (unknown names, other key ids, the log's own signature); a
cosignature that fails its key is not counted. `require_quorum` raises
`QuorumNotMetError`. Pure: no I/O, no clock; the witness's private key stays behind a
`Signer`. What it does not: check the log's signature or the checkpoint's consistency
(vault/journal/checkpoint.py, vault/witness/witness.py).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from vault.errors import IntegrityError, InvalidArgumentError
from vault.journal.checkpoint import Signer, key_id, raw_public

COSIGNATURE_V1 = 0x04  # the signed-note signature type of an Ed25519 cosignature/v1
MAX_TIMESTAMP = 2**63 - 1
_DASH = "\u2014 "
_STAMP = 4 + 8 + 64  # key id, timestamp, Ed25519 signature


class QuorumNotMetError(IntegrityError):
    """A checkpoint without enough valid cosignatures from the configured witnesses."""


@dataclass(frozen=True, slots=True)
class WitnessKey:
    """A witness: its name and Ed25519 cosigning key."""

    name: str
    public_key: Ed25519PublicKey

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key, COSIGNATURE_V1)

    @property
    def identity(self) -> tuple[str, bytes]:
        """What makes two configured witnesses one: name and public key."""
        return self.name, raw_public(self.public_key)

    def encode(self) -> str:
        encoded = base64.b64encode(bytes([COSIGNATURE_V1]) + raw_public(self.public_key)).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    @classmethod
    def parse(cls, text: str) -> WitnessKey:
        try:
            name, hex_id, encoded = text.strip().split("+", 2)  # base64 may hold "+"
            raw = base64.b64decode(encoded, validate=True)
            if len(raw) != 33 or raw[0] != COSIGNATURE_V1:
                raise ValueError("not a cosignature/v1 Ed25519 key")
            if not name or any(c.isspace() or c == "+" for c in name):
                raise ValueError("bad key name")
            key = cls(name, Ed25519PublicKey.from_public_bytes(raw[1:]))
        except (ValueError, IndexError, binascii.Error) as e:
            raise InvalidArgumentError("malformed witness key (name+id+base64(0x04||key))") from e
        if key.key_id.hex() != hex_id:
            raise InvalidArgumentError("witness key id does not match its key")
        return key


def signed_message(body: str, timestamp: int) -> bytes:
    """What a cosignature/v1 signs: the header line, the time line, the checkpoint body."""
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


def cosign(body: str, name: str, signer: Signer, timestamp: int) -> str:
    """The cosignature line (newline-terminated) of the witness `name` on `body`."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise InvalidArgumentError("a cosignature's timestamp is 0..2^63-1")
    key = WitnessKey(name, signer.public_key)
    signature = signer.sign(signed_message(body, timestamp))
    stamp = key.key_id + timestamp.to_bytes(8, "big") + signature
    return f"{_DASH}{name} {base64.b64encode(stamp).decode()}\n"


def note_body(note: str) -> str:
    """A signed note's body: its lines before the blank line, newlines included."""
    return note.partition("\n\n")[0] + "\n"


def _signature_lines(note: str) -> list[tuple[str, bytes]]:
    """(name, decoded stamp) of each well-formed signature line of the note."""
    lines = []
    for line in note.partition("\n\n")[2].splitlines():
        if not line.startswith(_DASH):
            continue
        name, _, stamp = line.removeprefix(_DASH).partition(" ")
        try:
            lines.append((name, base64.b64decode(stamp, validate=True)))
        except binascii.Error:
            continue
    return lines


def cosignature_valid(body: str, key: WitnessKey, stamp: bytes) -> bool:
    if len(stamp) != _STAMP or stamp[:4] != key.key_id:
        return False
    timestamp = int.from_bytes(stamp[4:12], "big")
    if timestamp > MAX_TIMESTAMP:
        return False
    try:
        key.public_key.verify(stamp[12:], signed_message(body, timestamp))
    except InvalidSignature:
        return False
    return True


def valid_cosigners(note: str, keys: Iterable[WitnessKey]) -> set[tuple[str, bytes]]:
    """The identities of the witnesses in `keys` that validly cosigned the note."""
    body, lines = note_body(note), _signature_lines(note)
    found = set()
    for key in keys:
        if any(n == key.name and cosignature_valid(body, key, s) for n, s in lines):
            found.add(key.identity)
    return found


def require_quorum(note: str, keys: Sequence[WitnessKey], quorum: int) -> int:
    """The number of distinct witnesses that cosigned; QuorumNotMetError below `quorum`."""
    count = len(valid_cosigners(note, keys))
    if count < quorum:
        raise QuorumNotMetError(
            f"the checkpoint carries {count} valid witness cosignature(s), {quorum} required"
        )
    return count


def with_cosignatures(note: str, lines: Iterable[str]) -> str:
    """The note with each cosignature line it does not carry yet appended."""
    present = set(note.splitlines())
    extra = [line for line in dict.fromkeys(lines) if line.rstrip("\n") not in present]
    return note + "".join(line if line.endswith("\n") else line + "\n" for line in extra)
