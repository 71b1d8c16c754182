"""Role-matrix probes for claims (issue 18 item 5): reading a claim (page, API, its 837P) and making and marking one.
The page and the API twin are tried together and must agree. `claim_make` writes a claim directly (the route walk's
world); the probes go through the services."""

from __future__ import annotations

from datetime import date

from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.billing.models import ChargeLine, ChargeReview, Claim, ClaimEvent, ClaimLine, Coverage, Payer
from kapclinic.patients.models import Patient
from kapclinic.roles import Action
from tests.probes.world import Probe, World

JSON = "application/json"
NPI = "1234567893"  # passes the NPI check digit (CMS's example number); synthetic


def _coverage(patient: Patient, director: User) -> Coverage:
    payer, _ = Payer.objects.get_or_create(
        name="Probe Claims Mutual (synthetic)", defaults={"payer_id": "PROBE1", "created_by": director}
    )
    found = Coverage.objects.filter(patient=patient, payer=payer).first()
    return found or Coverage.objects.create(
        patient=patient, payer=payer, member_id="PROBE-C1", effective_from=date(2026, 1, 1), recorded_by=director
    )


def claim_make(patient: Patient, line: ChargeLine, director: User) -> Claim:
    """A draft claim of `line` (written directly: no review or coverage checks)."""
    coverage = _coverage(patient, director)
    assert coverage.payer_id is not None
    claim = Claim.objects.create(
        patient=patient,
        coverage=coverage,
        payer_id=coverage.payer_id,
        rendering_provider_id=line.rendering_provider_id,
        diagnoses=list(line.diagnoses) or ["F33.2"],
        place_of_service=line.place_of_service,
        total_cents=line.amount_cents or 100,
        created_by=director,
    )
    ClaimLine.objects.create(claim=claim, line=line, position=1, pointers=[1], amount_cents=line.amount_cents or 100)
    ClaimEvent.objects.create(claim=claim, state="draft", reason="Probe claim", by=director)
    return claim


def _approved_line(w: World, patient: Patient) -> ChargeLine:
    Patient.objects.filter(pk=patient.pk).update(
        address_line1="1 Probe Road", city="Austin", region="TX", postal_code="78701"
    )
    User.objects.filter(pk=w.people["therapist"].pk).update(licence_number=NPI)
    _coverage(patient, w.people["director"])
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
        amount_cents=25_000,
        justification="Probe line: 55 documented minutes",
        rules_version="t",
        proposed_by=w.people["director"],
    )
    ChargeReview.objects.create(line=line, decision="approved", by=w.people["director"])
    return line


def _claim_view(w: World, patient: Patient) -> bool:
    claim = claim_make(patient, _approved_line(w, patient), w.people["director"])
    page = w.page.get(f"/billing/claims/{claim.pk}/")
    api = w.api.get(f"/api/v1/claims/{claim.pk}")
    x12 = w.api.get(f"/api/v1/claims/{claim.pk}/837")
    page_ok = page.status_code == 200 and claim.number in page.content.decode()
    api_ok = api.status_code == 200 and api.json()["number"] == claim.number
    assert page_ok == api_ok == (x12.status_code == 200), "page, API and 837P disagree"
    return page_ok


def _claim_manage(w: World, patient: Patient) -> bool:
    first, second = _approved_line(w, patient), _approved_line(w, patient)
    w.page.post("/billing/claims/new/", {"lines": [first.pk]})
    page = ClaimLine.objects.filter(line=first).exists()
    w.api.post("/api/v1/claims", {"charges": [second.pk]}, content_type=JSON)
    api = ClaimLine.objects.filter(line=second).exists()
    assert page == api, "page and API disagree"
    return page


PROBES: dict[Action, tuple[Probe, bool]] = {
    Action.CLAIM_VIEW: (_claim_view, True),
    Action.CLAIM_MANAGE: (_claim_manage, True),
}
