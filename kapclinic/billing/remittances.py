"""Posting an 835 remittance: validated by pyx12, read, each CLP matched to the claim this clinic sent (CLP01 is the
CLM01 "KC<id>"), each SVC to a line of that claim; then in one transaction the remittance row, the payments and
the non-patient adjustments through the money ledger (kapclinic/billing/payments.money_entries_record), and each
claim's new state (paid, partly paid, denied with the reason codes) as an event.

A denied claim gets its event with the reason codes and no money entries (the lines stay owed until the biller
resubmits or writes them off). All or nothing: a malformed file, a claim this clinic did not send, a line the claim
does not have or an entry the ledger refuses is refused whole with the reason, audited, nothing written. The same
file posted again is recognised by its digest and posts nothing. A PR (patient responsibility) amount is not posted:
it stays on the line as what the patient owes (docs/billing.md), and the claim's event records it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record
from kapclinic.billing import claims as claim_service
from kapclinic.billing.models import Claim, ClaimLine, MoneyKind, PaymentMethod, Remittance
from kapclinic.billing.payments import MoneyEntryInput, money_entries_record
from kapclinic.billing.x12_835 import Adjustment, Remit, RemitClaim, RemittanceUnreadable, read_835
from kapclinic.billing.x12_check import x12_errors
from kapclinic.clinical import claims as rules
from kapclinic.clinical.claims import ClaimState
from kapclinic.errors import AccessDenied, NotFound
from kapclinic.roles import Action, may

FILE_MAX_CHARS = 5_000_000
CLAIM_NUMBER = re.compile(r"^KC(\d{1,18})$")
PATIENT_GROUP = "PR"
CONTRACTUAL_GROUP = "CO"


@dataclass(frozen=True)
class PostedClaim:
    claim: Claim
    state: str
    paid_cents: int
    patient_cents: int
    codes: list[str]


@dataclass(frozen=True)
class Posting:
    remittance: Remittance
    already_posted: bool  # the same file was posted before: nothing was posted now
    claims: list[PostedClaim]
    entries: int


@dataclass(frozen=True)
class _Matched:
    remit: RemitClaim
    claim: Claim
    outcome: rules.Outcome
    entries: list[MoneyEntryInput]


def _refused(ctx: AuditContext, message: str, detail: dict[str, object] | None = None) -> ValidationError:
    access_event_record(
        ctx=ctx,
        action=Action.CLAIM_MANAGE,
        outcome=Outcome.INVALID,
        detail={"op": "remittance", "error": message, **(detail or {})},
    )
    return ValidationError({"file": message})


def _line_entries(
    remit: RemitClaim, claim: Claim, lines: list[ClaimLine], received_on: object
) -> list[MoneyEntryInput] | str:
    """The ledger entries of one claim's payment, each on the claim line its SVC names; or what does not match."""
    reference = f"{claim.number}/{remit.payer_claim_number}"[:80]
    common = {"patient_id": claim.patient_id, "payer_id": claim.payer_id, "claim_reference": reference}
    entries: list[MoneyEntryInput] = []

    def adjustments(adjs: tuple[Adjustment, ...] | list[Adjustment], line_id: int | None) -> None:
        for adj in adjs:
            if adj.group == PATIENT_GROUP or adj.cents <= 0:
                continue  # the patient's share stays on the line; a negative CAS (a reversal) is not posted here
            entries.append(
                MoneyEntryInput(
                    kind=MoneyKind.ADJUSTMENT.value,
                    amount_cents=adj.cents,
                    adjustment_group=adj.group,
                    adjustment_reason=adj.reason,
                    line_id=line_id,
                    received_on=received_on,  # type: ignore[arg-type]
                    **common,  # type: ignore[arg-type]
                )
            )

    def payment(cents: int, line_id: int | None) -> None:
        if cents > 0:
            entries.append(
                MoneyEntryInput(
                    kind=MoneyKind.PAYMENT.value,
                    amount_cents=cents,
                    method=PaymentMethod.INSURANCE.value,
                    line_id=line_id,
                    received_on=received_on,  # type: ignore[arg-type]
                    **common,  # type: ignore[arg-type]
                )
            )

    if remit.services:
        unused = list(lines)
        for svc in remit.services:
            match = next(
                (
                    cl
                    for cl in unused
                    if cl.line.code == svc.code and (not svc.modifiers or list(svc.modifiers) == cl.line.modifiers)
                ),
                None,
            )
            if match is None:
                return f"Claim {claim.number}: the remittance pays a {svc.code} line the claim does not have."
            unused.remove(match)
            payment(svc.paid_cents, match.line_id)
            adjustments(svc.adjustments, match.line_id)
    else:
        # No line detail: the payment goes to the lines in claim order, each up to its amount.
        left = remit.paid_cents
        for cl in lines:
            share = min(left, cl.amount_cents)
            payment(share, cl.line_id)
            left -= share
        payment(left, None)
    adjustments(remit.adjustments, None)
    return entries


