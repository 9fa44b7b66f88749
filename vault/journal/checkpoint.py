"""Signed journal checkpoints in the C2SP tlog-checkpoint / signed-note text format.

A checkpoint commits to the journal's size and hashes: verifying an export against one
detects a cut tail, rewritten history and reordering, even by someone who could rewrite
the whole journal table, as long as the checkpoint was published outside the database.

Checkpoint body (c2sp.org/tlog-checkpoint), then a signed note (c2sp.org/signed-note):

    <origin>\\n
    <size, decimal>\\n
    <hash: base64, 44 characters>\\n
    time <microseconds since the epoch>\\n          (extension line)
    chain <base64 of the chain hash of entry `size`>\\n   (extension line, v2 only)
    \\n
    \\u2014 <key name> <base64(key id (4) || Ed25519 signature (64))>\\n

Two versions, told apart by their lines (docs/format.md, "Journal checkpoints"): v1
(four lines, written until ADR 0027) has the chain hash of entry `size` as its hash; v2
(five lines, written now) has the RFC 9162 Merkle root of entries 1..size as its hash,
as tlog-checkpoint means it, and the chain hash on its `chain` line. Both stay readable.
The signature covers the body (every line before the blank line, newlines included).
key id = SHA-256(key name || 0x0A || 0x01 || 32-byte Ed25519 public key)[:4]; the
verifier key is written `<name>+<key id hex>+<base64(0x01 || public key)>` (a note
"vkey"). Pure: formatting, parsing and verification; the private key stays behind `Signer`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from vault.errors import IntegrityError, InvalidArgumentError

_ED25519 = 0x01
_DASH = "\u2014 "
_MAX_NOTE = 4096
_MAX_INT = 2**53  # sizes and times, as journal integers
_CHAIN = "chain "


class Signer(Protocol):
    """An Ed25519 key that signs without showing itself (a key provider's checkpoint key)."""

    @property
    def public_key(self) -> Ed25519PublicKey: ...

    def sign(self, message: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """`head` is the note's hash line: the chain hash (v1, `chain` None) or the Merkle
    root (v2, with the chain hash in `chain`)."""

    origin: str
    size: int
    head: bytes
    time_us: int
    chain: bytes | None = None

    @property
    def version(self) -> int:
        return 1 if self.chain is None else 2

    @property
    def chain_hash(self) -> bytes:
        """The chain hash of entry `size`, which both versions commit to."""
        return self.head if self.chain is None else self.chain

    @property
    def root(self) -> bytes | None:
        """The Merkle root of entries 1..size (v2); None for v1."""
        return None if self.chain is None else self.head

    def body(self) -> str:
        head = base64.b64encode(self.head).decode()
        body = f"{self.origin}\n{self.size}\n{head}\ntime {self.time_us}\n"
        if self.chain is not None:
            body += f"{_CHAIN}{base64.b64encode(self.chain).decode()}\n"
        return body


def raw_public(public_key: Ed25519PublicKey) -> bytes:
    """The key's 32 raw bytes, as signed notes write them."""
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(name: str, public_key: Ed25519PublicKey, signature_type: int = _ED25519) -> bytes:
    """A signed note's key id: SHA-256(name || LF || signature type || raw key)[:4]; the
    log's keys are of type 0x01 (Ed25519), witnesses' of cosignature/v1's."""
    material = name.encode() + b"\n" + bytes([signature_type]) + raw_public(public_key)
    return hashlib.sha256(material).digest()[:4]


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """A note verifier key: who signs checkpoints, and how to check them."""

    name: str
    public_key: Ed25519PublicKey

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key)

    def encode(self) -> str:
        encoded = base64.b64encode(bytes([_ED25519]) + raw_public(self.public_key)).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        try:
            name, hex_id, encoded = text.strip().split("+", 2)  # base64 may hold "+"
            raw = base64.b64decode(encoded, validate=True)
            if raw[0] != _ED25519 or len(raw) != 33:
                raise ValueError("not an Ed25519 key")
            key = cls(name, Ed25519PublicKey.from_public_bytes(raw[1:]))
        except (ValueError, IndexError, binascii.Error) as e:
            raise InvalidArgumentError("malformed checkpoint verifier key") from e
        if key.key_id.hex() != hex_id:
            raise InvalidArgumentError("checkpoint verifier key id does not match its key")
        return key


def sign_note(body: str, name: str, signer: Signer) -> str:
    """A signed note (c2sp.org/signed-note): `body` (newline-terminated lines), a blank
    line, one signature line by `name`."""
    signature = signer.sign(body.encode())
    stamp = base64.b64encode(key_id(name, signer.public_key) + signature).decode()
    return f"{body}\n{_DASH}{name} {stamp}\n"


def sign(checkpoint: Checkpoint, name: str, signer: Signer) -> str:
    """The signed checkpoint note."""
    return sign_note(checkpoint.body(), name, signer)


def published_name(size: int) -> str:
    """The file name a checkpoint of `size` is published under."""
    return f"checkpoint-{size:020d}.txt"


def _parse_body(body: str) -> Checkpoint:
    """Canonical only: the body must be byte for byte what `Checkpoint.body` writes; four
    lines are a v1 checkpoint, five whose last is `chain ...` a v2 one."""
    lines = body.split("\n")
    if len(lines) not in (5, 6) or lines[-1] != "" or not lines[3].startswith("time "):
        raise IntegrityError("malformed checkpoint body")
    if len(lines) == 6 and not lines[4].startswith(_CHAIN):
        raise IntegrityError("malformed checkpoint body")
    try:
        size, head = int(lines[1]), base64.b64decode(lines[2], validate=True)
        time_us = int(lines[3].removeprefix("time "))
        chain = None
        if len(lines) == 6:
            chain = base64.b64decode(lines[4].removeprefix(_CHAIN), validate=True)
    except (ValueError, binascii.Error) as e:
        raise IntegrityError("malformed checkpoint body") from e
    if not 1 <= size <= _MAX_INT or not 0 <= time_us <= _MAX_INT or len(head) != 32:
        raise IntegrityError("malformed checkpoint body")
    if chain is not None and len(chain) != 32:
        raise IntegrityError("malformed checkpoint body")
    checkpoint = Checkpoint(lines[0], size, head, time_us, chain)
    if checkpoint.body() != body:  # "+1", "01", "1_0", non-canonical base64...
        raise IntegrityError("checkpoint body not in canonical form")
    return checkpoint


def read_note(note: str) -> Checkpoint:
    """The checkpoint of a note this vault signed and recorded itself, signature not
    checked (the server holds the signer, not necessarily the verifier key); a verifier
    uses `open_note`."""
    return _parse_body(note.partition("\n\n")[0] + "\n")


def open_note(note: str, key: VerifierKey) -> Checkpoint:
    """Verifies a signed checkpoint with `key`; raises IntegrityError otherwise."""
    checkpoint = _parse_body(verified_body(note, key, _MAX_NOTE))
    if checkpoint.origin != key.name:
        raise IntegrityError("checkpoint origin is not the verifier key's name")
    return checkpoint


def verified_body(note: str, key: VerifierKey, max_size: int) -> str:
    """The body of a signed note that carries a valid signature by `key`; raises
    IntegrityError otherwise."""
    if len(note) > max_size or "\n\n" not in note:
        raise IntegrityError("malformed signed note")
    body, _, signatures = note.partition("\n\n")
    body += "\n"
    for line in signatures.splitlines():
        name, _, stamp = line.removeprefix(_DASH).partition(" ")
        if not line.startswith(_DASH) or name != key.name:
            continue
        try:
            raw = base64.b64decode(stamp, validate=True)
        except binascii.Error:
            continue
        if raw[:4] != key.key_id:
            continue
        try:
            key.public_key.verify(raw[4:], body.encode())
        except InvalidSignature:
            raise IntegrityError("the note's signature is invalid") from None
        return body
    raise IntegrityError("the note carries no signature by the expected key")
