"""Patient registry rules: MRNs, phone numbers, dates of birth, duplicates, search terms.

Plain Python, no Django: the services and forms call these, tests run them in microseconds.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime

MRN_PREFIX = "K"
# Serials from here up (MRNs K9...) are reserved for synthetic demo and benchmark patients.
SYNTHETIC_MRN_BASE = 9_000_000
MRN_DIGITS = 7
OLDEST_PLAUSIBLE_AGE_YEARS = 125

_PHONE_ALLOWED = re.compile(r"^\+?[0-9 ().\-]+$")
_MRN_PATTERN = re.compile(rf"^{MRN_PREFIX}\d{{{MRN_DIGITS + 1}}}$", re.IGNORECASE)
_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y")
# Marks inside a name that people type or leave out at will: apostrophes (straight and curly) and periods.
_NAME_MARKS = re.compile(r"['\u2019\u02bc\u2018.]")
# Letters Unicode does not decompose into a base letter and an accent.
_LETTERS = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "\u0131": "i"})


def luhn_check_digit(digits: str) -> int:
    """Return the Luhn check digit for a string of digits (catches single typos and most swaps)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return (10 - total % 10) % 10


def mrn_from_number(number: int) -> str:
    """Return the MRN for a serial number: K + 7 digits + a Luhn check digit."""
    if not 0 < number < 10**MRN_DIGITS:
        raise ValueError(f"MRN serial must be between 1 and {10**MRN_DIGITS - 1}")
    body = f"{number:0{MRN_DIGITS}d}"
    return f"{MRN_PREFIX}{body}{luhn_check_digit(body)}"


def is_valid_mrn(text: str) -> bool:
    if not _MRN_PATTERN.match(text):
        return False
    body, check = text[1:-1], int(text[-1])
    return luhn_check_digit(body) == check


def phone_problem(raw: str) -> str | None:
    """Return why `raw` is not a usable phone number, or None when it is."""
    if not raw:
        return None
    if not _PHONE_ALLOWED.match(raw.strip()):
        return "Enter a phone number using digits, spaces, brackets, dashes or a leading +."
    digits = re.sub(r"\D", "", raw)
    if raw.strip().startswith("+"):
        if not 8 <= len(digits) <= 15:
            return "An international number has 8 to 15 digits after the +."
        return None
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10:
        return "Enter a 10-digit phone number, e.g. 555-201-0100, or an international number starting with +."
    return None


def phone_digits(raw: str) -> str:
    """Return the digits used to search and compare phone numbers (US numbers without the leading 1)."""
    digits = re.sub(r"\D", "", raw)
    if not raw.strip().startswith("+") and len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits


def birth_date_problem(birth_date: date, today: date) -> str | None:
    """Return why `birth_date` cannot be right, or None when it is plausible."""
    if birth_date > today:
        return "Date of birth cannot be in the future."
    try:
        oldest = today.replace(year=today.year - OLDEST_PLAUSIBLE_AGE_YEARS)
    except ValueError:  # 29 February
        oldest = today.replace(year=today.year - OLDEST_PLAUSIBLE_AGE_YEARS, day=28)
    if birth_date < oldest:
        return f"Date of birth is more than {OLDEST_PLAUSIBLE_AGE_YEARS} years ago; check the year."
    return None


def age_on(birth_date: date, today: date) -> int:
    """Return completed years of age on `today`."""
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))


@dataclass(frozen=True)
class PersonKey:
    """What duplicate detection compares."""

    given_name: str
    family_name: str
    birth_date: date | None
    phone_digits: str = ""


def search_fold(text: str) -> str:
    """A name as the search compares it: case-folded, accents and apostrophes off, spaces collapsed.

    "Ó'Brien" and "O'BRIEN" (straight or curly apostrophe) are both "obrien", so "o'b", "ob" and "Ó" find
    them; "Müller" is "muller" (so is "Muller"; "Mueller" is a different spelling); "Nguyễn" is "nguyen".
    Hyphens stay: "Smith-Jones" starts with "smith-" and is found by "smith". The patient's columns hold this
    (kept on save), the query words are folded the same way, so a prefix search is one range on an index.
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_NAME_MARKS.sub("", bare.translate(_LETTERS)).split())


def _fold(name: str) -> str:
    return " ".join(name.casefold().split())


def duplicate_reasons(candidate: PersonKey, existing: PersonKey) -> list[str]:
    """Return why `existing` may be the same person as `candidate` (empty when nothing matches)."""
    reasons = []
    if (
        candidate.birth_date is not None
        and candidate.birth_date == existing.birth_date
        and _fold(candidate.given_name) == _fold(existing.given_name)
        and _fold(candidate.family_name) == _fold(existing.family_name)
    ):
        reasons.append("same name and date of birth")
    if candidate.phone_digits and candidate.phone_digits == existing.phone_digits:
        reasons.append("same phone number")
    return reasons


@dataclass(frozen=True)
class SearchTerms:
    """A search box's text, read as what it most likely is."""

    mrn: str | None = None
    birth_date: date | None = None
    phone_digits: str | None = None
    name_words: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_empty(self) -> bool:
        return not (self.mrn or self.birth_date or self.phone_digits or self.name_words)


def parse_search(text: str) -> SearchTerms:
    """Read a search as an MRN, a date of birth, a phone number, or name words."""
    query = " ".join(text.split())[:100]
    if not query:
        return SearchTerms()
    if _MRN_PATTERN.match(query):
        return SearchTerms(mrn=query.upper())
    for fmt in _DATE_FORMATS:
        try:
            return SearchTerms(birth_date=datetime.strptime(query, fmt).date())  # noqa: DTZ007 - a calendar date
        except ValueError:
            continue
    digits = re.sub(r"\D", "", query)
    if len(digits) >= 4 and _PHONE_ALLOWED.match(query):
        return SearchTerms(phone_digits=phone_digits(query))
    words = tuple(w for w in re.split(r"[\s,]+", query) if w)
    return SearchTerms(name_words=words[:4])
