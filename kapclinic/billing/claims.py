"""Claims: made from one patient's approved lines under the coverage in force, marked submitted or denied by the
biller, replaced by a resubmission (frequency 7); read one at a time or as a list; written out as an 837P file.

Each write is one transaction with its audit row; a refusal changes nothing and is audited. A charge line is on one
open claim at most: checked here for a clear message, and held by the partial unique index of ClaimLine against a
concurrent claim (Conflict). Which lines fit on one claim is decided by kapclinic/clinical/claims.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.chain import chain_append
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.page_reads import reads_deferred
from kapclinic.audit.services import (
    access_event_new,
    access_event_record,
    access_events_record_many,
    invalid_value_record,
)
from kapclinic.billing import x12_837
from kapclinic.billing.models import REASON_MAX, ChargeLine, Claim, ClaimEvent, ClaimLine, Coverage, CoverageRank
from kapclinic.billing.selectors import LineStatus, charge_lines, status_of, with_status
from kapclinic.clinical import claims as rules
from kapclinic.clinical.claims import ClaimState
from kapclinic.errors import AccessDenied, Conflict, NotFound
from kapclinic.patients.access import patient_get_for_user
from kapclinic.patients.models import Patient
from kapclinic.roles import Action, may

OPEN_STATES = [s.value for s in ClaimState if s is not ClaimState.RESUBMITTED]


def _require(ctx: AuditContext, action: Action, message: str) -> None:
    if not may(ctx.user.role, action):
        access_event_record(ctx=ctx, action=action, outcome=Outcome.DENIED)
        raise AccessDenied(message)


def manage_check(ctx: AuditContext) -> None:
    """Refuse (audited) a user who may not make or mark claims, before a page reads what they typed."""
    _require(ctx, Action.CLAIM_MANAGE, "Only a biller or the clinic director makes and marks claims.")


# --- making a claim ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    patient_id: int
    coverage: Coverage
    lines: list[ChargeLine]
    pointers: rules.Pointers
    place_of_service: str
    rendering_provider_id: int


def _refuse(ctx: AuditContext, patient_id: int | None, errors: dict[str, str]) -> ValidationError:
    exc = ValidationError(errors)
    if patient_id is None:
        access_event_record(ctx=ctx, action=Action.CLAIM_MANAGE, outcome=Outcome.INVALID, detail={"errors": errors})
        return exc
    return invalid_value_record(ctx=ctx, action=Action.CLAIM_MANAGE, patient_id=patient_id, exc=exc)


def _coverage_in_force(patient_id: int, days: Sequence[date], coverage_id: int | None) -> Coverage | str:
    """The coverage the claim goes to (the chosen one, or the primary payer plan) if it is in force on every date of
    service; otherwise what is wrong, in words."""
    plans = Coverage.objects.filter(patient_id=patient_id, self_pay=False).select_related("payer")
    if coverage_id is not None:
        chosen = plans.filter(pk=coverage_id).first()
        if chosen is None:
            return "No such payer coverage for this patient."
        candidates = [chosen]
    else:
        candidates = [c for c in plans if c.rank == CoverageRank.PRIMARY]
    for coverage in candidates:
        if all(coverage.in_force(day) for day in days):
            return coverage
    outside = sorted({d.isoformat() for d in days})
    if not candidates:
        return "The patient has no primary payer coverage on file: add it on the coverage page."
    which = "chosen" if coverage_id else "primary"
    return f"No {which} coverage is in force on every date of service ({', '.join(outside)})."


def _plan(ctx: AuditContext, line_ids: Sequence[int], coverage_id: int | None, replacing: Claim | None = None) -> _Plan:
    """Check everything a claim needs, audited when refused; nothing is written."""
    manage_check(ctx)
    ids = list(dict.fromkeys(line_ids))
    if not ids:
        raise _refuse(ctx, None, {"lines": "Choose the approved lines to claim."})
    found = {line.pk: line for line in with_status(ChargeLine.objects.filter(pk__in=ids))}
    missing = [i for i in ids if i not in found]
    if missing:
        raise _refuse(ctx, None, {"lines": f"No such charge line: {', '.join(map(str, missing))}."})
    lines = [found[i] for i in ids]
    patients = {line.patient_id for line in lines}
    if len(patients) > 1:
        raise _refuse(ctx, None, {"lines": "These lines are of more than one patient: one claim is one patient's."})
    patient_id = patients.pop()
    patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.CLAIM_MANAGE, record_allowed=False)
    errors: dict[str, str] = {}
    not_approved = [
        f"{line.pk} ({status_of(line).value})" for line in lines if status_of(line) is not LineStatus.APPROVED
    ]
    held = ClaimLine.objects.filter(line_id__in=ids, released=False)
    if replacing is not None:
        held = held.exclude(claim=replacing)
    on_claims = sorted({f"line {cl.line_id} is on claim KC{cl.claim_id}" for cl in held})
    if not_approved:
        errors["lines"] = f"Only approved lines are claimed; not approved: {', '.join(not_approved)}."
    elif on_claims:
        errors["lines"] = f"Already claimed: {'; '.join(on_claims)}."
    elif len({line.rendering_provider_id for line in lines}) > 1:
        errors["lines"] = "These lines have different rendering providers: one claim has one."
    elif len({line.place_of_service for line in lines}) > 1:
        errors["lines"] = "These lines have different places of service: claim them separately."
    elif any(line.amount_cents is None for line in lines):
        unpriced = ", ".join(str(line.pk) for line in lines if line.amount_cents is None)
        errors["lines"] = f"No price on line {unpriced}: set the fee and correct the line first."
    pointers: rules.Pointers | None = None
    if "lines" not in errors:
        try:
            pointers = rules.pointers_for([line.diagnoses for line in lines])
        except rules.ClaimRuleError as exc:
            errors["lines"] = str(exc)
    coverage = _coverage_in_force(patient_id, [line.date_of_service for line in lines], coverage_id)
    if isinstance(coverage, str):
        errors["coverage"] = coverage
    elif coverage.payer is None or not coverage.payer.payer_id.strip():
        errors["coverage"] = "The payer has no electronic payer id: the director adds it on the billing setup page."
    patient = Patient.objects.get(pk=patient_id)
    if not (patient.address_line1 and patient.city and patient.region and patient.postal_code):
        errors["patient"] = "A claim needs the patient's address (street, city, state, ZIP): add it to the chart."
    if "lines" not in errors:
        provider = User.objects.get(pk=lines[0].rendering_provider_id)
        if not rules.npi_valid(provider.licence_number.strip()):
            errors["lines"] = (
                f"{provider.display_name} has no NPI on file (the licence number of the staff account must be the "
                "10-digit NPI)."
            )
    if errors:
        raise _refuse(ctx, patient_id, errors)
    assert pointers is not None and not isinstance(coverage, str)
    return _Plan(
        patient_id=patient_id,
        coverage=coverage,
        lines=lines,
        pointers=pointers,
        place_of_service=lines[0].place_of_service,
        rendering_provider_id=lines[0].rendering_provider_id,
    )


def _write(ctx: AuditContext, plan: _Plan, replacing: Claim | None, reason: str) -> Claim:
    assert plan.coverage.payer_id is not None
    claim = Claim.objects.create(
        patient_id=plan.patient_id,
        coverage=plan.coverage,
        payer_id=plan.coverage.payer_id,
        rendering_provider_id=plan.rendering_provider_id,
        state=ClaimState.DRAFT.value,
        diagnoses=list(plan.pointers.diagnoses),
        place_of_service=plan.place_of_service,
        total_cents=sum(line.amount_cents or 0 for line in plan.lines),
        replaces=replacing,
        created_by=ctx.user,
    )
    try:
        with transaction.atomic():
            ClaimLine.objects.bulk_create(
                ClaimLine(
                    claim=claim,
                    line=line,
                    position=position,
                    pointers=list(pointers),
                    amount_cents=line.amount_cents or 0,
                )
                for position, (line, pointers) in enumerate(zip(plan.lines, plan.pointers.per_line, strict=True), 1)
            )
    except IntegrityError:
        raise Conflict("Another claim took one of these lines first: reload the page.") from None
    ClaimEvent.objects.create(claim=claim, state=ClaimState.DRAFT.value, reason=reason, by=ctx.user)
    access_event_record(
        ctx=ctx,
        action=Action.CLAIM_MANAGE,
        patient_id=plan.patient_id,
        detail={"claim": claim.pk, "op": "create", "lines": [line.pk for line in plan.lines]},
    )
    return claim


def claim_create(*, ctx: AuditContext, line_ids: Sequence[int], coverage_id: int | None = None) -> Claim:
    """A draft claim of the given approved lines (one patient, one rendering provider, one place of service) to the
    coverage in force on every date of service (the primary plan unless `coverage_id` names another)."""
    plan = _plan(ctx, line_ids, coverage_id)
    with transaction.atomic():
        return _write(ctx, plan, None, "Made from approved lines.")


# --- marking, resubmitting --------------------------------------------------------------------------------------


def _claim_for_change(ctx: AuditContext, claim_id: int) -> Claim:
    manage_check(ctx)
    claim = Claim.objects.filter(pk=claim_id).first()
    if claim is None:
        access_event_record(ctx=ctx, action=Action.CLAIM_MANAGE, outcome=Outcome.NOT_FOUND, detail={"claim": claim_id})
        raise NotFound("No such claim.")
    patient_get_for_user(ctx=ctx, patient_id=claim.patient_id, action=Action.CLAIM_MANAGE, record_allowed=False)
    return claim


def state_change(
    ctx: AuditContext,
    claim: Claim,
    wanted: ClaimState,
    reason: str,
    *,
    codes: Sequence[str] = (),
    remittance_id: int | None = None,
    paid_cents: int | None = None,
    patient_cents: int | None = None,
) -> ClaimEvent:
    """Inside the caller's transaction: the event row and the state column, the claim row locked. Conflict when the
    state may not follow the current one (e.g. a second click)."""
    locked = Claim.objects.select_for_update().get(pk=claim.pk)
    current = ClaimState(locked.state)
    if not rules.may_become(current, wanted):
        raise Conflict(f"Claim {locked.number} is {current.label.lower()}: it cannot become {wanted.label.lower()}.")
    event = ClaimEvent.objects.create(
        claim=locked,
        state=wanted.value,
        reason=reason[:REASON_MAX],
        codes=list(codes),
        remittance_id=remittance_id,
        paid_cents=paid_cents,
        patient_cents=patient_cents,
        by=ctx.user,
    )
    Claim.objects.filter(pk=locked.pk).update(state=wanted.value)
    claim.state = wanted.value
    access_event_record(
        ctx=ctx,
        action=Action.CLAIM_MANAGE,
        patient_id=claim.patient_id,
        detail={"claim": claim.pk, "op": wanted.value, "event": event.pk},
    )
    return event


def claim_mark(*, ctx: AuditContext, claim_id: int, state: str, reason: str = "") -> Claim:
    """By hand: a draft was sent (submitted), or the payer denied it outside a remittance (denied, with the reason)."""
    claim = _claim_for_change(ctx, claim_id)
    reason = reason.strip()
    errors: dict[str, str] = {}
    if state not in (ClaimState.SUBMITTED.value, ClaimState.DENIED.value):
        errors["state"] = "Mark a claim submitted or denied."
    elif state == ClaimState.DENIED.value and not reason:
        errors["reason"] = "Say why the payer denied it (the reason on the denial)."
    if len(reason) > REASON_MAX:
        errors["reason"] = f"Keep the reason under {REASON_MAX:,} characters."
    if errors:
        raise _refuse(ctx, claim.patient_id, errors)
    with transaction.atomic():
        state_change(ctx, claim, ClaimState(state), reason or "Sent to the clearinghouse.")
    return claim


def claim_resubmit(*, ctx: AuditContext, claim_id: int, reason: str, line_ids: Sequence[int] | None = None) -> Claim:
    """A replacement claim (frequency 7) of the denied or partly paid claim's lines (or the given ones, e.g. the
    corrected lines), which names the payer's claim number; the old claim becomes "resubmitted" and releases its
    lines to the new one, in one transaction."""
    old = _claim_for_change(ctx, claim_id)
    reason = reason.strip()
    if not reason:
        raise _refuse(ctx, old.patient_id, {"reason": "Say what the resubmission corrects."})
    if old.state not in (ClaimState.DENIED.value, ClaimState.PARTLY_PAID.value, ClaimState.SUBMITTED.value):
        raise Conflict(
            f"Claim {old.number} is {ClaimState(old.state).label.lower()}: only a sent claim is resubmitted."
        )
    ids = list(line_ids) if line_ids else list(old.lines.values_list("line_id", flat=True))
    plan = _plan(ctx, ids, old.coverage_id, replacing=old)
    with transaction.atomic():
        state_change(ctx, old, ClaimState.RESUBMITTED, reason)
        ClaimLine.objects.filter(claim=old).update(released=True)
        return _write(ctx, plan, old, f"Replaces {old.number}: {reason}")


# --- reads ------------------------------------------------------------------------------------------------------


def claims(*, ctx: AuditContext, state: str = "", payer_id: int | None = None) -> QuerySet[Claim]:
    """Claims the user may see, newest first, by state and payer. The caller audits the page it shows."""
    _require(ctx, Action.CLAIM_VIEW, "Your role does not see claims.")
    found = Claim.objects.select_related("patient", "payer")
    if state:
        found = found.filter(state=state)
    if payer_id is not None:
        found = found.filter(payer_id=payer_id)
    return found.order_by("-created_at", "-id")


def claims_shown(*, ctx: AuditContext, shown: Sequence[Claim]) -> None:
    access_events_record_many(
        ctx=ctx,
        action=Action.CLAIM_VIEW,
        patient_ids=sorted({c.patient_id for c in shown}),
        detail={"claims": [c.pk for c in shown]},
    )


def claim_read(*, ctx: AuditContext, claim_id: int, op: str = "view") -> Claim:
    """One claim with its lines and events, audited (`op` says what was read: the page, the 837P file)."""
    _require(ctx, Action.CLAIM_VIEW, "Your role does not see claims.")
    claim = (
        Claim.objects.select_related("patient", "payer", "coverage", "rendering_provider", "replaces")
        .filter(pk=claim_id)
        .first()
    )
    if claim is None:
        access_event_record(ctx=ctx, action=Action.CLAIM_VIEW, outcome=Outcome.NOT_FOUND, detail={"claim": claim_id})
        raise NotFound("No such claim.")
    patient_get_for_user(ctx=ctx, patient_id=claim.patient_id, action=Action.CLAIM_VIEW, record_allowed=False)
    access_event_record(
        ctx=ctx, action=Action.CLAIM_VIEW, patient_id=claim.patient_id, detail={"claim": claim.pk, "op": op}
    )
    return claim


def claim_lines(claim: Claim) -> list[ClaimLine]:
    return list(claim.lines.select_related("line").order_by("position"))


def claim_events(claim: Claim) -> list[ClaimEvent]:
    return list(claim.events.select_related("by").order_by("at", "id"))


# --- the 837P file ----------------------------------------------------------------------------------------------

PRACTICE_SETTINGS = {
    "name": "KAPCLINIC_BILLING_NAME",
    "npi": "KAPCLINIC_BILLING_NPI",
    "tax_id": "KAPCLINIC_BILLING_TAX_ID",
    "taxonomy": "KAPCLINIC_BILLING_TAXONOMY",
    "street": "KAPCLINIC_BILLING_STREET",
    "city": "KAPCLINIC_BILLING_CITY",
    "state": "KAPCLINIC_BILLING_STATE",
    "zip_code": "KAPCLINIC_BILLING_ZIP",
    "phone": "KAPCLINIC_BILLING_PHONE",
    "contact": "KAPCLINIC_BILLING_CONTACT",
    "submitter_id": "KAPCLINIC_X12_SUBMITTER_ID",
    "receiver_id": "KAPCLINIC_X12_RECEIVER_ID",
    "receiver_name": "KAPCLINIC_X12_RECEIVER_NAME",
}


def practice() -> x12_837.Practice:
    """The billing provider from settings; Conflict naming what is not set (a claim file without it is refused)."""
    values = {key: str(getattr(settings, name, "") or "").strip() for key, name in PRACTICE_SETTINGS.items()}
    missing = [PRACTICE_SETTINGS[key] for key, value in values.items() if not value]
    if missing:
        raise Conflict(f"The practice's billing details are not set: {', '.join(missing)} (docs/billing.md).")
    if not rules.npi_valid(values["npi"]):
        raise Conflict("KAPCLINIC_BILLING_NPI is not a valid NPI (10 digits with the check digit).")
    return x12_837.Practice(**values, usage=str(getattr(settings, "KAPCLINIC_X12_USAGE", "T")))


def _split_name(full: str) -> tuple[str, str]:
    parts = full.split()
    if not parts:
        return "", ""
    return parts[-1], " ".join(parts[:-1])


CLAIM_FIELDS = (
    "pk", "patient_id", "state", "total_cents", "place_of_service", "diagnoses", "replaces_id",
    "replaces__payer_claim_number", "patient__family_name", "patient__given_name", "patient__address_line1",
    "patient__city", "patient__region", "patient__postal_code", "patient__birth_date", "patient__sex_at_birth",
    "coverage__rank", "coverage__relationship", "coverage__member_id", "coverage__group_number",
    "coverage__subscriber_name", "coverage__subscriber_birth_date", "payer__name", "payer__payer_id",
    "rendering_provider__last_name", "rendering_provider__first_name", "rendering_provider__username",
    "rendering_provider__licence_number",
)  # fmt: skip
LINE_FIELDS = (
    "claim_id", "amount_cents", "pointers", "line__code", "line__modifiers", "line__units", "line__date_of_service",
    "line__ndc", "line__ndc_quantity", "line__ndc_unit",
)  # fmt: skip


def claim_rows(claim_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The claims' values the 837P needs, with their lines in order, in two queries (no model instances: a batch of
    a thousand claims is read in a tenth of the time)."""
    found = {row["pk"]: {**row, "lines": []} for row in Claim.objects.filter(pk__in=claim_ids).values(*CLAIM_FIELDS)}
    lines = ClaimLine.objects.filter(claim_id__in=list(found)).order_by("claim_id", "position").values(*LINE_FIELDS)
    for row in lines:
        found[row["claim_id"]]["lines"].append(row)
    return found


