"""The journal's read side, as the service offers it: the auditors' export, the access
history queries (a dossier's patient side, auditors), a dossier's history for its
patient copy, and the auditors' Merkle proofs (inclusion of an entry in a signed
checkpoint's tree, consistency between two checkpoints; ADR 0027).

Reads are decided and journaled through the gate like any request. The patient side sees
every entry of its dossier, with the ids of documents hidden from it redacted; but a legal
representative sees no entry about one document of the minor's confidential care
(L.1111-5: who gave that care is the secret too), and its pages are filled past them. Writing the
journal is the gate's; verifying its chain and checkpoints is `vault.journal`'s.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Generator, Iterator
from dataclasses import replace

from vault.domain.model import Actor, DocumentCategory, Visibility
from vault.domain.policy import Action, Decision, Facts, Reason, Scope
from vault.domain.validation import MAX_PAGE_SIZE, page_limit
from vault.errors import (
    FailedPreconditionError,
    IntegrityError,
    InvalidArgumentError,
    NotFoundError,
)
from vault.index.base import DocumentIndex
from vault.journal.chain import JournalEntry
from vault.journal.checkpoint import Checkpoint, read_note
from vault.journal.export import export_lines
from vault.journal.merkle import TreeStore, consistency_ranges, inclusion_ranges
from vault.journal.store import EntryFilter, JournalLog
from vault.pagetokens import JournalPageToken, PageTokens
from vault.service.gate import Call, Gate


def _redacted(
    entry: JournalEntry, hidden: set[uuid.UUID], *, patient_side: bool = True
) -> JournalEntry:
    """The entry as a reader who may not know the `hidden` documents exist sees it: the
    entry itself is kept (it is a real access), their ids are removed from it, and so are
    the stored bytes that still name them. The patient side never sees a copy's count
    and digest of documents (ADR 0045): a count could tell that hidden documents exist,
    and whether it is shown would too."""
    if patient_side and entry.event.document_set is not None:
        event = replace(entry.event, document_set=None)
        entry = replace(entry, event=event, canonical=b"")
    named = entry.event.documents
    if not hidden or not named:
        return entry
    kept = tuple(d for d in named if uuid.UUID(d) not in hidden)
    if len(kept) == len(named):
        return entry
    return replace(entry, event=replace(entry.event, documents=kept), canonical=b"")


_SECRET_CARE = Scope(Visibility.HIDDEN_FROM_REPRESENTATIVES, frozenset(DocumentCategory))
"""Outside it: the documents of a minor's confidential care."""


def secret_care(
    index: DocumentIndex, dossier_id: uuid.UUID, decision: Decision
) -> set[uuid.UUID] | None:
    """The documents of the minor's confidential care when the caller is a representative
    (whose history and outbox must not show them at all); None for anyone else."""
    if decision.reason is not Reason.REPRESENTATIVE:
        return None
    return index.documents_outside(dossier_id, _SECRET_CARE)


_ONE_DOCUMENT = frozenset(
    action.value
    for action in (
        Action.DOCUMENT_WRITE,
        Action.DOCUMENT_REPLACE,
        Action.DOCUMENT_READ,
        Action.DOCUMENT_DELETE,
        Action.DOCUMENT_VISIBILITY,
        Action.DOCUMENT_EXPIRE,
        Action.DOCUMENT_RELEASE,
    )
)
"""Actions about one document: the access itself is the care's secret. A listing, a
count or a copy is an access to the dossier whatever it found: shown, ids redacted."""


def _shown(entry: JournalEntry, secret: set[uuid.UUID] | None) -> bool:
    """Whether an entry is shown to a reader who may not know of the `secret` documents
    (None: anyone but a representative, who sees every entry): not if it was made in the
    secret-care context, nor if it was about one of them."""
    event = entry.event
    if secret is None:
        return True
    if event.secret_care:
        return False
    return event.action not in _ONE_DOCUMENT or not any(
        uuid.UUID(d) in secret for d in event.documents
    )


