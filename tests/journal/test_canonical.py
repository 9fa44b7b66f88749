"""Journal entry v1 canonical form, as an independent reading of docs/format.md checks it:
encode, parse, encode is the identity; a byte changed anywhere in an entry is caught; the
enumerations follow the domain's actor kinds."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.journal.test_chain import EVENT
from vault.domain.model import ActorKind
from vault.errors import IntegrityError
from vault.journal.canonical import ACTOR_KINDS, DECISIONS, MAX_INT
from vault.journal.chain import ENTRY_DOMAIN, JournalEvent, canonical_bytes, parse_canonical
from vault.journal.export import ENTRY_MIDDLE, ENTRY_PREFIX
from vault.journal.verify import FailureKind, VerificationError, verify_export

_SPEC_KEYS = [
    *("action", "actor_kind", "actor_profession", "actor_ref", "decision", "documents"),
    *("dossier", "emergency", "prev", "reason", "request_id", "seq", "time_us", "v"),
]
_INTERESTING = b' \t"\\/.,:0e-]}\x7fuU\xc3'  # JSON syntax, escapes, DEL, UTF-8

events = st.builds(
    JournalEvent,
    time_us=st.integers(0, MAX_INT),
    actor_kind=st.sampled_from(sorted(ACTOR_KINDS)),
    actor_ref=st.text(max_size=12),
    action=st.text(max_size=12),
    dossier=st.none() | st.text(max_size=12),
    documents=st.lists(st.text(max_size=6), max_size=3).map(tuple),
    decision=st.sampled_from(sorted(DECISIONS)),
    reason=st.text(max_size=12),
    emergency=st.booleans(),
    request_id=st.text(max_size=12),
    actor_profession=st.none() | st.text(max_size=4),
    secret_care=st.booleans(),
)
entries = st.tuples(st.integers(1, MAX_INT), events, st.binary(min_size=32, max_size=32))
# mostly printable strings of some length: a changed byte lands inside a value more often
wordy = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=4, max_size=16)
wordy_entries = st.tuples(
    st.integers(1, MAX_INT),
    events,
    st.binary(min_size=32, max_size=32),
).flatmap(
    lambda t: st.builds(
        replace, st.just(t[1]), actor_ref=wordy, reason=wordy, request_id=wordy, action=wordy
    ).map(lambda event: (t[0], event, t[2]))
)


def _spec_escape(text: str) -> str:
    """A string as docs/format.md spells it, written from the text, not from json.dumps."""
    short = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f"}
    short["\r"] = "\\r"
    out = []
    for char in text:
        point = ord(char)
        if char in short:
            out.append(short[char])
        elif 0x20 <= point < 0x7F:
            out.append(char)
        elif point > 0xFFFF:
            high, low = divmod(point - 0x10000, 0x400)
            out.append(f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}")
        else:
            out.append(f"\\u{point:04x}")
    return '"' + "".join(out) + '"'


def _spec_value(value: object) -> str:
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _spec_escape(value)
    assert isinstance(value, list)
    return "[" + ",".join(_spec_escape(item) for item in value) + "]"


def _spec_canonical(fields: object) -> bool:
    """The reference reading of docs/format.md: is `fields` a v1 entry?"""
    if not isinstance(fields, dict):
        return False
    if sorted(fields) == sorted([*_SPEC_KEYS, "secret_care"]):
        if fields["secret_care"] is not True:  # present only when true
            return False
    elif sorted(fields) != _SPEC_KEYS:
        return False
    integers = fields["v"], fields["seq"], fields["time_us"]
    if any(type(v) is not int for v in integers) or fields["v"] != 1:
        return False
    if not (1 <= fields["seq"] <= 2**53 and 0 <= fields["time_us"] <= 2**53):
        return False
    strings = [fields[k] for k in ("action", "actor_ref", "reason", "request_id", "prev")]
    strings += [fields[k] for k in ("actor_profession", "dossier") if fields[k] is not None]
    documents = fields["documents"]
    if not isinstance(documents, list) or not all(type(s) is str for s in [*strings, *documents]):
        return False
    if any(0xD800 <= ord(c) <= 0xDFFF for s in [*strings, *documents] for c in s):
        return False
    if type(fields["emergency"]) is not bool or not re.fullmatch("[0-9a-f]{64}", fields["prev"]):
        return False
    return fields["decision"] in ("allow", "deny") and fields["actor_kind"] in ACTOR_KINDS


def _spec_encode(fields: dict[str, object]) -> bytes:
    body = ",".join(f"{_spec_escape(key)}:{_spec_value(fields[key])}" for key in sorted(fields))
    return ("{" + body + "}").encode()


def _spec_accepts(raw: bytes) -> bool:
    try:
        fields = json.loads(raw.decode())
    except ValueError:
        return False
    return _spec_canonical(fields) and _spec_encode(fields) == raw


def _line(canonical: bytes, recorded: bytes | None = None) -> bytes:
    digest = recorded or hashlib.sha256(ENTRY_DOMAIN + canonical).digest()
    return ENTRY_PREFIX + digest.hex().encode() + ENTRY_MIDDLE + canonical + b"}\n"


def _refusal(line: bytes) -> FailureKind | None:
    try:
        verify_export([line], None)
    except VerificationError as failure:
        return failure.kind
    return None


@settings(max_examples=300)
@given(entries)
def test_encode_parse_encode_is_the_identity_and_follows_the_spec(
    entry: tuple[int, JournalEvent, bytes],
) -> None:
    seq, event, prev = entry
    encoded = canonical_bytes(seq, event, prev)
    assert parse_canonical(encoded) == (seq, event, prev)
    assert canonical_bytes(*parse_canonical(encoded)) == encoded
    assert encoded == _spec_encode(json.loads(encoded))  # the spec's spelling, char by char
    assert _refusal(_line(encoded)) in {None, FailureKind.BROKEN_LINK}  # a lone entry's prev


@settings(max_examples=25, deadline=None)
@given(entries | wordy_entries, st.integers(0, 255))
def test_a_single_byte_changed_is_refused_by_reader_and_verifier(
    entry: tuple[int, JournalEvent, bytes], byte: int
) -> None:
    """Every position of the entry gets `byte` and each byte of `_INTERESTING`: with the
    recorded hash kept, the verifier refuses; with the hash recomputed, reader and
    verifier refuse exactly the changes the specification does not accept as canonical."""
    seq, event, prev = entry
    encoded = canonical_bytes(seq, event, prev)
    recorded = hashlib.sha256(ENTRY_DOMAIN + encoded).digest()
    for index, new in itertools.product(range(len(encoded)), {byte, *_INTERESTING}):
        if encoded[index] == new:
            continue
        mutated = encoded[:index] + bytes([new]) + encoded[index + 1 :]
        assert _refusal(_line(mutated, recorded)) is not None, mutated
        spec = _spec_accepts(mutated)
        form = _refusal(_line(mutated)) in {FailureKind.MALFORMED, FailureKind.NON_CANONICAL}
        assert form is not spec, mutated
        assert _reader_accepts(mutated) is spec, mutated


def _reader_accepts(raw: bytes) -> bool:
    try:
        parse_canonical(raw)
    except IntegrityError:
        return False
    return True


def test_every_actor_kind_of_the_domain_can_be_journaled() -> None:
    assert {kind.value for kind in ActorKind} | {"anonymous"} == ACTOR_KINDS


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b'"decision":"allow"', b'"decision":"maybe"'),
        (b'"actor_kind":"patient"', b'"actor_kind":"robot"'),
        (b'"emergency":false', b'"emergency":0'),
        (b'"v":1}', b'"v":1.0}'),
        (b'"reason":"holder"', b'"reason":"h\\/b"'),
        (b'"reason":"holder"', b'"reason":"\\u00E9"'),
        (b'"reason":"holder"', '"reason":"\u00e9"'.encode()),
        (b'"reason":"holder"', b'"reason":"\\ud800"'),
        (b'"seq":7', b'"seq":9007199254740993'),
    ],
)
def test_reader_of_the_database_refuses_non_canonical_entries(old: bytes, new: bytes) -> None:
    encoded = canonical_bytes(7, EVENT, b"\x01" * 32)
    assert old in encoded
    with pytest.raises(IntegrityError, match="canonical"):
        parse_canonical(encoded.replace(old, new))


def test_an_event_outside_the_enumerations_is_refused_when_read_back() -> None:
    encoded = canonical_bytes(1, replace(EVENT, decision="maybe"), bytes(32))
    with pytest.raises(IntegrityError):
        parse_canonical(encoded)


@pytest.mark.parametrize("text", ["\ud800", "a\udfff"])
def test_an_event_with_a_lone_surrogate_is_never_written(text: str) -> None:
    with pytest.raises(IntegrityError, match="surrogate"):
        canonical_bytes(1, replace(EVENT, reason=text), bytes(32))
    with pytest.raises(IntegrityError, match="surrogate"):
        canonical_bytes(1, replace(EVENT, documents=("ok", text)), bytes(32))


def test_a_surrogate_pair_and_an_escaped_backslash_u_are_written() -> None:
    encoded = canonical_bytes(1, replace(EVENT, reason="\U0001f600 \\ud800"), bytes(32))
    assert b'"reason":"\\ud83d\\ude00 \\\\ud800"' in encoded
    assert parse_canonical(encoded)[1].reason == "\U0001f600 \\ud800"
