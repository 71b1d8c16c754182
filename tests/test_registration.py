"""Registration's queries (issue 15, item 3; bench/registration.py): one read and two writes, and what the cut
queries checked is still checked: a duplicate by name and date of birth or by phone, the check constraints, a
drawn MRN already taken."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models.signals import post_save, pre_save
from django.test.utils import CaptureQueriesContext

from kapclinic.accounts.models import User
from kapclinic.audit.chain import chain_append_after, chain_check, chain_insert_with
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import AccessEvent
from kapclinic.audit.services import access_event_new, access_event_record
from kapclinic.clinical.registry import mrn_from_number
from kapclinic.patients import services
from kapclinic.patients.models import DuplicateFlag, Patient
from kapclinic.patients.services import PossibleDuplicates, patient_register
from tests.conftest import personas_create

PERSON: dict[str, Any] = {
    "given_name": "Quince",
    "family_name": "Registertest",
    "birth_date": date(1988, 5, 17),
    "sex_at_birth": "female",
    "phone": "(212) 555-0123",
}
TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT")


def _ctx(personas: dict[str, User]) -> AuditContext:
    return AuditContext(user=personas["coordinator"], channel="page", method="POST", path="/patients/new/")


def _statements(captured: CaptureQueriesContext) -> list[str]:
    sqls = [q["sql"].lstrip() for q in captured.captured_queries]
    return [sql for sql in sqls if not sql.upper().startswith(TRANSACTION_CONTROL)]


def test_registration_is_one_read_and_two_writes(personas: dict[str, User]) -> None:
    with CaptureQueriesContext(connection) as captured:
        patient = patient_register(ctx=_ctx(personas), values=PERSON)
    statements = _statements(captured)
    postgresql = connection.vendor == "postgresql"
    assert len(statements) == (2 if postgresql else 3), statements
    # 1. The duplicate check, one indexed read (folded names and date of birth, or phone digits), in the same
    #    statement as the audit chain's head (and on PostgreSQL its lock and the new patient's id), which the new
    #    audit row's hash links to; validation reads nothing, and the MRN is checked by the insert itself.
    assert statements[0].startswith("SELECT") and "patients_patient" in statements[0]
    assert "audit_accessevent" in statements[0] or "kapclinic_chain_head" in statements[0]
    if postgresql:
        # 2. The patient row and its audit row in one statement, the audit row inserted after the patient's.
        assert statements[0].count("nextval(") == 1
        assert statements[1].startswith("WITH") and statements[1].count("INSERT") == 2
        assert statements[1].index('"patients_patient"') < statements[1].index('"audit_accessevent"')
    else:
        # 2. The patient row. 3. The audit row.
        assert statements[1].startswith("INSERT") and '"patients_patient"' in statements[1]
        assert statements[2].startswith("INSERT") and '"audit_accessevent"' in statements[2]
    event = AccessEvent.objects.get(action="patient.register", patient=patient)
    assert event.user == personas["coordinator"]
    stored = Patient.objects.get(pk=patient.pk)
    assert (stored.mrn, stored.search_family, stored.phone_digits) == (patient.mrn, "registertest", "2125550123")
    assert not patient._state.adding
    assert chain_check("audit").intact


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"given_name": "QUINCE", "family_name": " registertest ", "phone": ""}, "same name and date of birth"),
        ({"given_name": "Other", "family_name": "Person", "phone": "212.555.0123"}, "same phone number"),
    ],
)
def test_a_duplicate_is_still_found_and_kept_when_confirmed(
    personas: dict[str, User], change: dict[str, str], reason: str
) -> None:
    first = patient_register(ctx=_ctx(personas), values=PERSON)
    with pytest.raises(PossibleDuplicates) as refused:
        patient_register(ctx=_ctx(personas), values={**PERSON, **change})
    assert [(m.patient, m.reasons) for m in refused.value.matches] == [(first, [reason])]
    second = patient_register(ctx=_ctx(personas), values={**PERSON, **change}, allow_duplicate=True)
    assert DuplicateFlag.objects.get(patient=second).other == first


def test_the_same_name_born_another_day_is_no_duplicate(personas: dict[str, User]) -> None:
    patient_register(ctx=_ctx(personas), values=PERSON)
    patient_register(ctx=_ctx(personas), values={**PERSON, "birth_date": date(1988, 5, 18), "phone": ""})
    assert Patient.objects.count() == 2


def test_the_check_constraints_are_validated_without_the_database(personas: dict[str, User]) -> None:
    # Registration skips validate_constraints (a query each): every check constraint must be a field rule too.
    # A new constraint fails this test until its rule is checked here.
    assert sorted(c.name for c in Patient._meta.constraints) == [
        "patient_family_name_present",
        "patient_given_name_present",
        "patient_sex_at_birth_known",
    ]
    for field, value in (("given_name", " "), ("family_name", ""), ("sex_at_birth", "other")):
        with pytest.raises(ValidationError) as refused:
            patient_register(ctx=_ctx(personas), values={**PERSON, field: value})
        assert field in refused.value.message_dict
    assert not Patient.objects.exists()


def test_a_drawn_mrn_already_taken_is_drawn_again(personas: dict[str, User]) -> None:
    first = patient_register(ctx=_ctx(personas), values=PERSON)
    other = {**PERSON, "given_name": "Other", "phone": ""}
    with mock.patch.object(services, "_new_mrn", side_effect=[first.mrn, mrn_from_number(1)]):
        second = patient_register(ctx=_ctx(personas), values=other)
    assert second.mrn == mrn_from_number(1) and Patient.objects.count() == 2
    assert AccessEvent.objects.filter(action="patient.register").count() == 2
    assert chain_check("audit").intact


def test_a_write_that_appends_to_the_chain_whose_head_it_holds_is_refused(personas: dict[str, User]) -> None:
    # chain_append_after has read the head: a row appended in between would be linked to the same one.
    def write(found: list[tuple[Any, ...]]) -> list[AccessEvent]:
        access_event_record(ctx=_ctx(personas), action="inside")
        return [access_event_new(ctx=_ctx(personas), action="after")]

    with pytest.raises(RuntimeError, match="head is read"), transaction.atomic():
        chain_append_after(AccessEvent, write)
    assert not AccessEvent.objects.filter(action__in=["inside", "after"]).exists()
    assert chain_check("audit").intact


def test_nothing_listens_for_a_patient_being_saved() -> None:
    # On PostgreSQL registration inserts the patient row with its audit row (chain_insert_with), without save() and
    # so without its signals: a receiver connected to them would miss every registration. Whoever connects one must
    # have patient_register save() the row again.
    assert not pre_save.has_listeners(Patient) and not post_save.has_listeners(Patient)


def test_a_row_handed_to_go_in_with_the_chain_needs_its_id_and_a_chain_write(personas: dict[str, User]) -> None:
    person = Patient(mrn=mrn_from_number(7), **PERSON)
    with pytest.raises(RuntimeError, match="write of a chain_append_after"):
        chain_insert_with(person)

    def write(found: list[tuple[Any, ...]]) -> list[AccessEvent]:
        chain_insert_with(person)
        return [access_event_new(ctx=_ctx(personas), action="never")]

    with pytest.raises(ValueError, match="id must be set"), transaction.atomic():
        chain_append_after(AccessEvent, write)
    assert not Patient.objects.exists() and not AccessEvent.objects.filter(action="never").exists()


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_simultaneous_registrations_and_audit_writes_keep_one_chain() -> None:
    # Real threads, each with its own connection: registration takes the chain's lock with its duplicate check,
    # before the patient row; other writers take it just before their row. Every row must link in commit order.
    assert connection.vendor == "postgresql"
    ctx = _ctx(personas_create())
    registrants, writers, each = 4, 2, 6
    barrier = threading.Barrier(registrants + writers)
    failures: list[BaseException] = []

    def register(thread: int) -> None:
        try:
            barrier.wait()
            for n in range(each):
                patient_register(
                    ctx=ctx,
                    values={**PERSON, "family_name": f"Threaded-{thread}-{n}", "phone": f"(212) 555-01{thread}{n}"},
                )
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)
        finally:
            connection.close()

    def write() -> None:
        try:
            barrier.wait()
            for n in range(each):
                access_event_record(ctx=ctx, action=f"concurrent.{n}")
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=register, args=(t,)) for t in range(registrants)]
    threads += [threading.Thread(target=write) for _ in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert failures == []
    assert Patient.objects.filter(family_name__startswith="Threaded-").count() == registrants * each
    assert AccessEvent.objects.filter(action="patient.register").count() == registrants * each
    report = chain_check("audit")
    assert report.intact, report
