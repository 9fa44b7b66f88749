"""Which formats the vault takes, derived from the media type or declared and checked."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vault.domain.formats import format_of
from vault.domain.model import DocumentFormat
from vault.errors import InvalidArgumentError

F = DocumentFormat


@pytest.mark.parametrize(
    ("media_type", "expected"),
    [
        ("application/pdf", F.PDF),
        ("text/xml", F.CDA_R2),
        ("application/xml; charset=utf-8", F.CDA_R2),
        ("application/fhir+json", F.FHIR_JSON),
        ("image/jpeg", F.IMAGE),
        ("IMAGE/PNG", F.IMAGE),
        ("application/dicom", F.IMAGE),
        ("text/plain;charset=UTF-8", F.TEXT),
    ],
)
def test_the_format_is_derived_from_the_media_type(media_type: str, expected: F) -> None:
    assert format_of(media_type) is expected
    assert format_of(media_type, expected) is expected


@pytest.mark.parametrize(
    "media_type",
    ["application/octet-stream", "text/html", "application/x-msdownload", "image/", "", "pdf"],
)
def test_a_media_type_outside_the_dmps_formats_is_refused(media_type: str) -> None:
    with pytest.raises(InvalidArgumentError, match="unsupported media type"):
        format_of(media_type)


def test_a_declared_format_that_contradicts_the_media_type_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="does not match"):
        format_of("application/pdf", F.CDA_R2)


@given(st.text(), st.sampled_from([None, *DocumentFormat]))
def test_any_media_type_gives_a_format_or_an_invalid_argument(
    media_type: str, declared: DocumentFormat | None
) -> None:
    with contextlib.suppress(InvalidArgumentError):
        assert isinstance(format_of(media_type, declared), DocumentFormat)
