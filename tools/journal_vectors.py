"""The journal's export vectors (tests/vectors/journal-v1.json), built by make_vectors.py.

Positive vectors are whole exports a verifier must accept, with the summary it reports:
a multi-entry journal, strings that need escaping, a range export anchored by a published
checkpoint. Negative vectors are exports a verifier must refuse, each with the failure
kind, sequence number and `dossier-vault journal verify` exit code docs/format.md gives:
one or more per kind, including every way an entry can miss the canonical form. Each
negative vector breaks one thing (hashes recomputed where the fault is not the hash).
Inputs are fixed: the signing key is the seed 00..1f, times and ids are spelled out.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vault.cli.exitcodes import EXIT_NO_CHECKPOINT, VERIFY_EXIT_CODES
from vault.crypto.localkeys import LocalCheckpointSigner
from vault.journal import certificate
from vault.journal.chain import ENTRY_DOMAIN, GENESIS_HASH, JournalEntry, JournalEvent, seal_entry
from vault.journal.checkpoint import Checkpoint, VerifierKey, published_name, sign
from vault.journal.docset import document_set, version_line
from vault.journal.export import ENTRY_MIDDLE, ENTRY_PREFIX, checkpoint_line, entry_line
from vault.journal.verify import FailureKind

ORIGIN = "dossier-vault.example/journal"
SIGNER = LocalCheckpointSigner(Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
OTHER_SIGNER = LocalCheckpointSigner(Ed25519PrivateKey.from_private_bytes(bytes(32)))
KEY = VerifierKey(ORIGIN, SIGNER.public_key).encode()
T0 = 1_764_000_000_000_000
DOSSIER = "01a214a7-83c6-7298-9bfd-b41ded0f71a0"
DOCUMENT = "01a214a7-84e8-76d7-bdd7-948cf2dc75fc"
JOB = "01a214a7-9000-7000-8000-000000000001"

_BASE = JournalEvent(
    time_us=T0,
    actor_kind="professional",
    actor_ref="810000000001",
    action="document.read",
    dossier=DOSSIER,
    documents=(DOCUMENT,),
    decision="allow",
    reason="authorised",
    emergency=False,
    request_id="req-1",
    actor_profession="10",
)
EVENTS = (
    replace(_BASE, actor_kind="patient", actor_ref="ins-hmac:00ff", actor_profession=None,
            reason="holder"),
    replace(_BASE, time_us=T0 + 1_000, request_id="req-2"),
    replace(_BASE, time_us=T0 + 2_000, action="document.list", documents=(), decision="deny",
            reason="blocked", request_id="req-3"),
    replace(_BASE, time_us=T0 + 2_000, actor_kind="anonymous", actor_ref="-",
            actor_profession=None, action="dossier.get", dossier=None, documents=(),
            decision="deny", reason="unauthenticated", request_id="req-4"),
    replace(_BASE, time_us=T0 + 5_000, actor_kind="operator", actor_ref="retention",
            actor_profession=None, action="dossier.destroy", documents=(), reason="deadline",
            emergency=False, request_id=JOB),
)  # fmt: skip
ESCAPES = replace(
    _BASE,
    actor_ref='quote " backslash \\ slash / tab \t newline \n nul \x00 del \x7f',
    reason="accents \u00e9\u00c8, line separator \u2028, emoji \U0001f600",
    documents=("\u0001", "\u00ff", "/"),
    request_id="req-\u00e9",
)

COPIED = ((DOCUMENT, 1), (DOCUMENT, 2), ("01a214a7-8500-7000-8000-00000000000a", 1))
COPY = replace(
    _BASE, actor_kind="patient", actor_ref="ins-hmac:00ff", actor_profession=None,
    action="dossier.export", documents=(), reason="holder", document_set=document_set(COPIED),
)  # fmt: skip
TOO_MANY = ",".join(f'"{uuid.UUID(int=i)}"' for i in range(1_700)).encode()


def chain(events: tuple[JournalEvent, ...]) -> list[JournalEntry]:
    entries, head = [], GENESIS_HASH
    for seq, event in enumerate(events, start=1):
        entries.append(seal_entry(seq, event, head))
        head = entries[-1].chain_hash
    return entries


def note(entries: list[JournalEntry], size: int, *, signer: Any = SIGNER, **changes: Any) -> str:
    covered = entries[size - 1]
    checkpoint = Checkpoint(ORIGIN, size, covered.chain_hash, covered.event.time_us + 500)
    return sign(replace(checkpoint, **changes), ORIGIN, signer)


def export(entries: list[JournalEntry], sizes: tuple[int, ...] = (3, 5)) -> list[bytes]:
    lines = []
    for entry in entries:
        lines.append(entry_line(entry))
        if entry.seq in sizes:
            lines.append(checkpoint_line(note(entries, entry.seq)))
    return lines


def raw_line(canonical: bytes) -> bytes:
    """An entry line around any bytes, its recorded hash recomputed."""
    digest = hashlib.sha256(ENTRY_DOMAIN + canonical).hexdigest().encode()
    return ENTRY_PREFIX + digest + ENTRY_MIDDLE + canonical + b"}\n"


GENUINE = chain(EVENTS)
LINES = export(GENUINE)  # entries 1..5, checkpoints after 3 and 5: 7 lines
SECOND = GENUINE[1].canonical  # every canonical-form vector spoils entry 2 (line index 1)


def _text(lines: list[bytes]) -> str:
    return b"".join(lines).decode()


def _positive(
    name: str, lines: list[bytes], summary: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    return {"name": name, "export": _text(lines), "published": {}, **extra, "summary": summary}


def positive_vectors() -> list[dict[str, Any]]:
    escaped = chain((EVENTS[0], replace(ESCAPES, time_us=T0 + 1_000)))
    copied = chain((EVENTS[0], replace(COPY, time_us=T0 + 1_000, request_id="req-2")))
    range_published = {published_name(2): note(GENUINE, 2)}
    return [
        _positive(
            "five entries, checkpoints after 3 and 5",
            LINES,
            {"entries": 5, "first_seq": 1, "last_seq": 5, "head": GENUINE[-1].chain_hash.hex(),
             "checkpoints_matched": [3, 5], "anchored_at_genesis": True},
            published={published_name(5): note(GENUINE, 5)},
        ),
        _positive(
            "strings that need escaping",
            export(escaped, (2,)),
            {"entries": 2, "first_seq": 1, "last_seq": 2, "head": escaped[-1].chain_hash.hex(),
             "checkpoints_matched": [2], "anchored_at_genesis": True},
            canonical=escaped[1].canonical.decode(),
            strings={"actor_ref": ESCAPES.actor_ref, "reason": ESCAPES.reason,
                     "documents": list(ESCAPES.documents), "request_id": ESCAPES.request_id},
        ),
        _positive(
            "a patient copy: its documents as a count and a digest",
            export(copied, (2,)),
            {"entries": 2, "first_seq": 1, "last_seq": 2, "head": copied[-1].chain_hash.hex(),
             "checkpoints_matched": [2], "anchored_at_genesis": True},
            canonical=copied[1].canonical.decode(),
            document_set_lines=b"".join(sorted(version_line(*v) for v in COPIED)).decode(),
        ),
        _positive(
            "range export: entries 3 to 5, anchored by the published checkpoint of size 2",
            LINES[2:],
            {"entries": 3, "first_seq": 3, "last_seq": 5, "head": GENUINE[-1].chain_hash.hex(),
             "checkpoints_matched": [2, 3, 5], "anchored_at_genesis": False},
            published=range_published,
        ),
    ]  # fmt: skip


def _spoiled(old: bytes, new: bytes) -> list[bytes]:
    """The export with entry 2's canonical bytes edited (hash recomputed)."""
    assert old in SECOND, old
    return [LINES[0], raw_line(SECOND.replace(old, new, 1)), *LINES[2:]]


