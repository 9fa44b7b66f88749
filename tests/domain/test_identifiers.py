"""INS, RPPS and document type code validation, and ids."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vault.domain.identifiers import ins_key, luhn_valid, parse_ins, parse_rpps, parse_type_code
from vault.domain.ids import new_id, new_object_key, parse_id
from vault.errors import InvalidArgumentError


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("184127645108946", "184127645108946"),
        ("1 84 12 76 451 089 46", "184127645108946"),
        ("190012A12345615", "190012A12345615"),  # Corsica, 2A -> 19 in the key
        ("190012b12345642", "190012B12345642"),  # Corsica, 2B -> 18, lower case accepted
    ],
)
def test_valid_ins_is_normalised(text: str, normalised: str) -> None:
    assert parse_ins(text).value == normalised


@pytest.mark.parametrize(
    "text",
    [
        "",
        "18412764510894",  # too short
        "1841276451089460",  # too long
        "184127645108947",  # wrong key
        "190012C12345615",  # letters other than 2A/2B
        "1900A2112345615",  # 2A outside the department field
        "584127645108946",  # impossible first digit
        "18412764510894X",
    ],
)
def test_malformed_ins_is_refused_without_echo(text: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        parse_ins(text)
    assert text == "" or text not in str(caught.value)


def test_ins_never_shows_its_value() -> None:
    ins = parse_ins("184127645108946")
    assert "1841" not in repr(ins)
    assert "1841" not in str(ins)
    assert "1841" not in f"{ins}"


@given(st.from_regex(r"[1-478]\d{4}(\d{2}|2A|2B)\d{6}", fullmatch=True))
def test_the_computed_key_always_validates(nir: str) -> None:
    assert parse_ins(f"{nir}{ins_key(nir):02d}").value == f"{nir}{ins_key(nir):02d}"


@given(st.text(max_size=40))
def test_parsing_any_text_raises_only_invalid_argument(text: str) -> None:
    with contextlib.suppress(InvalidArgumentError):
        parse_ins(text)


def test_rpps_with_a_valid_luhn_key_is_accepted() -> None:
    assert parse_rpps("10003500005") == "10003500005"


@pytest.mark.parametrize("text", ["10003500004", "1000350000", "1000350000a", "10003500050", ""])
def test_forged_or_malformed_rpps_is_refused(text: str) -> None:
    with pytest.raises(InvalidArgumentError):
        parse_rpps(text)


def test_ids_are_time_ordered_uuid7() -> None:
    first, second = new_id(1_000), new_id(2_000)
    assert first.version == 7
    assert first < second


def test_non_canonical_id_is_refused() -> None:
    canonical = str(new_id())
    assert parse_id(canonical, "id") == parse_id(canonical, "id")
    for text in (canonical.upper(), canonical.replace("-", ""), "{" + canonical + "}", "x"):
        with pytest.raises(InvalidArgumentError):
            parse_id(text, "id")


def test_object_keys_are_opaque_random_hex() -> None:
    keys = {new_object_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(len(k) == 32 and int(k, 16) >= 0 for k in keys)


@pytest.mark.parametrize(
    "code", ["11502-2", "34133-9", "18748-4", "60591-5", "EXPPAT_3", "REMB", "IMG-KOS"]
)
def test_loinc_and_tre_a05_type_codes_are_accepted(code: str) -> None:
    assert parse_type_code(code) == code


@pytest.mark.parametrize(
    "code",
    ["11502-3", "11502", "-2", "12345678-9", "1150-22", "remb", "R", "X" * 17, "11502-2\n"],
    ids=[
        "wrong-check-digit",
        "no-check-digit",
        "no-number",
        "eight-digits",
        "two-check-digits",
        "lower-case",
        "one-letter",
        "too-long",
        "trailing-newline",
    ],
)
def test_malformed_type_codes_are_refused(code: str) -> None:
    with pytest.raises(InvalidArgumentError, match="type code"):
        parse_type_code(code)


@given(st.integers(min_value=0, max_value=9_999_999), st.integers(0, 9))
def test_exactly_one_check_digit_makes_a_loinc_code(number: int, check: int) -> None:
    code = f"{number}-{check}"
    valid = [c for c in range(10) if luhn_valid(f"{number}{c}")]
    assert len(valid) == 1
    if check in valid:
        assert parse_type_code(code) == code
    else:
        with pytest.raises(InvalidArgumentError):
            parse_type_code(code)


@given(st.text())
def test_parsing_any_type_code_raises_only_invalid_argument(text: str) -> None:
    with contextlib.suppress(InvalidArgumentError):
        parse_type_code(text)
