"""The dossier lifecycle with time made to pass: closure, ten years, reopening, holds,
deletion requests and rolling windows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vault.domain.clock import to_us
from vault.domain.lifecycle import (
    DeadlineStatus,
    Lifecycle,
    RetentionRules,
    add_months,
    add_years,
    check_document_deletion,
    close,
    deletion_deadline_us,
    deletion_status,
    destroy,
    is_due,
    release_notice_up_to_us,
    released_up_to_us,
    reopen,
    request_deletion,
    rolling_cutoffs,
    window_anchor_us,
)
from vault.domain.model import ClosureReason, DocumentCategory, DossierState
from vault.errors import FailedPreconditionError

RULES = RetentionRules()
CLOSED_ON = to_us(datetime(2026, 3, 15, 9, 30, tzinfo=UTC))
TEN_YEARS_LATER = to_us(datetime(2036, 3, 15, 9, 30, tzinfo=UTC))
A_DAY = 86_400 * 1_000_000


def closed() -> Lifecycle:
    return close(Lifecycle(), CLOSED_ON, ClosureReason.PATIENT_REQUEST, RULES)


def test_a_closed_dossier_is_kept_ten_years_to_the_day() -> None:
    lifecycle = closed()
    assert lifecycle.state is DossierState.CLOSED
    assert lifecycle.destroy_after_us == TEN_YEARS_LATER
    assert not is_due(lifecycle, TEN_YEARS_LATER - 1)
    assert is_due(lifecycle, TEN_YEARS_LATER)
    assert destroy(lifecycle, TEN_YEARS_LATER).state is DossierState.DESTROYED


def test_a_closure_on_29_february_ends_on_28_february() -> None:
    leap = to_us(datetime(2028, 2, 29, tzinfo=UTC))
    assert add_years(leap, 10) == to_us(datetime(2038, 2, 28, tzinfo=UTC))


def test_reopening_within_the_period_brings_the_dossier_back() -> None:
    reopened = reopen(closed(), TEN_YEARS_LATER - A_DAY)
    assert reopened == Lifecycle()
    again = close(reopened, TEN_YEARS_LATER, ClosureReason.DEATH, RULES)
    assert again.destroy_after_us == add_years(TEN_YEARS_LATER, 10)


def test_reopening_after_the_period_is_refused() -> None:
    with pytest.raises(FailedPreconditionError, match="conservation period"):
        reopen(closed(), TEN_YEARS_LATER)


def test_a_legal_hold_stops_destruction_until_released() -> None:
    held = replace(closed(), holds=1)
    assert not is_due(held, TEN_YEARS_LATER * 2)
    with pytest.raises(FailedPreconditionError):
        destroy(held, TEN_YEARS_LATER * 2)


def test_a_deletion_request_is_due_at_once_and_cannot_be_reopened() -> None:
    asked = request_deletion(Lifecycle(), CLOSED_ON)
    assert asked.state is DossierState.CLOSED
    assert is_due(asked, CLOSED_ON)
    assert deletion_deadline_us(asked, RULES) == CLOSED_ON + 90 * A_DAY
    assert request_deletion(asked, CLOSED_ON + A_DAY) == asked
    with pytest.raises(FailedPreconditionError, match="deletion"):
        reopen(asked, CLOSED_ON + A_DAY)


def test_a_deletion_request_on_a_closed_dossier_keeps_its_closure_date() -> None:
    asked = request_deletion(closed(), CLOSED_ON + A_DAY)
    assert (asked.closed_us, asked.destroy_after_us) == (CLOSED_ON, CLOSED_ON + A_DAY)
    assert deletion_deadline_us(closed(), RULES) is None


@pytest.mark.parametrize(
    ("transition", "start"),
    [
        (lambda lc: close(lc, CLOSED_ON, ClosureReason.DEATH, RULES), DossierState.CLOSED),
        (lambda lc: reopen(lc, CLOSED_ON), DossierState.ACTIVE),
        (lambda lc: request_deletion(lc, CLOSED_ON), DossierState.DESTROYED),
    ],
    ids=["close-closed", "reopen-active", "delete-destroyed"],
)
def test_transitions_from_the_wrong_state_are_refused(
    transition: Callable[[Lifecycle], Lifecycle], start: DossierState
) -> None:
    with pytest.raises(FailedPreconditionError):
        transition(Lifecycle(state=start))


def test_the_reimbursement_history_keeps_24_months() -> None:
    now = to_us(datetime(2026, 11, 25, tzinfo=UTC))
    assert rolling_cutoffs(now, RULES) == {
        DocumentCategory.REIMBURSEMENT_HISTORY: to_us(datetime(2024, 11, 25, tzinfo=UTC))
    }


def test_months_are_clamped_to_the_end_of_the_month() -> None:
    assert add_months(to_us(datetime(2026, 3, 31, tzinfo=UTC)), -1) == to_us(
        datetime(2026, 2, 28, tzinfo=UTC)
    )


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2080, 12, 31)),
    st.integers(min_value=-600, max_value=600),
)
def test_adding_months_lands_in_the_right_month(start: datetime, months: int) -> None:
    result = datetime.fromtimestamp(add_months(to_us(start.replace(tzinfo=UTC)), months) / 1e6, UTC)
    index = start.year * 12 + start.month - 1 + months
    assert (result.year, result.month) == (index // 12, index % 12 + 1)


@given(st.integers(min_value=0, max_value=40), st.integers(min_value=0, max_value=3))
def test_nothing_is_ever_due_under_a_hold_or_before_its_deadline(years: int, holds: int) -> None:
    held = replace(closed(), holds=holds)
    now = add_years(CLOSED_ON, years)
    assert is_due(held, now) == (holds == 0 and years >= 10)


def test_a_legal_hold_refuses_the_deletion_of_a_document_without_saying_what_it_holds() -> None:
    check_document_deletion(Lifecycle())
    with pytest.raises(FailedPreconditionError, match=r"^legal-hold: ") as refused:
        check_document_deletion(Lifecycle(holds=1))
    assert "dossier" in str(refused.value)  # the reason, never a document or a name


@pytest.mark.parametrize(
    ("days_after_request", "status"),
    [
        (0, DeadlineStatus.ON_TIME),
        (75, DeadlineStatus.ON_TIME),
        (76, DeadlineStatus.APPROACHING),  # 14 days before the 90th
        (89, DeadlineStatus.APPROACHING),
        (90, DeadlineStatus.OVERDUE),
        (400, DeadlineStatus.OVERDUE),
    ],
)
def test_a_deletion_request_approaches_then_passes_its_three_month_deadline(
    days_after_request: int, status: DeadlineStatus
) -> None:
    asked = request_deletion(Lifecycle(), CLOSED_ON)
    assert deletion_status(asked, CLOSED_ON + days_after_request * A_DAY, RULES) is status


def test_only_a_pending_deletion_request_has_a_deadline_status() -> None:
    assert deletion_status(closed(), TEN_YEARS_LATER, RULES) is None
    asked = request_deletion(Lifecycle(), CLOSED_ON)
    gone = replace(asked, state=DossierState.DESTROYED)
    assert deletion_status(gone, CLOSED_ON + 100 * A_DAY, RULES) is None
    shorter = RetentionRules(deletion_delay_days=30, deletion_warning_days=0)
    assert deletion_status(asked, CLOSED_ON + 29 * A_DAY, shorter) is DeadlineStatus.ON_TIME
    assert deletion_status(asked, CLOSED_ON + 30 * A_DAY, shorter) is DeadlineStatus.OVERDUE


def test_a_rolling_window_counts_from_the_date_of_care_not_the_upload() -> None:
    uploaded = CLOSED_ON
    cared = add_months(uploaded, -23)  # back-filled: care 23 months before the upload
    assert window_anchor_us(uploaded, cared) == cared
    assert window_anchor_us(uploaded, None) == uploaded  # no date of care: the deposit
    assert window_anchor_us(uploaded, uploaded + A_DAY) == uploaded  # care after: a typo
    cutoff = rolling_cutoffs(add_months(uploaded, 1) + A_DAY, RULES)
    assert window_anchor_us(uploaded, cared) < cutoff[DocumentCategory.REIMBURSEMENT_HISTORY]
    cutoff = rolling_cutoffs(add_months(uploaded, 1) - A_DAY, RULES)
    assert window_anchor_us(uploaded, cared) >= cutoff[DocumentCategory.REIMBURSEMENT_HISTORY]


def test_a_held_back_document_is_announced_two_weeks_after_its_deposit() -> None:
    deposited = CLOSED_ON
    assert release_notice_up_to_us(deposited + 14 * A_DAY, RULES) == deposited
    assert release_notice_up_to_us(deposited + 14 * A_DAY - 1, RULES) < deposited
    assert released_up_to_us(add_months(deposited, 1), 1) == deposited
    assert released_up_to_us(add_months(deposited, 1) - 1, 1) < deposited
