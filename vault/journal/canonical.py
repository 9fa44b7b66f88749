"""Journal entry v1: the schema and the byte-exact canonical check (pure; no I/O).

docs/format.md, "Journal entry v1", is the reference. An entry's bytes are canonical when
they parse as a JSON object with exactly the fourteen keys of the schema, each value of
its type, within its range and (for `v`, `actor_kind`, `decision`) in its enumeration,
and re-encoding that object gives the same bytes: keys sorted, separators `,` and `:`,
no whitespace, strings escaped as Python's `json.dumps(..., ensure_ascii=True)` does.

Used by the offline verifier (vault/journal/verify.py) and by the decoder the server's
replay reads entries with (`parse_canonical` in vault/journal/chain.py). What it does not
do: hash, link or order entries (chain.py and verify.py do).
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

FORMAT_VERSION = 1
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
_PREV = re.compile(r"[0-9a-f]{64}")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# bytes orjson writes differently from the canonical encoder: any byte outside
# printable ASCII, and the short escapes orjson never uses for these code points
_SLOW_PATH = re.compile(rb"[^\x20-\x7e]|\\u")


class NotCanonicalError(ValueError):
    """The bytes parse, but are not the canonical encoding of a v1 entry."""


def _string(value: object) -> bool:
    return type(value) is str and not _LONE_SURROGATE.search(value)


def _integer(value: object, low: int) -> bool:
    return type(value) is int and low <= value <= MAX_INT


def check_fields(fields: object) -> None:
    """Raises NotCanonicalError unless `fields` is a v1 entry's object (keys, types, ranges,
    enumerations)."""
    if type(fields) is not dict or fields.keys() != KEYS:
        raise NotCanonicalError("the entry does not have exactly the v1 keys")
    if type(fields["v"]) is not int or fields["v"] != FORMAT_VERSION:
        raise NotCanonicalError("v is not spelled as the integer 1")
    if not _integer(fields["seq"], 1) or not _integer(fields["time_us"], 0):
        raise NotCanonicalError("seq or time_us is not an integer in range")
    if not all(_string(fields[key]) for key in _STRINGS):
        raise NotCanonicalError("a string field is not a string")
    if not all(fields[key] is None or _string(fields[key]) for key in _OPTIONAL):
        raise NotCanonicalError("an optional field is neither a string nor null")
    documents = fields["documents"]
    if type(documents) is not list or not all(_string(item) for item in documents):
        raise NotCanonicalError("documents is not a list of strings")
    if type(fields["emergency"]) is not bool:
        raise NotCanonicalError("emergency is not a boolean")
    if type(fields["prev"]) is not str or not _PREV.fullmatch(fields["prev"]):
        raise NotCanonicalError("prev is not 64 lowercase hex digits")
    if fields["decision"] not in DECISIONS:
        raise NotCanonicalError("decision is not one of the v1 values")
    if fields["actor_kind"] not in ACTOR_KINDS:
        raise NotCanonicalError("actor_kind is not one of the v1 values")


def encode(fields: dict[str, object]) -> bytes:
    """The canonical encoding of an entry's object (the reference encoder)."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def is_canonical_encoding(raw: bytes | memoryview, fields: dict[str, object]) -> bool:
    """True if `raw` is exactly `encode(fields)`. Printable ASCII without escapes takes a
    fast path (orjson writes those bytes as the reference encoder does)."""
    if not _SLOW_PATH.search(raw):
        return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS) == raw
    return encode(fields) == raw


def parse(raw: bytes | memoryview) -> dict[str, Any]:
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


def _strict_json(raw: bytes | memoryview) -> object:
    try:
        return json.loads(bytes(raw), parse_constant=_refuse_constant)
    except RecursionError as e:
        raise ValueError("not JSON text") from e


def check_canonical(raw: bytes | memoryview, fields: object) -> None:
    """Raises NotCanonicalError unless `raw`, parsed as `fields`, is a canonical v1 entry."""
    check_fields(fields)
    if not is_canonical_encoding(raw, fields):  # type: ignore[arg-type]
        raise NotCanonicalError("the bytes are not the canonical encoding of the entry")
