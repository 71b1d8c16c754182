"""Patient search on folded, indexed columns (issue 15, item 3): a name prefix blind to case, accents and
apostrophes; the MRN; a phone number whole or by its first or last digits; the date of birth; a count that
stops at a cap instead of counting the whole table on every keystroke."""

from __future__ import annotations

import importlib
from datetime import date
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.clinical.registry import mrn_from_number, search_fold
from kapclinic.patients.models import Patient
from kapclinic.patients.selectors import COUNT_CAP, patient_search_for_user
from kapclinic.patients.services import patient_update


@pytest.mark.parametrize(
    ("name", "folded"),
    [
        ("Ó'Brien", "obrien"),
        ("O\u2019BRIEN", "obrien"),
        ("Müller", "muller"),
        ("Nguyễn", "nguyen"),
        ("  Smith-Jones ", "smith-jones"),
        ("Strauß", "strauss"),
        ("Øyvind", "oyvind"),
        ("St. John", "st john"),
    ],
)
def test_search_fold(name: str, folded: str) -> None:
    assert search_fold(name) == folded


def _make(serial: int, given: str, family: str, **extra: Any) -> Patient:
    values: dict[str, Any] = {"birth_date": date(1975, 6, 2), **extra}
    return Patient.objects.create(mrn=mrn_from_number(serial), given_name=given, family_name=family, **values)


def _found(personas: dict[str, User], query: str) -> list[str]:
    page = patient_search_for_user(ctx=AuditContext(user=personas["coordinator"], channel="page"), query=query)
    return sorted(p.family_name for p in page.items)


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["o'b", "O'B", "ob", "obrien", "ó'brien", "O\u2019Brien", "siobhan", "Siob ó"])
def test_a_name_is_found_whatever_the_case_accents_and_apostrophes(personas: dict[str, User], query: str) -> None:
    _make(5001, "Síobhán", "Ó'Brien")
    _make(5002, "Oliver", "Bates")
    assert _found(personas, query) == ["Ó'Brien"]


@pytest.mark.django_db
def test_names_are_prefixes_not_infixes_and_each_word_must_match(personas: dict[str, User]) -> None:
    _make(5001, "Ash", "Müller-Lüdenscheidt", preferred_name="Ashley")
    _make(5002, "Rowan", "Mull")
    assert _found(personas, "mul") == ["Mull", "Müller-Lüdenscheidt"]
    assert _found(personas, "muller") == ["Müller-Lüdenscheidt"]
    assert _found(personas, "ashl") == ["Müller-Lüdenscheidt"]  # the preferred name
    assert _found(personas, "ash mull") == ["Müller-Lüdenscheidt"]
    assert _found(personas, "rowan mull") == ["Mull"]
    assert _found(personas, "ller") == []  # not an infix search
    assert _found(personas, "lüdenscheidt") == []  # a later part of a hyphenated name is not a prefix


@pytest.mark.django_db
def test_mrn_phone_and_birth_date(personas: dict[str, User]) -> None:
    _make(5001, "Cedar", "Phonetest", phone="(646) 555-0188", phone_digits="6465550188")
    _make(5002, "Dogwood", "Other", phone="(212) 555-0177", phone_digits="2125550177", birth_date=date(1990, 7, 1))
    assert _found(personas, mrn_from_number(5001).lower()) == ["Phonetest"]
    assert _found(personas, "646-555-0188") == ["Phonetest"]  # whole
    assert _found(personas, "1 (646) 555 0188") == ["Phonetest"]
    assert _found(personas, "0188") == ["Phonetest"]  # last digits
    assert _found(personas, "55-0188") == ["Phonetest"]
    assert _found(personas, "646 555") == ["Phonetest"]  # first digits
    assert _found(personas, "5550") == []  # the middle only: neither the start nor the end
    assert _found(personas, "1990-07-01") == ["Other"]
    assert _found(personas, "07/01/1990") == ["Other"]


@pytest.mark.django_db
def test_the_search_columns_follow_an_edit(personas: dict[str, User]) -> None:
    patient = _make(5001, "Elm", "Before", phone="(212) 555-0100", phone_digits="2125550100")
    patient_update(
        ctx=AuditContext(user=personas["coordinator"], channel="page"),
        patient_id=patient.pk,
        values={"family_name": "Ébène", "phone": "(718) 555-0123"},
    )
    patient.refresh_from_db()
    assert (patient.search_family, patient.phone_digits_reversed) == ("ebene", "3210555817")
    assert _found(personas, "eben") == ["Ébène"] and _found(personas, "0123") == ["Ébène"]
    assert _found(personas, "before") == [] and _found(personas, "0100") == []


@pytest.mark.django_db
def test_the_migration_backfills_the_search_columns(personas: dict[str, User]) -> None:
    patient = _make(5001, "Fir", "Ó'Neill", phone="(212) 555-0142", phone_digits="2125550142")
    Patient.objects.filter(pk=patient.pk).update(search_family="", search_given="", phone_digits_reversed="")
    migration = importlib.import_module("kapclinic.patients.migrations.0002_search_columns")
    migration.fill_search_columns(apps, None)
    patient.refresh_from_db()
    assert (patient.search_family, patient.search_given, patient.phone_digits_reversed) == (
        "oneill",
        "fir",
        "2410555212",
    )


