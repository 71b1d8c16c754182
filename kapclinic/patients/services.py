"""Writes to the patient registry: each one transaction, with its audit row inside it."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.chain import chain_append_after, chain_insert_with
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import AccessEvent, Outcome
from kapclinic.audit.services import access_event_new, access_event_record
from kapclinic.clinical.registry import SYNTHETIC_MRN_BASE, PersonKey, mrn_from_number, phone_digits
from kapclinic.errors import AccessDenied, Conflict, NotFound
from kapclinic.patients.access import patient_get_for_user
from kapclinic.patients.models import CareTeamMember, CareTeamRole, DuplicateFlag, Patient
from kapclinic.patients.selectors import PossibleDuplicate, duplicate_candidates_query, duplicates_among
from kapclinic.roles import Action, Role, may

CONTACT_FIELDS = (
    "phone",
    "email",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "country",
    "emergency_contact_name",
    "emergency_contact_relationship",
    "emergency_contact_phone",
)
DEMOGRAPHIC_FIELDS = (
    "given_name",
    "family_name",
    "preferred_name",
    "birth_date",
    "sex_at_birth",
    "gender_identity",
    "pronouns",
    "preferred_language",
    "insurance_payer",
    "insurance_member_id",
    *CONTACT_FIELDS,
)


class PossibleDuplicates(Exception):
    """Registration matched existing patients; the user must confirm it is someone else."""

    def __init__(self, matches: list[PossibleDuplicate]):
        super().__init__("This may be a patient who is already registered.")
        self.matches = matches


def _new_mrn() -> str:
    # Random, so MRNs reveal neither how many patients there are nor their order. Serials from
    # SYNTHETIC_MRN_BASE up (K9...) are kept for demo and bench data. Unique in the schema: the insert is the
    # check (patient_register draws again on a clash), so drawing costs no query.
    return mrn_from_number(secrets.randbelow(SYNTHETIC_MRN_BASE - 1) + 1)


# What the code sets, not the user: the MRN, created_by (the signed-in user, whose row a foreign key check would
# read), defaults, and the columns save() and clean() derive from the input.
_NOT_INPUT = [field.name for field in Patient._meta.fields if not field.editable]
MRN_DRAWS = 10  # a clash is 1 in 10^7 per draw at 10,000 patients


def _assign(patient: Patient, values: Mapping[str, Any], allowed: tuple[str, ...]) -> list[str]:
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This field cannot be set here."))
    changed = []
    for name, value in values.items():
        value = "" if value is None and name != "birth_date" else value
        if isinstance(value, str):
            value = value.strip()
        if getattr(patient, name) != value:
            setattr(patient, name, value)
            changed.append(name)
    return changed


def patient_register(*, ctx: AuditContext, values: Mapping[str, Any], allow_duplicate: bool = False) -> Patient:
    """Register a new patient with a system-made MRN.

    Raises ValidationError for bad fields and PossibleDuplicates when the name and date
    of birth or the phone number match someone already registered, unless `allow_duplicate`;
    then the match is kept as a DuplicateFlag for review.
    """
    if not may(ctx.user.role, Action.PATIENT_REGISTER):
        access_event_record(ctx=ctx, action=Action.PATIENT_REGISTER, outcome=Outcome.DENIED)
        raise AccessDenied("Your role cannot register patients.")
    patient = Patient(created_by=ctx.user)
    _assign(patient, values, DEMOGRAPHIC_FIELDS)
    try:
        # Without a query, the input alone: the three check constraints (names present, sex at birth known)
        # repeat the fields' own rules (not blank, choices), checked in Python; the database still enforces them.
        patient.full_clean(exclude=_NOT_INPUT, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        access_event_record(
            ctx=ctx, action=Action.PATIENT_REGISTER, outcome=Outcome.INVALID, detail={"fields": _fields(exc)}
        )
        raise
    key = PersonKey(patient.given_name, patient.family_name, patient.birth_date, phone_digits(patient.phone))
    for _ in range(MRN_DRAWS):
        patient.mrn = _new_mrn()
        try:
            with transaction.atomic():
                # One round trip for the duplicate check, the audit chain's lock and its head: the chain is
                # locked from here to the commit, the patient row and its audit row inserted in between.
                chain_append_after(
                    AccessEvent,
                    functools.partial(_register_insert, ctx, patient, key, allow_duplicate),
                    read=_register_read(key),
                )
        except _Refused as refused:
            # Rolled back; the check is recorded as before (refusals outside the registration's transaction).
            for match in refused.matches:
                access_event_record(
                    ctx=ctx,
                    action="patient.duplicate_check",
                    patient_id=match.patient.pk,
                    detail={"reasons": match.reasons},
                )
            raise PossibleDuplicates(refused.matches) from None
        except IntegrityError:
            # Only a clash of the drawn MRN is drawn again (the row that holds it is committed by now: on
            # PostgreSQL a unique violation waits for the other transaction); anything else is raised.
            if not Patient.objects.filter(mrn=patient.mrn).exists():
                raise
            continue
        return patient
    raise RuntimeError("Could not draw a free MRN")  # pragma: no cover


class _Refused(Exception):
    def __init__(self, matches: list[PossibleDuplicate]):
        self.matches = matches


# PostgreSQL: the new patient's id drawn in the duplicate check's statement, so the patient row can go in with its
# audit row (which hashes that id) in one statement (chain_insert_with): one round trip fewer (issue 15, item 3).
_DRAW_ID = "SELECT nextval(pg_get_serial_sequence(%s, 'id')) AS kapclinic_new_id"


def _register_read(key: PersonKey) -> tuple[str, list[Any]] | None:
    """The duplicate check's read for chain_append_after; on PostgreSQL each row starts with a newly drawn id."""
    candidates = duplicate_candidates_query(key)
    if connection.vendor != "postgresql":
        return candidates
    table = Patient._meta.db_table
    if candidates is None:
        return _DRAW_ID, [table]
    sql, params = candidates
    # Volatile, so drawn once in its own subquery whatever the number of candidates (none: one row of NULLs).
    drawn_and_found = f"SELECT drawn.*, found.* FROM ({_DRAW_ID}) AS drawn LEFT JOIN ({sql}) AS found ON true"  # noqa: S608 - SQL from code
    return drawn_and_found, [table, *params]


