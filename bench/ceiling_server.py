"""The ceiling for `bench.bench_calls`: a bare grpc.aio server for the vault's small calls.

It serves the `vault.v1.DossierVault` methods that `bench.bench_calls` measures, through
the same generated stubs (so the same protobuf parsing and serialisation on both sides),
and does nothing else: no token, no policy, no database, no journal, no crypto. Its
answers are canned messages the real vault gave during the benchmark's setup, so they
have exactly the vault's sizes:

- GetDossier and ListDocuments: a unary answer (the dossier; a page of 20 documents);
- GetDocument: server streaming, the document's metadata then one 4 KiB chunk;
- PutDocument: client streaming, every message read (header, chunk, finish), then the
  stored document's metadata.

What the vault costs beyond this server is what the vault's own work costs; what this
server costs is what any grpc.aio service in Python costs on this machine. A measuring
instrument, not a product component.

    python -m bench.ceiling_server --listen 127.0.0.1:PORT --canned FILE

FILE holds the canned messages (`write_canned` / `read_canned`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from base64 import b64decode, b64encode
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from vault.v1 import vault_pb2 as pb
from vault.v1 import vault_pb2_grpc

Context = grpc.aio.ServicerContext[Any, Any]


@dataclass(frozen=True)
class Canned:
    """The vault's answers, replayed as they were."""

    dossier: pb.Dossier
    page: pb.ListDocumentsResponse
    download: list[pb.GetDocumentResponse]
    stored: pb.Document


def write_canned(canned: Canned, path: Path) -> None:
    def encoded(message: Any) -> str:
        return b64encode(message.SerializeToString()).decode()

    path.write_text(
        json.dumps(
            {
                "dossier": encoded(canned.dossier),
                "page": encoded(canned.page),
                "download": [encoded(message) for message in canned.download],
                "stored": encoded(canned.stored),
            }
        )
    )


def read_canned(path: Path) -> Canned:
    data = json.loads(path.read_text())
    return Canned(
        dossier=pb.Dossier.FromString(b64decode(data["dossier"])),
        page=pb.ListDocumentsResponse.FromString(b64decode(data["page"])),
        download=[pb.GetDocumentResponse.FromString(b64decode(m)) for m in data["download"]],
        stored=pb.Document.FromString(b64decode(data["stored"])),
    )


class CeilingServicer(vault_pb2_grpc.DossierVaultServicer):
    def __init__(self, canned: Canned) -> None:
        self._canned = canned

    async def GetDossier(  # noqa: N802 (generated name)
        self, request: pb.GetDossierRequest, context: Context
    ) -> pb.Dossier:
        return self._canned.dossier

    async def ListDocuments(  # noqa: N802 (generated name)
        self, request: pb.ListDocumentsRequest, context: Context
    ) -> pb.ListDocumentsResponse:
        return self._canned.page

    async def GetDocument(  # noqa: N802 (generated name)
        self, request: pb.GetDocumentRequest, context: Context
    ) -> AsyncIterator[pb.GetDocumentResponse]:
        for message in self._canned.download:
            yield message

    async def PutDocument(  # noqa: N802 (generated name)
        self, request_iterator: AsyncIterator[pb.PutDocumentRequest], context: Context
    ) -> pb.Document:
        async for _message in request_iterator:
            pass
        return self._canned.stored


async def serve(listen: str, servicer: CeilingServicer) -> None:
    server = grpc.aio.server()
    vault_pb2_grpc.add_DossierVaultServicer_to_server(servicer, server)
    if server.add_insecure_port(listen) == 0:
        raise RuntimeError(f"could not listen on {listen}")
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await server.stop(grace=1.0)


def canned_servicer(path: Path) -> CeilingServicer:
    # the other methods are the generated base class's (UNIMPLEMENTED)
    return CeilingServicer(read_canned(path))  # type: ignore[abstract]


def main(
    argv: Sequence[str] | None = None,
    servicer: Callable[[Path], CeilingServicer] = canned_servicer,
) -> int:
    """Serves until SIGTERM or SIGINT; `servicer` builds the servicer from the canned
    messages' file (bench.load_ceiling passes its own)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--listen", required=True, help="host:port")
    parser.add_argument("--canned", type=Path, required=True, help="the canned messages")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.listen, servicer(args.canned)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
