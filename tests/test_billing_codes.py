"""Issue 18 items 3 and 7: the E/M level a prescriber signs with an evaluation, the lines it makes (and the
psychotherapy add-ons beside it), a free consultation that makes none; prior authorisations, the warning when a
session would exceed one, the going-on record, and the coordinator's home and inbox."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.appointments.models import Appointment
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import AccessEvent
from kapclinic.billing import authorisations, services
from kapclinic.billing import reports as billing_reports
from kapclinic.billing.models import (
    AuthorisationGoOn,
    ChargeLine,
    ChargeReview,
    Coverage,
    MoneyEntry,
    Payer,
    PriorAuthorisation,
    SourceKind,
)
from kapclinic.clinical import billing as rules
from kapclinic.dosing.models import DosingSession
from kapclinic.dosing.services import session_schedule
from kapclinic.home.inbox import inbox_counts, inbox_for
from kapclinic.intake.models import EligibilityDecision
from kapclinic.intake.services import eligibility_decide
from kapclinic.patients.models import Patient
from kapclinic.therapy.models import TherapyNote
from tests.test_dosing_bookings import proposed, tomorrow_at

JSON = "application/json"
DAY = date(2026, 12, 7)
IN_PERSON = rules.setting_for(rules.Modality.IN_PERSON, rules.PatientLocation.UNKNOWN, DAY)


def _ctx(user: User) -> AuditContext:
    return AuditContext(user=user, channel="page")


# --- the pure rules: worked examples ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "basis", "minutes", "field"),
    [
        ("99204", "time", 45, None),  # [E/M-TIME] 99204 needs 45 minutes by time: met exactly
        ("99204", "time", 44, "em_minutes"),  # one short: the time does not support the level
        ("99214", "time", None, "em_minutes"),  # by time without the time
        ("99215", "mdm", None, None),  # by MDM: no time needed
        ("99212", "time", 10, None),
        ("99211", "mdm", None, "em_code"),  # not a 2021 office E/M level in the table
        ("90837", "mdm", None, "em_code"),  # psychotherapy is not an E/M level
        ("99213", "feel", None, "em_basis"),
    ],
)
def test_an_em_choice_is_checked_against_the_code_table_and_the_time(
    code: str, basis: str, minutes: int | None, field: str | None
) -> None:
    errors = rules.em_choice_errors(code=code, basis=basis, minutes=minutes, day=DAY)
    assert list(errors) == ([field] if field else [])


def test_the_em_line_says_who_chose_it_and_by_what() -> None:
    by_time = rules.evaluation_visit(
        choice=rules.EmChoice("99204", rules.EmBasis.TIME, 50), day=DAY, setting=IN_PERSON, who="Dr P", with_add_on=True
    )
    (line,) = by_time.lines
    assert (line.code, line.units, line.place_of_service) == ("99204", 1, "11")
    assert "Dr P chose E/M level 99204 by total time (50 min ≥ 45)" in line.justification
    assert any("exclude psychotherapy" in c for c in line.caveats)  # [E/M-TIME] with an add-on the same day
    by_mdm = rules.evaluation_visit(
        choice=rules.EmChoice("99214", rules.EmBasis.MDM), day=DAY, setting=IN_PERSON, who="Dr P", with_add_on=True
    )
    assert "by medical decision making" in by_mdm.lines[0].justification and not by_mdm.lines[0].caveats
    short = rules.evaluation_visit(
        choice=rules.EmChoice("99205", rules.EmBasis.TIME, 30),
        day=DAY,
        setting=IN_PERSON,
        who="Dr P",
        with_add_on=False,
    )
    assert not short.lines and "does not reach 99205" in short.not_proposed[0]


@pytest.mark.parametrize(
    ("clinician", "day", "expected"),
    [
        (7, DAY, "90836"),  # [ADD-ON] the prescriber's own E/M that day: 40 min → the 38-52 add-on
        (8, DAY, "90834"),  # another clinician's E/M does not make this one an add-on
        (7, DAY + timedelta(days=1), "90834"),  # nor does an E/M another day
    ],
)
def test_psychotherapy_is_the_add_on_only_beside_the_same_clinicians_em_that_day(
    clinician: int, day: date, expected: str
) -> None:
    visits = frozenset({(7, 100, DAY)})  # prescriber 7 billed an E/M for patient 100 on DAY
    with_em = rules.psychotherapy_add_on_applies(clinician_id=clinician, patient_id=100, day=day, em_visits=visits)
    coding = rules.psychotherapy(minutes=40, day=day, with_em=with_em, setting=IN_PERSON, who="note")
    assert coding.lines[0].code == expected


def test_the_add_on_follows_the_same_time_bands() -> None:
    codes = [
        rules.psychotherapy(minutes=m, day=DAY, with_em=True, setting=IN_PERSON, who="n").lines[0].code
        for m in (16, 37, 38, 52, 53)
    ]
    assert codes == ["90833", "90833", "90836", "90836", "90838"]


def _auth(approved: int, used: int, first: date = DAY, last: date = DAY + timedelta(days=60)) -> rules.Authorisation:
    return rules.Authorisation(1, "PA-1", approved, first, last, used)


def test_scheduling_warns_when_an_authorisation_is_used_up_or_out_of_its_days() -> None:
    assert rules.scheduling_warnings(day=DAY, authorisations=[]) == ()  # none recorded: nothing to check
    assert rules.scheduling_warnings(day=DAY, authorisations=[_auth(6, 5)]) == ()
    (full,) = rules.scheduling_warnings(day=DAY, authorisations=[_auth(6, 6)])
    assert "approves 6 sessions" in str(full) and "session 7" in str(full)
    (late,) = rules.scheduling_warnings(day=DAY + timedelta(days=61), authorisations=[_auth(6, 1)])
    assert "falls outside it" in late.message and late.authorisation_id == 1
    (early,) = rules.scheduling_warnings(day=DAY - timedelta(days=1), authorisations=[_auth(6, 0)])
    assert "falls outside" in early.message


@pytest.mark.parametrize(
    ("last_in", "used", "expected"),
    [(14, 0, "ends soon"), (15, 0, ""), (30, 6, "used up"), (-1, 6, ""), (0, 0, "ends soon")],
)
def test_an_authorisation_needs_attention_within_14_days_or_used_up(last_in: int, used: int, expected: str) -> None:
    got = rules.authorisation_needs_attention(today=DAY, last_day=DAY + timedelta(days=last_in), approved=6, used=used)
    assert got == expected


# --- the E/M level where the prescriber signs ---------------------------------------------------------------


@pytest.mark.django_db
def test_the_prescriber_signs_the_em_level_with_the_decision(personas: dict[str, User], team_patient: Patient) -> None:
    decision = eligibility_decide(
        ctx=_ctx(personas["prescriber"]),
        patient_id=team_patient.pk,
        decision="not_eligible",
        reason="Not now.",
        em_code="99204",
        em_basis="time",
        em_minutes=50,
    )
    stored = EligibilityDecision.objects.get(pk=decision.pk)
    assert (stored.em_code, stored.em_basis, stored.em_minutes) == ("99204", "time", 50)
    assert stored.signature_intact
    stored.em_code = "99205"  # the level is covered by the signature: a changed level no longer verifies
    assert not stored.signature_intact


@pytest.mark.django_db
def test_a_decision_without_an_em_level_still_verifies(personas: dict[str, User], team_patient: Patient) -> None:
    decision = eligibility_decide(
        ctx=_ctx(personas["prescriber"]), patient_id=team_patient.pk, decision="not_eligible", reason="Not now."
    )
    assert decision.em_code == "" and EligibilityDecision.objects.get(pk=decision.pk).signature_intact


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"em_code": "99204", "em_basis": "time", "em_minutes": 20}, "em_minutes"),  # time does not support it
        ({"em_code": "90837", "em_basis": "mdm"}, "em_code"),  # not an E/M code
        ({"em_basis": "time", "em_minutes": 30}, "em_code"),  # a basis without a level
    ],
)
def test_an_em_level_the_record_does_not_support_is_refused_and_nothing_signed(
    api_for: Any, team_patient: Patient, payload: dict[str, Any], field: str
) -> None:
    answer = api_for("prescriber").post(
        f"/api/v1/patients/{team_patient.pk}/eligibility-decisions",
        {"decision": "not_eligible", "reason": "Not now.", **payload},
        content_type=JSON,
    )
    assert answer.status_code == 422, answer.content
    assert [d["loc"][-1] for d in answer.json()["detail"]] == [field]
    assert not EligibilityDecision.objects.filter(patient=team_patient).exists()
    assert AccessEvent.objects.filter(action="eligibility.decide", outcome="invalid").exists()


@pytest.mark.django_db
def test_the_page_shows_the_em_error_next_to_the_field_with_the_typed_values(
    client_for: Any, team_patient: Patient
) -> None:
    answer = client_for("prescriber").post(
        f"/intake/patients/{team_patient.pk}/eligibility/",
        {"form": "decision", "decision": "not_eligible", "reason": "Not now.", "em_code": "99205", "em_basis": "time",
         "em_minutes": "31"},
    )  # fmt: skip
    page = answer.content.decode()
    assert answer.status_code == 422
    assert 'id="em_minutes_error"' in page and "does not reach 99205" in page
    assert 'value="31"' in page and '<option value="99205" selected>' in page
    assert not EligibilityDecision.objects.filter(patient=team_patient).exists()


# --- the lines -------------------------------------------------------------------------------------------------


def _note(patient: Patient, author: User, minutes: int, kind: str = "integration") -> TherapyNote:
    note = TherapyNote(
        patient=patient, author=author, kind=kind, occurred_at=timezone.now() - timedelta(minutes=5), minutes=minutes
    )
    note.signature_stamp(author.pk)
    note.save()
    return note


@pytest.mark.django_db
def test_a_signed_em_level_makes_its_line_and_turns_the_same_clinicians_psychotherapy_into_the_add_on(
    personas: dict[str, User], team_patient: Patient
) -> None:
    prescriber, therapist = personas["prescriber"], personas["therapist"]
    decision = eligibility_decide(
        ctx=_ctx(prescriber), patient_id=team_patient.pk, decision="not_eligible", reason="Not now.",
        em_code="99214", em_basis="mdm",
    )  # fmt: skip
    own = _note(team_patient, prescriber, 40)
    others = _note(team_patient, therapist, 40)
    run = services.charges_propose(ctx=_ctx(personas["biller"]))
    by_source = {(line.source_kind, line.source_id): line for line in run.lines}
    em = by_source[(SourceKind.EVALUATION, decision.pk)]
    assert (em.code, em.rendering_provider_id, em.place_of_service) == ("99214", prescriber.pk, "11")
    assert "chose E/M level 99214 by medical decision making" in em.justification
    assert any("No evaluation booking" in c for c in em.caveats)
    assert by_source[(SourceKind.THERAPY_NOTE, own.pk)].code == "90836"  # the add-on beside their own E/M
    assert "with an E/M visit the same day" in by_source[(SourceKind.THERAPY_NOTE, own.pk)].justification
    assert by_source[(SourceKind.THERAPY_NOTE, others.pk)].code == "90834"  # another clinician: stand-alone
    again = services.charges_propose(ctx=_ctx(personas["biller"]))
    assert again.lines == [] and ChargeLine.objects.filter(source_kind=SourceKind.EVALUATION).count() == 1


@pytest.mark.django_db
def test_a_free_consultation_and_a_decision_without_a_level_make_no_line(
    personas: dict[str, User], team_patient: Patient
) -> None:
    now = timezone.now()
    Appointment.objects.create(
        kind="consultation", patient=team_patient, with_user=personas["coordinator"],
        starts_at=now - timedelta(hours=2), ends_at=now - timedelta(hours=1), mode="in_person", status="done",
        created_by=personas["coordinator"],
    )  # fmt: skip
    eligibility_decide(
        ctx=_ctx(personas["prescriber"]), patient_id=team_patient.pk, decision="not_eligible", reason="Not now."
    )
    run = services.charges_propose(ctx=_ctx(personas["biller"]))
    assert run.lines == [] and not ChargeLine.objects.exists()


@pytest.mark.django_db
def test_an_evaluation_held_by_video_is_coded_as_telehealth(personas: dict[str, User], team_patient: Patient) -> None:
    now = timezone.now()
    Appointment.objects.create(
        kind="evaluation", patient=team_patient, with_user=personas["prescriber"], starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(minutes=59), mode="video", video_link="https://video.example.org/r/1",
        created_by=personas["coordinator"],
    )  # fmt: skip
    eligibility_decide(
        ctx=_ctx(personas["prescriber"]), patient_id=team_patient.pk, decision="not_eligible", reason="Not now.",
        em_code="99204", em_basis="time", em_minutes=60,
    )  # fmt: skip
    (line,) = services.charges_propose(ctx=_ctx(personas["biller"])).lines
    assert (line.code, line.place_of_service, line.modifiers) == ("99204", "10", ["95"])


# --- prior authorisations ----------------------------------------------------------------------------------------


@pytest.fixture
def payer(personas: dict[str, User]) -> Payer:
    return Payer.objects.create(name="Synthetic Health Plan", in_network=True, created_by=personas["director"])


def _pa(patient: Patient, payer: Payer, by: User, **values: Any) -> PriorAuthorisation:
    given = {
        "payer_id": payer.pk,
        "covers": "iv_ketamine",
        "number": "PA-0001",
        "approved_units": 1,
        "effective_from": timezone.localdate(),
        "effective_to": timezone.localdate() + timedelta(days=60),
        **values,
    }
    return authorisations.prior_authorisation_add(
        ctx=_ctx(by), patient_id=patient.pk, given=authorisations.AuthorisationInput(**given)
    )


@pytest.mark.django_db
def test_the_coordinator_records_an_authorisation_and_the_api_lists_it(
    api_for: Any, personas: dict[str, User], team_patient: Patient, payer: Payer
) -> None:
    api = api_for("coordinator")
    body = {
        "payer": payer.pk, "covers": "esketamine", "number": "SYN-77", "approved_units": 8,
        "effective_from": "2026-12-01", "effective_to": "2027-02-28",
    }  # fmt: skip
    made = api.post(f"/api/v1/patients/{team_patient.pk}/prior-authorisations", body, content_type=JSON)
    assert made.status_code == 201, made.content
    assert made.json() == {**made.json(), "number": "SYN-77", "approved_units": 8, "used": 0, "left": 8}
    listed = api.get(f"/api/v1/patients/{team_patient.pk}/prior-authorisations").json()
    assert [a["number"] for a in listed] == ["SYN-77"]
    assert AccessEvent.objects.filter(action="authorisation.record", patient_id=team_patient.pk).exists()
    assert AccessEvent.objects.filter(action="authorisation.view", patient_id=team_patient.pk).exists()
    # The nurse schedules no sessions and records no authorisation.
    assert (
        api_for("nurse")
        .post(f"/api/v1/patients/{team_patient.pk}/prior-authorisations", body, content_type=JSON)
        .status_code
        == 403
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"effective_from": "2027-01-31", "effective_to": "2027-01-01"}, "effective_to"),  # reversed
        ({"covers": "code", "code": "99999"}, "code"),  # a code with nothing behind it
        ({"covers": "code"}, "code"),  # a code authorisation without its code
        ({"approved_units": 0}, "approved_units"),
        ({"number": "  "}, "number"),
        ({"replaces": "OTHER"}, "replaces"),  # another patient's authorisation
    ],
)
def test_a_bad_authorisation_is_refused_with_its_reason_and_nothing_written(
    api_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient, payer: Payer,
    change: dict[str, Any], field: str,
) -> None:  # fmt: skip
    theirs = _pa(other_patient, payer, personas["coordinator"], number="OTHER-1")
    if change.get("replaces") == "OTHER":
        change = {"replaces": theirs.pk}
    body = {
        "payer": payer.pk, "covers": "iv_ketamine", "number": "SYN-1", "approved_units": 6,
        "effective_from": "2027-01-01", "effective_to": "2027-03-01", **change,
    }  # fmt: skip
    answer = api_for("biller").post(f"/api/v1/patients/{team_patient.pk}/prior-authorisations", body, content_type=JSON)
    assert answer.status_code == 422 and field in [d["loc"][-1] for d in answer.json()["detail"]], answer.content
    assert not PriorAuthorisation.objects.filter(patient=team_patient).exists()


@pytest.mark.django_db
def test_the_page_records_one_and_shows_a_refusal_next_to_the_field(
    client_for: Any, team_patient: Patient, payer: Payer
) -> None:
    page = client_for("coordinator")
    url = f"/patients/{team_patient.pk}/prior-authorisations/"
    empty = page.get(url)
    assert empty.status_code == 200 and "No prior authorisation recorded" in empty.content.decode()
    form = {
        "payer": payer.pk, "covers": "iv_ketamine", "number": "SYN-9", "approved_units": "6",
        "effective_from": "2027-02-01", "effective_to": "2027-01-01",
    }  # fmt: skip
    refused = page.post(url, form)
    text = refused.content.decode()
    assert refused.status_code == 422 and "The last day cannot be before the first." in text and 'value="SYN-9"' in text
    assert not PriorAuthorisation.objects.exists()
    assert page.post(url, {**form, "effective_to": "2027-04-01"}).status_code == 302
    assert "SYN-9" in page.get(url).content.decode()


@pytest.mark.django_db
def test_the_page_costs_the_same_queries_for_1_or_4_authorisations(
    client_for: Any, personas: dict[str, User], team_patient: Patient, payer: Payer
) -> None:
    page = client_for("biller")
    url = f"/patients/{team_patient.pk}/prior-authorisations/"

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert page.get(url).status_code == 200
        return len(queries)

    _pa(team_patient, payer, personas["coordinator"], number="A-0")
    one = count()
    for n in (1, 2, 3):
        _pa(team_patient, payer, personas["coordinator"], number=f"A-{n}", covers="esketamine")
    assert count() == one


@pytest.mark.django_db
def test_scheduling_past_a_used_up_authorisation_warns_and_going_on_is_recorded(
    personas: dict[str, User], team_patient: Patient, payer: Payer
) -> None:
    prescriber = AuditContext(user=personas["prescriber"], channel="system")
    when = tomorrow_at(10)
    session = proposed(team_patient, personas, when)
    authorisation = _pa(team_patient, payer, personas["coordinator"], approved_units=1)
    # One session already counted against it (scheduled earlier in its days).
    DosingSession.objects.create(
        patient=team_patient, plan=session.plan, number=2, scheduled_for=tomorrow_at(10, days=3), state="scheduled"
    )
    with pytest.raises(ValidationError) as refused:
        session_schedule(ctx=prescriber, session_id=session.pk, nurse_id=personas["nurse"].pk)
    assert "approves 1 sessions" in str(refused.value.message_dict["go_on_reason"])
    assert DosingSession.objects.get(pk=session.pk).state == "proposed" and not AuthorisationGoOn.objects.exists()
    scheduled = session_schedule(
        ctx=prescriber,
        session_id=session.pk,
        nurse_id=personas["nurse"].pk,
        go_on_reason="The payer agreed an extension by phone today.",
    )
    assert scheduled.state == "scheduled"
    (went_on,) = AuthorisationGoOn.objects.all()
    assert (went_on.by_id, went_on.authorisation_id, went_on.session_id) == (
        personas["prescriber"].pk, authorisation.pk, session.pk,
    )  # fmt: skip
    assert went_on.reason.startswith("The payer agreed") and "approves 1" in went_on.warning


@pytest.mark.django_db
def test_a_session_outside_the_authorisations_days_warns_and_another_drug_does_not(
    personas: dict[str, User], team_patient: Patient, payer: Payer
) -> None:
    prescriber = AuditContext(user=personas["prescriber"], channel="system")
    session = proposed(team_patient, personas, tomorrow_at(10, days=20))
    _pa(team_patient, payer, personas["coordinator"], covers="esketamine", approved_units=6,
        effective_to=timezone.localdate() + timedelta(days=10))  # fmt: skip
    # An esketamine authorisation says nothing about an IV session: scheduled without a warning.
    assert session_schedule(ctx=prescriber, session_id=session.pk, nurse_id=personas["nurse"].pk).state == "scheduled"
    other = proposed(team_patient, personas, tomorrow_at(10, days=20))
    _pa(team_patient, payer, personas["coordinator"], covers="code", code="96365", approved_units=6, number="IV-2",
        effective_to=timezone.localdate() + timedelta(days=10))  # fmt: skip
    with pytest.raises(ValidationError) as refused:
        session_schedule(ctx=prescriber, session_id=other.pk, nurse_id=personas["nurse"].pk)
    assert "falls outside it" in str(refused.value.message_dict["go_on_reason"])


@pytest.mark.django_db
def test_the_plan_page_says_why_and_lets_the_scheduler_go_on(
    client_for: Any, personas: dict[str, User], team_patient: Patient, payer: Payer
) -> None:
    session = proposed(team_patient, personas, tomorrow_at(10, days=70))
    _pa(team_patient, payer, personas["coordinator"])
    page = client_for("prescriber")
    url = f"/dosing/sessions/{session.pk}/schedule/"
    form = {"nurse": personas["nurse"].pk, "version": session.version}
    warned = page.post(url, form, follow=True)
    assert "falls outside it" in warned.content.decode() and "say why" in warned.content.decode()
    assert DosingSession.objects.get(pk=session.pk).state == "proposed"
    # Too short a reason: the row keeps what was typed (the nurse, the reason, the time), the error beside the box.
    short = page.post(url, {**form, "starts_at": "2031-01-02T10:30", "go_on_reason": "ok <b>"}, follow=True)
    row = short.content.decode()
    assert f'<option value="{personas["nurse"].pk}" selected>' in row
    assert 'value="ok &lt;b&gt;" aria-invalid="true" aria-describedby="goon-' in row
    assert 'value="2031-01-02T10:30"' in row
    assert f'<p class="field-error" id="goon-{session.pk}-error">' in row and "say why" in row
    again = page.get(f"/plans/{session.plan_id}/").content.decode()  # kept for one showing only
    assert 'aria-invalid="true"' not in again and "ok &lt;b&gt;" not in again
    went = page.post(url, {**form, "go_on_reason": "Renewal requested; payer confirmed by fax."})
    assert went.status_code == 302 and DosingSession.objects.get(pk=session.pk).state == "scheduled"
    assert AuthorisationGoOn.objects.get().reason == "Renewal requested; payer confirmed by fax."
    shown = client_for("coordinator").get(f"/patients/{team_patient.pk}/prior-authorisations/").content.decode()
    assert "Scheduled despite a warning" in shown and "Renewal requested; payer confirmed by fax." in shown


@pytest.mark.django_db
def test_ending_and_used_up_authorisations_show_on_the_coordinators_home_and_inbox(
    client_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient, payer: Payer
) -> None:
    today = timezone.localdate()
    _pa(team_patient, payer, personas["coordinator"], number="ENDS-SOON", approved_units=6,
        effective_to=today + timedelta(days=10))  # fmt: skip
    _pa(team_patient, payer, personas["coordinator"], number="FAR-OFF", covers="esketamine", approved_units=6,
        effective_to=today + timedelta(days=90))  # fmt: skip
    used_up = _pa(other_patient, payer, personas["coordinator"], number="USED-UP", approved_units=1,
                  effective_to=today + timedelta(days=90))  # fmt: skip
    session = proposed(other_patient, personas, tomorrow_at(10))
    DosingSession.objects.filter(pk=session.pk).update(state="scheduled")
    home = client_for("coordinator").get("/").content.decode()
    assert "ENDS-SOON" in home and "USED-UP" in home and "FAR-OFF" not in home
    (section,) = [s for s in inbox_for(_ctx(personas["coordinator"])) if s.key == "authorisations"]
    assert [i.text.split(" ")[0] for i in section.items] == ["ENDS-SOON", "USED-UP"]
    assert section.items[1].urgent and "1 of 1 used" in section.items[1].text
    assert inbox_counts(personas["coordinator"]).sections["authorisations"] == 2
    assert inbox_counts(personas["biller"]).sections["authorisations"] == 2
    assert AccessEvent.objects.filter(action="authorisation.attention_list", patient_id=other_patient.pk).exists()
    shown = authorisations.authorisations_for_patient(ctx=_ctx(personas["biller"]), patient_id=other_patient.pk)
    assert [(s.authorisation.pk, s.used, s.attention) for s in shown.authorisations] == [(used_up.pk, 1, "used up")]


# --- reports -------------------------------------------------------------------------------------------------------


def test_days_in_receivables_is_the_receivable_over_the_average_daily_charge() -> None:
    # [DAR] $155 outstanding, $230 charged over 2 days ($115 a day): 1.3 days.
    assert rules.days_in_receivables(outstanding_cents=15_500, charged_cents=23_000, days=2) == Decimal("1.3")
    assert rules.days_in_receivables(outstanding_cents=900_000, charged_cents=900_000, days=90) == Decimal("90.0")
    assert rules.days_in_receivables(outstanding_cents=100, charged_cents=0, days=30) is None


def _billed(
    patient: Patient, by: User, renderer: User, day: date, cents: int, decision: str = "approved"
) -> ChargeLine:
    line = ChargeLine.objects.create(
        patient=patient, source_kind="therapy_note", source_id=50_000 + ChargeLine.objects.count(),
        date_of_service=day, place_of_service="11", rendering_provider=renderer, code="90834", units=1,
        diagnoses=["F33.2"], amount_cents=cents, justification="Report test line", rules_version="t", proposed_by=by,
    )  # fmt: skip
    if decision:
        ChargeReview.objects.create(line=line, decision=decision, reason="" if decision == "approved" else "No.", by=by)
    return line


def _money(patient: Patient, by: User, kind: str, cents: int, day: date, **extra: Any) -> MoneyEntry:
    method = {"payment": "card", "refund": "card"}.get(kind, "")
    return MoneyEntry.objects.create(
        patient=patient, kind=kind, amount_cents=cents, method=extra.pop("method", method), received_on=day,
        recorded_by=by, **extra,
    )  # fmt: skip


@pytest.fixture
def books(personas: dict[str, User], team_patient: Patient, other_patient: Patient, payer: Payer) -> dict[str, Any]:
    biller, prescriber, therapist = personas["biller"], personas["prescriber"], personas["therapist"]
    d1, d2 = date(2026, 11, 2), date(2026, 11, 3)
    Coverage.objects.create(
        patient=team_patient, payer=payer, member_id="SYN-M", effective_from=date(2026, 1, 1), recorded_by=biller
    )
    first = _billed(team_patient, biller, prescriber, d1, 10_000)
    _billed(team_patient, biller, therapist, d2, 5_000)
    third = _billed(other_patient, biller, prescriber, d2, 8_000)
    _billed(other_patient, biller, prescriber, d2, 99_900, decision="rejected")  # not billed
    _billed(other_patient, biller, prescriber, d2, 77_700, decision="")  # proposed, not billed
    _money(team_patient, biller, "payment", 6_000, d2, method="insurance", payer=payer, line=first)
    _money(team_patient, biller, "refund", 1_000, d2, line=first)
    _money(other_patient, biller, "write_off", 500, d2, line=third, reason="Small balance")
    _money(other_patient, biller, "payment", 2_000, d2)  # on the account, not on a line
    return {"d1": d1, "d2": d2}


@pytest.mark.django_db
def test_the_report_by_day_payer_and_provider_adds_up(
    personas: dict[str, User], books: dict[str, Any], payer: Payer
) -> None:
    ctx = _ctx(personas["director"])
    d1, d2 = books["d1"], books["d2"]
    by_day = billing_reports.billing_report(ctx=ctx, first=d1, last=d2, group_by=billing_reports.GroupBy.DAY)
    assert [(r.key, r.lines, r.charged_cents, r.paid_cents, r.written_off_cents, r.outstanding_cents)
            for r in by_day.charges] == [
        (d1.isoformat(), 1, 10_000, 5_000, 0, 5_000), (d2.isoformat(), 2, 13_000, 0, 500, 12_500),
    ]  # fmt: skip
    assert [(m.key, m.payments_cents, m.refunds_cents) for m in by_day.received] == [(d2.isoformat(), 8_000, 1_000)]
    # A/R: 230.00 billed - 60 - 5 - 20 + 10 refunded = 155.00; over 2 days of 115.00 a day: 1.3 days.
    assert by_day.receivable_cents == 15_500 and by_day.days_in_ar == Decimal("1.3")
    by_payer = billing_reports.billing_report(ctx=ctx, first=d1, last=d2, group_by=billing_reports.GroupBy.PAYER)
    assert [(r.key, r.charged_cents) for r in by_payer.charges] == [("Self-pay", 8_000), (payer.name, 15_000)]
    assert [(m.key, m.net_cents) for m in by_payer.received] == [("Patient", 1_000), (payer.name, 6_000)]
    by_provider = billing_reports.billing_report(ctx=ctx, first=d1, last=d2, group_by=billing_reports.GroupBy.PROVIDER)
    names = {personas["prescriber"].display_name: 18_000, personas["therapist"].display_name: 5_000}
    assert {r.key: r.charged_cents for r in by_provider.charges} == names
    assert {m.key: m.net_cents for m in by_provider.received} == {
        personas["prescriber"].display_name: 5_000, "Not on a line": 2_000,
    }  # fmt: skip
    assert AccessEvent.objects.filter(action="billing.report", outcome="allowed").count() == 3


@pytest.mark.django_db
def test_the_report_costs_the_same_queries_for_3_or_30_lines(
    personas: dict[str, User], books: dict[str, Any], other_patient: Patient
) -> None:
    ctx = _ctx(personas["biller"])

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            billing_reports.billing_report(
                ctx=ctx, first=books["d1"], last=books["d2"], group_by=billing_reports.GroupBy.PAYER
            )
        return len(queries)

    few = count()
    for n in range(27):
        patient = Patient.objects.create(
            mrn=f"K0007{n:04d}", given_name="Synthetic", family_name=f"Ledger{n}", birth_date=date(1980, 1, 1)
        )
        line = _billed(patient, personas["biller"], personas["therapist"], books["d2"], 1_000 + n)
        _money(patient, personas["biller"], "payment", 100, books["d2"], line=line)
    assert count() == few


@pytest.mark.django_db
def test_the_report_page_csv_and_pdf_for_the_director_and_not_the_nurse(
    client_for: Any, books: dict[str, Any], payer: Payer
) -> None:
    director = client_for("director")
    query = {"first": books["d1"].isoformat(), "last": books["d2"].isoformat(), "by": "payer"}
    page = director.get("/billing/reports/", query)
    assert page.status_code == 200 and payer.name in page.content.decode() and "$150.00" in page.content.decode()
    csv = director.get("/billing/reports/", {**query, "output": "csv"})
    body = b"".join(csv.streaming_content).decode()
    assert csv["Content-Type"].startswith("text/csv") and f"charges,{payer.name},2,150.00" in body
    assert "receivable,A/R today,,,,,,155.00" in body
    pdf = client_for("biller").get("/billing/reports/", {**query, "output": "pdf"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert client_for("nurse").get("/billing/reports/").status_code == 403
    reversed_days = director.get("/billing/reports/", {**query, "first": "2026-11-05"})
    assert reversed_days.status_code == 400 and "cannot be before the first" in reversed_days.content.decode()
    assert director.get("/billing/reports/", {**query, "first": "2026-11-05", "output": "csv"}).status_code == 400