def _register_insert(
    ctx: AuditContext, patient: Patient, key: PersonKey, allow_duplicate: bool, found: list[tuple[Any, ...]]
) -> list[AccessEvent]:
    drawn_id = None
    candidates = found
    if connection.vendor == "postgresql":
        drawn_id = found[0][0]
        candidates = [row[1:] for row in found if len(row) > 1 and row[1] is not None]
    matches = duplicates_among(key, candidates)
    if matches and not allow_duplicate:
        raise _Refused(matches)
    if drawn_id is not None:
        patient.pk = drawn_id
    if drawn_id is not None and not matches:
        patient.search_columns_fill()  # what save() does first
        chain_insert_with(patient)
    else:
        patient.save(force_insert=True)  # a flagged duplicate's rows point at it: in before them
    if matches:
        DuplicateFlag.objects.bulk_create(
            DuplicateFlag(patient=patient, other=m.patient, reasons=", ".join(m.reasons), flagged_by=ctx.user)
            for m in matches
        )
    detail = {"possible_duplicates": [m.patient.mrn for m in matches]} if matches else None
    return [access_event_new(ctx=ctx, action=Action.PATIENT_REGISTER, patient_id=patient.pk, detail=detail)]


def _fields(exc: ValidationError) -> list[str]:
    return sorted(exc.message_dict) if hasattr(exc, "error_dict") else ["__all__"]


