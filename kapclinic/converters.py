"""Path converters for the pages: `<id:patient_id>` matches only an id the database can hold.

Django's `<int:...>` takes any number of digits, and an id past 2**63 - 1 reached the database, which refused
to compare with it (a 500, issue 12 fault 8); with this converter such an address simply matches no page (404).
Registered once, in kapclinic/urls.py, before the apps' URLconfs are included.
"""

from __future__ import annotations

from kapclinic.apitypes import DB_ID_MAX


class DbIdConverter:
    """A record's id in a path: 1 to 2**63 - 1 (PostgreSQL bigint, SQLite INTEGER)."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 1 <= number <= DB_ID_MAX:
            raise ValueError("not an id the database holds")  # Django treats this as no match: 404
        return number

    def to_url(self, value: int) -> str:
        return str(int(value))
