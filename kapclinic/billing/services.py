"""Billing writes: payers, fees, a patient's coverages; proposing charge lines from signed records; the biller's
approval, rejection (with a reason) and correction of a line.

Each write is one transaction with its audit row. A refused value changes nothing and is audited. Lines and
reviews are append-only: a line is reviewed once; a correction is a new line pointing at the one it corrects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record, access_events_record_each, invalid_value_record
from kapclinic.billing import proposals
from kapclinic.billing.models import (
    NAME_MAX,
    REASON_MAX,
    ChargeLine,
    ChargeReview,
    Coverage,
    CoverageRank,
    Decision,
    FeeScheduleEntry,
    Payer,
    Relationship,
)
from kapclinic.clinical import billing as rules
from kapclinic.clinical.icd10 import is_icd10_cm
from kapclinic.errors import AccessDenied, Conflict, NotFound
from kapclinic.patients.access import patient_get_for_user
from kapclinic.roles import Action, Scope, may, scope_for

# How far back a proposal run looks for signed records not yet proposed.
PROPOSE_LOOKBACK_DAYS = 90
PRICE_MAX_CENTS = 10_000_000  # $100,000 per unit: beyond it is a typing error


def _require(ctx: AuditContext, action: Action, message: str) -> None:
    if not may(ctx.user.role, action):
        access_event_record(ctx=ctx, action=action, outcome=Outcome.DENIED)
        raise AccessDenied(message)


def review_check(ctx: AuditContext) -> None:
    """Refuse (audited) a user who may not review charge lines, before a page reads what they typed."""
    _require(ctx, Action.CHARGE_REVIEW, "Only a biller reviews charge lines.")


def coverage_edit_check(ctx: AuditContext, patient_id: int) -> None:
    """Refuse (audited) a user who may not change this patient's coverage, before a page reads the form."""
    patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.COVERAGE_EDIT, record_allowed=False)


def _refused_plain(ctx: AuditContext, action: Action, exc: ValidationError) -> ValidationError:
    access_event_record(ctx=ctx, action=action, outcome=Outcome.INVALID, detail={"errors": exc.message_dict})
    return exc


# --- payers and the fee schedule ---------------------------------------------------------------------


def payer_create(
    *, ctx: AuditContext, name: str, payer_id: str = "", in_network: bool = False, esketamine_scheme: str = ""
) -> Payer:
    _require(ctx, Action.BILLING_SETUP, "Only the clinic director sets up payers.")
    name = " ".join(name.split())
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "Give the payer's name."
    elif len(name) > NAME_MAX:
        errors["name"] = f"Keep the name under {NAME_MAX} characters."
    elif Payer.objects.filter(name__iexact=name).exists():
        errors["name"] = "A payer with this name is already listed."
    scheme = esketamine_scheme or rules.EsketamineScheme.VISIT_CODE.value
    if scheme not in set(rules.EsketamineScheme):
        errors["esketamine_scheme"] = "Choose how the payer pays a Spravato session."
    if errors:
        raise _refused_plain(ctx, Action.BILLING_SETUP, ValidationError(errors))
    with transaction.atomic():
        payer = Payer.objects.create(
            name=name,
            payer_id=payer_id.strip()[:80],
            in_network=in_network,
            esketamine_scheme=scheme,
            created_by=ctx.user,
        )
        access_event_record(ctx=ctx, action=Action.BILLING_SETUP, detail={"payer": payer.pk, "op": "create"})
    return payer


def fee_set(*, ctx: AuditContext, code: str, price_cents: int, effective_from: date) -> FeeScheduleEntry:
    """Price one unit of `code` from `effective_from`; the price before it ends the day before."""
    _require(ctx, Action.BILLING_SETUP, "Only the clinic director sets the fee schedule.")
    code = code.strip().upper()
    errors: dict[str, str] = {}
    if not any(row.code == code for row in rules.CODES):
        errors["code"] = "That code is not in the clinic's code table."
    if not 0 <= price_cents <= PRICE_MAX_CENTS:
        errors["price"] = "Give a price between $0 and $100,000."
    later = FeeScheduleEntry.objects.filter(code=code, effective_from__gte=effective_from).exists()
    if later and "code" not in errors:
        errors["effective_from"] = "A price for this code already starts on or after that day."
    if errors:
        raise _refused_plain(ctx, Action.BILLING_SETUP, ValidationError(errors))
    with transaction.atomic():
        FeeScheduleEntry.objects.filter(code=code, effective_to__isnull=True).update(
            effective_to=effective_from - timedelta(days=1)
        )
        fee = FeeScheduleEntry.objects.create(
            code=code, price_cents=price_cents, effective_from=effective_from, recorded_by=ctx.user
        )
        access_event_record(
            ctx=ctx, action=Action.BILLING_SETUP, detail={"fee": fee.pk, "code": code, "cents": price_cents}
        )
    return fee


