"""Journal entry v1: the schema and the byte-exact canonical check (pure; no I/O).

docs/format.md, "Journal entry v1", is the reference. An entry's bytes are canonical when
they parse as a JSON object with exactly the fourteen keys of the schema (and
`secret_care`, only when true; `documents_count` and `documents_sha256`, together or
not at all), each value of its type, within its range and (for `v`, `actor_kind`,
`decision`) in its enumeration, the whole at most `MAX_ENTRY_BYTES`, and re-encoding
that object gives the same bytes: keys sorted, separators `,` and `:`, no whitespace,
strings escaped as Python's `json.dumps(..., ensure_ascii=True)` does.

Used by the offline verifier (vault/journal/verify.py) and by the decoder the server's
replay reads entries with (`parse_canonical` in vault/journal/chain.py). What it does not
do: hash, link or order entries (chain.py and verify.py do).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import orjson

FORMAT_VERSION = 1
MAX_ENTRY_BYTES = 65_535  # the most an entry bundle's uint16 length frames (tlog-tiles)
MAX_INT = 2**53  # integers are within [-2^53, 2^53], bounds included
DECISIONS = frozenset({"allow", "deny"})
ACTOR_KINDS = frozenset(
    {
        "patient",
        "legal_representative",
        "professional",
        "insurer",
        "complementary_insurer",
        "occupational_physician",
        "insurance_physician",
        "operator",
        "auditor",
        "anonymous",
    }
)
_STRINGS = ("action", "actor_kind", "actor_ref", "decision", "reason", "request_id")
_OPTIONAL = ("actor_profession", "dossier")
KEYS = frozenset({*_STRINGS, *_OPTIONAL, "v", "seq", "time_us", "documents", "emergency", "prev"})
SORTED_KEYS = tuple(sorted(KEYS))  # by code point; every key is ASCII
CARE_FLAG = "secret_care"  # optional: present (and true) only in a secret-care context
SORTED_KEYS_SECRET = tuple(sorted(KEYS | {CARE_FLAG}))
SET_KEYS = ("documents_count", "documents_sha256")  # a set of documents by digest
_PREV = re.compile(r"[0-9a-f]{64}")
_HEX = "0123456789abcdef"
_OPTIONAL_KEYS = {
    tuple(sorted(KEYS | set(care) | set(summary))): (*care, *summary)
    for care in ((), (CARE_FLAG,))
    for summary in ((), SET_KEYS)
}
"""Each key tuple a v1 entry may have, with the optional keys it holds."""


class NotCanonicalError(ValueError):
    """The bytes parse, but are not the canonical encoding of a v1 entry."""


def _types(profession: type, dossier: type) -> tuple[type, ...]:
    kinds = {key: str for key in _STRINGS} | {"documents": list, "emergency": bool}
    kinds |= {"v": int, "seq": int, "time_us": int, "prev": str}
    kinds |= {"actor_profession": profession, "dossier": dossier}
    return tuple(kinds[key] for key in SORTED_KEYS)


_NONE = type(None)
_TYPES = frozenset(_types(p, d) for p in (str, _NONE) for d in (str, _NONE))


def check_fields(fields: object) -> None:
    """Raises NotCanonicalError unless `fields` is a v1 entry's object: exactly the keys,
    in sorted order, each value of its type, in its range and enumeration. (Lone
    surrogates are refused by `parse`, not here.)"""
    if type(fields) is not dict:
        raise NotCanonicalError("the entry is not a JSON object")
    optional = _OPTIONAL_KEYS.get(tuple(fields))
    if optional is None:
        raise NotCanonicalError("the entry does not have exactly the v1 keys, sorted")
    values: Iterable[object] = fields.values()
    if optional:
        _check_optional(fields, optional)
        values = [value for key, value in fields.items() if key not in optional]
    if tuple(map(type, values)) not in _TYPES:
        raise NotCanonicalError("a value is not of its key's type")
    seq, time_us = fields["seq"], fields["time_us"]
    if fields["v"] != FORMAT_VERSION or not (1 <= seq <= MAX_INT and 0 <= time_us <= MAX_INT):
        raise NotCanonicalError("v, seq or time_us is out of its range")
    for item in fields["documents"]:
        if type(item) is not str:
            raise NotCanonicalError("documents is not a list of strings")
    prev = fields["prev"]
    if len(prev) != 64 or prev.strip(_HEX):  # a str (typed above): 64 lowercase hex
        raise NotCanonicalError("prev is not 64 lowercase hex digits")
    if fields["decision"] not in DECISIONS:
        raise NotCanonicalError("decision is not one of the v1 values")
    if fields["actor_kind"] not in ACTOR_KINDS:
        raise NotCanonicalError("actor_kind is not one of the v1 values")


def _check_optional(fields: dict[str, Any], optional: tuple[str, ...]) -> None:
    if CARE_FLAG in optional and fields[CARE_FLAG] is not True:
        raise NotCanonicalError("secret_care is present only when true")
    if SET_KEYS[0] in optional:
        count, digest = fields["documents_count"], fields["documents_sha256"]
        if type(count) is not int or not 0 <= count <= MAX_INT:
            raise NotCanonicalError("documents_count is not an integer in [0, 2^53]")
        if type(digest) is not str or not _PREV.fullmatch(digest):
            raise NotCanonicalError("documents_sha256 is not 64 lowercase hex digits")


def encode(fields: dict[str, object]) -> bytes:
    """The canonical encoding of an entry's object (the reference encoder)."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def is_canonical_encoding(raw: bytes, fields: dict[str, Any]) -> bool:
    """True if `raw` is exactly `encode(fields)`. The reference encoder writes printable
    ASCII only; on such bytes without DEL orjson writes what it writes, unless a string
    holds non-ASCII (escaped by the reference, raw by orjson): then the reference decides."""
    if not raw.isascii() or b"\x7f" in raw:
        return False
    return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS) == raw or encode(fields) == raw


