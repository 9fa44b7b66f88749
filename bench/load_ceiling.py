"""The ceiling for `bench.bench_load`: `bench.ceiling_server`'s bare grpc.aio server,
taught the rest of the mixed workload.

Beside what `bench.ceiling_server` answers (a page of 20 documents), it answers:

- GetDocument with the canned download of the requested document's size (4 KiB to
  256 KiB: the vault's own messages, metadata then chunks), looked up by document id;
- PutDocument with the vault's canned answer, its size that of the bytes received;
- ChangeAccess and QueryJournal with the vault's canned answers (an access entry; a
  history page of 20 entries).

No token, no policy, no database, no journal, no crypto: what any grpc.aio service in
Python costs on this machine for the same messages. A measuring instrument.

    python -m bench.load_ceiling --listen 127.0.0.1:PORT --canned FILE
"""

from __future__ import annotations

import json
import sys
from base64 import b64decode, b64encode
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from google.protobuf.message import Message

from bench import ceiling_server
from bench.ceiling_server import Canned, CeilingServicer, Context
from vault.v1 import vault_pb2 as pb


@dataclass(frozen=True)
class MixedCanned:
    """The vault's answers for the mixed workload."""

    base: Canned  # list page, put answer (its download and dossier unused)
    downloads: dict[int, list[pb.GetDocumentResponse]]  # by document size
    sizes: dict[str, int]  # document id -> size, for every seeded document
    grant: pb.ChangeAccessResponse
    history: pb.QueryJournalResponse


def _encoded(message: Message) -> str:
    return b64encode(message.SerializeToString()).decode()


def write_mixed(canned: MixedCanned, path: Path) -> None:
    base = canned.base
    data = {
        "page": _encoded(base.page),
        "stored": _encoded(base.stored),
        "dossier": _encoded(base.dossier),
        "downloads": {
            str(size): [_encoded(m) for m in messages]
            for size, messages in canned.downloads.items()
        },
        "sizes": canned.sizes,
        "grant": _encoded(canned.grant),
        "history": _encoded(canned.history),
    }
    path.write_text(json.dumps(data))


def read_mixed(path: Path) -> MixedCanned:
    data = json.loads(path.read_text())
    downloads = {
        int(size): [pb.GetDocumentResponse.FromString(b64decode(m)) for m in messages]
        for size, messages in data["downloads"].items()
    }
    base = Canned(
        dossier=pb.Dossier.FromString(b64decode(data["dossier"])),
        page=pb.ListDocumentsResponse.FromString(b64decode(data["page"])),
        download=next(iter(downloads.values())),
        stored=pb.Document.FromString(b64decode(data["stored"])),
    )
    return MixedCanned(
        base=base,
        downloads=downloads,
        sizes={key: int(value) for key, value in data["sizes"].items()},
        grant=pb.ChangeAccessResponse.FromString(b64decode(data["grant"])),
        history=pb.QueryJournalResponse.FromString(b64decode(data["history"])),
    )


class MixedCeilingServicer(CeilingServicer):
    def __init__(self, canned: MixedCanned) -> None:
        super().__init__(canned.base)
        self._mixed = canned

    async def GetDocument(  # noqa: N802 (generated name)
        self, request: pb.GetDocumentRequest, context: Context
    ) -> AsyncIterator[pb.GetDocumentResponse]:
        for message in self._mixed.downloads[self._mixed.sizes[request.document_id]]:
            yield message

    async def PutDocument(  # noqa: N802 (generated name)
        self, request_iterator: AsyncIterator[pb.PutDocumentRequest], context: Context
    ) -> pb.Document:
        received = 0
        async for message in request_iterator:
            received += len(message.chunk)
        stored = pb.Document()
        stored.CopyFrom(self._mixed.base.stored)
        stored.size = received  # the document's own size, as the vault answers
        return stored

    async def ChangeAccess(  # noqa: N802 (generated name)
        self, request: pb.ChangeAccessRequest, context: Context
    ) -> pb.ChangeAccessResponse:
        return self._mixed.grant

    async def QueryJournal(  # noqa: N802 (generated name)
        self, request: pb.QueryJournalRequest, context: Context
    ) -> pb.QueryJournalResponse:
        return self._mixed.history


def mixed_servicer(path: Path) -> CeilingServicer:
    # the methods the mix does not call are the generated base class's (UNIMPLEMENTED)
    return MixedCeilingServicer(read_mixed(path))  # type: ignore[abstract]


def main(argv: Sequence[str] | None = None) -> int:
    return ceiling_server.main(argv, servicer=mixed_servicer)


if __name__ == "__main__":
    sys.exit(main())