_NON_CANONICAL = (
    ("a space after a colon", b'"seq":2', b'"seq": 2'),
    ("a space after a comma", b',"seq"', b', "seq"'),
    ("a space before the closing brace", b'"v":1}', b'"v":1 }'),
    ("keys out of order", b'"reason":"authorised","request_id":"req-2"',
     b'"request_id":"req-2","reason":"authorised"'),
    ("a duplicated key", b'"v":1}', b'"v":1,"v":1}'),
    ("1.0 for the integer 1", b'"v":1}', b'"v":1.0}'),
    ("2e0 for the integer 2", b'"seq":2', b'"seq":2e0'),
    ("an extra key", b'"v":1}', b'"v":1,"w":0}'),
    ("a missing key", b'"emergency":false,', b""),
    ("raw non-ASCII in a string", b'"reason":"authorised"', '"reason":"autoris\u00e9"'.encode()),
    ("uppercase hex in an escape", b'"reason":"authorised"', b'"reason":"autoris\\u00E9"'),
    ("an escaped slash", b'"reason":"authorised"', b'"reason":"a\\/b"'),
    ("a needless escape of a letter", b'"reason":"authorised"', b'"reason":"\\u0061uthorised"'),
    ("a raw DEL character", b'"reason":"authorised"', b'"reason":"authorised\x7f"'),
    ("a lone surrogate escape", b'"reason":"authorised"', b'"reason":"\\ud800"'),
    ("decision maybe", b'"decision":"allow"', b'"decision":"maybe"'),
    ("an unknown actor kind", b'"actor_kind":"professional"', b'"actor_kind":"robot"'),
    ("emergency 0 for false", b'"emergency":false', b'"emergency":0'),
    ("a number for a string", b'"actor_profession":"10"', b'"actor_profession":10'),
    ("documents not a list", b'"documents":["' + DOCUMENT.encode() + b'"]',
     b'"documents":"' + DOCUMENT.encode() + b'"'),
    ("uppercase hex in prev", b'"prev":"' + GENUINE[0].chain_hash.hex().encode(),
     b'"prev":"' + GENUINE[0].chain_hash.hex().upper().encode()),
    ("an integer above 2^53", b'"time_us":' + str(T0 + 1_000).encode(),
     b'"time_us":9007199254740993'),
    ("sequence number 0", b'"seq":2', b'"seq":0'),
    ("documents_count without documents_sha256", b'"dossier"', b'"documents_count":3,"dossier"'),
    ("an entry over 65,535 bytes", b'"documents":["' + DOCUMENT.encode() + b'"]',
     b'"documents":[' + TOO_MANY + b"]"),
)  # fmt: skip