def parse(raw: bytes) -> dict[str, Any]:
    """The entry's object. ValueError if `raw` is not JSON text (RFC 8259) holding an
    object whose `v` is a number equal to 1 (malformed); NotCanonicalError if it is such JSON
    but holds what no canonical entry can (an integer beyond 64 bits, a lone surrogate)."""
    try:
        fields, fast = orjson.loads(raw), True
    except orjson.JSONDecodeError:
        fields, fast = _strict_json(raw), False
    version = fields.get("v") if type(fields) is dict else None
    if type(version) not in (int, float) or version != FORMAT_VERSION:
        raise ValueError("not a v1 journal entry")
    if not fast:
        raise NotCanonicalError("JSON outside the canonical value ranges")
    return fields  # type: ignore[no-any-return]


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _strict_json(raw: bytes) -> object:
    try:
        return json.loads(bytes(raw), parse_constant=_refuse_constant)
    except RecursionError as e:
        raise ValueError("not JSON text") from e


def parse_checked(raw: bytes) -> dict[str, Any]:
    """`parse` then `check_canonical`, in one call: the verifier's hot path (the same
    checks, in the same order, with the same errors)."""
    try:
        fields = orjson.loads(raw)
    except orjson.JSONDecodeError:
        fields = parse(raw)  # raises: ValueError (malformed) or NotCanonicalError
    version = fields.get("v") if type(fields) is dict else None
    if type(version) not in (int, float) or version != FORMAT_VERSION:
        raise ValueError("not a v1 journal entry")
    if len(raw) > MAX_ENTRY_BYTES:
        raise NotCanonicalError(f"the entry is longer than {MAX_ENTRY_BYTES} bytes")
    check_fields(fields)
    if not (
        raw.isascii()
        and b"\x7f" not in raw
        and orjson.dumps(fields, option=orjson.OPT_SORT_KEYS) == raw
    ) and not is_canonical_encoding(raw, fields):
        raise NotCanonicalError("the bytes are not the canonical encoding of the entry")
    return fields  # type: ignore[no-any-return]


def check_canonical(raw: bytes, fields: Any) -> None:
    """Raises NotCanonicalError unless `raw`, parsed as `fields`, is a canonical v1 entry."""
    if len(raw) > MAX_ENTRY_BYTES:
        raise NotCanonicalError(f"the entry is longer than {MAX_ENTRY_BYTES} bytes")
    check_fields(fields)
    if not is_canonical_encoding(raw, fields):
        raise NotCanonicalError("the bytes are not the canonical encoding of the entry")
