"""A dossier's legal lifecycle: closure, conservation, reopening, holds and destruction.

    active --close--> closed --reopen (within the conservation period)--> active
    active --death declared--> closed for good (never reopened; heirs' access: heirs.py)
    active|closed --deletion requested--> closed, due at once (to be done within 3 months)
    closed --deadline passed, no legal hold--> destroyed (by the retention job)

A closed dossier is kept `conservation_years` (10 by law) after its closure, then
destroyed; the deadline is computed at closure and recorded on the dossier, so a change
of the rule later does not move deadlines already set. A patient's deletion request makes
the dossier due at once; the law gives three months to carry it out. A legal hold stops
any destruction, and any deletion of a document, until every hold is released. Rolling
windows destroy old documents of some categories (the reimbursement history keeps 24
months, counted from the date of care) in active dossiers. A document held back from the
patient is released automatically a month after its deposit, the holder told before.

Pure: plain values in, plain values out, the time always passed in (Unix microseconds,
UTC). No I/O, no clock; the service stores the result and journals the transition.
"""

from __future__ import annotations

import calendar
import uuid
from dataclasses import dataclass, replace
from enum import StrEnum

from vault.domain.clock import from_us, to_us
from vault.domain.model import ClosureReason, DocumentCategory, DossierState
from vault.errors import FailedPreconditionError

_DAY_US = 86_400 * 1_000_000


@dataclass(frozen=True, slots=True)
class RetentionRules:
    """The law's durations, configurable by the operator."""

    conservation_years: int = 10
    deletion_delay_days: int = 90  # how long a deletion request may take, at most
    deletion_warning_days: int = 14  # reported as approaching this long before
    rolling_windows_months: tuple[tuple[DocumentCategory, int], ...] = (
        (DocumentCategory.REIMBURSEMENT_HISTORY, 24),
    )
    held_back_release_months: int = 1  # a document held back from the patient, at most
    held_back_notice_days: int = 14  # after its deposit, the holder is told of its release
    heir_access_max_days: int = 365  # an heir's access, at most (ours: no text sets one)
    deletion_notice_days: int = 365  # the holder reads a deletion's notice (ours)


DEFAULT_RULES = RetentionRules()


@dataclass(frozen=True, slots=True)
class LegalHold:
    """A legal hold on a dossier: while it is in force (not released), nothing destroys
    the dossier. Who placed or released it is an actor reference, never an identity."""

    hold_id: int
    dossier_id: uuid.UUID
    placed_us: int
    placed_by: str
    reason: str
    released_us: int | None = None
    released_by: str | None = None
    release_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """Where a dossier stands. Times are Unix microseconds, UTC."""

    state: DossierState = DossierState.ACTIVE
    closed_us: int | None = None
    closure_reason: ClosureReason | None = None
    destroy_after_us: int | None = None  # the conservation deadline, or the deletion request
    holds: int = 0  # legal holds in force


def add_years(time_us: int, years: int) -> int:
    """The same calendar day `years` later (29 February becomes 28 February)."""
    moment = from_us(time_us)
    year = moment.year + years
    day = min(moment.day, calendar.monthrange(year, moment.month)[1])
    return to_us(moment.replace(year=year, day=day))


def add_months(time_us: int, months: int) -> int:
    """The same day of the month `months` later (or earlier, if negative), clamped to the
    month's last day."""
    moment = from_us(time_us)
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return to_us(moment.replace(year=year, month=month, day=day))


def close(
    lifecycle: Lifecycle, now_us: int, reason: ClosureReason, rules: RetentionRules
) -> Lifecycle:
    """Closes an active dossier: no access by anyone, kept until the deadline."""
    if lifecycle.state is not DossierState.ACTIVE:
        raise FailedPreconditionError("only an active dossier can be closed")
    if reason is ClosureReason.DELETION_REQUEST:
        raise FailedPreconditionError("a deletion request is not a closure")
    deadline = add_years(now_us, rules.conservation_years)
    return replace(
        lifecycle,
        state=DossierState.CLOSED,
        closed_us=now_us,
        closure_reason=reason,
        destroy_after_us=deadline,
    )