@pytest.mark.django_db
def test_the_count_stops_at_the_cap_and_the_pages_still_follow(personas: dict[str, User]) -> None:
    people = [
        Patient(
            mrn=mrn_from_number(6000 + i), given_name=f"G{i:03d}", family_name="Captest", birth_date=date(1970, 1, 1)
        )
        for i in range(COUNT_CAP + 30)
    ]
    for p in people:
        p.search_columns_fill()
    Patient.objects.bulk_create(people)
    ctx = AuditContext(user=personas["coordinator"], channel="page")
    first = patient_search_for_user(ctx=ctx, query="captest")
    assert (first.count, first.count_capped, first.has_next, len(first.items)) == (COUNT_CAP, True, True, 25)
    third = patient_search_for_user(ctx=ctx, query="captest", offset=50)
    assert (third.count, third.count_capped, third.has_next, len(third.items)) == (75, True, True, 25)
    fourth = patient_search_for_user(ctx=ctx, query="captest", offset=75)
    assert (fourth.count, fourth.count_capped, fourth.has_next, len(fourth.items)) == (80, False, False, 5)
    few = patient_search_for_user(ctx=ctx, query="captest g00")
    assert (few.count, few.count_capped, few.has_next) == (10, False, False)


@pytest.mark.django_db
def test_the_list_page_says_more_than_the_cap(client_for: Any, personas: dict[str, User]) -> None:
    people = [
        Patient(
            mrn=mrn_from_number(6000 + i), given_name=f"G{i:03d}", family_name="Captest", birth_date=date(1970, 1, 1)
        )
        for i in range(COUNT_CAP + 5)
    ]
    for p in people:
        p.search_columns_fill()
    Patient.objects.bulk_create(people)
    body = client_for("coordinator").get("/patients/", {"q": "capt"}).content.decode()
    assert f"Showing 1\u201325 of more than {COUNT_CAP} patients" in body and 'rel="next"' in body


@pytest.mark.django_db
def test_the_search_reads_an_index_and_counts_no_whole_table(personas: dict[str, User]) -> None:
    with CaptureQueriesContext(connection) as queries:
        patient_search_for_user(ctx=AuditContext(user=personas["coordinator"], channel="page"), query="o'bri ash")
    sqls = [q["sql"] for q in queries.captured_queries if "patients_patient" in q["sql"]]
    # The count reads at most COUNT_CAP + 1 ids (a prepared query: kapclinic/prepared.py), never the whole table.
    count_sql = next(sql for sql in sqls if f"LIMIT {COUNT_CAP + 1}" in sql.upper())
    for sql in sqls:
        assert "UPPER(" not in sql.upper() and "LIKE '%" not in sql.upper() and "%%" not in sql
    folded = {"search_family", "search_given", "search_preferred"}
    assert all(column in count_sql for column in folded)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(
                "EXPLAIN QUERY PLAN SELECT id FROM patients_patient WHERE (search_family >= %s AND search_family < %s)"
                " OR (search_given >= %s AND search_given < %s)",
                ["obri", "obri\U0010ffff", "obri", "obri\U0010ffff"],
            )
            plan = " ".join(str(row) for row in cursor.fetchall())
        assert "MULTI-INDEX OR" in plan and "search_family" in plan and "search_given" in plan


@pytest.mark.django_db
def test_a_name_search_pages_through_family_given_and_preferred_matches_in_order(personas: dict[str, User]) -> None:
    for i in range(12):
        _make(7000 + i, f"Given{i:02d}", f"Kestrel{i:02d}")  # the family name matches
        _make(7100 + i, f"Kestrel{i:02d}", f"Ábbot{i:02d}")  # the given name matches
        _make(7200 + i, f"Other{i:02d}", f"Zed{i:02d}", preferred_name="Kes")  # the preferred name matches
    _make(7300, "Kestrel", "Kestrel")  # both: listed once
    ctx = AuditContext(user=personas["coordinator"], channel="page")
    pages = [patient_search_for_user(ctx=ctx, query="kes", offset=offset, limit=10) for offset in (0, 10, 20, 30)]
    shown = [p.pk for page in pages for p in page.items]
    assert len(shown) == len(set(shown)) == 37
    expected = list(
        Patient.objects.filter(mrn__in=[p.mrn for page in pages for p in page.items])
        .order_by("search_family", "search_given", "id")
        .values_list("pk", flat=True)
    )
    assert shown == expected
    assert [p.family_name for p in pages[0].items][:2] == ["Ábbot00", "Ábbot01"]  # folded: "abbot" sorts first
    assert (pages[3].count, pages[3].count_capped, pages[3].has_next) == (37, False, False)
