"""`VaultClient`'s lifecycle calls: close, reopen, ask for deletion, legal holds, the
holder's date of birth after creation, the patient's copy (`ExportDossier`, written to a
path only once whole), and a deceased holder's heirs (an operator's grant, the holder's
objection while alive)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

import grpc

from vault import wire, wire_grants
from vault.clientcalls.base import CallsBase, vault_error
from vault.domain.clock import to_us
from vault.domain.heirs import HeirPurpose
from vault.domain.lifecycle import LegalHold
from vault.domain.model import ClosureReason, Dossier, ExportSummary
from vault.v1 import vault_pb2 as pb


class LifecycleCalls(CallsBase):
    def close_dossier(
        self, dossier_id: uuid.UUID | str, reason: ClosureReason = ClosureReason.PATIENT_REQUEST
    ) -> Dossier:
        request = pb.CloseDossierRequest(
            dossier_id=str(dossier_id), reason=wire.closure_reason_to_proto(reason)
        )
        return wire.dossier_from_proto(self._call(self._stub.CloseDossier, request))

    def reopen_dossier(self, dossier_id: uuid.UUID | str) -> Dossier:
        request = pb.ReopenDossierRequest(dossier_id=str(dossier_id))
        return wire.dossier_from_proto(self._call(self._stub.ReopenDossier, request))

    def request_deletion(self, dossier_id: uuid.UUID | str) -> Dossier:
        request = pb.RequestDeletionRequest(dossier_id=str(dossier_id))
        return wire.dossier_from_proto(self._call(self._stub.RequestDeletion, request))

    def set_birth_date(self, dossier_id: uuid.UUID | str, born: date) -> None:
        """The patient side sets or corrects the holder's date of birth (`SetBirthDate`)."""
        request = pb.SetBirthDateRequest(dossier_id=str(dossier_id), birth_date=born.isoformat())
        self._call(self._stub.SetBirthDate, request)

    def place_hold(self, dossier_id: uuid.UUID | str, reason: str) -> int:
        """Operators: returns the hold's id, for its release."""
        request = pb.PlaceHoldRequest(dossier_id=str(dossier_id), reason=reason)
        hold_id: int = self._call(self._stub.PlaceHold, request).hold_id
        return hold_id

    def list_holds(self, dossier_id: uuid.UUID | str) -> list[LegalHold]:
        """Operators and auditors: the dossier's holds, oldest first (`placed_by` and
        `released_by` are not on the wire: the journal has them)."""
        response = self._call(self._stub.ListHolds, pb.ListHoldsRequest(dossier_id=str(dossier_id)))
        return [wire.legal_hold_from_proto(h) for h in response.holds]

    def release_hold(self, dossier_id: uuid.UUID | str, hold_id: int, reason: str) -> None:
        request = pb.ReleaseHoldRequest(dossier_id=str(dossier_id), hold_id=hold_id, reason=reason)
        self._call(self._stub.ReleaseHold, request)

    def grant_heir_access(
        self,
        dossier_id: uuid.UUID | str,
        heir_ins: str,
        purpose: HeirPurpose,
        reference: str,
        expires_at: datetime,
    ) -> pb.HeirGrant:
        """Operators: an heir's read access to a deceased holder's documents."""
        request = pb.GrantHeirAccessRequest(
            dossier_id=str(dossier_id),
            heir_ins=heir_ins,
            purpose=wire_grants.heir_purpose_to_proto(purpose),
            request_reference=reference,
        )
        request.expires_at.FromMicroseconds(to_us(expires_at))
        grant: pb.HeirGrant = self._call(self._stub.GrantHeirAccess, request)
        return grant

    def set_posthumous_objection(self, dossier_id: uuid.UUID | str, objects: bool) -> None:
        """The holder, alive: objects to their heirs' access after death, or withdraws."""
        request = pb.SetPosthumousObjectionRequest(dossier_id=str(dossier_id), objects=objects)
        self._call(self._stub.SetPosthumousObjection, request)

    def export_dossier(
        self,
        dossier_id: uuid.UUID | str,
        destination: Path | BinaryIO,
        on_summary: Callable[[ExportSummary], None] | None = None,
        on_progress: Callable[[int], object] | None = None,
    ) -> ExportSummary | None:
        """Writes the patient's copy (a zip archive) to `destination`; to a path, only
        once the whole archive arrived (a stream cut short leaves no file). Returns what
        the archive holds, as the server announced it first (None from a server older
        than that announcement); `on_summary` gets it before any byte is written (to
        size a progress display on `content_bytes`); `on_progress` the archive bytes written so
        far after each chunk."""
        request = pb.ExportDossierRequest(dossier_id=str(dossier_id))
        if not isinstance(destination, Path):
            return self._export_into(request, destination, on_summary, on_progress)
        partial = destination.with_name(destination.name + ".partial")
        try:
            with partial.open("wb") as out:
                summary = self._export_into(request, out, on_summary, on_progress)
            partial.replace(destination)
        finally:
            partial.unlink(missing_ok=True)
        return summary

    def _export_into(
        self,
        request: pb.ExportDossierRequest,
        out: BinaryIO,
        on_summary: Callable[[ExportSummary], None] | None,
        on_progress: Callable[[int], object] | None,
    ) -> ExportSummary | None:
        summary, written = None, 0
        try:
            for reply in self._stub.ExportDossier(
                request, metadata=self._metadata, timeout=self._timeout
            ):
                if reply.HasField("summary"):
                    summary = wire.export_summary_from_proto(reply.summary)
                    if on_summary is not None:
                        on_summary(summary)
                out.write(reply.chunk)
                written += len(reply.chunk)
                if on_progress is not None and reply.chunk:
                    on_progress(written)
        except grpc.RpcError as error:
            raise vault_error(error) from None
        return summary
