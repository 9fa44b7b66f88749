"""Resumable uploads (docs/adr/0031): an upload whose stream was cut is parked in this
process, within its lease, and a new stream of the same actor, for the same dossier,
presenting the same resume key continues it from the acknowledged offset.

`UploadResumes.park` keeps an upload whose stream ended without a finish (the client hung
up, or went silent) for one lease; `status` tells its owner how many bytes were taken and
until when it can be resumed; `resume` hands it to a new stream. Both are requests of
their own: decided again by the policy (a patient may have revoked the author's
authorisation meanwhile) under the upload's action (`document.write` or
`document.replace`) and journaled, allowed or denied. A wrong key, another actor, another
dossier and a lapsed lease are one NOT_FOUND (`parking.no_upload`), journaled as a denial.
`expire` aborts the uploads whose lease ended (pending row and blob, as a hang-up does).

What it does not: take chunks (`upload.py`), hold or count bytes (the edge's budget), or
reach another process's uploads (a resume there is NOT_FOUND: the client starts again).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass

from vault.domain.ids import parse_id
from vault.domain.model import Actor
from vault.domain.policy import Action, DocumentFacts
from vault.errors import ConflictError, FailedPreconditionError, UnavailableError, VaultError
from vault.service.gate import Access, Call, Gate
from vault.service.parking import Entry, ParkedUploads, key_hash, no_upload
from vault.service.upload import Upload
from vault.service.upload_terms import refused


@dataclass(frozen=True, slots=True)
class UploadProgress:
    """What a parked upload has taken: the offset its resume starts from, and the end
    of its lease (after which it is gone)."""

    offset: int
    until_us: int


def _action(upload: Upload) -> Action:
    return Action.DOCUMENT_WRITE if upload.record.version == 1 else Action.DOCUMENT_REPLACE


class UploadResumes:
    """Parks, reports on and resumes this process's resumable uploads."""

    def __init__(self, gate: Gate) -> None:
        self._gate = gate
        self.lot = ParkedUploads()

    def owner(self, actor: Actor) -> str:
        """Whom an upload is bound to: the actor's kind and journal reference."""
        return f"{actor.kind.value}:{self._gate.actor_ref(actor)}"

    def register(self, key: bytes, upload: Upload, actor: Actor) -> None:
        """Makes a new upload resumable under `key` (checked by `key_hash` already)."""
        digest = key_hash(key)
        self.lot.add(digest, upload, self.owner(actor), upload.record.dossier_id)
        upload.resumable(functools.partial(self.lot.remove, digest))

    def park(self, upload: Upload, key: bytes) -> float | None:
        """Parks an upload whose stream was cut: its lease renewed, it waits one lease
        for a resume. Returns the seconds until it expires; None if it could not be
        parked (its reservation is lost), and then it is aborted."""
        try:
            until_us = upload.park()
        except Exception:  # its reservation is lost or failed: it cannot wait
            upload.abort()
            return None
        self.lot.park(key_hash(key), until_us)
        return max(0.0, (until_us - self._gate.now_us()) / 1e6)

    def status(self, actor: Actor, dossier_id: str, key: bytes, call: Call) -> UploadProgress:
        """How far the caller's parked upload got; NOT_FOUND, UNAVAILABLE or the policy's
        refusal otherwise, journaled."""
        seen: list[UploadProgress] = []

        def look(entry: Entry) -> None:
            until_us = entry.until_us
            if until_us is None:  # a resume took it since it was found
                raise UnavailableError("the upload was resumed by another stream")
            seen.append(UploadProgress(entry.upload.received, until_us))

        _, access, action = self._decided(actor, dossier_id, key, call, look)
        self._gate.journal_allowed(actor, action, call, access)
        return seen[0]

    def resume(self, actor: Actor, dossier_id: str, key: bytes, offset: int, call: Call) -> Upload:
        """Hands the caller's parked upload to this stream, which sends from `offset`:
        it must be the acknowledged offset (`status`), else FAILED_PRECONDITION and the
        upload stays parked. UNAVAILABLE while its previous stream still holds it."""
        parked_until: list[int] = []

        def take(entry: Entry) -> None:
            if offset != entry.upload.received:
                raise FailedPreconditionError(
                    "a resumed upload continues from its acknowledged offset (GetUploadStatus)"
                )
            until_us = entry.until_us
            self.lot.attach(key_hash(key), entry)  # UNAVAILABLE if taken since found
            assert until_us is not None  # it was parked: attach checked
            parked_until.append(until_us)

        gate = self._gate
        entry, access, action = self._decided(actor, dossier_id, key, call, take)
        upload = entry.upload
        try:
            gate.journal_allowed(actor, action, call, access)
            upload.resumed(functools.partial(refused, gate, actor, action, call, access))
        except ConflictError as error:  # its number was taken meanwhile
            upload.abort()
            refused(gate, actor, action, call, access, error)
        except BaseException:  # the journal failed: it waits for another resume
            self.lot.park(key_hash(key), parked_until[0])
            raise
        return upload

    def _decided(
        self,
        actor: Actor,
        dossier_id: str,
        key: bytes,
        call: Call,
        then: Callable[[Entry], None],
    ) -> tuple[Entry, Access, Action]:
        """Finds the caller's parked upload and decides the request again as the
        upload's action (its dossier, its document, the caller's standing now), then
        runs `then` inside the decision; a refusal anywhere is journaled."""
        gate = self._gate
        entry: Entry | None = None
        error: VaultError | None = None
        try:
            dossier_uuid = parse_id(dossier_id, "dossier id")
            entry = self.lot.find(key_hash(key), self.owner(actor), dossier_uuid, gate.now_us())
        except VaultError as failure:
            error = failure
        action = Action.DOCUMENT_WRITE if entry is None else _action(entry.upload)
        with gate.refusal_journaled(actor, action, call) as access:
            if error is not None or entry is None:
                with contextlib.suppress(VaultError):
                    access.dossier = parse_id(dossier_id, "dossier id")
                raise error or no_upload()
            record = entry.upload.record
            access.documents = (record.document_id,)
            with gate.reads():
                dossier = gate.dossier(dossier_id, access)
                if action is Action.DOCUMENT_WRITE:
                    facts = DocumentFacts(record.category, record.visibility)
                    access.require(gate.facts(actor, action, dossier, facts))
                elif gate.visible_version(actor, action, dossier, access).version != (
                    record.version - 1
                ):
                    raise ConflictError("the document has a newer version than the one replaced")
            then(entry)
        return entry, access, action

    def expire(self) -> tuple[list[int], float | None]:
        """Aborts the parked uploads whose lease ended. Returns the bytes each held (for
        the edge's budget), and the seconds until the next parked upload's lease ends
        (None when none is parked)."""
        now_us = self._gate.now_us()
        released = []
        for upload in self.lot.expired(now_us):
            released.append(upload.buffered)
            upload.abort()
        next_us = self.lot.next_end_us()
        return released, None if next_us is None else max(0.0, (next_us - now_us) / 1e6)
