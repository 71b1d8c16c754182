"""Claims (issue 18 item 5): a claim from approved lines of one patient under the coverage in force, its states as
append-only events, a line on one open claim only (held by the database), the 837P file that pyx12 validates, and
the refusals: nothing written, audited."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.db import DatabaseError, IntegrityError, transaction

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import AccessEvent
from kapclinic.billing import claims as service
from kapclinic.billing.models import ChargeLine, ChargeReview, Claim, ClaimEvent, ClaimLine, Coverage, Payer
from kapclinic.billing.x12_check import x12_errors
from kapclinic.clinical import claims as rules
from kapclinic.patients.models import Patient
from kapclinic.roles import Action

JSON = "application/json"
NPI = "1234567893"  # the check digit holds (CMS's example number)
DAY = date(2026, 11, 20)
pytestmark = pytest.mark.django_db


def ctx_of(user: User) -> AuditContext:
    return AuditContext(user=user, channel="page")


def payer_make(director: User, name: str = "Synthetic Mutual", payer_id: str = "SYN01") -> Payer:
    return Payer.objects.get_or_create(name=name, defaults={"payer_id": payer_id, "created_by": director})[0]


def billable(patient: Patient, people: dict[str, User], **coverage: Any) -> Coverage:
    """Make `patient` claimable: an address, a primary coverage from 2026-01-01, and the therapist's NPI."""
    Patient.objects.filter(pk=patient.pk).update(
        address_line1="1 Example Road", city="Austin", region="TX", postal_code="78701"
    )
    User.objects.filter(pk=people["therapist"].pk).update(licence_number=NPI)
    values: dict[str, Any] = {
        "member_id": "SYN-M-001",
        "group_number": "GRP7",
        "effective_from": date(2026, 1, 1),
        **coverage,
    }
    return Coverage.objects.create(
        patient=patient, payer=payer_make(people["director"]), recorded_by=people["director"], **values
    )


def approved_line(
    patient: Patient,
    people: dict[str, User],
    *,
    code: str = "90837",
    day: date = DAY,
    diagnoses: tuple[str, ...] = ("F33.2",),
    cents: int | None = 25_000,
    renderer: str = "therapist",
    review: str | None = "approved",
    **extra: Any,
) -> ChargeLine:
    line = ChargeLine.objects.create(
        patient=patient,
        source_kind="therapy_note",
        source_id=50_000 + ChargeLine.objects.count(),
        date_of_service=day,
        place_of_service="11",
        rendering_provider=people[renderer],
        code=code,
        units=1,
        diagnoses=list(diagnoses),
        amount_cents=cents,
        justification="Test line: 55 documented minutes",
        rules_version="t",
        proposed_by=people["director"],
        **extra,
    )
    if review is not None:
        ChargeReview.objects.create(
            line=line, decision=review, reason="" if review == "approved" else "wrong", by=people["biller"]
        )
    return line


@pytest.fixture
def people(personas: dict[str, User]) -> dict[str, User]:
    return personas


@pytest.fixture
def biller_api(api_for: Any) -> Any:
    return api_for("biller")


def test_a_claim_from_approved_lines_and_its_837p_that_pyx12_accepts(
    people: dict[str, User], team_patient: Patient, biller_api: Any
) -> None:
    coverage = billable(team_patient, people)
    therapy = approved_line(team_patient, people, diagnoses=("F33.2", "F43.10"))
    drug = approved_line(
        team_patient,
        people,
        code="J3490",
        cents=15_000,
        ndc="0409-2051-05",
        ndc_quantity=Decimal("0.350"),
        ndc_unit="ML",
        diagnoses=("F33.2",),
    )
    answer = biller_api.post("/api/v1/claims", {"charges": [therapy.pk, drug.pk]}, content_type=JSON)
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["state"] == "draft" and body["coverage"] == coverage.pk and body["total_cents"] == 40_000
    assert body["diagnoses"] == ["F33.2", "F43.10"]
    assert [line["pointers"] for line in body["lines"]] == [[1, 2], [1]]
    assert body["events"][0]["state"] == "draft" and body["frequency_code"] == "1"
    x12 = biller_api.get(f"/api/v1/claims/{body['id']}/837")
    assert x12.status_code == 200 and x12["Content-Type"].startswith("application/edi-x12")
    text = x12.content.decode("ascii")
    assert x12_errors(text) == []
    assert f"CLM*KC{body['id']}*400***11:B:1*Y*A*Y*Y~" in text
    assert "HI*ABK:F332*ABF:F4310~" in text
    assert "SV1*HC:90837*250*UN*1***1:2~" in text
    assert "LIN**N4*00409205105~\nCTP****0.35*ML~" in text  # the drug line's NDC in 5-4-2 and its quantity
    assert "NM1*85*2*SYNTHETIC KAP CLINIC*****XX*1234567893~" in text and "REF*EI*990000001~" in text
    assert "NM1*82*1*" in text and f"XX*{NPI}~" in text
    assert "DTP*472*D8*20261120~" in text