def _negative(
    name: str, lines: list[bytes], kind: FailureKind | None, seq: int | None, **extra: Any
) -> dict[str, Any]:
    code = EXIT_NO_CHECKPOINT if kind is None else VERIFY_EXIT_CODES[kind]
    case = {
        "name": name,
        "export": _text(lines),
        "published": {},
        "certificates": [],
        "flags": [],
        **extra,
    }
    return {**case, "kind": kind.value if kind else None, "seq": seq, "exit_code": code}


def _forged(changed: int = 2, **changes: Any) -> list[JournalEntry]:
    events = list(EVENTS)
    events[changed - 1] = replace(events[changed - 1], **changes)
    return chain(tuple(events))


def _upper_hash(line: bytes) -> bytes:
    start, end = len(ENTRY_PREFIX), len(ENTRY_PREFIX) + 64
    return line[:start] + line[start:end].upper() + line[end:]


def _malformed() -> list[dict[str, Any]]:
    m, at = FailureKind.MALFORMED, _negative
    cp3 = LINES[3]
    return [
        at("a line that is neither an entry nor a checkpoint", [LINES[0], b'{"x":1}\n'], m, 1),
        at("an empty line", [LINES[0], b"\n", *LINES[1:]], m, 1),
        at("a CRLF line ending", [LINES[0][:-1] + b"\r\n", *LINES[1:]], m, None),
        at("no newline after the last line", [*LINES[:-1], LINES[-1][:-1]], m, 5),
        at("uppercase hex in entry_hash", [LINES[0], _upper_hash(LINES[1]), *LINES[2:]], m, 2),
        at("an entry that is not JSON", [LINES[0], raw_line(SECOND[:-1]), *LINES[2:]], m, 2),
        at("a raw control character in a string (not JSON)",
           _spoiled(b'"reason":"authorised"', b'"reason":"a\tb"'), m, 2),
        at("a leading zero (not JSON)", _spoiled(b'"seq":2', b'"seq":02'), m, 2),
        at("entry format version 2", _spoiled(b'"v":1}', b'"v":2}'), m, 2),
        at("a repeated checkpoint line", [*LINES[:4], cp3, *LINES[4:]], m, 3),
        at("a checkpoint line out of place", [*LINES[:3], LINES[4], cp3, *LINES[5:]], m, 4),
        at("a checkpoint line without its space", [*LINES[:3], cp3.replace(b'": "', b'":"', 1),
           *LINES[4:]], m, 3),
        at("a checkpoint line with the dash unescaped",
           [*LINES[:3], cp3.replace(b"\\u2014", "\u2014".encode()), *LINES[4:]], m, 3),
        at("a published checkpoint whose file name is not its size", LINES, m, 5,
           published={published_name(4): note(GENUINE, 5)}),
    ]  # fmt: skip


