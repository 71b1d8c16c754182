"""The patient's record as one JSON document (a copy for the patient, a transfer, an audit).

Psychotherapy process notes stay out unless their author, exporting, includes their own (issue 8, point 3):
the notes come from kapclinic.therapy.selectors.notes_for_export, which enforces that.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from kapclinic.audit.context import AuditContext
from kapclinic.audit.services import access_event_record
from kapclinic.consent.models import ConsentSignature
from kapclinic.dosing.models import DosingSession, VitalSign
from kapclinic.intake.models import EligibilityDecision
from kapclinic.measures.models import QuestionnaireResponse
from kapclinic.patients.access import patient_get_for_user
from kapclinic.patients.models import Patient
from kapclinic.plans.models import TreatmentPlan
from kapclinic.replica import replica_reads
from kapclinic.roles import Action, may
from kapclinic.therapy.selectors import notes_for_export

EXPORT_FORMAT = "kapclinic-record-1"


def _when(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def record_export(*, ctx: AuditContext, patient_id: int, include_own_process_notes: bool = False) -> dict[str, Any]:
    """The record the exporting user may see, as plain JSON-ready data; the export itself is audited."""
    access = patient_get_for_user(
        ctx=ctx, patient_id=patient_id, action=Action.PATIENT_VIEW_CLINICAL, record_allowed=False
    )
    record = _record_read(ctx=ctx, patient=access.patient, include_own_process_notes=include_own_process_notes)
    access_event_record(
        ctx=ctx,
        action="patient.export",
        patient_id=access.patient.pk,
        emergency=access.emergency,
        detail={"process_notes": include_own_process_notes},
    )
    return record


# An export: read from the replica when there is one (kapclinic/replica.py); the access check above and the
# audit insert stay on the primary.
@replica_reads()
def _record_read(*, ctx: AuditContext, patient: Patient, include_own_process_notes: bool) -> dict[str, Any]:
    record: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "exported_at": timezone.now().isoformat(),
        "exported_by": ctx.user.username,
        "patient": {
            "mrn": patient.mrn,
            "given_name": patient.given_name,
            "family_name": patient.family_name,
            "birth_date": patient.birth_date.isoformat(),
            "sex_at_birth": patient.sex_at_birth,
            "phone": patient.phone,
            "email": patient.email,
        },
        "eligibility_decisions": [
            {
                "decision": d.decision,
                "reason": d.reason,
                "decided_at": _when(d.decided_at),
                "rule_set_version": d.rule_set_version,
                "policy_version": d.policy_version,
                "findings": d.findings,
            }
            for d in EligibilityDecision.objects.filter(patient=patient).order_by("decided_at", "id")
        ],
        "consents": [
            {
                "document": s.version.document,
                "version": s.version.number,
                "signed_at": _when(s.signed_at),
                "channel": s.channel,
                "digest": s.digest,
                "withdrawn_at": _when(getattr(s, "withdrawal", None) and s.withdrawal.withdrawn_at),
            }
            for s in ConsentSignature.objects.filter(patient=patient)
            .select_related("version", "withdrawal")
            .order_by("signed_at", "id")
        ],
        "treatment_plans": [
            {
                "indication_code": p.indication_code,
                "route": p.route,
                "starting_dose": str(p.starting_dose_mg_per_kg or p.starting_dose_mg),
                "unit": "mg/kg" if p.starting_dose_mg_per_kg is not None else "mg",
                "sessions": p.session_count,
                "goals": p.goals,
                "signed_at": _when(p.signed_at),
                "signed_digest": p.signed_digest,
            }
            for p in TreatmentPlan.objects.filter(patient=patient, signed_at__isnull=False).order_by("signed_at", "id")
        ],
        "questionnaires": [
            {
                "instrument": r.instrument,
                "total": r.total,
                "severity": r.severity,
                "submitted_at": _when(r.submitted_at),
            }
            for r in QuestionnaireResponse.objects.filter(patient=patient).order_by("submitted_at", "id")
        ],
    }
    vitals: dict[int, list[dict[str, Any]]] = {}
    for v in VitalSign.objects.filter(session__patient=patient).order_by("measured_at", "id"):
        vitals.setdefault(v.session_id, []).append(
            {
                "measured_at": _when(v.measured_at),
                "systolic": v.systolic,
                "diastolic": v.diastolic,
                "heart_rate": v.heart_rate,
                "spo2": v.spo2,
                "respiratory_rate": v.respiratory_rate,
            }
        )
    record["dosing_sessions"] = [
        {
            "number": s.number,
            "scheduled_for": _when(s.scheduled_for),
            "state": s.state,
            "signed_at": _when(s.signed_at),
            "vitals": vitals.get(s.pk, []),
        }
        for s in DosingSession.objects.filter(patient=patient).exclude(state="proposed").order_by("scheduled_for")
    ]
    if may(ctx.user.role, Action.NOTE_VIEW):
        notes = notes_for_export(
            ctx=ctx,
            patient_id=patient.pk,
            include_process_notes_of={ctx.user.pk} if include_own_process_notes else set(),
        )
        record["therapy_notes"] = [
            {
                "kind": n.kind,
                "author": n.author.username,
                "occurred_at": _when(n.occurred_at),
                "sections": n.sections,
                "body": n.body,
                "signed_at": _when(n.signed_at),
                "addenda": [
                    {"author": a.author.username, "written_at": _when(a.written_at), "reason": a.reason, "body": a.body}
                    for a in n.addenda.all()
                ],
            }
            for n in notes
        ]
    return record