def _match(ctx: AuditContext, remit: Remit) -> list[_Matched]:
    if not remit.claims:
        raise _refused(ctx, "The remittance pays no claim (no CLP segment).")
    received_on = min(remit.paid_on, timezone.localdate())
    matched: list[_Matched] = []
    seen: set[int] = set()
    for rc in remit.claims:
        found = CLAIM_NUMBER.match(rc.number)
        claim = (
            Claim.objects.select_related("payer").filter(pk=int(found.group(1))).first() if found is not None else None
        )
        if claim is None:
            raise _refused(ctx, f"The remittance names claim {rc.number!r}, which this clinic did not send.")
        if claim.pk in seen:
            raise _refused(ctx, f"The remittance names claim {claim.number} twice.")
        seen.add(claim.pk)
        state = ClaimState(claim.state)
        try:
            contractual = sum(a.cents for a in rc.all_adjustments if a.group == CONTRACTUAL_GROUP)
            outcome = rules.remittance_outcome(rc.status, rc.charged_cents, rc.paid_cents, contractual)
        except rules.ClaimRuleError as exc:
            raise _refused(ctx, f"Claim {claim.number}: {exc}") from None
        if state is ClaimState.DRAFT:
            raise _refused(ctx, f"Claim {claim.number} is a draft: mark it submitted before posting its payment.")
        if not rules.may_become(state, ClaimState(outcome.value)):
            raise _refused(ctx, f"Claim {claim.number} is {state.label.lower()}: a remittance is not posted to it.")
        lines = list(ClaimLine.objects.filter(claim=claim).select_related("line").order_by("position"))
        entries = _line_entries(rc, claim, lines, received_on)
        if isinstance(entries, str):
            raise _refused(ctx, entries)
        if outcome is rules.Outcome.DENIED:
            # A denial posts no money: its write-downs would close lines the biller may correct and resubmit (a
            # later payment of the replacement would then be over the balance). The codes go on the claim's event;
            # a write-off, if the biller gives up, is theirs to record.
            entries = []
        matched.append(_Matched(rc, claim, outcome, entries))
    return matched


def _reason(m: _Matched, payer_name: str) -> tuple[str, list[str]]:
    codes = list(dict.fromkeys(a.label for a in m.remit.all_adjustments))
    said = ", ".join(codes) or "no reason code"
    if m.outcome is rules.Outcome.DENIED:
        return f"Denied by {payer_name or 'the payer'} (835): {said}.", codes
    return f"Remittance from {payer_name or 'the payer'}: paid {m.remit.paid_cents / 100:.2f}; {said}.", codes