def _chain_failures() -> list[dict[str, Any]]:
    at, k = _negative, FailureKind
    edited = b"".join(
        [
            raw_line(SECOND)[: len(ENTRY_PREFIX) + 64],
            ENTRY_MIDDLE,
            SECOND.replace(b'"decision":"allow"', b'"decision":"deny"'),
            b"}\n",
        ]
    )
    rehashed = _forged(decision="deny")
    backwards = chain((*EVENTS[:2], replace(EVENTS[2], time_us=T0), *EVENTS[3:]))
    late = [*LINES[:3], checkpoint_line(note(GENUINE, 3, time_us=T0 + 1_999)), *LINES[4:]]
    return [
        at("entry 3 missing", [LINES[0], LINES[1], *LINES[4:]], k.GAP, 3),
        at("entry 2 repeated", [LINES[0], LINES[1], LINES[1], *LINES[2:]], k.REORDERING, 2),
        at("entry 2 edited, its hash kept", [LINES[0], edited, *LINES[2:]], k.EDITED_ENTRY, 2),
        at("non-canonical and edited: non-canonical wins",
           [LINES[0], edited.replace(b'"seq":2', b'"seq": 2'), *LINES[2:]], k.NON_CANONICAL, 2),
        at("entry 2 edited and rehashed: entry 3's link breaks",
           [LINES[0], entry_line(rehashed[1]), *LINES[2:]], k.BROKEN_LINK, 3),
        at("an entry older than the one before it", export(backwards, ()), k.TIME_BACKWARDS, 3),
        at("a checkpoint older than the entry it covers", late, k.TIME_BACKWARDS, 3),
        at("a checkpoint signed by another key",
           [*LINES[:3], checkpoint_line(note(GENUINE, 3, signer=OTHER_SIGNER)), *LINES[4:]],
           k.BAD_SIGNATURE, 3),
        at("a checkpoint of another origin",
           [*LINES[:3], checkpoint_line(note(GENUINE, 3, origin="other/log")), *LINES[4:]],
           k.BAD_SIGNATURE, 3),
        at("history rewritten under a genuine checkpoint",
           [*export(rehashed, ())[:3], LINES[3]], k.REWRITTEN_HISTORY, 3),
        at("a range that does not start where the published checkpoint ends",
           export(rehashed, (3, 5))[2:], k.REWRITTEN_HISTORY, 2,
           published={published_name(2): note(GENUINE, 2)}),
        at("the tail cut under a published checkpoint", LINES[:4], k.TAIL_CUT, 3,
           published={published_name(5): note(GENUINE, 5)}, flags=["--expect-complete"]),
        at("a certificate whose decision entry is not a destruction", LINES, k.CERTIFICATE, 4,
           certificates=[_certificate(4)]),
        at("no checkpoint at all, one required", export(GENUINE, ()), None, None,
           flags=["--require-checkpoint"]),
    ]  # fmt: skip


def _certificate(seq: int) -> str:
    body = certificate.Certificate(
        uuid.UUID(DOSSIER), "deadline", uuid.UUID(JOB), T0 + 3_000, T0 + 6_000, seq,
        GENUINE[seq - 1].chain_hash, (1,), (),
    )  # fmt: skip
    return certificate.sign(body, ORIGIN, SIGNER)


def negative_vectors() -> list[dict[str, Any]]:
    canonical = [
        _negative(name, _spoiled(old, new), FailureKind.NON_CANONICAL, 2)
        for name, old, new in _NON_CANONICAL
    ]
    return [*_malformed(), *canonical, *_chain_failures()]


def build() -> dict[str, Any]:
    return {
        "verifier_key": KEY,
        "valid": positive_vectors(),
        "invalid": negative_vectors(),
    }


def render_markdown(vectors: dict[str, Any]) -> list[str]:
    """The table of negative vectors for docs/format.md."""
    lines = ["| negative vector | kind | seq | exit |", "|---|---|---|---|"]
    for case in vectors["invalid"]:
        kind = case["kind"] or "(no checkpoint matched)"
        lines.append(f"| {case['name']} | {kind} | {case['seq']} | {case['exit_code']} |")
    return lines
