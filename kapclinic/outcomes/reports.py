"""The referrer's progress report (issue 19 item 5): one page on the patient's course for the clinician who referred
them, signed by the prescriber and kept as signed (`ReferrerReport`: content snapshot, signer, time, digest).

`report_content` gathers what the page says from the record (course, doses by session, scores per instrument with
the outcome by the rules of clinical.outcomes, adverse events, the follow-ups ahead); `referrer_report_sign` keeps
it with the prescriber's signature; the PDF is drawn from the kept row alone (`report_page`), so a report printed
next year says what was signed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record, invalid_value_record
from kapclinic.clinical import outcomes as rules
from kapclinic.clinical.instruments import INSTRUMENTS
from kapclinic.dosing.models import Route
from kapclinic.dosing.selectors import adverse_events_of, doses_by_session
from kapclinic.errors import Conflict, NotFound
from kapclinic.measures.charts import trajectory_svg
from kapclinic.measures.selectors import schedule_for_patient
from kapclinic.outcomes.courses import course_of
from kapclinic.outcomes.models import ReferrerReport
from kapclinic.patients.access import patient_get_for_user
from kapclinic.roles import Action


def _yes_no(value: bool | None) -> str:
    return "not measured" if value is None else ("yes" if value else "no")


def report_content(patient_id: int, now: datetime | None = None) -> dict[str, Any]:
    """What the report says, from the record (callers have checked access): JSON-ready, as it will be signed."""
    now = now or timezone.now()
    course = course_of(patient_id)
    if course is None or course.first_dose is None or course.last_dose is None:
        raise Conflict("No course with a dose given yet: there is nothing to report to the referrer.")
    plan = course.plan
    instruments = []
    for instrument in course.instruments():
        points = course.scores.get(instrument.code, [])
        outcome = rules.course_outcome(instrument, points, first_dose=course.first_dose, last_dose=course.last_dose)
        instruments.append(
            {
                "code": instrument.code,
                "name": instrument.name,
                "scores": [[at.isoformat(), total] for at, total in points],
                "baseline": outcome.baseline[1] if outcome.baseline else None,
                "end": outcome.end[1] if outcome.end else None,
                "response": _yes_no(outcome.response),
                "remission": _yes_no(outcome.remission),
                "worsened": _yes_no(outcome.worsened),
                "missing": list(outcome.missing),
            }
        )
    today = timezone.localdate(now)
    ahead = [
        {"what": f"{due.name}, {due.scheduled.label.lower()}", "due_on": due.due_on.isoformat()}
        for due in schedule_for_patient(patient_id=patient_id, today=today)
        if due.status != "done" and due.due_on >= today
    ][:4]
    return {
        "course": {
            "indication": f"{plan.indication_code} {plan.indication_text}",
            "route": dict(Route.choices).get(plan.route, plan.route),
            "sessions_planned": plan.session_count,
            "first_dose": course.first_dose.isoformat(),
            "last_dose": course.last_dose.isoformat(),
            "finished": course.finished,
            "therapist": plan.therapist.display_name,
        },
        "doses": [
            {
                "session": dose.session_number,
                "at": dose.given_at.isoformat(),
                "route": dose.route,
                "mg": f"{dose.given_mg.normalize():f}" if dose.given_mg is not None else "",
            }
            for dose in doses_by_session(plan.pk)
        ],
        "instruments": instruments,
        "adverse_events": [
            {
                "at": event.occurred_at.isoformat(),
                "what": event.what,
                "severity": event.get_severity_display(),
                "serious": event.serious,
                "outcome": event.outcome,
            }
            for event in adverse_events_of(patient_id)
            if event.occurred_at >= course.first_dose
        ],
        "follow_ups_ahead": ahead,
    }


def report_preview(*, ctx: AuditContext, patient_id: int) -> tuple[Any, dict[str, Any]]:
    """The patient and the report as it would be signed now (care team and director; audited)."""
    access = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.OUTCOME_VIEW)
    return access.patient, report_content(patient_id)


def referrer_report_sign(*, ctx: AuditContext, patient_id: int, addressed_to: str, plan_ahead: str) -> ReferrerReport:
    """Sign and keep the report as it reads now (a prescriber of the care team); refusals audited, nothing kept."""
    access = patient_get_for_user(
        ctx=ctx, patient_id=patient_id, action=Action.OUTCOME_REPORT_SIGN, record_allowed=False
    )
    addressed_to, plan_ahead = addressed_to.strip(), plan_ahead.strip()
    errors: dict[str, str] = {}
    if len(addressed_to) < 3:
        errors["addressed_to"] = "Say who the report is for (the referring clinician and practice)."
    elif len(addressed_to) > 200:
        errors["addressed_to"] = "Keep it under 200 characters."
    if len(plan_ahead) < 3:
        errors["plan_ahead"] = "Say what happens next (booster, maintenance, follow-up), in a few words."
    elif len(plan_ahead) > 2000:
        errors["plan_ahead"] = "Keep the plan under 2,000 characters."
    if errors:
        raise invalid_value_record(
            ctx=ctx, action=Action.OUTCOME_REPORT_SIGN, patient_id=patient_id, exc=ValidationError(errors)
        )
    content = report_content(patient_id)
    plan = course_of(patient_id)
    assert plan is not None  # report_content refused a patient without a course
    with transaction.atomic():
        report = ReferrerReport(
            patient=access.patient, plan=plan.plan, addressed_to=addressed_to, plan_ahead=plan_ahead, content=content
        )
        report.signature_stamp(ctx.user.pk)
        report.save(force_insert=True)
        access_event_record(
            ctx=ctx,
            action=Action.OUTCOME_REPORT_SIGN,
            patient_id=patient_id,
            detail={"report": report.pk, "digest": report.content_hash},
        )
    return report


def referrer_report_get(*, ctx: AuditContext, report_id: int) -> ReferrerReport:
    """One signed report, after checking the reader may see its patient (audited)."""
    report = ReferrerReport.objects.select_related("patient", "signed_by").filter(pk=report_id).first()
    if report is None:
        access_event_record(
            ctx=ctx, action=Action.OUTCOME_VIEW, outcome=Outcome.NOT_FOUND, detail={"report": report_id}
        )
        raise NotFound("No such report.")
    patient_get_for_user(ctx=ctx, patient_id=report.patient_id, action=Action.OUTCOME_VIEW)
    return report


def reports_of(patient_id: int) -> list[ReferrerReport]:
    """The patient's signed reports, newest first (the page's read is audited)."""
    return list(ReferrerReport.objects.filter(patient_id=patient_id).select_related("signed_by"))


@dataclass(frozen=True)
class ReportInstrument:
    name: str
    content: dict[str, Any]
    svg: SafeString
    scores: list[tuple[datetime, int]]


def report_instruments(content: dict[str, Any], *, tz: Any) -> list[ReportInstrument]:
    """Each instrument of a report's content with its trajectory drawn as the chart draws it (inline SVG)."""
    first_dose = datetime.fromisoformat(content["course"]["first_dose"])
    dose_days = [datetime.fromisoformat(dose["at"]) for dose in content["doses"]]
    found = []
    for measured in content["instruments"]:
        instrument = INSTRUMENTS[measured["code"]]
        scores = [(datetime.fromisoformat(at), int(total)) for at, total in measured["scores"]]
        svg = ""
        if scores:
            drawn = rules.trajectory(instrument, scores, first_dose=first_dose)
            svg = trajectory_svg(instrument, drawn, dose_days, tz=tz)
        found.append(ReportInstrument(measured["name"], measured, mark_safe(svg), scores))  # noqa: S308
    return found
