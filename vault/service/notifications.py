"""The holder's notification outbox, read two ways, and the notices they ask for
(`Notices.set_preferences`: a new document deposited). The outbox is read a page at a time
(`Notices.page`, `ListNotifications`) and followed (`Notices.watch`,
`WatchNotifications`): a watch is decided and journaled once, when it starts, then
polls the outbox through `Watch.poll` until its caller ends it.

A representative's view leaves out the notices about a minor's confidential care (the
holder's alone), its pages filled past them. How many watches a server follows at once
is bounded (`WatchSettings.max_watchers`): beyond, RESOURCE_EXHAUSTED. How a watch learns
of new notices is the edge's loop (vault/server/rpcs/notifications.py): it polls the
index at a bounded interval with backoff; nothing here waits or sleeps.

What is queued, and when, is the use cases' (access, the gate, the retention job).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from typing import Protocol

from vault.domain.model import DOCUMENT_NOTICES, Actor, Notification
from vault.domain.notices import NoticePreferences
from vault.domain.policy import Action, Decision, Reason
from vault.domain.validation import page_limit
from vault.errors import InvalidArgumentError, ResourceExhaustedError
from vault.index.base import AccessIndex, DocumentIndex, NoticeIndex
from vault.notification_watch import WatchSettings
from vault.service.gate import Call, Gate
from vault.service.journal import secret_care

MAX_NOTIFICATION_ID = 2**63 - 1  # a signed 64-bit key in both databases


class NoticesIndex(AccessIndex, DocumentIndex, NoticeIndex, Protocol):
    """The outbox, which documents are a minor's confidential care, and the holder's
    preferences."""


@dataclass(frozen=True)
class Reader:
    """Whose view of a dossier's outbox: the decision that let the caller read it, and
    the professional the notices are addressed to (the treating physician reads only
    theirs: the emergency accesses; None for the patient side's outbox)."""

    dossier_id: uuid.UUID
    decision: Decision
    recipient: str | None


class Watch:
    """One decided watch of a dossier's outbox: each `poll` reads what follows an id, as
    the decision's caller may see it. `close` gives its place back (once)."""

    def __init__(self, notices: Notices, reader: Reader, limit: int) -> None:
        self._notices = notices
        self._reader = reader
        self._limit = limit
        self._open = True

    def poll(self, after_id: int) -> list[Notification]:
        return self._notices.shown(self._reader, after_id, self._limit)

    def close(self) -> None:
        if self._open:
            self._open = False
            self._notices.release()


class Notices:
    """The use cases on the outbox."""

    def __init__(self, gate: Gate, *, index: NoticesIndex, watch: WatchSettings) -> None:
        self._gate = gate
        self._index = index
        self.settings = watch
        self._watchers = threading.BoundedSemaphore(watch.max_watchers)

    def page(
        self, actor: Actor, dossier_id: str, after_id: int, page_size: int | None, call: Call
    ) -> list[Notification]:
        """The outbox after `after_id`, oldest first, one page."""
        reader, limit = self._decide(actor, dossier_id, after_id, page_size, call)
        return self.shown(reader, after_id, limit)

    def watch(self, actor: Actor, dossier_id: str, after_id: int, call: Call) -> Watch:
        """A watch of the outbox from `after_id`, decided and journaled now; the caller
        closes it. RESOURCE_EXHAUSTED when the server follows its most already."""
        if not self._watchers.acquire(blocking=False):
            raise ResourceExhaustedError("this server follows its most notification watches")
        try:
            reader, limit = self._decide(actor, dossier_id, after_id, None, call)
        except BaseException:
            self._watchers.release()
            raise
        return Watch(self, reader, limit)

    def set_preferences(
        self, actor: Actor, dossier_id: str, preferences: NoticePreferences, call: Call
    ) -> None:
        """The patient side chooses the notices asked for (a new document deposited)."""
        action = Action.NOTIFICATIONS_SETTING
        with self._gate.on_dossier(actor, dossier_id, action, call) as dossier:
            now_us = self._gate.now_us()
        self._index.set_notice_preferences(dossier.dossier_id, preferences, now_us, call.request_id)

    def release(self) -> None:
        self._watchers.release()

    def _decide(
        self, actor: Actor, dossier_id: str, after_id: int, page_size: int | None, call: Call
    ) -> tuple[Reader, int]:
        """Decides and journals a read of the outbox, its arguments included."""
        gate, action = self._gate, Action.NOTIFICATIONS_READ
        with gate.journaled(actor, action, call) as access:
            dossier = gate.dossier(dossier_id, access)
            decision = access.require(gate.facts(actor, action, dossier))
            limit = page_limit(page_size)
            if not 0 <= after_id <= MAX_NOTIFICATION_ID:
                raise InvalidArgumentError("after_id is not a notification id")
        treating = decision.reason is Reason.TREATING_PHYSICIAN
        recipient = actor.subject if treating else None
        return Reader(dossier.dossier_id, decision, recipient), limit

    def shown(self, reader: Reader, after_id: int, limit: int) -> list[Notification]:
        """What the reader sees after `after_id`: for a representative, no notice about a
        minor's confidential care, the page filled past them; for the treating physician,
        the notices addressed to them, nothing of the patient's."""
        dossier_id = reader.dossier_id
        secret = {str(d) for d in secret_care(self._index, dossier_id, reader.decision) or ()}
        shown: list[Notification] = []
        while len(shown) < limit:
            batch = self._index.notifications(dossier_id, after_id, limit, reader.recipient)
            shown += [n for n in batch if n.kind not in DOCUMENT_NOTICES or n.subject not in secret]
            if len(batch) < limit:
                break
            after_id = batch[-1].notification_id
        return shown[:limit]