def claim_record(row: dict[str, Any]) -> x12_837.ClaimRecord:
    """What the 837P says of one claim, from its values (`claim_rows`)."""
    person = x12_837.Person(
        last=row["patient__family_name"],
        first=row["patient__given_name"],
        street=row["patient__address_line1"],
        city=row["patient__city"],
        state=row["patient__region"],
        zip_code=row["patient__postal_code"],
        birth_date=row["patient__birth_date"],
        sex=row["patient__sex_at_birth"],
    )
    if row["coverage__relationship"] == "self":
        subscriber = person
    else:
        last, first = _split_name(row["coverage__subscriber_name"])
        subscriber = x12_837.Person(last=last, first=first, birth_date=row["coverage__subscriber_birth_date"])
    replaces = row["replaces_id"]
    original = "" if replaces is None else row["replaces__payer_claim_number"] or f"KC{replaces}"
    return x12_837.ClaimRecord(
        number=f"KC{row['pk']}",
        total_cents=row["total_cents"],
        place_of_service=row["place_of_service"],
        frequency=rules.FREQUENCY_ORIGINAL if replaces is None else rules.FREQUENCY_REPLACEMENT,
        diagnoses=list(row["diagnoses"]),
        rank=row["coverage__rank"],
        relationship=row["coverage__relationship"],
        member_id=row["coverage__member_id"],
        group_number=row["coverage__group_number"],
        subscriber=subscriber,
        patient=person,
        payer_name=row["payer__name"],
        payer_id=row["payer__payer_id"],
        rendering_last=row["rendering_provider__last_name"] or row["rendering_provider__username"],
        rendering_first=row["rendering_provider__first_name"],
        rendering_npi=row["rendering_provider__licence_number"].strip(),
        lines=[
            x12_837.ServiceLine(
                code=cl["line__code"],
                modifiers=list(cl["line__modifiers"]),
                amount_cents=cl["amount_cents"],
                units=cl["line__units"],
                pointers=list(cl["pointers"]),
                date_of_service=cl["line__date_of_service"],
                ndc=cl["line__ndc"],
                ndc_quantity=cl["line__ndc_quantity"],
                ndc_unit=cl["line__ndc_unit"],
            )
            for cl in row["lines"]
        ],
        original_reference=original,
    )


