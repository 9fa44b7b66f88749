"""Journal entry format v1: canonical bytes and the hash chain (pure; no I/O).

An entry is a flat JSON object encoded canonically (docs/format.md, "Journal entry v1"):
keys sorted, no whitespace, ASCII only, values restricted to strings, integers within
±2^53, booleans, null and lists of strings, so two implementations cannot disagree on
its bytes. Two domain-separated hashes link the entries:

    entry_hash = SHA-256("DVLT/v1/journal-entry\\x00" || canonical_bytes)
    chain_hash = SHA-256("DVLT/v1/journal-link\\x00"  || previous chain_hash || entry_hash)

The canonical bytes carry the sequence number and the previous chain hash, so an entry
cannot be moved, and the first entry's previous hash is 32 zero bytes. Entries hold
opaque ids and codes only: no health data, no patient identifier, no title.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from vault.errors import IntegrityError
from vault.journal.canonical import FORMAT_VERSION, NotCanonicalError, check_canonical
from vault.journal.canonical import parse as parse_fields

GENESIS_HASH = bytes(32)
ENTRY_DOMAIN = b"DVLT/v1/journal-entry\x00"
LINK_DOMAIN = b"DVLT/v1/journal-link\x00"
_MAX_SAFE_INT = 2**53


@dataclass(frozen=True, slots=True)
class JournalEvent:
    """What happened, before it gets a place in the chain."""

    time_us: int  # microseconds since the Unix epoch, UTC
    actor_kind: str
    actor_ref: str  # public professional id, or an opaque reference for patients
    action: str
    dossier: str | None
    documents: tuple[str, ...]
    decision: str  # "allow" or "deny"
    reason: str
    emergency: bool
    request_id: str
    actor_profession: str | None = None
    secret_care: bool = False  # made in a minor's secret-care context: written only if true


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """An entry in its place. `canonical` holds the bytes that were hashed (as stored);
    verification re-encodes the fields rather than trusting them."""

    seq: int
    event: JournalEvent
    prev_hash: bytes
    entry_hash: bytes
    chain_hash: bytes
    canonical: bytes = field(default=b"", compare=False, repr=False)


def _fields(seq: int, event: JournalEvent, prev_hash: bytes) -> dict[str, object]:
    return {
        "v": FORMAT_VERSION,
        "seq": seq,
        "time_us": event.time_us,
        "actor_kind": event.actor_kind,
        "actor_ref": event.actor_ref,
        "actor_profession": event.actor_profession,
        "action": event.action,
        "dossier": event.dossier,
        "documents": list(event.documents),
        "decision": event.decision,
        "reason": event.reason,
        "emergency": event.emergency,
        "request_id": event.request_id,
        "prev": prev_hash.hex(),
    } | ({"secret_care": True} if event.secret_care else {})


def parse_canonical(canonical: bytes) -> tuple[int, JournalEvent, bytes]:
    """Reads back (seq, event, prev_hash) from canonical bytes; IntegrityError if malformed
    or not in canonical form (vault/journal/canonical.py: keys, types, enumerations, and
    the bytes re-encoded and compared)."""
    try:
        fields = parse_fields(canonical)
        check_canonical(canonical, fields)
    except NotCanonicalError as e:
        raise IntegrityError(f"journal entry is not in canonical form: {e}") from None
    except ValueError as e:
        raise IntegrityError("malformed journal entry") from e
    event = JournalEvent(
        time_us=fields["time_us"],
        actor_kind=fields["actor_kind"],
        actor_ref=fields["actor_ref"],
        action=fields["action"],
        dossier=fields["dossier"],
        documents=tuple(fields["documents"]),
        decision=fields["decision"],
        reason=fields["reason"],
        emergency=fields["emergency"],
        request_id=fields["request_id"],
        actor_profession=fields["actor_profession"],
        secret_care=fields.get("secret_care", False),
    )
    return fields["seq"], event, bytes.fromhex(fields["prev"])


def _check_value(value: object) -> None:
    kind = type(value)  # exact types: a bool is not an int here, a str subclass is not str
    if kind is str or kind is bool or value is None:
        return
    if kind is int:
        if abs(value) > _MAX_SAFE_INT:  # type: ignore[arg-type]
            raise IntegrityError("journal integer out of the canonical range")
        return
    if kind is list and all(type(item) is str for item in value):  # type: ignore[attr-defined]
        return
    raise IntegrityError("journal value of a type the canonical form does not allow")


def canonical_bytes(seq: int, event: JournalEvent, prev_hash: bytes) -> bytes:
    """The entry's canonical encoding (the bytes that are hashed)."""
    fields = _fields(seq, event, prev_hash)
    for value in fields.values():
        _check_value(value)
    encoded = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    if "\\ud" in encoded:  # a surrogate escape: valid only as a pair (a scalar value)
        _refuse_lone_surrogates(fields.values())
    return encoded.encode()


def _refuse_lone_surrogates(values: Iterable[object]) -> None:
    for value in values:
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str) and not _is_unicode(text):
                raise IntegrityError("journal string holds a lone surrogate")


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def entry_hash(canonical: bytes) -> bytes:
    return hashlib.sha256(ENTRY_DOMAIN + canonical).digest()


def link_hash(prev_hash: bytes, entry_digest: bytes) -> bytes:
    return hashlib.sha256(LINK_DOMAIN + prev_hash + entry_digest).digest()


def seal_entry(seq: int, event: JournalEvent, prev_hash: bytes) -> JournalEntry:
    """Gives `event` its place after the entry whose chain hash is `prev_hash`."""
    canonical = canonical_bytes(seq, event, prev_hash)
    digest = entry_hash(canonical)
    return JournalEntry(seq, event, prev_hash, digest, link_hash(prev_hash, digest), canonical)


def verify_chain(entries: Iterable[JournalEntry]) -> tuple[int, bytes]:
    """Checks contiguity and every hash from the genesis; returns (count, head hash)."""
    expected_seq, head = 1, GENESIS_HASH
    for entry in entries:
        if entry.seq != expected_seq:
            raise IntegrityError(f"journal gap or reordering at sequence {expected_seq}")
        if entry.prev_hash != head:
            raise IntegrityError(f"journal link broken at sequence {entry.seq}")
        digest = entry_hash(canonical_bytes(entry.seq, entry.event, entry.prev_hash))
        if digest != entry.entry_hash or link_hash(head, digest) != entry.chain_hash:
            raise IntegrityError(f"journal entry edited at sequence {entry.seq}")
        head, expected_seq = entry.chain_hash, expected_seq + 1
    return expected_seq - 1, head
