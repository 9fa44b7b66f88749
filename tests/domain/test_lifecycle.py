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
    Lifecycle,
    RetentionRules,
    add_months,
    add_years,
    close,
    deletion_deadline_us,
    destroy,
    is_due,
    reopen,
    request_deletion,
    rolling_cutoffs,
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
