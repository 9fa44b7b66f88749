"""The mixed workload of `bench.bench_load`: which call a client makes next, and the call.

The mix (issue #17, "Load"): 70% reads (35% ListDocuments of a page of 20, 35%
GetDocument), 20% PutDocument, 10% access (5% ChangeAccess, 5% QueryJournal). Documents
read and written are 4, 8, 16, 32, 64, 128 or 256 KiB, each size as likely (a mean of
about 73 KiB): a portal lists and opens a patient's reports and scans, a professional
adds one, the patient grants access to a professional and looks at who read the dossier.

Each client is a patient working on their own dossiers (`Slot`): reads and the access
calls go to a seeded dossier whose documents do not change, so a listing and a history
page keep their size throughout; puts go to a second dossier. A grant authorises one
professional (an RPPS of the client's own) and the next revokes them, so the dossier's
access list stays bounded. A history query asks for the first page of 20 entries of the
read dossier's journal (its oldest, so its size does not change as the journal grows).

What it does not: start processes or measure (bench/bench_load.py).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bench.bench_calls import CallError, auth, put_messages
from vault.domain.identifiers import luhn_valid
from vault.v1 import vault_pb2 as pb

if TYPE_CHECKING:
    from vault.v1.vault_pb2_grpc import DossierVaultAsyncStub

KIB = 1024
SIZES = tuple(size * KIB for size in (4, 8, 16, 32, 64, 128, 256))
MIX = (("list", 35), ("get", 35), ("put", 20), ("grant", 5), ("history", 5))
KINDS = tuple(kind for kind, _ in MIX)
PAGE_SIZE = 20
RPPS_PREFIX = "1000000"  # ten digits with the client's number, then the Luhn key


@dataclass(frozen=True)
class Slot:
    """What one client process works on: a patient's seeded dossier (its documents'
    ids and sizes), and a dossier its puts go to."""

    token: str
    read_dossier: str
    documents: dict[str, int]  # document id -> size in bytes
    write_token: str  # another patient's: one dossier per patient
    write_dossier: str


def rpps(number: int) -> str:
    """The `number`th benchmark professional's RPPS: 11 digits, Luhn-valid."""
    stem = f"{RPPS_PREFIX}{number:03d}"
    return next(stem + key for key in "0123456789" if luhn_valid(stem + key))


class MixedCaller:
    """One client's calls, over its own grpc.aio channel."""

    def __init__(self, stub: DossierVaultAsyncStub, slot: Slot, client: int) -> None:
        self._stub = stub
        self._slot = slot
        self._metadata = auth(slot.token)
        self._random = random.Random(client)
        self._ids = sorted(slot.documents)
        self._write_metadata = auth(slot.write_token)
        self._puts = {size: put_messages(slot.write_dossier, os.urandom(size)) for size in SIZES}
        self._professional = rpps(client)
        self._granted = False
        self._page = min(PAGE_SIZE, len(slot.documents))
        self._kinds = [kind for kind, _ in MIX]
        self._weights = [weight for _, weight in MIX]

    def next_kind(self) -> str:
        return self._random.choices(self._kinds, self._weights)[0]

    async def call(self, kind: str) -> None:
        if kind == "list":
            await self._list()
        elif kind == "get":
            await self._get()
        elif kind == "put":
            await self._put()
        elif kind == "grant":
            await self._grant()
        elif kind == "history":
            await self._history()
        else:
            raise ValueError(f"unknown call {kind!r}")

    async def _list(self) -> None:
        request = pb.ListDocumentsRequest(dossier_id=self._slot.read_dossier, page_size=PAGE_SIZE)
        page = await self._stub.ListDocuments(request, metadata=self._metadata)
        if len(page.documents) != self._page:
            raise CallError(f"ListDocuments: {len(page.documents)} documents")

    async def _get(self) -> None:
        document_id = self._random.choice(self._ids)
        request = pb.GetDocumentRequest(dossier_id=self._slot.read_dossier, document_id=document_id)
        received = 0
        async for response in self._stub.GetDocument(request, metadata=self._metadata):
            received += len(response.chunk)
        if received != self._slot.documents[document_id]:
            raise CallError(f"GetDocument: {received} bytes")

    async def _put(self) -> None:
        size = self._random.choice(SIZES)
        stored = await self._stub.PutDocument(iter(self._puts[size]), metadata=self._write_metadata)
        if stored.size != size:
            raise CallError(f"PutDocument: stored {stored.size} bytes of {size}")

    async def _grant(self) -> None:
        dossier = self._slot.read_dossier
        if self._granted:
            request = pb.ChangeAccessRequest(dossier_id=dossier, revoke=self._professional)
        else:
            request = pb.ChangeAccessRequest(dossier_id=dossier, authorise=self._professional)
        self._granted = not self._granted  # whatever the answer: an error is counted
        await self._stub.ChangeAccess(request, metadata=self._metadata)

    async def _history(self) -> None:
        request = pb.QueryJournalRequest(dossier_id=self._slot.read_dossier, page_size=PAGE_SIZE)
        page = await self._stub.QueryJournal(request, metadata=self._metadata)
        if not page.entries:
            raise CallError("QueryJournal: no entries")
