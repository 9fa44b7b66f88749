"""What a request may ask for (`vault.domain.validation`), without a server: metadata,
search filters, hold reasons and page sizes at and past their limits. The same refusals
through the API, journaled, are in tests/server/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vault.domain.clock import to_us
from vault.domain.model import (
    DocumentCategory,
    DocumentFormat,
    DocumentMetadata,
    DocumentQuery,
)
from vault.domain.validation import (
    DEFAULT_PAGE_SIZE,
    MAX_FILTER_VALUES,
    MAX_HOLD_REASON_LENGTH,
    MAX_MEDIA_TYPE_LENGTH,
    MAX_PAGE_SIZE,
    MAX_TITLE_LENGTH,
    hold_reason,
    page_limit,
    validate_metadata,
    validate_query,
)
from vault.errors import InvalidArgumentError

NOW = datetime(2026, 3, 1, tzinfo=UTC)
REPORT = DocumentMetadata("CR", DocumentCategory.REPORTS, "application/pdf")


def test_metadata_gets_its_format_from_its_media_type_at_the_limits() -> None:
    longest = DocumentMetadata(
        "t" * MAX_TITLE_LENGTH,
        DocumentCategory.REPORTS,
        "image/" + "a" * (MAX_MEDIA_TYPE_LENGTH - len("image/")),
        care_date=NOW + timedelta(hours=23),
    )
    assert validate_metadata(longest, to_us(NOW)).format is DocumentFormat.IMAGE
    assert validate_metadata(REPORT, to_us(NOW)).format is DocumentFormat.PDF


@pytest.mark.parametrize(
    "metadata",
    [
        DocumentMetadata("t" * (MAX_TITLE_LENGTH + 1), DocumentCategory.REPORTS, "text/plain"),
        DocumentMetadata("CR", DocumentCategory.REPORTS, "a" * (MAX_MEDIA_TYPE_LENGTH + 1)),
        DocumentMetadata("CR", "reports", "text/plain"),  # type: ignore[arg-type]
        DocumentMetadata("CR", DocumentCategory.REPORTS, "text/plain", type_code="11502-3"),
        DocumentMetadata(
            "CR",
            DocumentCategory.REPORTS,
            "text/plain",
            care_date=datetime(1899, 12, 31, tzinfo=UTC),
        ),
        DocumentMetadata(
            "CR", DocumentCategory.REPORTS, "text/plain", care_date=NOW + timedelta(days=2)
        ),
    ],
    ids=["title", "media-type", "category", "type-code", "before-1900", "future"],
)
def test_bad_metadata_is_refused(metadata: DocumentMetadata) -> None:
    with pytest.raises(InvalidArgumentError):
        validate_metadata(metadata, to_us(NOW))


@pytest.mark.parametrize(
    "query",
    [
        DocumentQuery(type_codes=frozenset({"nope"})),
        DocumentQuery(author="123"),
        DocumentQuery(type_codes=frozenset(f"CODE_{i}" for i in range(MAX_FILTER_VALUES + 1))),
        DocumentQuery(care_from=NOW, care_until=NOW),
        DocumentQuery(statuses=frozenset({"archived"})),  # type: ignore[arg-type]
    ],
    ids=["type-code", "author", "too-many", "empty-range", "status"],
)
def test_bad_filters_are_refused(query: DocumentQuery) -> None:
    with pytest.raises(InvalidArgumentError):
        validate_query(query)


def test_good_filters_pass_unchanged() -> None:
    query = DocumentQuery(
        categories=frozenset(DocumentCategory),
        type_codes=frozenset({"11502-2", "EXPPAT_3"}),
        care_from=NOW - timedelta(days=1),
        care_until=NOW,
    )
    assert validate_query(query) is query


def test_a_hold_reason_is_short_printable_and_trimmed() -> None:
    assert hold_reason("  TJ Paris 26/00123 ") == "TJ Paris 26/00123"
    assert hold_reason("x" * MAX_HOLD_REASON_LENGTH)
    for bad in ("", "   ", "x" * (MAX_HOLD_REASON_LENGTH + 1), "two\nlines"):
        with pytest.raises(InvalidArgumentError):
            hold_reason(bad)


def test_a_page_size_is_one_to_the_maximum_or_the_default() -> None:
    assert page_limit(None) == DEFAULT_PAGE_SIZE
    assert page_limit(1) == 1
    assert page_limit(MAX_PAGE_SIZE) == MAX_PAGE_SIZE
    for bad in (0, -1, MAX_PAGE_SIZE + 1):
        with pytest.raises(InvalidArgumentError):
            page_limit(bad)
