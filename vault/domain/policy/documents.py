"""The rules about one document, applied once the caller may act on the dossier: whether
it is in their scope, who replaces it (its author), which visibility flags a role may set
or clear. The dossier-wide rules are `rules.py`'s; these only narrow an allowed decision.
"""

from __future__ import annotations

from dataclasses import replace

from vault.domain.model import DocumentCategory, Visibility
from vault.domain.policy.codes import Reason
from vault.domain.policy.facts import DocumentFacts, Facts
from vault.domain.policy.scope import Decision, deny

_SETTABLE: dict[Reason, Visibility] = {
    Reason.HOLDER: Visibility.MASKED_FROM_PROFESSIONALS | Visibility.HIDDEN_FROM_REPRESENTATIVES,
    Reason.REPRESENTATIVE: Visibility.MASKED_FROM_PROFESSIONALS,
}
_AUTHOR_SETTABLE = Visibility.HIDDEN_FROM_PATIENT | Visibility.HIDDEN_FROM_REPRESENTATIVES
_AUTHOR_CLEARS_ONLY = Visibility.HIDDEN_FROM_PATIENT  # set at upload, cleared when announced
_PROFESSIONAL_READERS = frozenset(
    {
        Reason.AUTHORISED,
        Reason.CARE_TEAM,
        Reason.EMERGENCY,
        Reason.REGULATION,
        Reason.OCCUPATIONAL_GRANT,
        Reason.TREATING_PHYSICIAN,
    }
)
"""The decisions under which a professional reads: an author among them reads back what
they wrote, masked or not, whatever the matrix gives their profession."""


def decide_document(document: DocumentFacts, decision: Decision) -> Decision:
    """A request about one existing document: it must be in the caller's scope, and a
    visibility change may only flip the flags the caller's role may set (an author, or
    the treating physician, only clears `HIDDEN_FROM_PATIENT`: held back at upload,
    released at the announcement consultation). A professional who may read the dossier
    reads back a document they wrote, masked or outside their matrix (`_author_reads`)."""
    if not _author_reads(document, decision) and not _admits(document, decision):
        return deny(Reason.DOCUMENT_HIDDEN)
    new = document.new_visibility
    if new is None:
        return decision
    settable = _SETTABLE.get(decision.reason, Visibility.NORMAL)
    clear_only = Visibility.NORMAL
    if document.authored_by_caller and decision.reason not in _SETTABLE:
        settable |= _AUTHOR_SETTABLE
        clear_only = _AUTHOR_CLEARS_ONLY
    if decision.reason is Reason.TREATING_PHYSICIAN or _released_by_delay(decision, document):
        settable |= _AUTHOR_CLEARS_ONLY  # the treating physician releases early, as the
        clear_only |= _AUTHOR_CLEARS_ONLY  # author may; a flag whose delay ran is spent
    if decision.reason is not Reason.HOLDER:  # the minor's secret: only the minor lifts it
        settable &= ~(document.visibility & Visibility.HIDDEN_FROM_REPRESENTATIVES)
    flipped = document.visibility ^ new
    if flipped & ~settable or flipped & new & clear_only:
        return deny(Reason.VISIBILITY_NOT_SETTABLE)
    return decision


def _admits(document: DocumentFacts, decision: Decision) -> bool:
    return decision.scope.admits(document.category, document.visibility, document.deposited_us)


def _author_reads(document: DocumentFacts, decision: Decision) -> bool:
    """An author keeps their document when the patient masks it, as the treating physician
    does, and reads it whatever the matrix says of its category for their profession;
    only while they may read the dossier at all (authorised, treating, emergency window):
    a revoked or blocked author reads nothing. Reading only: replacing a masked document
    stays refused (`decide_replacement`)."""
    return document.authored_by_caller and decision.reason in _PROFESSIONAL_READERS


def authors_own(facts: Facts, decision: Decision) -> Decision:
    """`decision` with the author exemption in its scope (`Scope.author`: the caller's
    name, `Facts.caller`) exactly when `_author_reads` would let the caller read back a
    document they wrote: so that listings and counts (the scope in SQL) show what a
    single read gives. Reading only: `decide_replacement` asks the scope without an
    author, and a replacement of a masked document stays refused."""
    if facts.caller is None or decision.reason not in _PROFESSIONAL_READERS:
        return decision
    return replace(decision, scope=replace(decision.scope, author=facts.caller))


def _released_by_delay(decision: Decision, document: DocumentFacts) -> bool:
    """Whether the patient side sees the document only because its delay ran: its
    `hidden_from_patient` flag is then spent, and clearing it changes nothing."""
    scope, held = decision.scope, Visibility.HIDDEN_FROM_PATIENT
    spent = not scope.hidden_for(document.deposited_us) & held
    return bool(scope.hidden & held and document.visibility & held) and spent


def decide_replacement(document: DocumentFacts, decision: Decision) -> Decision:
    """A new version of an existing document: only its author replaces it, and only while
    they may still see it. The version keeps the document's category and visibility, so
    nothing else is the writer's to choose."""
    if not decision.scope.admits(document.category, document.visibility, document.deposited_us):
        return deny(Reason.DOCUMENT_HIDDEN)
    if not document.authored_by_caller:
        return deny(Reason.NOT_AUTHOR)
    return decision


def decide_new_document(document: DocumentFacts | None, decision: Decision) -> Decision:
    """A new document: its category must be the writer's to write, and its visibility
    flags ones the writer's role may set (an author may hold a document back from the
    patient; the patient side may mask)."""
    if document is None:
        return deny(Reason.CATEGORY_NOT_WRITABLE)
    insurer = decision.reason is Reason.INSURER
    if insurer != (document.category is DocumentCategory.REIMBURSEMENT_HISTORY):
        return deny(Reason.CATEGORY_NOT_WRITABLE)
    settable = Visibility.NORMAL if insurer else _SETTABLE.get(decision.reason, _AUTHOR_SETTABLE)
    if document.visibility & ~settable:
        return deny(Reason.VISIBILITY_NOT_SETTABLE)
    return decision
