"""Billing reads: payers and fees, a patient's coverages, charge lines (the queue and one line). Every read of
patient data is audited; a clinician sees only the lines their own signed records produced (they are the
rendering provider). What a line shows is its code and the fact behind it, never a note's text."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.db.models import Exists, OuterRef, Q, QuerySet

from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record, access_events_record_many
from kapclinic.billing.models import ChargeLine, ChargeReview, Coverage, FeeScheduleEntry, Payer
from kapclinic.errors import AccessDenied, NotFound
from kapclinic.patients.access import PatientAccess, patient_get_for_user
from kapclinic.roles import Action, Scope, may, scope_for


class LineStatus(StrEnum):
    PROPOSED = "proposed"  # waiting for review
    APPROVED = "approved"
    REJECTED = "rejected"
    CORRECTED = "corrected"  # reviewed, then corrected by a newer line

    @property
    def label(self) -> str:
        return self.value.capitalize()


def payers(*, ctx: AuditContext) -> QuerySet[Payer]:
    if not may(ctx.user.role, Action.BILLING_SETUP) and not may(ctx.user.role, Action.COVERAGE_EDIT):
        access_event_record(ctx=ctx, action=Action.BILLING_SETUP, outcome=Outcome.DENIED)
        raise AccessDenied("Your role does not see the payer list.")
    return Payer.objects.all()


def fees(*, ctx: AuditContext) -> QuerySet[FeeScheduleEntry]:
    if not may(ctx.user.role, Action.BILLING_SETUP):
        access_event_record(ctx=ctx, action=Action.BILLING_SETUP, outcome=Outcome.DENIED)
        raise AccessDenied("Your role does not see the fee schedule.")
    return FeeScheduleEntry.objects.all()


@dataclass(frozen=True)
class PatientCoverages:
    access: PatientAccess
    coverages: list[Coverage]


def coverages_for_patient(*, ctx: AuditContext, patient_id: int) -> PatientCoverages:
    access = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.COVERAGE_VIEW)
    found = list(Coverage.objects.filter(patient_id=patient_id).select_related("payer"))
    return PatientCoverages(access, found)


def with_status(lines: QuerySet[ChargeLine]) -> QuerySet[ChargeLine]:
    """Annotate `decision` (None while proposed) and `corrected` (a newer line corrects it)."""
    return lines.annotate(corrected=Exists(ChargeLine.objects.filter(corrects=OuterRef("pk")))).select_related(
        "review", "patient", "rendering_provider"
    )


def status_of(line: ChargeLine) -> LineStatus:
    if getattr(line, "corrected", False):
        return LineStatus.CORRECTED
    review: ChargeReview | None = getattr(line, "review", None)
    if review is None:
        return LineStatus.PROPOSED
    return LineStatus(review.decision)


def _visible(ctx: AuditContext) -> QuerySet[ChargeLine]:
    scope = scope_for(ctx.user.role, Action.CHARGE_VIEW)
    if scope is Scope.NONE:
        access_event_record(ctx=ctx, action=Action.CHARGE_VIEW, outcome=Outcome.DENIED)
        raise AccessDenied("Your role does not see charge lines.")
    lines = ChargeLine.objects.all()
    if scope is not Scope.ALL:
        # Clinicians: the lines their own signed records produced.
        lines = lines.filter(rendering_provider=ctx.user)
    return lines


def charge_lines(*, ctx: AuditContext, status: LineStatus | None = None) -> QuerySet[ChargeLine]:
    """The lines the user may see, newest date of service first, filtered by status. The caller audits the page
    it shows (`charge_lines_shown`)."""
    lines = with_status(_visible(ctx))
    if status is LineStatus.PROPOSED:
        lines = lines.filter(review__isnull=True)
    elif status is LineStatus.CORRECTED:
        lines = lines.filter(correction__isnull=False)
    elif status is not None:
        lines = lines.filter(review__decision=status.value, correction__isnull=True)
    return lines.order_by("-date_of_service", "-id")


def charge_lines_shown(*, ctx: AuditContext, lines: list[ChargeLine]) -> None:
    """Audit that a page of the queue showed these patients' lines: one row per patient."""
    access_events_record_many(
        ctx=ctx,
        action=Action.CHARGE_VIEW,
        patient_ids=sorted({line.patient_id for line in lines}),
        detail={"lines": [line.pk for line in lines]},
    )


def charge_line(*, ctx: AuditContext, line_id: int) -> ChargeLine:
    """One line the user may see (others: not found), audited."""
    line = with_status(_visible(ctx).filter(Q(pk=line_id))).select_related("corrects").first()
    if line is None:
        access_event_record(ctx=ctx, action=Action.CHARGE_VIEW, outcome=Outcome.NOT_FOUND, detail={"line": line_id})
        raise NotFound("No such charge line.")
    access_event_record(ctx=ctx, action=Action.CHARGE_VIEW, patient_id=line.patient_id, detail={"line": line.pk})
    return line