def patient_update(
    *, ctx: AuditContext, patient_id: int, values: Mapping[str, Any], expected_version: int | None = None
) -> Patient:
    """Change a patient's demographics; contact-only changes need only the contact permission.

    `expected_version` is the version the user's form was drawn from: if someone saved in
    between, the change is refused (Conflict) rather than silently overwriting theirs.
    """
    contact_only = set(values) <= set(CONTACT_FIELDS)
    action = Action.PATIENT_EDIT_CONTACT if contact_only else Action.PATIENT_EDIT
    access = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=action, record_allowed=False)
    allowed = CONTACT_FIELDS if contact_only else DEMOGRAPHIC_FIELDS
    try:
        with transaction.atomic():
            # Lock the row: two edits of one patient are applied one after the other.
            patient = Patient.objects.select_for_update().get(pk=patient_id)
            if expected_version is not None and patient.version != expected_version:
                raise Conflict("Someone else changed this patient while you were editing. Reload to see their change.")
            changed = _assign(patient, values, allowed)
            patient.full_clean(validate_unique=False)
            if changed:
                patient.version += 1
                patient.updated_at = timezone.now()
                patient.save(update_fields=[*changed, "phone_digits", "version", "updated_at"])
            access_event_record(
                ctx=ctx, action=action, patient_id=patient.pk, detail={"changed": changed}, emergency=access.emergency
            )
    except ValidationError as exc:
        access_event_record(
            ctx=ctx, action=action, patient_id=patient_id, outcome=Outcome.INVALID, detail={"fields": _fields(exc)}
        )
        raise
    except Conflict:
        access_event_record(
            ctx=ctx, action=action, patient_id=patient_id, outcome=Outcome.INVALID, detail={"conflict": "version"}
        )
        raise
    return patient


def _care_team_candidate(role: str, user_id: int | None) -> User | None:
    if role not in CareTeamRole.values:
        raise ValidationError({"role": f"Choose one of: {', '.join(CareTeamRole.values)}."})
    if user_id is None:
        return None
    member_user = User.objects.filter(pk=user_id, is_active=True).first()
    if member_user is None:
        raise NotFound("No active user with that id.")
    if member_user.role != Role(role):
        raise ValidationError({"user": f"{member_user.display_name} is not a {role}."})
    return member_user


def care_team_assign(*, ctx: AuditContext, patient_id: int, role: str, user_id: int | None) -> CareTeamMember | None:
    """Put a clinician on the patient's care team in `role`, replacing whoever held it; None clears it."""
    access = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.CARE_TEAM_ASSIGN, record_allowed=False)
    try:
        member_user = _care_team_candidate(role, user_id)
    except (ValidationError, NotFound) as exc:
        access_event_record(
            ctx=ctx,
            action=Action.CARE_TEAM_ASSIGN,
            patient_id=patient_id,
            outcome=Outcome.INVALID,
            detail={"role": role, "user_id": user_id, "error": " ".join(getattr(exc, "messages", [str(exc)]))},
        )
        raise
    with transaction.atomic():
        Patient.objects.select_for_update().filter(pk=access.patient.pk).first()
        previous = CareTeamMember.objects.filter(patient_id=patient_id, role=role).first()
        if previous is not None:
            previous.delete()
        member = None
        if member_user is not None:
            member = CareTeamMember.objects.create(
                patient_id=patient_id, user=member_user, role=role, assigned_by=ctx.user
            )
        access_event_record(
            ctx=ctx,
            action=Action.CARE_TEAM_ASSIGN,
            patient_id=patient_id,
            detail={
                "role": role,
                "user": member_user.get_username() if member_user else None,
                "replaced": previous.user.get_username() if previous else None,
            },
        )
    return member


def portal_account_open(*, ctx: AuditContext, patient_id: int, username: str) -> tuple[User, str]:
    """Open the patient's portal login; return it with a one-time temporary password to hand over.

    The patient must choose their own password at first sign-in. A patient has at most one login.
    """
    access = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.PATIENT_EDIT, record_allowed=False)
    patient = access.patient
    username = username.strip()
    if not username:
        raise ValidationError({"username": "Choose a username for the patient (their email address works)."})
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": "That username is taken; choose another."})
    # Readable, typed once by the patient: 4 groups of 4 from an alphabet without look-alikes.
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    temporary = "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))
    with transaction.atomic():
        locked = Patient.objects.select_for_update().get(pk=patient.pk)
        if locked.user_id is not None:
            raise Conflict("This patient already has a portal login.")
        user = User(
            username=username,
            role=Role.PATIENT,
            first_name=patient.given_name,
            last_name=patient.family_name,
            email=patient.email,
            must_change_password=True,
        )
        user.set_password(temporary)
        user.full_clean(exclude=["password"])
        user.save()
        locked.user = user
        locked.save(update_fields=["user"])
        access_event_record(ctx=ctx, action="portal.account_open", patient_id=patient.pk, detail={"username": username})
    return user, temporary
