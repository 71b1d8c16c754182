"""Visits as US Core Encounters: each dosing session (id ds-<session id>, its status from the session's state) and
each consultation, evaluation, preparation or integration appointment that took place (id ap-<appointment id>,
status "done"); their read, search and bulk stream. Therapy notes are not visits here: no note text, and never a
psychotherapy process note, leaves through FHIR. A consultation's outcome note stays in the calendar."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce

from kapclinic.appointments.models import Appointment, AppointmentKind, AppointmentStatus
from kapclinic.audit.context import AuditContext
from kapclinic.clinical.session_states import SessionState
from kapclinic.dosing.models import DosingSession
from kapclinic.errors import NotFound
from kapclinic.fhir.doors import read_door, record_pk, search_door, search_record
from kapclinic.fhir.medications import ICD10CM
from kapclinic.fhir.reads import _date_q
from kapclinic.fhir.resources import Resource, instant
from kapclinic.fhir.search import Search, Token
from kapclinic.fhir.terminology import US_CORE
from kapclinic.roles import Action

US_CORE_ENCOUNTER = f"{US_CORE}/StructureDefinition/us-core-encounter"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
# No standard code names a KAP visit (codes.md has none): the clinic's own, with text.
ENCOUNTER_TYPE = "urn:kapclinic:encounter-type"
CLASSES = {"AMB": "ambulatory", "VR": "virtual"}
ACTION = Action.PATIENT_VIEW_CLINICAL

S = SessionState
SESSION_STATUS = {
    S.PROPOSED: "planned",
    S.SCHEDULED: "planned",
    S.CHECKED_IN: "arrived",
    S.CLEARED: "arrived",
    S.HELD: "arrived",
    S.DOSING: "in-progress",
    S.MONITORING: "in-progress",
    S.RECOVERY: "in-progress",
    S.DISCHARGED: "finished",
    S.STOPPED_EARLY: "finished",
    S.ESCALATED: "finished",
    S.CANCELLED: "cancelled",
}
# The appointments that are visits of their own (a dosing booking is its DosingSession's), once they took place.
VISIT_KINDS = [
    AppointmentKind.CONSULTATION,
    AppointmentKind.EVALUATION,
    AppointmentKind.PREPARATION,
    AppointmentKind.INTEGRATION,
]


def _class(code: str) -> dict[str, str]:
    return {"system": ACT_CODE, "code": code, "display": CLASSES[code]}


def _type(code: str, text: str) -> list[dict[str, Any]]:
    return [{"coding": [{"system": ENCOUNTER_TYPE, "code": code, "display": text}], "text": text}]


def _participant(code: str, display: str, user_id: int) -> dict[str, Any]:
    return {
        "type": [{"coding": [{"system": PARTICIPATION, "code": code, "display": display}]}],
        "individual": {"reference": f"Practitioner/{user_id}"},
    }


def session_encounter(session: DosingSession) -> Resource:
    """A dosing session: ambulatory, its period from the start of dosing to discharge (the booked time while it
    is planned), its nurse the primary performer, its plan's indication the reason."""
    plan = session.plan
    drug = "Esketamine" if plan.route == "intranasal" else "Ketamine"
    period: dict[str, str] = {"start": instant(session.started_at or session.scheduled_for)}
    if session.ended_at is not None:
        period["end"] = instant(session.ended_at)
    participants = []
    if session.nurse_id is not None:
        participants.append(_participant("PPRF", "primary performer", session.nurse_id))
    if session.therapist_id is not None:
        participants.append(_participant("PART", "Participation", session.therapist_id))
    resource: Resource = {
        "resourceType": "Encounter",
        "id": f"ds-{session.pk}",
        "meta": {"profile": [US_CORE_ENCOUNTER], "lastUpdated": instant(session.updated_at)},
        "identifier": [{"system": "urn:kapclinic:dosing-session", "value": str(session.pk)}],
        "status": SESSION_STATUS.get(SessionState(session.state), "unknown"),
        "class": _class("AMB"),
        "type": _type("dosing", f"{drug} dosing session"),
        "subject": {"reference": f"Patient/{session.patient_id}"},
        "period": period,
        "reasonCode": [{"coding": [{"system": ICD10CM, "code": plan.indication_code}], "text": plan.indication_text}],
    }
    if participants:
        resource["participant"] = participants
    if session.room:
        resource["location"] = [{"location": {"display": session.room}}]
    return resource


def appointment_encounter(appointment: Appointment) -> Resource:
    """A consultation, evaluation, preparation or integration session that took place: ambulatory in person,
    virtual by video; with whom, when."""
    assert appointment.patient_id is not None
    label = AppointmentKind(appointment.kind).label
    resource: Resource = {
        "resourceType": "Encounter",
        "id": f"ap-{appointment.pk}",
        "meta": {"profile": [US_CORE_ENCOUNTER]},
        "identifier": [{"system": "urn:kapclinic:appointment", "value": str(appointment.pk)}],
        "status": "finished",
        "class": _class("VR" if appointment.mode == "video" else "AMB"),
        "type": _type(appointment.kind, label),
        "subject": {"reference": f"Patient/{appointment.patient_id}"},
        "participant": [_participant("PPRF", "primary performer", appointment.with_user_id)],
        "period": {"start": instant(appointment.starts_at), "end": instant(appointment.ends_at)},
        "appointment": [{"reference": f"Appointment/{appointment.pk}"}],
    }
    if appointment.place is not None:
        resource["location"] = [{"location": {"display": appointment.place.name}}]
    return resource


