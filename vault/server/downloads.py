"""A download's opening and its first bytes in one trip to the thread pool.

GetDocument opens a document in the pool (the decision, its journal entry, the keys and
the first segment: vault/service/documents.py), then used to go back to the pool for each
segment, the first included, and once more to learn that there was none left: three
round trips for a document of one segment. `open_inline` reads on, in the thread that
opened it, while what it read stays under `INLINE_BYTES`: a small document comes back
whole, checks included (the object's end is read and verified before it is said to be
complete), a large one with its first segment, the rest left to the caller's read-ahead
(docs/adr/0014). It does not decide, journal or decrypt anything itself.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass

from vault.domain.model import Document

INLINE_BYTES = 256 * 1024  # read on in the opening's trip while less than this is held

Chunks = Generator[bytes, None, None]


@dataclass(frozen=True, slots=True)
class Opened:
    """A document opened: its metadata, the plaintext read so far, and either the rest
    to read (`rest`), or nothing more (`rest` None), or the failure that ended the
    reading (raised by the caller once `ready` is sent, where the read would have)."""

    document: Document
    ready: tuple[bytes, ...]
    rest: Chunks | None
    failure: Exception | None = None

    def close(self) -> None:
        if self.rest is not None:
            self.rest.close()


def open_inline(open_document: Callable[[], tuple[Document, Chunks]]) -> Opened:
    """Opens the document and reads its plaintext while less than INLINE_BYTES is held."""
    document, chunks = open_document()
    ready: list[bytes] = []
    held = 0
    try:
        while held < INLINE_BYTES:
            chunk = next(chunks, None)
            if chunk is None:
                return Opened(document, tuple(ready), None)
            ready.append(chunk)
            held += len(chunk)
    except Exception as error:  # raised after `ready`, where the stream would have
        chunks.close()
        return Opened(document, tuple(ready), None, error)
    return Opened(document, tuple(ready), chunks)
