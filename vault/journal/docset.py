"""A set of document versions recorded by digest in a journal entry (pure; no I/O).

An entry names the documents a request touched in `documents`; a request about a whole
dossier's documents (the patient's copy, `dossier.export`) records instead how many
versions it covered and one SHA-256 over them (`documents_count`, `documents_sha256`;
docs/format.md, "Journal entry v1"), so that its entry stays within the format's
maximum size however large the dossier (ADR 0045). The digest is over lines
`<document id>/<version>` LF, sorted by byte value, which an auditor holding the copy
rebuilds from its `METADATA.JSON` (`document_id`, `version`). What it does not do: read
the index or the archive (the caller passes the versions).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable


def version_line(document_id: uuid.UUID | str, version: int) -> bytes:
    """One version's line: the id as 36 lowercase characters (8-4-4-4-12), `/`, the
    version in decimal, LF."""
    return f"{uuid.UUID(str(document_id))}/{version}\n".encode()


def document_set(versions: Iterable[tuple[uuid.UUID | str, int]]) -> tuple[int, str]:
    """(count, SHA-256 hex) of the set of (document id, version) pairs."""
    lines = sorted({version_line(document_id, version) for document_id, version in versions})
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line)
    return len(lines), digest.hexdigest()
