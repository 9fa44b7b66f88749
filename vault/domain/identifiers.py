"""National identifiers and codes: the patient's INS (NIR + key), the professional's RPPS
number, and document type codes (LOINC or the DMP's own).

All are validated here, including their check digits, so that a typo or a forged number
is refused at the edge. An `Ins` never shows its value in `repr` or `str`: it is a
patient identifier and must not reach a log line by accident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from vault.errors import InvalidArgumentError

# sex/kind (1-4 real NIR, 7-8 provisional NIA), year, month, department (2A/2B for
# Corsica), commune, order number, then the two-digit key.
_INS_PATTERN = re.compile(r"[1-478]\d{4}(?:\d{2}|2A|2B)\d{6}\d{2}")
_CORSICA = {"2A": "19", "2B": "18"}  # substitutions used by the key computation
_RPPS_PATTERN = re.compile(r"\d{11}")


@dataclass(frozen=True, slots=True)
class Ins:
    """A validated INS, normalised to 15 characters without spaces."""

    value: str = field(repr=False)

    def __str__(self) -> str:
        return "Ins(<redacted>)"

    def __repr__(self) -> str:
        return "Ins(<redacted>)"


def ins_key(nir13: str) -> int:
    """The NIR control key: 97 - (NIR mod 97), with 2A -> 19 and 2B -> 18."""
    digits = nir13[:5] + _CORSICA.get(nir13[5:7], nir13[5:7]) + nir13[7:]
    return 97 - int(digits) % 97


def parse_ins(text: str) -> Ins:
    """Validates an INS (spaces allowed); the error message never echoes the input."""
    candidate = text.replace(" ", "").upper()
    if not _INS_PATTERN.fullmatch(candidate):
        raise InvalidArgumentError("malformed INS: expected 13 characters and a 2-digit key")
    if ins_key(candidate[:13]) != int(candidate[13:]):
        raise InvalidArgumentError("malformed INS: the control key does not match")
    return Ins(candidate)


def luhn_valid(digits: str) -> bool:
    """The Luhn mod-10 check used by RPPS numbers."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def parse_rpps(text: str) -> str:
    """Validates an RPPS number: 11 digits whose last one is a Luhn check digit."""
    if not _RPPS_PATTERN.fullmatch(text) or not luhn_valid(text):
        raise InvalidArgumentError("malformed RPPS number")
    return text


_LOINC_PATTERN = re.compile(r"(\d{1,7})-(\d)")
_DMP_CODE_PATTERN = re.compile(r"[A-Z][A-Z0-9_-]{1,15}")


def parse_type_code(text: str) -> str:
    """Validates a document type code as the DMP's XDS typeCode carries it: a LOINC code
    (`11502-2`: up to seven digits, a hyphen and the mod-10 check digit LOINC computes as
    Luhn does), or a code of the French list TRE_A05 (`EXPPAT_3`, `REMB`, `IMG-KOS`:
    capitals, digits, `_` and `-`). The vault does not hold the terminologies: a
    well-formed code that was never assigned passes (docs/document-classes.md)."""
    loinc = _LOINC_PATTERN.fullmatch(text)
    if loinc is not None and luhn_valid(loinc[1] + loinc[2]):
        return text
    if loinc is None and _DMP_CODE_PATTERN.fullmatch(text):
        return text
    raise InvalidArgumentError("malformed document type code: a LOINC or TRE_A05 code")
