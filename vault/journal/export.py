"""Journal export format v1: JSON Lines, one entry or one signed checkpoint per line.

    {"entry_hash":"<64 hex>","entry":<the entry's canonical bytes, verbatim>}
    {"checkpoint": "<signed checkpoint note>"}

An entry line embeds the canonical bytes unchanged, so a verifier hashes them as they
stand (no re-encoding: two implementations cannot disagree). A checkpoint line follows
the entry whose sequence number is the checkpoint's size, at most once. Every line ends
with one LF, the last included. See docs/format.md.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterable

from vault.journal.chain import JournalEntry

ENTRY_PREFIX = b'{"entry_hash":"'
ENTRY_MIDDLE = b'","entry":'
CHECKPOINT_PREFIX = b'{"checkpoint":'
HASH_HEX = 64
CANONICAL_OFFSET = len(ENTRY_PREFIX) + HASH_HEX + len(ENTRY_MIDDLE)


def entry_line(entry: JournalEntry) -> bytes:
    return ENTRY_PREFIX + entry.entry_hash.hex().encode() + ENTRY_MIDDLE + entry.canonical + b"}\n"


def checkpoint_line(note: str) -> bytes:
    """`{"checkpoint": ` (one space), the note as a JSON string escaped as entry strings
    are (ASCII only, `\\uXXXX` lowercase), `}` and a newline: the only spelling a
    verifier accepts."""
    return CHECKPOINT_PREFIX + b" " + json.dumps(note, ensure_ascii=True).encode() + b"}\n"


def export_lines(
    entries: Iterable[JournalEntry], checkpoints: dict[int, str]
) -> Generator[bytes, None, None]:
    """Entry lines in order, each checkpoint right after the entry it covers."""
    for entry in entries:
        yield entry_line(entry)
        note = checkpoints.get(entry.seq)
        if note is not None:
            yield checkpoint_line(note)
