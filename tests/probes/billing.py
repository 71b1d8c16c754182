"""Role-matrix probes for billing (issue 18): coverage, payers and fees, charge lines and their review. The page
and the API twin are tried together and must agree."""

from __future__ import annotations

from datetime import date

from django.utils import timezone

from kapclinic.billing.models import ChargeLine, ChargeReview, Coverage, MoneyEntry, Payer
from kapclinic.patients.models import Patient
from kapclinic.roles import Action
from tests.probes.world import Probe, World

JSON = "application/json"


def _line(w: World, patient: Patient, renderer: str) -> ChargeLine:
    return ChargeLine.objects.create(
        patient=patient,
        source_kind="therapy_note",
        source_id=10_000 + ChargeLine.objects.count(),
        date_of_service=timezone.localdate(),
        place_of_service="11",
        rendering_provider=w.people[renderer],
        code="90834",
        units=1,
        diagnoses=["F33.2"],
        justification="Probe line: 45 documented minutes",
        rules_version="t",
        proposed_by=w.people["director"],
    )


def _coverage_view(w: World, patient: Patient) -> bool:
    payer, _ = Payer.objects.get_or_create(
        name="Probe Mutual (synthetic)", defaults={"created_by": w.people["director"]}
    )
    Coverage.objects.create(
        patient=patient,
        payer=payer,
        member_id="PROBE-M1",
        effective_from=date(2026, 1, 1),
        recorded_by=w.people["director"],
    )
    page = w.page.get(f"/patients/{patient.pk}/coverage/")
    api = w.api.get(f"/api/v1/patients/{patient.pk}/coverages")
    page_ok = page.status_code == 200 and "PROBE-M1" in page.content.decode()
    api_ok = api.status_code == 200 and any(c["member_id"] == "PROBE-M1" for c in api.json())
    assert page_ok == api_ok, "page and API disagree"
    return page_ok


def _coverage_edit(w: World, patient: Patient) -> bool:
    w.page.post(
        f"/patients/{patient.pk}/coverage/",
        {"op": "add", "rank": "primary", "self_pay": "on", "relationship": "self", "effective_from": "2026-01-01"},
    )
    page = Coverage.objects.filter(patient=patient, rank="primary").count() == 1
    w.api.post(
        f"/api/v1/patients/{patient.pk}/coverages",
        {"rank": "secondary", "self_pay": True, "effective_from": "2026-01-01"},
        content_type=JSON,
    )
    api = Coverage.objects.filter(patient=patient, rank="secondary").count() == 1
    assert page == api, "page and API disagree"
    return page


def _billing_setup(w: World, patient: Patient) -> bool:
    w.page.post(
        "/billing/setup/", {"op": "payer", "payer-name": "Probe Page Health", "payer-esketamine_scheme": "visit_code"}
    )
    page = Payer.objects.filter(name="Probe Page Health").exists()
    w.api.post("/api/v1/payers", {"name": "Probe API Health"}, content_type=JSON)
    api = Payer.objects.filter(name="Probe API Health").exists()
    assert page == api, "page and API disagree"
    return page


def _charge_view(w: World, patient: Patient) -> bool:
    # A clinician sees the lines their own records produced: the team patient's lines are the team's clinicians'.
    renderers = ["prescriber", "nurse", "therapist"] if patient.pk == w.team.pk else ["outsider_therapist"]
    lines = [_line(w, patient, who) for who in renderers]
    page = any(w.page.get(f"/billing/charges/{line.pk}/").status_code == 200 for line in lines)
    api = any(w.api.get(f"/api/v1/charges/{line.pk}").status_code == 200 for line in lines)
    listed = w.api.get("/api/v1/charges")
    in_list = listed.status_code == 200 and any(item["patient"] == patient.pk for item in listed.json()["items"])
    assert page == api == in_list, "page, API and list disagree"
    return page


def _charge_review(w: World, patient: Patient) -> bool:
    first, second = _line(w, patient, "therapist"), _line(w, patient, "prescriber")
    w.page.post(f"/billing/charges/{first.pk}/", {"op": "approve", "confirm": "on"})
    page = ChargeReview.objects.filter(line=first, decision="approved").exists()
    w.api.post(f"/api/v1/charges/{second.pk}/reject", {"reason": "Probe: wrong code"}, content_type=JSON)
    api = ChargeReview.objects.filter(line=second, decision="rejected").exists()
    assert page == api, "page and API disagree"
    return page


PROBES: dict[Action, tuple[Probe, bool]] = {
    Action.COVERAGE_VIEW: (_coverage_view, True),
    Action.COVERAGE_EDIT: (_coverage_edit, True),
    Action.BILLING_SETUP: (_billing_setup, False),
    Action.CHARGE_VIEW: (_charge_view, True),
    Action.CHARGE_REVIEW: (_charge_review, True),
}


# --- money (issue 18 item 6) ------------------------------------------------------------------------------------


def _priced_line(w: World, patient: Patient, cents: int) -> ChargeLine:
    line = ChargeLine.objects.create(
        patient=patient,
        source_kind="therapy_note",
        source_id=20_000 + ChargeLine.objects.count(),
        date_of_service=timezone.localdate(),
        place_of_service="11",
        rendering_provider=w.people["therapist"],
        code="90837",
        units=1,
        diagnoses=["F33.2"],
        amount_cents=cents,
        justification="Probe line: 55 documented minutes",
        rules_version="t",
        proposed_by=w.people["director"],
    )
    ChargeReview.objects.create(line=line, decision="approved", by=w.people["director"])
    return line


def _money_record(w: World, patient: Patient) -> bool:
    line = _priced_line(w, patient, 20_000)
    before = MoneyEntry.objects.count()
    w.page.post(
        f"/patients/{patient.pk}/billing/record/",
        {
            "kind": "payment",
            "amount": "40.00",
            "method": "cash",
            "apply_to": f"line:{line.pk}",
            "received_on": timezone.localdate().isoformat(),
        },
    )
    page = MoneyEntry.objects.count() == before + 1
    w.api.post(
        "/api/v1/payments",
        {"patient": patient.pk, "kind": "payment", "amount_cents": 5_000, "method": "cash", "line": line.pk},
        content_type=JSON,
    )
    api = MoneyEntry.objects.count() == before + 1 + int(page)
    assert page == api, "page and API disagree"
    return page


def _money_view(w: World, patient: Patient) -> bool:
    _priced_line(w, patient, 12_345)
    api = w.api.get(f"/api/v1/patients/{patient.pk}/balance")
    api_ok = api.status_code == 200 and api.json()["balance_cents"] == 12_345
    page = w.page.get(f"/patients/{patient.pk}/billing/")
    if page.status_code == 302:
        # A patient's bills are in the portal, which only ever shows their own record.
        assert page["Location"] == "/portal/billing/"
        portal = w.page.get("/portal/billing/")
        page_ok = api_ok and portal.status_code == 200 and "You owe $123.45" in portal.content.decode()
    else:
        page_ok = page.status_code == 200 and "$123.45" in page.content.decode()
    assert page_ok == api_ok, "page and API disagree"
    return page_ok


PROBES[Action.MONEY_RECORD] = (_money_record, True)
PROBES[Action.MONEY_VIEW] = (_money_view, True)