# --- a patient's coverages ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CoverageInput:
    rank: str = CoverageRank.PRIMARY
    self_pay: bool = False
    payer_id: int | None = None
    member_id: str = ""
    group_number: str = ""
    subscriber_name: str = ""
    subscriber_birth_date: date | None = None
    relationship: str = Relationship.SELF
    effective_from: date | None = None
    effective_to: date | None = None


def _coverage_errors(patient_id: int, given: CoverageInput) -> dict[str, str]:
    errors: dict[str, str] = {}
    if given.rank not in CoverageRank.values:
        errors["rank"] = "Primary or secondary."
    if given.relationship not in Relationship.values:
        errors["relationship"] = "Choose the patient's relationship to the subscriber."
    if given.effective_from is None:
        errors["effective_from"] = "Give the first day the coverage is in force."
    elif given.effective_to is not None and given.effective_to < given.effective_from:
        errors["effective_to"] = "The last day cannot be before the first."
    if given.self_pay:
        if given.payer_id is not None:
            errors["payer"] = "Self-pay has no payer: clear one or the other."
        return errors
    if given.payer_id is None or not Payer.objects.filter(pk=given.payer_id, active=True).exists():
        errors["payer"] = "Choose the payer (or self-pay)."
    if not given.member_id.strip():
        errors["member_id"] = "Give the member id from the card."
    if given.relationship != Relationship.SELF and not given.subscriber_name.strip():
        errors["subscriber_name"] = "Give the subscriber's name (the patient is not the subscriber)."
    if given.effective_from is not None and "rank" not in errors:
        overlapping = [
            c
            for c in Coverage.objects.filter(patient_id=patient_id, rank=given.rank, self_pay=False)
            if c.effective_to is None or c.effective_to >= given.effective_from
        ]
        if any(given.effective_to is None or c.effective_from <= given.effective_to for c in overlapping):
            errors["rank"] = f"The patient already has a {given.rank} coverage in force then: end it first."
    return errors


def coverage_add(*, ctx: AuditContext, patient_id: int, given: CoverageInput) -> Coverage:
    access = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.COVERAGE_EDIT, record_allowed=False)
    errors = _coverage_errors(patient_id, given)
    if errors:
        raise invalid_value_record(
            ctx=ctx, action=Action.COVERAGE_EDIT, patient_id=patient_id, exc=ValidationError(errors)
        )
    assert given.effective_from is not None
    with transaction.atomic():
        coverage = Coverage.objects.create(
            patient_id=patient_id,
            payer_id=None if given.self_pay else given.payer_id,
            self_pay=given.self_pay,
            rank=given.rank,
            member_id=given.member_id.strip()[:80],
            group_number=given.group_number.strip()[:80],
            subscriber_name=" ".join(given.subscriber_name.split())[:200],
            subscriber_birth_date=given.subscriber_birth_date,
            relationship=given.relationship,
            effective_from=given.effective_from,
            effective_to=given.effective_to,
            recorded_by=ctx.user,
        )
        access_event_record(
            ctx=ctx,
            action=Action.COVERAGE_EDIT,
            patient_id=patient_id,
            detail={"coverage": coverage.pk, "op": "add"},
            emergency=access.emergency,
        )
    return coverage


def coverage_end(*, ctx: AuditContext, patient_id: int, coverage_id: int, last_day: date) -> Coverage:
    """Set the last day a coverage is in force (a coverage is never deleted: claims point at it)."""
    patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.COVERAGE_EDIT, record_allowed=False)
    found = Coverage.objects.filter(pk=coverage_id, patient_id=patient_id).first()
    if found is None:
        access_event_record(
            ctx=ctx,
            action=Action.COVERAGE_EDIT,
            patient_id=patient_id,
            outcome=Outcome.NOT_FOUND,
            detail={"coverage": coverage_id},
        )
        raise NotFound("No such coverage for this patient.")
    if last_day < found.effective_from:
        # Outside the transaction: the refusal's audit row stays.
        raise invalid_value_record(
            ctx=ctx,
            action=Action.COVERAGE_EDIT,
            patient_id=patient_id,
            exc=ValidationError({"effective_to": "The last day cannot be before the first."}),
        )
    with transaction.atomic():
        coverage = Coverage.objects.select_for_update().get(pk=found.pk)
        if coverage.effective_to is not None and coverage.effective_to <= last_day:
            raise Conflict("This coverage already ends on or before that day.")
        coverage.effective_to = last_day
        coverage.save(update_fields=["effective_to"])
        access_event_record(
            ctx=ctx, action=Action.COVERAGE_EDIT, patient_id=patient_id, detail={"coverage": coverage.pk, "op": "end"}
        )
    return coverage