def _record(entry: JournalEntry, hidden: set[uuid.UUID]) -> dict[str, object]:
    """A history line: `secret_care` only where true, as in the entry's own bytes; never
    a copy's count and digest of documents (`_redacted`)."""
    line = {"seq": entry.seq, **dataclasses.asdict(_redacted(entry, hidden).event)}
    if not line["secret_care"]:
        del line["secret_care"]
    del line["document_set"]
    return line


def history(
    journal_log: JournalLog,
    dossier_id: uuid.UUID,
    hidden: set[uuid.UUID],
    last_seq: int,
    secret: set[uuid.UUID] | None,
) -> Iterator[dict[str, object]]:
    """The dossier's journal entries up to `last_seq` (the export's own), oldest first,
    as the patient side may see them: hidden documents' ids redacted, entries about one
    `secret` document left out."""
    where = EntryFilter(dossier=str(dossier_id))
    while page := journal_log.query(where, MAX_PAGE_SIZE):
        for entry in page:
            if entry.seq > last_seq:
                return
            if _shown(entry, secret):
                yield _record(entry, hidden)
        where = replace(where, after_seq=page[-1].seq)


class JournalReads:
    """The use cases that read the journal."""

    def __init__(
        self,
        gate: Gate,
        *,
        index: DocumentIndex,
        journal_log: JournalLog,
        tokens: PageTokens,
        tree: TreeStore | None = None,
    ) -> None:
        self._gate = gate
        self._tree = tree
        self._index = index
        self._journal_log = journal_log
        self._tokens = tokens

    def export(
        self,
        actor: Actor,
        call: Call,
        *,
        from_seq: int = 0,
        to_seq: int = 0,
        since_us: int | None = None,
        until_us: int | None = None,
    ) -> Generator[bytes, None, None]:
        """Auditors: export lines (entries and their checkpoints) for a range."""
        with self._gate.journaled(actor, Action.JOURNAL_EXPORT, call) as access:
            access.require(Facts(actor.kind, Action.JOURNAL_EXPORT, None))
            if to_seq and from_seq > to_seq:
                raise InvalidArgumentError("from_seq is after to_seq")
            if since_us is not None and until_us is not None and since_us >= until_us:
                raise InvalidArgumentError("the time range is the wrong way round")
        first, last = max(from_seq, 1), to_seq or None
        checkpoints = dict(self._journal_log.checkpoints(first, last))
        entries = self._journal_log.entries(first, last, since_us=since_us, until_us=until_us)
        return export_lines(entries, checkpoints)

    def query(
        self,
        actor: Actor,
        call: Call,
        where: EntryFilter,
        page_size: int | None,
        page_token: str,
    ) -> tuple[list[JournalEntry], str]:
        """A dossier's access history (its patient side, auditors), or auditors' filters.

        The patient side sees every entry, with the ids of documents hidden from it
        redacted. A query ends at the journal as it was at its first page (its own entry
        excluded): paging never chases the entries its own pages add."""
        gate = self._gate
        with gate.journaled(actor, Action.JOURNAL_READ, call) as access:
            hidden: set[uuid.UUID] = set()
            secret: set[uuid.UUID] | None = None
            patient_side = False
            if where.dossier:
                dossier = gate.dossier(where.dossier, access)
                where = replace(where, dossier=str(dossier.dossier_id))
                decision = access.require(gate.facts(actor, Action.JOURNAL_READ, dossier))
                if decision.reason is not Reason.AUDITOR:
                    patient_side = True
                    hidden = self._index.documents_outside(dossier.dossier_id, decision.scope)
                    secret = secret_care(self._index, dossier.dossier_id, decision)
            else:
                access.require(Facts(actor.kind, Action.JOURNAL_READ, None))
            limit = page_limit(page_size)
            last_seq = 0  # first page: the journal's end, known once this entry is written
            if page_token:
                token = self._tokens.open(page_token, JournalPageToken)
                where, last_seq = token.resume(where), token.last_seq
            entries = self._shown_entries(where, limit + 1, secret)
        last_seq = last_seq or access.journal_seq - 1
        entries = [e for e in entries if e.seq <= last_seq]
        page, more = entries[:limit], len(entries) > limit
        token_text = ""
        if more:
            token_text = self._tokens.seal(JournalPageToken.after(page[-1].seq, last_seq, where))
        return [_redacted(e, hidden, patient_side=patient_side) for e in page], token_text

    def _shown_entries(
        self, where: EntryFilter, limit: int, secret: set[uuid.UUID] | None
    ) -> list[JournalEntry]:
        """Up to `limit` entries matching `where` that are shown beside `secret`
        documents: a page is filled past the entries left out, never short."""
        shown: list[JournalEntry] = []
        while len(shown) < limit:
            batch = self._journal_log.query(where, limit)
            shown += [e for e in batch if _shown(e, secret)]
            if len(batch) < limit:
                break
            where = replace(where, after_seq=batch[-1].seq)
        return shown[:limit]

    def inclusion_proof(
        self, actor: Actor, call: Call, seq: int, tree_size: int
    ) -> tuple[str, bytes, list[bytes]]:
        """Auditors: (the v2 checkpoint of `tree_size`, 0 for the newest; entry `seq`'s
        canonical bytes; PATH(seq - 1, D[size]))."""
        self._proving(actor, call)
        note, checkpoint = self._checkpoint(tree_size)
        if not 1 <= seq <= checkpoint.size:
            raise InvalidArgumentError("the entry is not within the checkpoint's size")
        entries = list(self._journal_log.entries(seq, seq))  # read whole: the stream closes
        if not entries:
            raise IntegrityError("the journal lacks an entry its checkpoint covers")
        hashes = self._store().prove(inclusion_ranges(seq - 1, checkpoint.size))
        return note, entries[0].canonical, hashes

    def consistency_proof(
        self, actor: Actor, call: Call, old_size: int, new_size: int
    ) -> tuple[str, str, list[bytes]]:
        """Auditors: (the v2 checkpoints of `old_size` and `new_size`, 0 for the newest;
        PROOF(old size, D[new size]))."""
        self._proving(actor, call)
        new_note, new = self._checkpoint(new_size)
        if not 1 <= old_size <= new.size:
            raise InvalidArgumentError("the old size must be within [1, the new size]")
        old_note, _ = self._checkpoint(old_size)
        hashes = self._store().prove(consistency_ranges(old_size, new.size))
        return old_note, new_note, hashes

    def _proving(self, actor: Actor, call: Call) -> None:
        """Decided and journaled as an export: a proof holds an entry, as an export does."""
        with self._gate.journaled(actor, Action.JOURNAL_EXPORT, call) as access:
            access.require(Facts(actor.kind, Action.JOURNAL_EXPORT, None))

    def _store(self) -> TreeStore:
        if self._tree is None:
            raise FailedPreconditionError("this vault keeps no Merkle tree of its journal")
        return self._tree

    def _checkpoint(self, size: int) -> tuple[str, Checkpoint]:
        """The recorded v2 checkpoint of `size` (0: the one at the stored tree's size)."""
        wanted = size or self._store().size()
        found = self._journal_log.checkpoints(wanted, wanted) if wanted else []
        if not found:
            if not size:
                raise FailedPreconditionError("no checkpoint with a Merkle root signed yet")
            raise NotFoundError("no checkpoint of that size")
        note = found[0][1]
        checkpoint = read_note(note)
        if checkpoint.root is None or checkpoint.size > self._store().size():
            raise FailedPreconditionError("the checkpoint of that size has no Merkle root (v1)")
        return note, checkpoint
