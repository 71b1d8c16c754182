"""Queries built once and run with each request's values (kapclinic/prepared.py): the same rows as the QuerySet,
each user's own, a change seen on the next call, and a builder that reads the clock refused."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.dosing.models import DosingSession
from kapclinic.dosing.selectors import sessions_between, sessions_of_day
from kapclinic.patients.models import CareTeamMember, Patient
from kapclinic.patients.selectors import patient_search_for_user
from kapclinic.prepared import prepared_rows

pytestmark = pytest.mark.django_db


def _recent(since: datetime, user_id: int) -> QuerySet[Patient]:
    return Patient.objects.filter(created_at__gte=since, care_team__user_id=user_id).order_by("pk")


def test_prepared_rows_are_the_querysets_rows_for_each_value_and_see_a_change_at_once() -> None:
    call_command("demo_load", "--quiet")
    since = timezone.now() - timedelta(days=3650)
    for user in User.objects.exclude(role="patient"):
        with CaptureQueriesContext(connection) as queries:
            rows = prepared_rows("test.recent", _recent, since, user.pk)
        assert rows == list(_recent(since, user.pk)), user.username
        assert len(queries) == 1
    nurse = User.objects.get(username="nurse")
    patient = Patient.objects.exclude(care_team__role="nurse").first()
    assert patient is not None and patient not in prepared_rows("test.recent", _recent, since, nurse.pk)
    CareTeamMember.objects.create(patient=patient, user=nurse, role="nurse")
    assert patient in prepared_rows("test.recent", _recent, since, nurse.pk)


def test_a_builder_that_reads_the_clock_is_refused() -> None:
    def since_now(user_id: int) -> QuerySet[Patient]:
        return Patient.objects.filter(created_at__lte=timezone.now(), care_team__user_id=user_id)

    with pytest.raises(ImproperlyConfigured, match="no argument"):
        prepared_rows("test.clock", since_now, 1)


def test_the_days_sessions_are_each_users_own_as_the_queryset_gives_them() -> None:
    call_command("demo_load", "--quiet")
    today = timezone.localdate()
    assert DosingSession.objects.filter(scheduled_for__date=today).exists()
    for user in User.objects.filter(role__in=["nurse", "prescriber", "therapist", "director"]):
        shown = sessions_of_day(today, user=user)
        expected = sessions_between(today, today).exclude(state__in=["cancelled", "proposed"])
        if user.role != "director":
            expected = expected.filter(patient__care_team__user=user)
        assert [s.pk for s in shown] == [s.pk for s in expected], user.username
        for session in shown:  # the joined rows and the annotation came back as the QuerySet sets them
            assert session.patient.family_name and hasattr(session, "open_alerts")
            assert session.open_alerts == session.alerts.filter(acknowledgement__isnull=True).count()


@pytest.mark.parametrize("query", ["", "sampl", "exa syn", "0142", "ha"])
def test_patient_pages_are_the_same_whether_prepared_or_built(query: str) -> None:
    call_command("demo_load", "--quiet")
    from kapclinic.patients import selectors

    for username in ("coordinator", "nurse", "prescriber"):
        ctx = AuditContext(user=User.objects.get(username=username), channel="test")
        prepared = patient_search_for_user(ctx=ctx, query=query, limit=5)
        for caseload in (False, True):
            page = patient_search_for_user(ctx=ctx, query=query, limit=5, own_caseload=caseload)
            built = _built_page(selectors, ctx, query, caseload)
            assert ([p.pk for p in page.items], page.count, page.count_capped) == built, (username, caseload)
        assert prepared.items == patient_search_for_user(ctx=ctx, query=query, limit=5).items


def _built_page(selectors: object, ctx: AuditContext, query: str, caseload: bool) -> tuple[list[int], int, bool]:
    """The page as the QuerySet builds it, without the prepared queries."""
    from kapclinic.clinical.registry import parse_search
    from kapclinic.patients.access import on_care_team_of, patients_visible_to
    from kapclinic.patients.selectors import _apply_search, _count_capped, _folded_words, _name_page
    from kapclinic.roles import Action, Scope, scope_for

    terms = parse_search(query)
    patients = _apply_search(patients_visible_to(ctx=ctx), terms)
    if caseload and scope_for(ctx.user.role, Action.PATIENT_LIST) is not Scope.TEAM:
        patients = patients.filter(on_care_team_of(ctx.user.pk))
    count, capped = _count_capped(patients, offset=0, limit=5)
    words = _folded_words(terms) if not terms.phone_digits else []
    items = (
        _name_page(patients, words, offset=0, limit=5)
        if words
        else list(patients.order_by("family_name", "given_name", "id")[:5])
    )
    return [p.pk for p in items], count, capped


def test_an_id_beyond_any_integer_column_matches_no_row_as_with_the_queryset() -> None:
    """An address's id past 64 bits (/patients/9223372036854775808/) is no row, not a database error."""
    huge = 2**63
    assert list(Patient.objects.filter(pk=huge)) == []
    assert prepared_rows("test.by_pk", lambda pk: Patient.objects.filter(pk=pk), huge) == []