# --- proposing lines from signed records -------------------------------------------------------------------


@dataclass(frozen=True)
class ProposalRun:
    records: int  # signed records read
    lines: list[ChargeLine]
    not_proposed: list[str]  # what the records did not support, record by record


def charges_propose(*, ctx: AuditContext, since: date | None = None) -> ProposalRun:
    """Propose lines for every signed evaluation with an E/M level, therapy note and dosing session from `since`
    that has none yet. Proposing
    again adds nothing for a record already proposed (the unique constraint holds against a concurrent run)."""
    _require(ctx, Action.CHARGE_REVIEW, "Only a biller proposes charge lines.")
    since = since or timezone.localdate() - timedelta(days=PROPOSE_LOOKBACK_DAYS)
    found = [
        *proposals.evaluation_proposals(since),
        *proposals.note_proposals(since),
        *proposals.session_proposals(since),
    ]
    codes = {line.code for p in found for line in p.coding.lines}
    fees = list(FeeScheduleEntry.objects.filter(code__in=codes))
    made: list[ChargeLine] = []
    missing: list[str] = []
    with transaction.atomic():
        for p in found:
            missing += [f"{p.source_kind.label} {p.source_id}: {why}" for why in p.coding.not_proposed]
            for line in p.coding.lines:
                price = proposals.fee_cents(fees, line.code, p.date_of_service)
                caveats = [*line.caveats, *p.caveats]
                if price is None:
                    caveats.append(f"No fee for {line.code} on {p.date_of_service.isoformat()} in the schedule.")
                if not p.diagnoses:
                    caveats.append("No signed treatment plan gives a diagnosis: add one before approving.")
                made.append(
                    ChargeLine(
                        patient_id=p.patient_id,
                        source_kind=p.source_kind,
                        source_id=p.source_id,
                        date_of_service=p.date_of_service,
                        place_of_service=line.place_of_service,
                        rendering_provider=p.rendering_provider,
                        code=line.code,
                        modifiers=list(line.modifiers),
                        units=line.units,
                        diagnoses=list(p.diagnoses),
                        ndc=line.ndc,
                        ndc_quantity=line.ndc_quantity,
                        ndc_unit=line.ndc_unit,
                        amount_cents=None if price is None else price * line.units,
                        justification=line.justification,
                        caveats=caveats,
                        rules_version=rules.BILLING_RULES_VERSION,
                        proposed_by=ctx.user,
                    )
                )
        try:
            with transaction.atomic():
                made = ChargeLine.objects.bulk_create(made)
        except IntegrityError:
            raise Conflict("Another proposal run wrote these lines first: reload the page.") from None
        per_patient: dict[int, list[int]] = {}
        for written in made:
            per_patient.setdefault(written.patient_id, []).append(written.pk)
        access_events_record_each(  # one row per patient, one INSERT
            ctx=ctx,
            action=Action.CHARGE_REVIEW,
            details={pid: {"op": "propose", "lines": lines} for pid, lines in sorted(per_patient.items())},
        )
    return ProposalRun(records=len(found), lines=made, not_proposed=missing)


# --- review -------------------------------------------------------------------------------------------------


def _line_for_review(ctx: AuditContext, line_id: int) -> ChargeLine:
    _require(ctx, Action.CHARGE_REVIEW, "Only a biller reviews charge lines.")
    line = ChargeLine.objects.filter(pk=line_id).first()
    if line is None:
        access_event_record(ctx=ctx, action=Action.CHARGE_REVIEW, outcome=Outcome.NOT_FOUND, detail={"line": line_id})
        raise NotFound("No such charge line.")
    return line


def _review(ctx: AuditContext, line_id: int, decision: Decision, reason: str) -> ChargeReview:
    line = _line_for_review(ctx, line_id)
    reason = reason.strip()
    if decision is Decision.REJECTED and not reason:
        raise invalid_value_record(
            ctx=ctx,
            action=Action.CHARGE_REVIEW,
            patient_id=line.patient_id,
            exc=ValidationError({"reason": "Say why the line is rejected."}),
        )
    if len(reason) > REASON_MAX:
        raise invalid_value_record(
            ctx=ctx,
            action=Action.CHARGE_REVIEW,
            patient_id=line.patient_id,
            exc=ValidationError({"reason": f"Keep the reason under {REASON_MAX:,} characters."}),
        )
    if decision is Decision.APPROVED and not line.diagnoses:
        raise Conflict("This line has no diagnosis: reject it and propose a corrected line with one.")
    # No row lock (the app's login may not UPDATE an append-only table, which FOR UPDATE needs): the one-to-one
    # review is the guard, and a second review, even a concurrent one, is refused by it.
    with transaction.atomic():
        if ChargeReview.objects.filter(line=line).exists():
            raise Conflict("This line was already reviewed.")
        try:
            with transaction.atomic():
                review = ChargeReview.objects.create(line=line, decision=decision, reason=reason, by=ctx.user)
        except IntegrityError:
            raise Conflict("This line was already reviewed.") from None
        access_event_record(
            ctx=ctx,
            action=Action.CHARGE_REVIEW,
            patient_id=line.patient_id,
            detail={"line": line.pk, "op": decision.value},
        )
    return review


