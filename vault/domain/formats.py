"""Which document format a media type carries, and whether a declared format agrees.

The DMP accepts a short list of formats (PDF, CDA R2 XML, FHIR JSON, images, plain
text); a media type outside it is refused at the edge rather than stored as something a
viewer cannot open. Media type parameters (`; charset=utf-8`) are ignored here and kept
as given. Pure: no I/O.
"""

from __future__ import annotations

from vault.domain.model import DocumentFormat
from vault.errors import InvalidArgumentError

_FORMATS: dict[str, DocumentFormat] = {
    "application/pdf": DocumentFormat.PDF,
    "text/xml": DocumentFormat.CDA_R2,
    "application/xml": DocumentFormat.CDA_R2,
    "application/fhir+json": DocumentFormat.FHIR_JSON,
    "application/json": DocumentFormat.FHIR_JSON,
    "application/dicom": DocumentFormat.IMAGE,
    "text/plain": DocumentFormat.TEXT,
}
_IMAGE_PREFIX = "image/"


def format_of(media_type: str, declared: DocumentFormat | None = None) -> DocumentFormat:
    """The format `media_type` carries; InvalidArgumentError if the vault does not take
    it, or if `declared` says otherwise."""
    essence = media_type.split(";", 1)[0].strip().lower()
    found = _FORMATS.get(essence)
    if found is None and essence.startswith(_IMAGE_PREFIX) and len(essence) > len(_IMAGE_PREFIX):
        found = DocumentFormat.IMAGE
    if found is None:
        raise InvalidArgumentError(
            "unsupported media type: PDF, CDA R2 XML, FHIR JSON, images and plain text only"
        )
    if declared is not None and declared is not found:
        raise InvalidArgumentError("the media type does not match the declared format")
    return found
