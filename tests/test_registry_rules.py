"""Registry rules: pure functions, no database."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kapclinic.clinical.registry import (
    PersonKey,
    age_on,
    birth_date_problem,
    duplicate_reasons,
    is_valid_mrn,
    luhn_check_digit,
    mrn_from_number,
    parse_search,
    phone_digits,
    phone_problem,
)


def test_luhn_check_digit_worked_example() -> None:
    # The classic worked example: 7992739871 has check digit 3.
    assert luhn_check_digit("7992739871") == 3


def test_mrn_format_and_validity() -> None:
    mrn = mrn_from_number(1234567)
    assert mrn[0] == "K" and len(mrn) == 9
    assert is_valid_mrn(mrn)
    assert not is_valid_mrn(mrn[:-1] + str((int(mrn[-1]) + 1) % 10))
    with pytest.raises(ValueError, match="between 1 and 9999999"):
        mrn_from_number(0)


@given(st.integers(min_value=1, max_value=9_999_999), st.integers(min_value=1, max_value=7), st.integers(1, 9))
def test_mrn_catches_any_single_digit_typo(number: int, position: int, shift: int) -> None:
    mrn = mrn_from_number(number)
    digits = list(mrn)
    digits[position] = str((int(digits[position]) + shift) % 10)
    assert not is_valid_mrn("".join(digits))


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("", None),
        ("212-555-0142", None),
        ("(212) 555 0142", None),
        ("1 212 555 0142", None),
        ("+44 20 7946 0958", None),
        ("555-0142", "Enter a 10-digit phone number"),
        ("212-555-01422", "Enter a 10-digit phone number"),
        ("call me", "Enter a phone number using digits"),
        ("+1234", "An international number has 8 to 15 digits"),
    ],
)
def test_phone_problem(raw: str, problem: str | None) -> None:
    result = phone_problem(raw)
    if problem is None:
        assert result is None
    else:
        assert result is not None and result.startswith(problem)


def test_phone_digits_drops_us_country_code() -> None:
    assert phone_digits("1 (212) 555-0142") == "2125550142"
    assert phone_digits("+44 20 7946 0958") == "442079460958"


def test_birth_date_rules() -> None:
    today = date(2026, 11, 24)
    assert birth_date_problem(date(2026, 11, 25), today) == "Date of birth cannot be in the future."
    assert birth_date_problem(date(1901, 1, 1), today) == "Date of birth is more than 125 years ago; check the year."
    assert birth_date_problem(date(1901, 11, 24), today) is None
    assert birth_date_problem(today, today) is None
    assert birth_date_problem(date(1950, 1, 1), date(2028, 2, 29)) is None  # 29 February "today"


def test_age_on_birthday_edges() -> None:
    assert age_on(date(1990, 11, 24), date(2026, 11, 24)) == 36
    assert age_on(date(1990, 11, 25), date(2026, 11, 24)) == 35


def test_duplicate_reasons() -> None:
    new = PersonKey("Cedar", "Example", date(1980, 1, 2), "2125550142")
    assert duplicate_reasons(new, PersonKey(" cedar ", "EXAMPLE", date(1980, 1, 2), "")) == [
        "same name and date of birth"
    ]
    assert duplicate_reasons(new, PersonKey("Oak", "Other", date(1970, 1, 1), "2125550142")) == ["same phone number"]
    assert duplicate_reasons(new, PersonKey("Cedar", "Example", date(1980, 1, 3), "2125550100")) == []


@pytest.mark.parametrize(
    ("query", "field", "value"),
    [
        ("K12345674", "mrn", "K12345674"),
        ("1985-04-12", "birth_date", date(1985, 4, 12)),
        ("04/12/1985", "birth_date", date(1985, 4, 12)),
        ("212-555-0142", "phone_digits", "2125550142"),
        ("cedar ex", "name_words", ("cedar", "ex")),
        ("Example, Cedar", "name_words", ("Example", "Cedar")),
    ],
)
def test_parse_search(query: str, field: str, value: object) -> None:
    assert getattr(parse_search(query), field) == value


def test_parse_search_empty() -> None:
    assert parse_search("   ").is_empty
