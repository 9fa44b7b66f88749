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
from typing import Any

from vault.errors import IntegrityError, JournalEntryTooLargeError
from vault.journal.canonical import (
    FORMAT_VERSION,
    KEYS,
    MAX_ENTRY_BYTES,
    MAX_INT,
    SET_KEYS,
    NotCanonicalError,
    check_canonical,
)
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
    # a set of document versions as (count, SHA-256 hex): vault/journal/docset.py
    document_set: tuple[int, str] | None = None

    def __post_init__(self) -> None:
        """Refuses an event whose entry could exceed MAX_ENTRY_BYTES, at any place in
        the journal (a bug in its builder: the request fails here, before it joins a
        group commit)."""
        if _size_bound(self) > MAX_ENTRY_BYTES:
            size = len(_encode(_fields(MAX_INT, _at_max_time(self), bytes(32))))
            if size > MAX_ENTRY_BYTES:
                raise JournalEntryTooLargeError(_too_large(size, self))


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


def _as_read(**fields: Any) -> JournalEvent:
    """An event as an entry holds it, built without the builder's bound (the entry's
    bytes were checked against the format's maximum; the bound allows for any seq)."""
    event = object.__new__(JournalEvent)
    for name, value in fields.items():
        object.__setattr__(event, name, value)
    return event


def _at_max_time(event: JournalEvent) -> JournalEvent:
    """`event` at the latest time an entry may have, built without re-checking it."""
    return _as_read(
        **{name: getattr(event, name) for name in JournalEvent.__slots__} | {"time_us": MAX_INT}
    )


def _size_bound(event: JournalEvent) -> int:
    """An upper bound of the entry's size at any seq and time: each character of a string
    is at most 12 bytes escaped (`\\ud83d\\ude00`), each document 3 more (`"",`)."""
    chars = len(event.actor_ref) + len(event.action) + len(event.reason) + len(event.decision)
    chars += len(event.actor_kind)
    chars += len(event.request_id) + len(event.dossier or "") + len(event.actor_profession or "")
    documents = event.documents
    chars += sum(map(len, documents)) if documents else 0
    return _OVERHEAD + 12 * chars + 3 * len(documents)


def _too_large(size: int, event: JournalEvent) -> str:
    return (
        f"journal entry of {size} bytes ({event.action}, {len(event.documents)} documents) "
        f"exceeds the format's maximum of {MAX_ENTRY_BYTES} bytes"
    )


def _encode(fields: dict[str, object]) -> str:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _overhead() -> int:
    """The size of the longest entry whose strings are all empty (null outweighs "")."""
    fields: dict[str, object] = {key: "" for key in KEYS} | {"v": FORMAT_VERSION}
    fields |= {"seq": MAX_INT, "time_us": MAX_INT, "documents": [], "emergency": False}
    fields |= {"prev": "0" * 64, "actor_profession": None, "dossier": None}
    fields |= {"secret_care": True, "documents_count": MAX_INT, "documents_sha256": "0" * 64}
    return len(_encode(fields))


_OVERHEAD = _overhead()


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
    } | (_optional(event) if event.secret_care or event.document_set is not None else {})


def _optional(event: JournalEvent) -> dict[str, object]:
    fields: dict[str, object] = {"secret_care": True} if event.secret_care else {}
    if event.document_set is not None:
        fields |= dict(zip(SET_KEYS, event.document_set, strict=True))
    return fields


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
    event = _as_read(
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
        document_set=_document_set(fields),
    )
    return fields["seq"], event, bytes.fromhex(fields["prev"])


def _document_set(fields: dict[str, Any]) -> tuple[int, str] | None:
    count = fields.get(SET_KEYS[0])
    return None if count is None else (count, fields[SET_KEYS[1]])


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
    encoded = _encode(fields)
    if len(encoded) > MAX_ENTRY_BYTES:  # unreachable past JournalEvent's own check
        raise JournalEntryTooLargeError(_too_large(len(encoded), event))
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
