"""Role-matrix probes for prior authorisations and the billing reports (issue 18 items 7, 8). The page and the
API twin are tried together and must agree."""

from __future__ import annotations

from datetime import date

from kapclinic.billing.models import Payer, PriorAuthorisation
from kapclinic.patients.models import Patient
from kapclinic.roles import Action
from tests.probes.world import Probe, World

JSON = "application/json"


def _payer(w: World) -> Payer:
    payer, _ = Payer.objects.get_or_create(
        name="Probe Mutual (synthetic)", defaults={"created_by": w.people["director"]}
    )
    return payer


def _authorisation_view(w: World, patient: Patient) -> bool:
    PriorAuthorisation.objects.create(
        patient=patient, payer=_payer(w), covers="esketamine", number="PROBE-PA-1", approved_units=6,
        effective_from=date(2026, 1, 1), effective_to=date(2027, 1, 1), recorded_by=w.people["director"],
    )  # fmt: skip
    page = w.page.get(f"/patients/{patient.pk}/prior-authorisations/")
    api = w.api.get(f"/api/v1/patients/{patient.pk}/prior-authorisations")
    page_ok = page.status_code == 200 and "PROBE-PA-1" in page.content.decode()
    api_ok = api.status_code == 200 and any(a["number"] == "PROBE-PA-1" for a in api.json())
    assert page_ok == api_ok, "page and API disagree"
    return page_ok


def _authorisation_record(w: World, patient: Patient) -> bool:
    payer = _payer(w)
    w.page.post(
        f"/patients/{patient.pk}/prior-authorisations/",
        {"payer": payer.pk, "covers": "iv_ketamine", "number": "PROBE-PAGE", "approved_units": "6",
         "effective_from": "2026-01-01", "effective_to": "2026-12-31"},
    )  # fmt: skip
    page = PriorAuthorisation.objects.filter(patient=patient, number="PROBE-PAGE").exists()
    w.api.post(
        f"/api/v1/patients/{patient.pk}/prior-authorisations",
        {"payer": payer.pk, "covers": "iv_ketamine", "number": "PROBE-API", "approved_units": 6,
         "effective_from": "2026-01-01", "effective_to": "2026-12-31"},
        content_type=JSON,
    )  # fmt: skip
    api = PriorAuthorisation.objects.filter(patient=patient, number="PROBE-API").exists()
    assert page == api, "page and API disagree"
    return page


def _billing_report(w: World, patient: Patient) -> bool:
    page = w.page.get("/billing/reports/")
    csv = w.page.get("/billing/reports/", {"first": "2026-01-01", "last": "2026-01-31", "by": "payer", "output": "csv"})
    assert (page.status_code == 200) == (csv.status_code == 200), "page and CSV disagree"
    return page.status_code == 200


PROBES: dict[Action, tuple[Probe, bool]] = {
    Action.AUTHORISATION_VIEW: (_authorisation_view, True),
    Action.AUTHORISATION_RECORD: (_authorisation_record, True),
    Action.BILLING_REPORT: (_billing_report, False),
}