def charge_approve(*, ctx: AuditContext, line_id: int) -> ChargeReview:
    return _review(ctx, line_id, Decision.APPROVED, "")


def charge_reject(*, ctx: AuditContext, line_id: int, reason: str) -> ChargeReview:
    return _review(ctx, line_id, Decision.REJECTED, reason)


@dataclass(frozen=True)
class Correction:
    code: str
    units: int
    modifiers: tuple[str, ...]
    place_of_service: str
    diagnoses: tuple[str, ...]
    reason: str


POS_ALLOWED = (rules.POS_OFFICE, rules.POS_TELEHEALTH_ELSEWHERE, rules.POS_TELEHEALTH_HOME)


def charge_correct(*, ctx: AuditContext, line_id: int, fix: Correction) -> ChargeLine:
    """A new proposed line correcting a reviewed one (which stays as it was); it is reviewed again."""
    line = _line_for_review(ctx, line_id)
    errors: dict[str, str] = {}
    code = fix.code.strip().upper()
    if rules.code_in_force(code, line.date_of_service) is None:
        errors["code"] = f"{code or 'That code'} is not in force on {line.date_of_service.isoformat()}."
    if not 1 <= fix.units <= 999:
        errors["units"] = "Units are a whole number from 1 to 999."
    if len(fix.modifiers) > 4 or any(len(m) != 2 or not m.isalnum() for m in fix.modifiers):
        errors["modifiers"] = "Up to four two-character modifiers, e.g. 95."
    if fix.place_of_service not in POS_ALLOWED:
        errors["place_of_service"] = "Place of service is 11 (office), 02 or 10 (telehealth)."
    if not fix.diagnoses or not all(is_icd10_cm(d) for d in fix.diagnoses):
        errors["diagnoses"] = "Give at least one ICD-10-CM code; each must be in the code list."
    if not fix.reason.strip():
        errors["reason"] = "Say what the correction changes and why."
    if errors:
        raise invalid_value_record(
            ctx=ctx, action=Action.CHARGE_REVIEW, patient_id=line.patient_id, exc=ValidationError(errors)
        )
    with transaction.atomic():
        if not ChargeReview.objects.filter(line=line).exists():
            raise Conflict("Review the line first: approve it, or reject it with the reason.")
        if ChargeLine.objects.filter(corrects=line).exists():
            raise Conflict("This line was already corrected: correct the newest line.")
        fee = proposals.fee_cents(list(FeeScheduleEntry.objects.filter(code=code)), code, line.date_of_service)
        corrected = ChargeLine(
            patient_id=line.patient_id,
            source_kind=line.source_kind,
            source_id=line.source_id,
            date_of_service=line.date_of_service,
            place_of_service=fix.place_of_service,
            rendering_provider_id=line.rendering_provider_id,
            code=code,
            modifiers=[m.upper() for m in fix.modifiers],
            units=fix.units,
            diagnoses=list(fix.diagnoses),
            ndc=line.ndc,
            ndc_quantity=line.ndc_quantity,
            ndc_unit=line.ndc_unit,
            amount_cents=None if fee is None else fee * fix.units,
            justification=f"{line.justification} — corrected by {ctx.user.display_name}: {fix.reason.strip()}",
            caveats=[] if fee is not None else [f"No fee for {code} on {line.date_of_service.isoformat()}."],
            rules_version=rules.BILLING_RULES_VERSION,
            corrects=line,
            correction_reason=fix.reason.strip()[:REASON_MAX],
            proposed_by=ctx.user,
        )
        try:
            with transaction.atomic():  # the one-to-one `corrects` refuses a concurrent second correction
                corrected.save(force_insert=True)
        except IntegrityError:
            raise Conflict("This line was already corrected: correct the newest line.") from None
        access_event_record(
            ctx=ctx,
            action=Action.CHARGE_REVIEW,
            patient_id=line.patient_id,
            detail={"line": corrected.pk, "corrects": line.pk, "op": "correct"},
        )
    return corrected


def charge_scope(ctx: AuditContext) -> Scope:
    return scope_for(ctx.user.role, Action.CHARGE_VIEW)
