"""The terms an upload is held to: its quotas (`UploadQuota`, docs/adr/0026), its lease on
its version number (`UploadLease`, docs/adr/0008), and how a refusal after the decision is
journaled and what it leaves behind (`refused`, `discard_pending`).

What it does not: take chunks (`upload.py`) or decide who may write (`uploads.py`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

from vault.domain.model import Actor
from vault.domain.policy import Action
from vault.errors import ConflictError, DocumentTooLargeError, DossierQuotaExceededError, VaultError
from vault.index.base import DocumentIndex, SweepIndex, VersionRecord
from vault.service.gate import Access, Call, Gate

MIB = 1 << 20
GIB = 1 << 30


@dataclass(frozen=True, slots=True)
class UploadQuota:
    """The most content bytes one document version may hold, and a dossier's live
    versions together (each document's latest; the versions it replaced are not
    counted). The defaults are the settings' (vault/config.py)."""

    document_bytes: int = 1024 * MIB
    dossier_bytes: int = 20 * GIB


class UploadIndex(DocumentIndex, SweepIndex, Protocol):
    """What uploads write: a version's reservation, its renewals, its commit or discard."""


class UploadLease:
    """An upload's hold on its version number, from its start (`record.created_us`):
    renewed as chunks arrive once a quarter of it has run, so that only an upload that
    stopped sending for three quarters of a lease or more can lose its reservation (to
    the next upload of that number)."""

    def __init__(
        self, index: DocumentIndex, record: VersionRecord, length_us: int, now_us: Callable[[], int]
    ) -> None:
        self._index = index
        self._record = record
        self._length_us = length_us
        self._now_us = now_us
        self.first_until_us = record.created_us + length_us  # what the reservation records
        self._renew_from_us = record.created_us + length_us // 4

    def due(self) -> bool:
        return self._now_us() >= self._renew_from_us

    def renew(self) -> int:
        """Pushes the lease one length ahead and returns its new end; ConflictError if
        the reservation is gone."""
        now_us = self._now_us()
        until_us = now_us + self._length_us
        if not self._index.renew_reservation(self._record, until_us):
            raise ConflictError(
                "the upload's reservation lapsed and another upload took its version"
            )
        self._renew_from_us = now_us + self._length_us // 4
        return until_us


def after(job: Future[Any], then: Callable[[], None]) -> None:
    """Runs `then` once `job` has ended, whatever its outcome (`job` was submitted first:
    it is already running, so this never waits for a free worker)."""
    wait([job])
    then()


def refused(
    gate: Gate, actor: Actor, action: Action, call: Call, access: Access, error: VaultError
) -> NoReturn:
    """Journals `error` as the refusal of the upload `access` allowed, then raises it."""
    with gate.refusal_journaled(actor, action, call) as refusal:
        refusal.dossier, refusal.documents = access.dossier, access.documents
        raise error
    raise error  # not reached: the block re-raises it once journaled


def too_large(quota: UploadQuota) -> DocumentTooLargeError:
    return DocumentTooLargeError(
        f"a document may hold at most {quota.document_bytes} bytes (VAULT_MAX_DOCUMENT_MIB)"
    )


def dossier_full() -> DossierQuotaExceededError:
    return DossierQuotaExceededError(
        "the dossier's documents would exceed its quota (VAULT_MAX_DOSSIER_GIB)"
    )


def discard_pending(index: SweepIndex, record: VersionRecord, *jobs: Future[Any]) -> None:
    """Waits for an upload's background jobs to end, then removes its pending row if
    there is one (they may have failed before recording it, or after)."""
    for job in jobs:
        with contextlib.suppress(Exception):  # its error is moot: the upload is abandoned
            job.result()
    index.discard_version(record)
