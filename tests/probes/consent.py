"""Role-matrix probes for informed consent: publish a text, read, sign, witness, withdraw."""

from __future__ import annotations

from kapclinic.consent.models import ConsentSignature, ConsentVersion, ConsentWithdrawal, ConsentWitness
from kapclinic.consent.selectors import consent_document
from kapclinic.patients.models import Patient
from kapclinic.roles import Action
from tests.probes.world import Probe, World

RISKS = [{"code": "nausea", "text": "Nausea is common."}, {"code": "no-driving", "text": "No driving until tomorrow."}]


def _version(w: World) -> ConsentVersion:
    version, _ = ConsentVersion.objects.get_or_create(
        document=consent_document(),
        number=1,
        defaults={
            "title": "Probe consent",
            "body": "Probe text.",
            "risks": RISKS,
            "body_digest": "0" * 64,
            "published_by": w.people["director"],
        },
    )
    return version


def _signature(w: World, patient: Patient) -> ConsentSignature:
    """A portal signature made directly in the database, for the witness and withdrawal probes."""
    return ConsentSignature.objects.create(
        patient=patient,
        version=_version(w),
        typed_name=patient.full_name,
        risks_acknowledged=["nausea", "no-driving"],
        channel="portal",
        recorded_by=patient.user or w.people["director"],
        digest="0" * 64,
    )


def _publish(w: World, patient: Patient) -> bool:
    # Not patient-specific: allowed means "everywhere". The API publishes version 1, the page version 2.
    api = w.api.post(
        "/api/v1/consent-versions",
        {"title": "Probe consent", "body": "Version one.", "risks": RISKS},
        content_type="application/json",
    )
    page = w.page.post(
        "/consent/texts/publish/",
        {
            "document": consent_document(),
            "title": "Probe consent",
            "body": "Version two.",
            "risk_code_1": "nausea",
            "risk_text_1": "Nausea is common.",
            "change_summary": "Second probe version",
            "confirm": "on",
        },
    )
    published = ConsentVersion.objects.filter(document=consent_document()).count()
    assert (api.status_code == 201) == (page.status_code == 302), "page and API disagree"
    return published == 2


def _view(w: World, patient: Patient) -> bool:
    api = w.api.get(f"/api/v1/patients/{patient.pk}/consents")
    api_ok = api.status_code == 200 and api.json()["state"] == "none"
    page = w.page.get(f"/patients/{patient.pk}/consent/")
    if page.status_code == 302:
        # A patient's consent pages are in the portal, which only ever shows their own record.
        assert page["Location"] == "/portal/consent/"
    else:
        assert (page.status_code == 200) == api_ok, "page and API disagree"
    return api_ok


def _sign(w: World, patient: Patient) -> bool:
    version = _version(w)
    response = w.api.post(
        f"/api/v1/patients/{patient.pk}/consents",
        {
            "version_id": version.pk,
            "typed_name": patient.full_name,
            "risks_acknowledged": version.risk_codes,
            "channel": "portal",
        },
        content_type="application/json",
    )
    return response.status_code == 201 and ConsentSignature.objects.filter(patient=patient, channel="portal").exists()


def _witness(w: World, patient: Patient) -> bool:
    signature = _signature(w, patient)
    response = w.api.post(
        f"/api/v1/consents/{signature.pk}/witness", {"note": "probe"}, content_type="application/json"
    )
    return response.status_code == 201 and ConsentWitness.objects.filter(signature=signature).exists()


def _withdraw(w: World, patient: Patient) -> bool:
    signature = _signature(w, patient)
    response = w.api.post(
        f"/api/v1/consents/{signature.pk}/withdrawal",
        {"reason": "The patient asked to stop."},
        content_type="application/json",
    )
    return response.status_code == 201 and ConsentWithdrawal.objects.filter(signature=signature).exists()


PROBES: dict[Action, tuple[Probe, bool]] = {
    Action.CONSENT_PUBLISH: (_publish, False),
    Action.CONSENT_VIEW: (_view, True),
    Action.CONSENT_SIGN: (_sign, True),
    Action.CONSENT_WITNESS: (_witness, True),
    Action.CONSENT_WITHDRAW: (_withdraw, True),
}