def reopen(lifecycle: Lifecycle, now_us: int) -> Lifecycle:
    """Reopens a closed dossier within its conservation period; its documents come back
    untouched. A dossier whose deletion was requested, closed for its holder's death,
    or whose deadline passed, stays closed."""
    if lifecycle.state is not DossierState.CLOSED:
        raise FailedPreconditionError("only a closed dossier can be reopened")
    if lifecycle.closure_reason is ClosureReason.DEATH:
        raise FailedPreconditionError("a dossier closed for a death is never reopened")
    if lifecycle.closure_reason is ClosureReason.DELETION_REQUEST:
        raise FailedPreconditionError("the patient asked for this dossier's deletion")
    if lifecycle.destroy_after_us is not None and now_us >= lifecycle.destroy_after_us:
        raise FailedPreconditionError("the conservation period is over")
    return Lifecycle(holds=lifecycle.holds)


def request_deletion(lifecycle: Lifecycle, now_us: int) -> Lifecycle:
    """The patient asks for early destruction: closed at once and due at once."""
    if lifecycle.state is DossierState.DESTROYED:
        raise FailedPreconditionError("the dossier is already destroyed")
    if lifecycle.closure_reason is ClosureReason.DELETION_REQUEST:
        return lifecycle  # asked twice: the first request stands
    return replace(
        lifecycle,
        state=DossierState.CLOSED,
        closed_us=lifecycle.closed_us if lifecycle.closed_us is not None else now_us,
        closure_reason=ClosureReason.DELETION_REQUEST,
        destroy_after_us=now_us,
    )


def check_document_deletion(lifecycle: Lifecycle) -> None:
    """A legal hold keeps every document of the dossier, as it keeps the dossier: the
    patient side's deletion of one is refused while a hold is in force."""
    if lifecycle.holds > 0:
        raise FailedPreconditionError(
            "legal-hold: a legal hold is in force on this dossier; its documents are kept "
            "until it is released"
        )


class DeadlineStatus(StrEnum):
    """Where a requested deletion stands against its legal deadline."""

    ON_TIME = "on-time"
    APPROACHING = "approaching"
    OVERDUE = "overdue"


def deletion_status(
    lifecycle: Lifecycle, now_us: int, rules: RetentionRules
) -> DeadlineStatus | None:
    """How a pending deletion request stands (None: none pending). Approaching from
    `deletion_warning_days` before the deadline; overdue at the deadline."""
    deadline = deletion_deadline_us(lifecycle, rules)
    if deadline is None or lifecycle.state is not DossierState.CLOSED:
        return None
    if now_us >= deadline:
        return DeadlineStatus.OVERDUE
    if now_us >= deadline - rules.deletion_warning_days * _DAY_US:
        return DeadlineStatus.APPROACHING
    return DeadlineStatus.ON_TIME


def deletion_deadline_us(lifecycle: Lifecycle, rules: RetentionRules) -> int | None:
    """When a requested deletion must be done by (None: no deletion requested)."""
    if lifecycle.closure_reason is not ClosureReason.DELETION_REQUEST:
        return None
    assert lifecycle.destroy_after_us is not None  # set with the request
    return lifecycle.destroy_after_us + rules.deletion_delay_days * _DAY_US


def is_due(lifecycle: Lifecycle, now_us: int) -> bool:
    """Whether the retention job must destroy the dossier now."""
    return (
        lifecycle.state is DossierState.CLOSED
        and lifecycle.holds == 0
        and lifecycle.destroy_after_us is not None
        and lifecycle.destroy_after_us <= now_us
    )


def destroy(lifecycle: Lifecycle, now_us: int) -> Lifecycle:
    """The retention job destroyed the dossier."""
    if not is_due(lifecycle, now_us):
        raise FailedPreconditionError("the dossier is not due for destruction")
    return replace(lifecycle, state=DossierState.DESTROYED)


def released_up_to_us(now_us: int, release_months: int) -> int:
    """Documents held back from the patient and deposited at or before this time are
    released: their delay (`release_months`, the same day of the month) has run."""
    return add_months(now_us, -release_months)


def release_notice_up_to_us(now_us: int, rules: RetentionRules) -> int:
    """Documents held back and deposited at or before this time are due their notice."""
    return now_us - rules.held_back_notice_days * _DAY_US


def window_anchor_us(deposited_us: int, care_us: int | None) -> int:
    """Where a rolling window counts from: the date of care, or the deposit when no date
    of care was given; a date of care after the deposit (an error) counts as the deposit,
    so that no line outlives its window by a typo."""
    return deposited_us if care_us is None else min(care_us, deposited_us)


def rolling_cutoffs(now_us: int, rules: RetentionRules) -> dict[DocumentCategory, int]:
    """Per category with a rolling window: documents whose window anchor (the date of
    care, `window_anchor_us`) is before this time are due."""
    return {
        category: add_months(now_us, -months) for category, months in rules.rolling_windows_months
    }
