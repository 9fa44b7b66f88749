"""`agrees`: a declared media type against the content's first bytes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vault.domain.magic import SNIFF_BYTES, agrees

SIGNED = {
    "application/pdf": b"%PDF-1.7\n",
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/jpeg": b"\xff\xd8\xff\xe0",
    "image/gif": b"GIF89a",
    "image/tiff": b"MM\x00*",
    "application/dicom": bytes(128) + b"DICM",
}


@pytest.mark.parametrize(("media_type", "head"), SIGNED.items())
def test_a_content_with_its_formats_signature_agrees(media_type: str, head: bytes) -> None:
    assert agrees(media_type, head + b"rest")
    assert agrees(media_type.upper() + "; charset=binary", head)


@pytest.mark.parametrize("media_type", SIGNED)
def test_a_text_declared_as_a_signed_format_is_refused(media_type: str) -> None:
    assert not agrees(media_type, b"hello, not that format at all")
    assert not agrees(media_type, b"")


def test_a_pdf_header_after_leading_bytes_is_still_a_pdf_within_the_first_kib() -> None:
    assert agrees("application/pdf", b"\r\n" * 100 + b"%PDF-1.4")
    assert not agrees("application/pdf", b" " * SNIFF_BYTES + b"%PDF-1.4")


@given(
    st.sampled_from(["text/plain", "application/xml", "application/fhir+json", "image/webp"]),
    st.binary(),
)
def test_formats_without_a_signature_always_agree(media_type: str, head: bytes) -> None:
    assert agrees(media_type, head)


@given(st.text(max_size=40), st.binary(max_size=SNIFF_BYTES + 8))
def test_any_media_type_and_bytes_give_an_answer_never_an_exception(
    media_type: str, head: bytes
) -> None:
    assert agrees(media_type, head) in {True, False}