def _sessions() -> QuerySet[DosingSession]:
    return DosingSession.objects.select_related("plan").annotate(when=Coalesce("started_at", "scheduled_for"))


def _visits() -> QuerySet[Appointment]:
    return Appointment.objects.select_related("place").filter(
        patient__isnull=False, status=AppointmentStatus.DONE, kind__in=VISIT_KINDS
    )


def _encounter_id(raw: str) -> tuple[str, int | None]:
    kind, _, number = raw.partition("-")
    pk = record_pk(number)
    return (kind, pk) if kind in ("ds", "ap") and pk is not None else ("", None)


def encounter_read(*, ctx: AuditContext, encounter_id: str) -> Resource:
    kind, pk = _encounter_id(encounter_id)
    if pk is None:
        raise NotFound("No encounter with that id.")
    if kind == "ds":
        session = _sessions().filter(pk=pk).first()
        if session is not None:
            read_door(ctx=ctx, patient_id=session.patient_id, action=ACTION)
            return session_encounter(session)
    elif kind == "ap":
        visit = _visits().filter(pk=pk).first()
        if visit is not None and visit.patient_id is not None:
            read_door(ctx=ctx, patient_id=visit.patient_id, action=ACTION)
            return appointment_encounter(visit)
    raise NotFound("No encounter with that id.")


def _codes(tokens: list[Token] | None, system: str) -> set[str] | None:
    return None if tokens is None else {tk.code for tk in tokens if tk.system in (None, system)}


def encounter_search(*, ctx: AuditContext, search: Search) -> tuple[list[Resource], bool]:
    """The patient's visits, newest first (dosing sessions and visits merged: the first offset+count+1 of each,
    so that every page is a slice of one order whatever the offset)."""
    sessions, visits = _sessions(), _visits()
    if (ids := search.tokens.get("_id")) is not None:
        wanted = [_encounter_id(tk.code) for tk in ids]
        sessions = sessions.filter(pk__in=[pk for kind, pk in wanted if kind == "ds"])
        visits = visits.filter(pk__in=[pk for kind, pk in wanted if kind == "ap"])
    if (statuses := _codes(search.tokens.get("status"), "http://hl7.org/fhir/encounter-status")) is not None:
        states = [state.value for state, status in SESSION_STATUS.items() if status in statuses]
        sessions = sessions.filter(state__in=states)
        if "finished" not in statuses:
            visits = visits.none()
    if (classes := _codes(search.tokens.get("class"), ACT_CODE)) is not None:
        if "AMB" not in classes:
            sessions = sessions.none()
        modes = (["in_person"] if "AMB" in classes else []) + (["video"] if "VR" in classes else [])
        visits = visits.filter(mode__in=modes)
    for bound in search.dates.get("date", []):
        sessions = sessions.filter(_date_q("when", bound))
        visits = visits.filter(_date_q("starts_at", bound))
    door = search_door(ctx=ctx, search=search, action=ACTION)
    if door.named is not None:
        sessions = sessions.filter(patient_id__in=list(door.named))
        visits = visits.filter(patient_id__in=list(door.named))
    reach = search.offset + search.count + 1
    merged: list[tuple[datetime, int, int, DosingSession | Appointment]] = []
    merged.extend((s.when, 1, s.pk, s) for s in sessions.order_by("-when", "-id")[:reach])  # type: ignore[attr-defined]
    merged.extend((v.starts_at, 0, v.pk, v) for v in visits.order_by("-starts_at", "-id")[:reach])
    merged.sort(key=lambda item: item[:3], reverse=True)
    window = [item[3] for item in merged[search.offset : search.offset + search.count + 1]]
    page = window[: search.count]
    shown = [r.patient_id for r in page if r.patient_id is not None]
    search_record(ctx=ctx, door=door, search=search, shown=shown)
    found = [session_encounter(r) if isinstance(r, DosingSession) else appointment_encounter(r) for r in page]
    return found, len(window) > search.count


def encounter_resources_for(patient_ids: list[int], since: datetime | None) -> Iterator[Resource]:
    """Every dosing session (changed since `since`) and visit (booked or ended since) of these patients."""
    sessions = _sessions().filter(patient_id__in=patient_ids)
    visits = _visits().filter(patient_id__in=patient_ids)
    if since is not None:
        sessions = sessions.filter(updated_at__gte=since)
        visits = visits.filter(Q(created_at__gte=since) | Q(ends_at__gte=since))
    for session in sessions.order_by("id").iterator(chunk_size=2000):
        yield session_encounter(session)
    for visit in visits.order_by("id").iterator(chunk_size=2000):
        yield appointment_encounter(visit)
