"""Whether a document's first bytes agree with its declared media type, for the formats
that open with a signature ("magic bytes"): PDF, PNG, JPEG, GIF, TIFF and DICOM Part 10
(a 128-byte preamble, then `DICM`). A media type without one (XML, JSON, plain text,
other images) always agrees: nothing to check.

What it does not: parse the document, or say which formats the vault takes (formats.py).
Pure: bytes in, a yes or no out.
"""

from __future__ import annotations

SNIFF_BYTES = 1024
"""How many first bytes `agrees` looks at: a PDF's header may follow up to 1 KiB of
leading bytes (readers accept it), DICOM's signature ends at byte 132."""

_PDF = "application/pdf"
_SIGNATURES: dict[str, tuple[tuple[int, bytes], ...]] = {
    "image/png": ((0, b"\x89PNG\r\n\x1a\n"),),
    "image/jpeg": ((0, b"\xff\xd8\xff"),),
    "image/gif": ((0, b"GIF87a"), (0, b"GIF89a")),
    "image/tiff": ((0, b"II*\x00"), (0, b"MM\x00*")),
    "application/dicom": ((128, b"DICM"),),
}


def agrees(media_type: str, head: bytes) -> bool:
    """Whether `head`, the content's first `SNIFF_BYTES` (or all of it, if shorter),
    may be of `media_type`; parameters (`; charset=…`) and case are ignored."""
    essence = media_type.split(";", 1)[0].strip().lower()
    if essence == _PDF:
        return b"%PDF-" in head[:SNIFF_BYTES]
    signatures = _SIGNATURES.get(essence, ())
    return not signatures or any(head[at : at + len(magic)] == magic for at, magic in signatures)