def remittance_post(*, ctx: AuditContext, text: str) -> Posting:
    """Post an 835 whole or not at all (see the module's docstring)."""
    if not may(ctx.user.role, Action.CLAIM_MANAGE) or not may(ctx.user.role, Action.MONEY_RECORD):
        access_event_record(ctx=ctx, action=Action.CLAIM_MANAGE, outcome=Outcome.DENIED, detail={"op": "remittance"})
        raise AccessDenied("Only a biller or the clinic director posts remittances.")
    if not text.strip():
        raise _refused(ctx, "The file is empty: choose the 835 file the payer sent.")
    if len(text) > FILE_MAX_CHARS:
        raise _refused(ctx, f"The file is larger than {FILE_MAX_CHARS:,} characters: ask the payer for it in parts.")
    digest = hashlib.sha256(text.encode()).hexdigest()
    earlier = Remittance.objects.filter(digest=digest).first()
    if earlier is not None:
        access_event_record(
            ctx=ctx, action=Action.CLAIM_MANAGE, detail={"op": "remittance_repeat", "remittance": earlier.pk}
        )
        return Posting(earlier, True, [], 0)
    problems = x12_errors(text)
    if problems:
        shown = "; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
        raise _refused(ctx, f"The 835 is malformed: {shown}", {"errors": problems[:50]})
    try:
        remit = read_835(text)
    except RemittanceUnreadable as exc:
        raise _refused(ctx, str(exc)) from None
    matched = _match(ctx, remit)
    try:
        with transaction.atomic():
            try:
                with transaction.atomic():
                    remittance = Remittance.objects.create(
                        digest=digest,
                        text=text,
                        payer_name=remit.payer_name[:200],
                        trace_number=remit.trace_number[:80],
                        paid_on=remit.paid_on,
                        total_cents=remit.total_cents,
                        received_by=ctx.user,
                    )
            except IntegrityError:
                # The same file, posted by someone else a moment ago.
                return Posting(Remittance.objects.get(digest=digest), True, [], 0)
            entries = money_entries_record(ctx=ctx, entries=[e for m in matched for e in m.entries])
            posted: list[PostedClaim] = []
            for m in matched:
                reason, codes = _reason(m, remit.payer_name)
                claim_service.state_change(
                    ctx,
                    m.claim,
                    ClaimState(m.outcome.value),
                    reason,
                    codes=codes,
                    remittance_id=remittance.pk,
                    paid_cents=m.remit.paid_cents,
                    patient_cents=m.remit.patient_cents,
                )
                if m.remit.payer_claim_number:
                    Claim.objects.filter(pk=m.claim.pk).update(payer_claim_number=m.remit.payer_claim_number[:50])
                posted.append(PostedClaim(m.claim, m.outcome.value, m.remit.paid_cents, m.remit.patient_cents, codes))
            access_event_record(
                ctx=ctx,
                action=Action.CLAIM_MANAGE,
                detail={"op": "remittance", "remittance": remittance.pk, "claims": [m.claim.pk for m in matched]},
            )
    except ValidationError as exc:
        # The ledger refused an entry (e.g. a payment above the line's balance): nothing of the file stays.
        messages = (
            "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            if hasattr(exc, "error_dict")
            else "; ".join(exc.messages)
        )
        raise _refused(ctx, f"The ledger refused a posting, so nothing was posted: {messages}") from None
    return Posting(remittance, False, posted, len(entries))


def remittances(*, ctx: AuditContext) -> QuerySet[Remittance]:
    if not may(ctx.user.role, Action.CLAIM_VIEW):
        access_event_record(ctx=ctx, action=Action.CLAIM_VIEW, outcome=Outcome.DENIED, detail={"op": "remittances"})
        raise AccessDenied("Your role does not see remittances.")
    return Remittance.objects.all()


def remittance_read(*, ctx: AuditContext, remittance_id: int) -> Remittance:
    found = remittances(ctx=ctx).filter(pk=remittance_id).first()
    if found is None:
        access_event_record(
            ctx=ctx, action=Action.CLAIM_VIEW, outcome=Outcome.NOT_FOUND, detail={"remittance": remittance_id}
        )
        raise NotFound("No such remittance.")
    patients = sorted(set(Claim.objects.filter(events__remittance=found).values_list("patient_id", flat=True)))
    for patient_id in patients:
        access_event_record(ctx=ctx, action=Action.CLAIM_VIEW, patient_id=patient_id, detail={"remittance": found.pk})
    return found
