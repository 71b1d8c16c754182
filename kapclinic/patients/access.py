"""The only doors to patient data: each checks the role matrix and the care team, and audits.

Every view and API route that touches a patient goes through `patient_get_for_user`
or `patient_search_for_user`; tests walk them exhaustively so the pages can rely on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import EmergencyAccess, Outcome
from kapclinic.audit.services import access_event_record, emergency_access_active
from kapclinic.errors import AccessDenied, NotFound
from kapclinic.patients.models import CareTeamMember, Patient
from kapclinic.prepared import prepared_rows
from kapclinic.roles import Action, Role, Scope, may, scope_for


@dataclass(frozen=True)
class PatientAccess:
    """A patient the user may reach, and how: by role, care team, own record or emergency access."""

    patient: Patient
    scope: Scope
    emergency: EmergencyAccess | None = None


def portal_patient_id(user: User) -> int | None:
    """The patient record behind a portal login: None for staff, and for a patient login not linked to a record yet.

    Not audited here: it names the user's own record, and each page audits the read it makes of it.
    """
    if user.role != Role.PATIENT:
        return None
    return Patient.objects.filter(user=user).values_list("pk", flat=True).first()


def is_on_care_team(*, user_id: int, patient_id: int) -> bool:
    return bool(prepared_rows("patients.on_care_team", _care_team_row, user_id, patient_id))


# The door's two reads, built and compiled once per process (kapclinic/prepared.py): every page about a patient
# opens the door, and building the queries cost more than running them (issue 15, item 3).
def _care_team_row(user_id: int, patient_id: int) -> QuerySet[CareTeamMember, tuple[int]]:
    return CareTeamMember.objects.filter(user_id=user_id, patient_id=patient_id).values_list("pk")[:1]


def _patient_row(patient_id: int) -> QuerySet[Patient]:
    return Patient.objects.filter(pk=patient_id).order_by("pk")[:1]


def patient_get_for_user(
    *,
    ctx: AuditContext,
    patient_id: int,
    action: Action = Action.PATIENT_VIEW,
    record_allowed: bool = True,
) -> PatientAccess:
    """Return the patient if `ctx.user` may perform `action` on them; audit the attempt either way.

    Raises NotFound for an unknown id (and, for patient users, for anyone else's record, so a
    patient cannot even learn that another record exists) and AccessDenied otherwise.
    `record_allowed=False` leaves the allowed event to the calling service, which writes it
    in the same transaction as its change.
    """
    user = ctx.user
    scope = scope_for(user.role, action)
    found = prepared_rows("patients.door", _patient_row, patient_id)
    patient = found[0] if found else None
    if patient is None:
        access_event_record(ctx=ctx, action=action, outcome=Outcome.NOT_FOUND, detail={"patient_id": patient_id})
        raise NotFound("No patient with that id.")
    if scope is Scope.NONE:
        access_event_record(ctx=ctx, action=action, patient_id=patient.pk, outcome=Outcome.DENIED)
        raise AccessDenied("Your role does not allow this for patients.")
    grant: EmergencyAccess | None = None
    if scope is Scope.OWN and patient.user_id != user.pk:
        access_event_record(ctx=ctx, action=action, patient_id=patient.pk, outcome=Outcome.DENIED)
        raise NotFound("No patient with that id.")
    if scope is Scope.TEAM and not is_on_care_team(user_id=user.pk, patient_id=patient.pk):
        grant = emergency_access_active(user_id=user.pk, patient_id=patient.pk)
        if grant is None:
            access_event_record(ctx=ctx, action=action, patient_id=patient.pk, outcome=Outcome.DENIED)
            raise AccessDenied(
                "This patient is not on your care team.",
                emergency_possible=may(user.role, Action.EMERGENCY_ACCESS),
            )
    if record_allowed:
        access_event_record(ctx=ctx, action=action, patient_id=patient.pk, emergency=grant)
    return PatientAccess(patient=patient, scope=scope, emergency=grant)


def on_care_team_of(user_id: int, *, patient_field: str = "pk") -> Exists:
    """A condition on patients (or, with `patient_field`, on rows that name a patient): `user_id` is on the
    patient's care team.

    EXISTS, not a join: a list sorted by name can then walk the name index and stop at the page's end, where the
    join read every patient of the user's caseload (12,500 rows for a clinician of a 25,000-patient clinic)
    before sorting them for the first ten; and a patient is never repeated.
    """
    return Exists(CareTeamMember.objects.filter(patient_id=OuterRef(patient_field), user_id=user_id))


def patients_visible_to(*, ctx: AuditContext, action: Action = Action.PATIENT_LIST) -> QuerySet[Patient]:
    """Return the patients `ctx.user` may list; raises AccessDenied for roles that list none."""
    user = ctx.user
    scope = scope_for(user.role, action)
    if scope is Scope.NONE:
        access_event_record(ctx=ctx, action=action, outcome=Outcome.DENIED)
        raise AccessDenied("Your role does not allow listing patients.")
    return patients_in_scope(scope, user.pk)


def patients_in_scope(scope: Scope, user_id: int) -> QuerySet[Patient]:
    """The patients a `scope` of `user_id` covers (patients_visible_to, once it has checked the role): a query of
    one shape per scope, so a list can be prepared once with a stand-in user id (kapclinic/prepared.py)."""
    patients = Patient.objects.all()
    if scope is Scope.ALL:
        return patients
    if scope is Scope.TEAM:
        return patients.filter(on_care_team_of(user_id))
    if scope is Scope.OWN:
        return patients.filter(user_id=user_id)
    return patients.none()


def emergency_access_grant(*, ctx: AuditContext, patient: Patient, reason: str) -> EmergencyAccess:
    """Open a chart outside the user's care team for a while; flagged for the director's review.

    Refusals are recorded too (outside the transaction, so they are kept).
    """
    if not may(ctx.user.role, Action.EMERGENCY_ACCESS):
        access_event_record(ctx=ctx, action=Action.EMERGENCY_ACCESS, patient_id=patient.pk, outcome=Outcome.DENIED)
        raise AccessDenied("Your role cannot use emergency access.")
    reason = reason.strip()
    if len(reason) < 10:
        access_event_record(ctx=ctx, action=Action.EMERGENCY_ACCESS, patient_id=patient.pk, outcome=Outcome.INVALID)
        raise ValidationError({"reason": "Give the clinical reason for emergency access (at least 10 characters)."})
    now = timezone.now()
    with transaction.atomic():
        grant = EmergencyAccess.objects.create(
            user=ctx.user,
            patient=patient,
            reason=reason[:2000],
            granted_at=now,
            expires_at=now + timedelta(minutes=settings.KAPCLINIC_EMERGENCY_ACCESS_MINUTES),
        )
        access_event_record(ctx=ctx, action=Action.EMERGENCY_ACCESS, patient_id=patient.pk, emergency=grant)
    return grant
