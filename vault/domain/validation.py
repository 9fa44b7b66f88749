"""What a request may ask for, checked before anything is looked up: document metadata, a
search's filters, a legal hold's reason, a page size, and their limits.

Pure: each function takes the request's values (and the time, where it matters) and
returns them as the service uses them, or raises InvalidArgumentError. It knows nothing
of the dossier or the caller: whether the request is allowed is the policy's
(`vault.domain.policy`), whether what it names exists is the service's.
"""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from datetime import UTC, datetime

from vault.domain.clock import to_us
from vault.domain.formats import format_of
from vault.domain.identifiers import parse_rpps, parse_type_code
from vault.domain.model import DocumentCategory, DocumentMetadata, DocumentQuery, DocumentStatus
from vault.errors import InvalidArgumentError

MAX_TITLE_LENGTH = 1000
MAX_MEDIA_TYPE_LENGTH = 255
MIN_CARE_DATE_US = to_us(datetime(1900, 1, 1, tzinfo=UTC))
CARE_DATE_SLACK_US = 24 * 3600 * 1_000_000  # time zones and clocks: a day ahead at most
MAX_FILTER_VALUES = 100
MAX_HOLD_REASON_LENGTH = 200
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def validate_metadata(metadata: DocumentMetadata, now_us: int) -> DocumentMetadata:
    """The metadata as stored: checked, its format derived from the media type when not
    declared."""
    if not isinstance(metadata.category, DocumentCategory):
        raise InvalidArgumentError("unknown document category")
    validate_title(metadata.title)
    if len(metadata.media_type) > MAX_MEDIA_TYPE_LENGTH:
        raise InvalidArgumentError(f"media type longer than {MAX_MEDIA_TYPE_LENGTH} characters")
    if metadata.type_code:
        parse_type_code(metadata.type_code)
    if metadata.care_date is not None:
        care_us = to_us(metadata.care_date)
        if not MIN_CARE_DATE_US <= care_us <= now_us + CARE_DATE_SLACK_US:
            raise InvalidArgumentError("the date of care is in the future or before 1900")
    return replace(metadata, format=format_of(metadata.media_type, metadata.format))


def validate_title(title: str) -> str:
    """A title a listing can print: not blank, no control characters (a terminal escape
    in `doc ls`), at most MAX_TITLE_LENGTH characters."""
    if not title.strip():
        raise InvalidArgumentError("empty title")
    if any(unicodedata.category(c) == "Cc" for c in title):
        raise InvalidArgumentError("title contains control characters")
    if len(title) > MAX_TITLE_LENGTH:
        raise InvalidArgumentError(f"title longer than {MAX_TITLE_LENGTH} characters")
    return title


def validate_query(query: DocumentQuery) -> DocumentQuery:
    """A search's filters, checked: known values, well-formed codes, a date range the
    right way round."""
    if not query.statuses <= set(DocumentStatus):
        raise InvalidArgumentError("unknown document status")
    if not query.categories <= set(DocumentCategory):
        raise InvalidArgumentError("unknown document category")
    if max(len(query.categories), len(query.type_codes)) > MAX_FILTER_VALUES:
        raise InvalidArgumentError(f"at most {MAX_FILTER_VALUES} values per filter")
    for code in query.type_codes:
        parse_type_code(code)
    if query.author is not None:
        parse_rpps(query.author)
    if (
        query.care_from is not None
        and query.care_until is not None
        and query.care_from >= query.care_until
    ):
        raise InvalidArgumentError("the date range ends before it starts")
    return query


def hold_reason(text: str) -> str:
    """A legal hold's reason: a court or case reference, short, printable, one line."""
    reason = text.strip()
    if not reason or len(reason) > MAX_HOLD_REASON_LENGTH or not reason.isprintable():
        raise InvalidArgumentError(
            f"a hold needs a reason: 1 to {MAX_HOLD_REASON_LENGTH} printable characters"
        )
    return reason


def page_limit(page_size: int | None) -> int:
    """How many items a page holds: the size asked for, or the default when unset."""
    if page_size is None:
        return DEFAULT_PAGE_SIZE
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidArgumentError(
            f"page size must be 1 to {MAX_PAGE_SIZE} (unset: {DEFAULT_PAGE_SIZE})"
        )
    return page_size
