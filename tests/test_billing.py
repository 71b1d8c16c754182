"""Billing (issue 18): charge lines proposed from signed records with the fact behind each, the biller's review,
corrections, coverage and fees, who sees what, and that every read is audited."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import AccessEvent
from kapclinic.billing import proposals, services
from kapclinic.billing.models import ChargeLine, ChargeReview, Coverage, FeeScheduleEntry, Payer, SourceKind
from kapclinic.billing.proposals import Proposal
from kapclinic.clinical import billing as rules
from kapclinic.dosing.models import DosingSession, SessionState
from kapclinic.errors import AccessDenied, Conflict
from kapclinic.patients.models import Patient
from kapclinic.therapy.models import TherapyNote
from tests.probes.dosing import _ready
from tests.probes.medications import dose_given_make
from tests.probes.records import plan_make
from tests.probes.world import World

JSON = "application/json"
pytestmark = pytest.mark.django_db


def _ctx(user: User) -> AuditContext:
    return AuditContext(user=user, channel="page")


def _note(
    patient: Patient, author: User, *, minutes: int | None, kind: str = "integration", **extra: Any
) -> TherapyNote:
    note = TherapyNote(
        patient=patient,
        author=author,
        kind=kind,
        occurred_at=timezone.now() - timedelta(hours=2),
        minutes=minutes,
        body=extra.pop("body", "SECRET-BODY the patient's words"),
        **extra,
    )
    note.signature_stamp(author.pk)
    note.save()
    return note


def _signed_session(w: World, patient: Patient, *, route: str = "iv", dose_mg: str = "35") -> DosingSession:
    plan = _ready(w, patient, route=route)
    session = DosingSession.objects.create(
        patient=patient,
        plan=plan,
        number=1,
        scheduled_for=timezone.now() - timedelta(hours=3),
        state=SessionState.MONITORING,
    )
    dose_given_make(session, w.people, dose_mg=dose_mg, started=timezone.now() - timedelta(hours=2))
    session.signature_stamp(w.people["nurse"].pk)
    session.save()
    return session


@pytest.fixture
def world(
    client_for: Any, api_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> World:
    return World(client_for("biller"), api_for("biller"), team_patient, other_patient, personas)


@pytest.fixture
def fees(personas: dict[str, User]) -> None:
    for code, cents in (("90837", 25_000), ("96365", 40_000), ("J3490", 15_000), ("G2082", 90_000)):
        services.fee_set(ctx=_ctx(personas["biller"]), code=code, price_cents=cents, effective_from=date(2026, 1, 1))


# --- proposals from the signed record --------------------------------------------------------------------


def test_a_signed_iv_session_and_integration_note_become_lines_with_their_facts(world: World, fees: None) -> None:
    session = _signed_session(world, world.team)
    note = _note(world.team, world.people["therapist"], minutes=55)
    answer = world.api.post("/api/v1/charges/propose", {}, content_type=JSON)
    assert answer.status_code == 200, answer.content
    lines = {line["code"]: line for line in answer.json()["lines"]}
    assert set(lines) == {"96365", "J3490", "90837"}
    therapy = lines["90837"]
    assert "Integration session note signed by Therapist Persona, 55 documented minutes" in therapy["justification"]
    assert therapy["amount_cents"] == 25_000 and therapy["diagnoses"] == ["F33.2"]
    assert therapy["place_of_service"] == "11" and therapy["rendering_provider"] == world.people["therapist"].pk
    drug = lines["J3490"]
    assert drug["ndc"] == "0409-2051-05" and drug["ndc_unit"] == "ML" and drug["ndc_quantity"] == "0.350"
    assert lines["96365"]["rendering_provider"] == world.people["prescriber"].pk  # the prescriber ordered it
    assert "40 documented minutes" in lines["96365"]["justification"]
    assert ChargeLine.objects.filter(source_kind="dosing_session", source_id=session.pk).count() == 2
    assert ChargeLine.objects.filter(source_kind="therapy_note", source_id=note.pk).count() == 1
    # Proposing again adds nothing.
    again = world.api.post("/api/v1/charges/propose", {}, content_type=JSON).json()
    assert again["lines"] == [] and ChargeLine.objects.count() == 3


def test_nothing_is_proposed_that_the_record_does_not_support(world: World) -> None:
    short = _note(world.team, world.people["therapist"], minutes=12)
    untimed = _note(world.team, world.people["therapist"], minutes=None)
    process = _note(world.team, world.people["therapist"], minutes=60, kind="process")
    draft = TherapyNote.objects.create(
        patient=world.team, author=world.people["therapist"], kind="therapy", occurred_at=timezone.now(), minutes=60
    )
    run = services.charges_propose(ctx=_ctx(world.people["biller"]))
    assert run.lines == []
    assert any(f"{short.pk}: Psychotherapy: 12 documented minutes" in why for why in run.not_proposed)
    assert any(f"{untimed.pk}: Psychotherapy" in why and "no duration" in why for why in run.not_proposed)
    assert not any(str(process.pk) + ":" in why or str(draft.pk) + ":" in why for why in run.not_proposed)


def test_a_spravato_session_is_a_g_code_by_dose(world: World, fees: None) -> None:
    _signed_session(world, world.team, route="intranasal", dose_mg="56")
    run = services.charges_propose(ctx=_ctx(world.people["biller"]))
    assert [(line.code, line.units, line.amount_cents) for line in run.lines] == [("G2082", 1, 90_000)]


def test_a_payer_that_pays_the_drug_gets_j0013_per_mg(world: World) -> None:
    payer = Payer.objects.create(
        name="Synthetic Drug-Paying Plan", esketamine_scheme="drug_per_mg", created_by=world.people["biller"]
    )
    Coverage.objects.create(
        patient=world.team,
        payer=payer,
        member_id="SYN-1",
        effective_from=date(2026, 1, 1),
        recorded_by=world.people["biller"],
    )
    _signed_session(world, world.team, route="intranasal", dose_mg="84")
    (line,) = services.charges_propose(ctx=_ctx(world.people["biller"])).lines
    assert (line.code, line.units) == ("J0013", 84)
    assert "No fee for J0013" in line.caveats[0]


def test_a_video_note_carries_modifier_95_and_asks_where_the_patient_was(world: World) -> None:
    _note(world.team, world.people["therapist"], minutes=40, modality="video")
    (line,) = services.charges_propose(ctx=_ctx(world.people["biller"])).lines
    assert (line.code, line.modifiers, line.place_of_service) == ("90834", ["95"], "10")
    assert any("does not say where the patient was" in c for c in line.caveats)


# --- review, append-only, corrections ------------------------------------------------------------------------


def _one_line(world: World) -> ChargeLine:
    plan_make(world.team, world.people, stamp=True)  # the diagnosis: the signed plan's indication
    _note(world.team, world.people["therapist"], minutes=55)
    (line,) = services.charges_propose(ctx=_ctx(world.people["biller"])).lines
    return line


def test_the_biller_approves_once_and_the_line_cannot_change(world: World) -> None:
    line = _one_line(world)
    page = world.page.post(f"/billing/charges/{line.pk}/", {"op": "approve"})
    assert page.status_code == 422 and "Tick the box" in page.content.decode()  # confirmation asked
    assert not ChargeReview.objects.exists()
    page = world.page.post(f"/billing/charges/{line.pk}/", {"op": "approve", "confirm": "on"})
    assert page.status_code == 302
    shown = world.page.get(f"/billing/charges/{line.pk}/").content.decode()
    assert (
        'value="90837"' in shown and 'value="F33.2"' in shown
    )  # the correction form starts from the line and ChargeReview.objects.get(line=line).decision == "approved"
    again = world.api.post(f"/api/v1/charges/{line.pk}/approve", content_type=JSON)
    assert again.status_code == 409
    with pytest.raises(DatabaseError), transaction.atomic():
        ChargeLine.objects.filter(pk=line.pk).update(units=2)
    with pytest.raises(DatabaseError), transaction.atomic():
        ChargeReview.objects.filter(line=line).delete()


def test_a_line_without_a_diagnosis_is_not_approved(world: World) -> None:
    _note(world.team, world.people["therapist"], minutes=55)  # no signed plan: no diagnosis
    (line,) = services.charges_propose(ctx=_ctx(world.people["biller"])).lines
    assert line.diagnoses == [] and any("diagnosis" in c for c in line.caveats)
    assert world.api.post(f"/api/v1/charges/{line.pk}/approve", content_type=JSON).status_code == 409
    assert not ChargeReview.objects.exists()


def test_a_rejection_needs_a_reason(world: World) -> None:
    line = _one_line(world)
    answer = world.api.post(f"/api/v1/charges/{line.pk}/reject", {"reason": "  "}, content_type=JSON)
    assert answer.status_code == 422 and not ChargeReview.objects.exists()
    assert AccessEvent.objects.filter(action="charge.review", outcome="invalid", patient=world.team).exists()
    page = world.page.post(
        f"/billing/charges/{line.pk}/", {"op": "reject", "reject-reason": "Note is not signed by a licensed clinician"}
    )
    assert page.status_code == 302
    assert ChargeReview.objects.get(line=line).reason == "Note is not signed by a licensed clinician"


def test_a_correction_is_a_new_line_pointing_at_the_old(world: World) -> None:
    line = _one_line(world)
    fix = {
        "code": "90834",
        "units": 1,
        "modifiers": [],
        "place_of_service": "11",
        "diagnoses": ["F33.1"],
        "reason": "Time was 45 minutes",
    }
    early = world.api.post(f"/api/v1/charges/{line.pk}/correct", fix, content_type=JSON)
    assert early.status_code == 409  # review first
    services.charge_approve(ctx=_ctx(world.people["biller"]), line_id=line.pk)
    bad = world.api.post(f"/api/v1/charges/{line.pk}/correct", {**fix, "diagnoses": ["NOPE"]}, content_type=JSON)
    assert bad.status_code == 422 and ChargeLine.objects.count() == 1
    answer = world.api.post(f"/api/v1/charges/{line.pk}/correct", fix, content_type=JSON)
    assert answer.status_code == 201, answer.content
    corrected = answer.json()
    assert corrected["corrects"] == line.pk and corrected["status"] == "proposed" and corrected["code"] == "90834"
    form = world.page.get(f"/billing/charges/{corrected['id']}/")
    assert form.status_code == 200 and "Approve line" in form.content.decode()
    done = world.page.get(f"/billing/charges/{line.pk}/").content.decode()
    assert "Correct this line" not in done  # corrected already: the newest line is the one to correct
    old = world.api.get(f"/api/v1/charges/{line.pk}").json()
    assert old["status"] == "corrected" and old["code"] == "90837"
    assert world.api.get("/api/v1/charges", {"status": "corrected"}).json()["count"] == 1


def test_only_a_biller_reviews(world: World, api_for: Any) -> None:
    line = _one_line(world)
    for who in ("director", "therapist", "auditor"):
        answer = api_for(who).post(f"/api/v1/charges/{line.pk}/approve", content_type=JSON)
        assert answer.status_code == 403, who
    with pytest.raises(AccessDenied):
        services.charges_propose(ctx=_ctx(world.people["therapist"]))
    assert not ChargeReview.objects.exists()


# --- who sees what ----------------------------------------------------------------------------------------------


def test_clinicians_see_only_the_lines_their_records_produced(world: World, api_for: Any) -> None:
    _note(world.team, world.people["therapist"], minutes=55)
    _signed_session(world, world.other)
    services.charges_propose(ctx=_ctx(world.people["biller"]))
    therapist = api_for("therapist").get("/api/v1/charges").json()
    prescriber = api_for("prescriber").get("/api/v1/charges").json()
    assert [i["code"] for i in therapist["items"]] == ["90837"]
    assert sorted(i["code"] for i in prescriber["items"]) == ["96365", "J3490"]
    assert api_for("director").get("/api/v1/charges").json()["count"] == 3
    assert api_for("coordinator").get("/api/v1/charges").status_code == 403
    other = ChargeLine.objects.filter(code="J3490").get()
    assert api_for("therapist").get(f"/api/v1/charges/{other.pk}").status_code == 404


def test_the_biller_sees_the_fact_never_the_notes_words(world: World) -> None:
    line = _one_line(world)
    for url in ("/billing/charges/", f"/billing/charges/{line.pk}/"):
        text = world.page.get(url).content.decode()
        assert "55 documented minutes" in text and "SECRET-BODY" not in text
    assert world.page.get(f"/patients/{world.team.pk}/notes/").status_code in (403, 404)


def test_every_view_is_audited(world: World) -> None:
    line = _one_line(world)
    before = AccessEvent.objects.filter(action="charge.view", patient=world.team).count()
    world.page.get("/billing/charges/")
    world.api.get(f"/api/v1/charges/{line.pk}")
    assert AccessEvent.objects.filter(action="charge.view", patient=world.team).count() == before + 2
    world.api.get(f"/api/v1/patients/{world.team.pk}/coverages")
    assert AccessEvent.objects.filter(action="coverage.view", patient=world.team).exists()


def test_the_queue_costs_the_same_queries_for_2_or_20_lines(world: World) -> None:
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert world.page.get("/billing/charges/").status_code == 200
        return len(queries)

    for _ in range(2):
        _note(world.team, world.people["therapist"], minutes=55)
    services.charges_propose(ctx=_ctx(world.people["biller"]))
    few = count()
    for _ in range(18):
        _note(world.team, world.people["therapist"], minutes=40)
    services.charges_propose(ctx=_ctx(world.people["biller"]))
    assert ChargeLine.objects.count() == 20
    assert count() == few


# --- coverage and fees --------------------------------------------------------------------------------------------


def test_coverage_needs_a_member_id_and_one_primary_at_a_time(world: World) -> None:
    payer = Payer.objects.create(name="Synthetic Blue Plan", created_by=world.people["biller"])
    url = f"/api/v1/patients/{world.team.pk}/coverages"
    body = {"payer": payer.pk, "effective_from": "2026-01-01"}
    missing = world.api.post(url, body, content_type=JSON)
    assert missing.status_code == 422 and "member id" in missing.content.decode() and not Coverage.objects.exists()
    assert world.api.post(url, {**body, "member_id": "SYN123"}, content_type=JSON).status_code == 201
    clash = world.api.post(url, {**body, "member_id": "SYN999", "effective_from": "2026-06-01"}, content_type=JSON)
    assert clash.status_code == 422 and Coverage.objects.count() == 1
    page = world.page.post(
        f"/patients/{world.team.pk}/coverage/",
        {
            "op": "add",
            "rank": "secondary",
            "payer": payer.pk,
            "relationship": "spouse",
            "member_id": "SYN5",
            "effective_from": "2026-01-01",
        },
    )
    assert page.status_code == 422 and "subscriber" in page.content.decode()
    assert 'value="SYN5"' in page.content.decode()  # what was typed is kept


def test_a_new_price_ends_the_old_one(world: World) -> None:
    ctx = _ctx(world.people["biller"])
    services.fee_set(ctx=ctx, code="90837", price_cents=20_000, effective_from=date(2025, 1, 1))
    services.fee_set(ctx=ctx, code="90837", price_cents=25_000, effective_from=date(2026, 1, 1))
    old, new = FeeScheduleEntry.objects.order_by("effective_from")
    assert old.effective_to == date(2025, 12, 31) and new.effective_to is None
    refused = world.api.post(
        "/api/v1/fee-schedule", {"code": "90837", "price_cents": 1, "effective_from": "2025-06-01"}, content_type=JSON
    )
    assert refused.status_code == 422
    unknown = world.api.post(
        "/api/v1/fee-schedule", {"code": "ZZZZZ", "price_cents": 1, "effective_from": "2026-06-01"}, content_type=JSON
    )
    assert unknown.status_code == 422


def test_a_proposal_run_racing_another_is_a_conflict_not_a_500(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    note = _note(world.team, world.people["therapist"], minutes=55)
    services.charges_propose(ctx=_ctx(world.people["biller"]))
    # As if a second run had read the note before the first wrote its line.
    day = timezone.localdate()
    setting = rules.setting_for(rules.Modality.IN_PERSON, rules.PatientLocation.UNKNOWN, day)
    coding = rules.psychotherapy(minutes=55, day=day, with_em=False, setting=setting, who="n")
    stale = [
        Proposal(note.patient_id, SourceKind.THERAPY_NOTE, note.pk, day, world.people["therapist"], ("F33.2",), coding)
    ]
    monkeypatch.setattr(proposals, "note_proposals", lambda since: iter(stale))
    with pytest.raises(Conflict):
        services.charges_propose(ctx=_ctx(world.people["biller"]))
    assert ChargeLine.objects.count() == 1


def test_the_coverage_page_costs_the_same_queries_for_1_or_3_coverages(world: World) -> None:
    payers = [Payer.objects.create(name=f"Synthetic Plan {n}", created_by=world.people["biller"]) for n in range(3)]
    url = f"/patients/{world.team.pk}/coverage/"

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            answer = world.page.get(url)
            assert answer.status_code == 200 and "Synthetic Plan 0" in answer.content.decode()
        return len(queries)

    def add(payer: Payer, rank: str, start: date, end: date | None = None) -> None:
        Coverage.objects.create(
            patient=world.team,
            payer=payer,
            rank=rank,
            member_id="SYN",
            effective_from=start,
            effective_to=end,
            recorded_by=world.people["biller"],
        )

    add(payers[0], "primary", date(2026, 1, 1))
    one = count()
    add(payers[1], "secondary", date(2026, 1, 1))
    add(payers[2], "primary", date(2025, 1, 1), date(2025, 12, 31))
    assert count() == one


def test_the_propose_button_says_what_it_did(world: World) -> None:
    plan_make(world.team, world.people, stamp=True)
    _note(world.team, world.people["therapist"], minutes=55)
    _note(world.team, world.people["therapist"], minutes=5)
    answer = world.page.post("/billing/charges/propose/", follow=True)
    text = answer.content.decode()
    assert answer.status_code == 200 and "proposed 1 line." in text and "5 documented minutes" in text
    assert "90837" in text and "Proposed" in text
    empty = world.page.get("/billing/charges/", {"status": "rejected"})
    assert "No charge lines with this status" in empty.content.decode()


def test_ending_a_coverage_keeps_its_dates_in_order(world: World) -> None:
    ctx = _ctx(world.people["biller"])
    coverage = services.coverage_add(
        ctx=ctx, patient_id=world.team.pk, given=services.CoverageInput(self_pay=True, effective_from=date(2026, 3, 1))
    )
    url = f"/patients/{world.team.pk}/coverage/"
    early = world.page.post(url, {"op": "end", "end-coverage": coverage.pk, "end-last_day": "2026-02-01"})
    assert early.status_code == 422 and "cannot be before the first" in early.content.decode()
    done = world.page.post(url, {"op": "end", "end-coverage": coverage.pk, "end-last_day": "2026-11-30"})
    assert done.status_code == 302
    coverage.refresh_from_db()
    assert coverage.effective_to == date(2026, 11, 30)
    assert AccessEvent.objects.filter(action="coverage.edit", patient=world.team, outcome="invalid").exists()


def test_an_in_session_note_is_psychedelic_monitoring_except_beside_spravato(world: World) -> None:
    iv = _signed_session(world, world.team)
    _note(world.team, world.people["therapist"], minutes=120, kind="in_session", dosing_session=iv)
    spravato = _signed_session(world, world.other, route="intranasal", dose_mg="56")
    beside = _note(world.other, world.people["therapist"], minutes=120, kind="in_session", dosing_session=spravato)
    run = services.charges_propose(ctx=_ctx(world.people["biller"]))
    monitoring = [(line.code, line.units) for line in run.lines if line.source_kind == "therapy_note"]
    assert monitoring == [("0820T", 2)]
    assert any(f"{beside.pk}: Monitoring: the esketamine visit code already includes" in w for w in run.not_proposed)