def test_many_claims_in_one_file_and_a_subscriber_who_is_not_the_patient_validate(
    people: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    billable(team_patient, people)
    billable(other_patient, people, relationship="child", subscriber_name="Parent Example")
    ctx = ctx_of(people["biller"])
    first = service.claim_create(ctx=ctx, line_ids=[approved_line(team_patient, people).pk])
    second = service.claim_create(ctx=ctx, line_ids=[approved_line(other_patient, people).pk])
    text = service.claim_file_for(ctx=ctx, claim_ids=[first.pk, second.pk])
    assert x12_errors(text) == []
    assert "PAT*19~" in text and "NM1*IL*1*EXAMPLE*PARENT****MI*SYN-M-001~" in text
    assert text.count("CLM*") == 2
    # The batch's read is audited: one row per patient, naming that patient's claim.
    rows = AccessEvent.objects.filter(action=Action.CLAIM_VIEW, detail__op="837")
    assert {(e.patient_id, tuple(e.detail["claims"])) for e in rows} == {
        (team_patient.pk, (first.pk,)),
        (other_patient.pk, (second.pk,)),
    }


def test_the_validator_is_not_a_rubber_stamp(people: dict[str, User], team_patient: Patient) -> None:
    billable(team_patient, people)
    ctx = ctx_of(people["biller"])
    claim = service.claim_create(ctx=ctx, line_ids=[approved_line(team_patient, people).pk])
    text = service.claim_file_for(ctx=ctx, claim_ids=[claim.pk])
    broken = "".join(seg for seg in text.splitlines(keepends=True) if not seg.startswith("HI*"))
    assert x12_errors(broken) != []


def test_a_resubmission_replaces_the_denied_claim_with_frequency_7(
    people: dict[str, User], team_patient: Patient, biller_api: Any
) -> None:
    billable(team_patient, people)
    line = approved_line(team_patient, people)
    claim = service.claim_create(ctx=ctx_of(people["biller"]), line_ids=[line.pk])
    sent = biller_api.post(f"/api/v1/claims/{claim.pk}/mark", {"state": "submitted"}, content_type=JSON)
    assert sent.status_code == 200 and sent.json()["state"] == "submitted"
    no_reason = biller_api.post(f"/api/v1/claims/{claim.pk}/mark", {"state": "denied"}, content_type=JSON)
    assert no_reason.status_code == 422 and "reason" in no_reason.content.decode()
    denied = biller_api.post(
        f"/api/v1/claims/{claim.pk}/mark",
        {"state": "denied", "reason": "Payer: not covered (CO-96)"},
        content_type=JSON,
    )
    assert denied.json()["state"] == "denied"
    Claim.objects.filter(pk=claim.pk).update(payer_claim_number="PCN-778")
    again = biller_api.post(f"/api/v1/claims/{claim.pk}/resubmit", {"reason": "Diagnosis fixed"}, content_type=JSON)
    assert again.status_code == 201, again.content
    new = again.json()
    assert new["replaces"] == claim.pk and new["frequency_code"] == "7"
    claim.refresh_from_db()
    assert claim.state == "resubmitted"
    assert [e.state for e in claim.events.order_by("id")] == ["draft", "submitted", "denied", "resubmitted"]
    assert ClaimLine.objects.get(claim=claim).released and not ClaimLine.objects.get(claim_id=new["id"]).released
    text = biller_api.get(f"/api/v1/claims/{new['id']}/837").content.decode()
    assert x12_errors(text) == [] and ":B:7*" in text and "REF*F8*PCN-778~" in text
    old_file = biller_api.get(f"/api/v1/claims/{claim.pk}/837")
    assert old_file.status_code == 409  # a replaced claim is not sent again


@pytest.mark.parametrize(
    "case",
    ["two_patients", "not_approved", "rejected", "already_claimed", "outside_coverage", "no_coverage", "no_npi"],
)
def test_bad_lines_are_refused_with_a_reason_nothing_written_and_audited(
    case: str, people: dict[str, User], team_patient: Patient, other_patient: Patient, biller_api: Any
) -> None:
    billable(team_patient, people, effective_to=date(2026, 12, 31))
    billable(other_patient, people)
    mine = approved_line(team_patient, people)
    ids = [mine.pk]
    expect = ""
    if case == "two_patients":
        ids.append(approved_line(other_patient, people).pk)
        expect = "more than one patient"
    elif case == "not_approved":
        ids.append(approved_line(team_patient, people, review=None).pk)
        expect = "proposed"
    elif case == "rejected":
        ids.append(approved_line(team_patient, people, review="rejected").pk)
        expect = "rejected"
    elif case == "already_claimed":
        held = service.claim_create(ctx=ctx_of(people["biller"]), line_ids=[mine.pk])
        expect = f"on claim KC{held.pk}"
    elif case == "outside_coverage":
        ids = [approved_line(team_patient, people, day=date(2027, 1, 5)).pk]
        expect = "in force on every date of service (2027-01-05)"
    elif case == "no_coverage":
        Coverage.objects.filter(patient=team_patient).delete()
        expect = "no primary payer coverage"
    elif case == "no_npi":
        User.objects.filter(pk=people["therapist"].pk).update(licence_number="LPC-123")
        expect = "no NPI on file"
    claims_before, events_before = Claim.objects.count(), ClaimEvent.objects.count()
    answer = biller_api.post("/api/v1/claims", {"charges": ids}, content_type=JSON)
    assert answer.status_code == 422, answer.content
    assert expect in answer.content.decode()
    assert (Claim.objects.count(), ClaimEvent.objects.count()) == (claims_before, events_before)
    assert AccessEvent.objects.filter(action=Action.CLAIM_MANAGE, outcome="invalid").exists()


def test_a_line_is_on_one_open_claim_only_in_the_database(people: dict[str, User], team_patient: Patient) -> None:
    billable(team_patient, people)
    line = approved_line(team_patient, people)
    claim = service.claim_create(ctx=ctx_of(people["biller"]), line_ids=[line.pk])
    other = Claim.objects.create(
        patient=team_patient,
        coverage=claim.coverage,
        payer=claim.payer,
        rendering_provider=people["therapist"],
        place_of_service="11",
        total_cents=1,
        created_by=people["biller"],
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        ClaimLine.objects.create(claim=other, line=line, position=1, amount_cents=1)


def test_claim_events_are_append_only(people: dict[str, User], team_patient: Patient) -> None:
    billable(team_patient, people)
    claim = service.claim_create(ctx=ctx_of(people["biller"]), line_ids=[approved_line(team_patient, people).pk])
    with pytest.raises(DatabaseError), transaction.atomic():
        ClaimEvent.objects.filter(claim=claim).update(reason="rewritten")


def test_only_the_biller_and_director_make_claims_and_clinicians_see_none(
    people: dict[str, User], team_patient: Patient, api_for: Any
) -> None:
    billable(team_patient, people)
    line = approved_line(team_patient, people)
    therapist = api_for("therapist")
    assert therapist.post("/api/v1/claims", {"charges": [line.pk]}, content_type=JSON).status_code == 403
    claim = service.claim_create(ctx=ctx_of(people["director"]), line_ids=[line.pk])
    assert therapist.get(f"/api/v1/claims/{claim.pk}").status_code == 403
    assert api_for("auditor").get(f"/api/v1/claims/{claim.pk}").status_code == 200
    auditor_mark = api_for("auditor").post(f"/api/v1/claims/{claim.pk}/mark", {"state": "submitted"}, content_type=JSON)
    assert auditor_mark.status_code == 403


def test_every_claim_read_is_audited(people: dict[str, User], team_patient: Patient, biller_api: Any) -> None:
    billable(team_patient, people)
    claim = service.claim_create(ctx=ctx_of(people["biller"]), line_ids=[approved_line(team_patient, people).pk])
    biller_api.get(f"/api/v1/claims/{claim.pk}")
    biller_api.get(f"/api/v1/claims/{claim.pk}/837")
    biller_api.get("/api/v1/claims", {"state": "draft"})
    ops = [e.detail.get("op") or "list" for e in AccessEvent.objects.filter(action=Action.CLAIM_VIEW)]
    assert {"view", "837", "list"} <= set(ops)
    assert all(
        e.patient_id == team_patient.pk for e in AccessEvent.objects.filter(action=Action.CLAIM_VIEW, outcome="allowed")
    )


def test_the_list_filters_by_state_and_payer(
    people: dict[str, User], team_patient: Patient, other_patient: Patient, biller_api: Any
) -> None:
    billable(team_patient, people)
    billable(other_patient, people)
    ctx = ctx_of(people["biller"])
    first = service.claim_create(ctx=ctx, line_ids=[approved_line(team_patient, people).pk])
    service.claim_create(ctx=ctx, line_ids=[approved_line(other_patient, people).pk])
    service.claim_mark(ctx=ctx, claim_id=first.pk, state="submitted")
    submitted = biller_api.get("/api/v1/claims", {"state": "submitted"}).json()
    assert [c["id"] for c in submitted["items"]] == [first.pk] and submitted["count"] == 1
    by_payer = biller_api.get("/api/v1/claims", {"payer": first.payer_id}).json()
    assert by_payer["count"] == 2
    assert biller_api.get("/api/v1/claims", {"payer": first.payer_id + 999}).json()["count"] == 0


# --- the pure rules --------------------------------------------------------------------------------------------


def test_npi_check_digit() -> None:
    assert rules.npi_valid("1234567893")
    assert not rules.npi_valid("1234567890") and not rules.npi_valid("123456789") and not rules.npi_valid("12345678a3")


def test_pointers_merge_diagnoses_first_seen_first_and_stop_at_twelve() -> None:
    got = rules.pointers_for([["F33.2", "F43.10"], ["F43.10", "F41.1", "F33.2", "Z91.89", "F32.9"]])
    assert got.diagnoses == ("F33.2", "F43.10", "F41.1", "Z91.89", "F32.9")
    assert got.per_line == ((1, 2), (2, 3, 1, 4))
    with pytest.raises(rules.ClaimRuleError, match="12"):
        rules.pointers_for([[f"F4{i}.0"] for i in range(13)])
    with pytest.raises(rules.ClaimRuleError, match="50 lines"):
        rules.pointers_for([["F33.2"]] * 51)


def test_what_a_remittance_decides() -> None:
    assert rules.remittance_outcome("1", 25_000, 0, 0) is rules.Outcome.DENIED
    assert rules.remittance_outcome("4", 25_000, 0, 25_000) is rules.Outcome.DENIED
    assert rules.remittance_outcome("1", 25_000, 18_000, 7_000) is rules.Outcome.PAID
    assert rules.remittance_outcome("1", 25_000, 15_000, 5_000) is rules.Outcome.PARTLY_PAID  # 50 left to the patient
    with pytest.raises(rules.ClaimRuleError):
        rules.remittance_outcome("22", 25_000, 100, 0)


def test_claim_states_follow_the_table() -> None:
    assert rules.may_become(rules.ClaimState.DRAFT, rules.ClaimState.SUBMITTED)
    assert not rules.may_become(rules.ClaimState.DRAFT, rules.ClaimState.PAID)
    assert not rules.may_become(rules.ClaimState.RESUBMITTED, rules.ClaimState.SUBMITTED)
    assert not rules.may_become(rules.ClaimState.PAID, rules.ClaimState.DENIED)