def control_number() -> int:
    """ISA13/GS06: seconds since 2026-01-01, fresh for every file a clinic writes (at most one a second matters to
    a clearinghouse, which refuses a number it has seen from the same submitter)."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return max(1, int((timezone.now() - start).total_seconds()) % 1_000_000_000)


def claim_file_for(*, ctx: AuditContext, claim_ids: Sequence[int]) -> str:
    """The 837P file of these claims (one, or a batch for the clearinghouse), in the order given; each patient's
    read audited (one row per patient naming their claims). Conflict when the practice is not set up or a claim was
    replaced. Every role that reads claims reads all of them (claim.view is clinic-wide)."""
    details = practice()
    ids = list(dict.fromkeys(claim_ids))
    if len(ids) == 1:
        claim_read(ctx=ctx, claim_id=ids[0], op="837")
        rows = claim_rows(ids)
    else:
        _require(ctx, Action.CLAIM_VIEW, "Your role does not see claims.")
        rows = claim_rows(ids)
        missing = [i for i in ids if i not in rows]
        if missing:
            access_event_record(
                ctx=ctx, action=Action.CLAIM_VIEW, outcome=Outcome.NOT_FOUND, detail={"claims": missing[:100]}
            )
            raise NotFound(f"No such claim: {', '.join(map(str, missing[:10]))}.")
        by_patient: dict[int, list[int]] = {}
        for i in ids:
            by_patient.setdefault(rows[i]["patient_id"], []).append(i)
        # One row per patient naming that patient's claims, written in one INSERT (as access_events_record_many).
        events = [
            access_event_new(ctx=ctx, action=Action.CLAIM_VIEW, patient_id=pid, detail={"op": "837", "claims": mine})
            for pid, mine in sorted(by_patient.items())
        ]
        if not reads_deferred(events):
            chain_append(events)
    replaced = [f"KC{i}" for i in ids if rows[i]["state"] == ClaimState.RESUBMITTED.value]
    if replaced:
        raise Conflict(f"Claim {', '.join(replaced)} was replaced by a resubmission: send the replacement.")
    records = [claim_record(rows[i]) for i in ids]
    return x12_837.claim_file(details, records, control_number=control_number(), created=timezone.localtime())


def claimable_lines(*, ctx: AuditContext) -> QuerySet[ChargeLine]:
    """Approved, not corrected lines on no open claim, oldest date of service first (what the biller claims next),
    by patient. The caller audits the page it shows (selectors.charge_lines_shown)."""
    manage_check(ctx)
    return (
        charge_lines(ctx=ctx, status=LineStatus.APPROVED)
        .exclude(claim_lines__released=False)
        .order_by("patient__family_name", "patient_id", "date_of_service", "id")
    )
