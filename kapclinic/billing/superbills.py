"""What a superbill and a statement print: read once, checked and audited (the patient: their own).

A superbill (issue 18 item 4) is what a patient sends their insurer for out-of-network reimbursement: the practice
and each rendering provider with NPI and taxonomy, the tax id, the patient and the subscriber, each date and place
of service, the CPT/HCPCS codes with modifiers and units, the ICD-10-CM diagnoses (with pointers), the charges and
what was paid. It lists the approved lines (not corrected) of the period and the entries applied to them.

The practice comes from settings (KAPCLINIC_BILLING_*, as the 837P's billing provider); a provider's NPI is the
licence number of their account when it is an NPI (as the claim takes it), their taxonomy the default for their
licence type (kapclinic/clinical/superbill.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.services import access_event_record
from kapclinic.billing import balances
from kapclinic.billing.models import ChargeLine, Coverage, CoverageRank, MoneyEntry, MoneyKind
from kapclinic.clinical import superbill as rules
from kapclinic.patients.access import PatientAccess, patient_get_for_user
from kapclinic.patients.models import Patient
from kapclinic.roles import Action

PERIOD_MAX_DAYS = 366  # a year and a day: a superbill is per visit or per period, not a lifetime


@dataclass(frozen=True)
class Practice:
    name: str
    npi: str
    tax_id: str
    taxonomy: str
    street: str
    city: str
    state: str
    zip_code: str
    phone: str

    @property
    def tax_id_shown(self) -> str:
        """An EIN as 12-3456789."""
        digits = self.tax_id
        return f"{digits[:2]}-{digits[2:]}" if len(digits) == 9 and digits.isdigit() else digits

    @property
    def zip_shown(self) -> str:
        z = self.zip_code
        return f"{z[:5]}-{z[5:]}" if len(z) == 9 and z.isdigit() else z

    @property
    def phone_shown(self) -> str:
        p = self.phone
        return f"({p[:3]}) {p[3:6]}-{p[6:]}" if len(p) == 10 and p.isdigit() else p


def practice() -> Practice:
    return Practice(
        name=settings.KAPCLINIC_BILLING_NAME or settings.KAPCLINIC_CLINIC_NAME,
        npi=settings.KAPCLINIC_BILLING_NPI,
        tax_id=settings.KAPCLINIC_BILLING_TAX_ID,
        taxonomy=settings.KAPCLINIC_BILLING_TAXONOMY,
        street=settings.KAPCLINIC_BILLING_STREET,
        city=settings.KAPCLINIC_BILLING_CITY,
        state=settings.KAPCLINIC_BILLING_STATE,
        zip_code=settings.KAPCLINIC_BILLING_ZIP,
        phone=settings.KAPCLINIC_BILLING_PHONE,
    )


@dataclass(frozen=True)
class Provider:
    name: str
    credential: str
    npi: str  # "" when none is on file
    taxonomy: str


def provider_of(user: User) -> Provider:
    number = user.licence_number.strip()
    return Provider(
        name=user.display_name,
        credential=user.licence_type,
        npi=number if rules.npi_valid(number) else "",
        taxonomy=rules.taxonomy_for_licence(user.licence_type),
    )


@dataclass(frozen=True)
class Row:
    line: ChargeLine
    provider: Provider
    place: str
    pointers: str
    paid_cents: int  # payments, adjustments and write-offs on the line, less refunds
    balance_cents: int


@dataclass(frozen=True)
class Superbill:
    access: PatientAccess
    patient: Patient
    practice: Practice
    coverage: Coverage | None  # the primary coverage in force on the last day of service
    first: date
    last: date
    rows: list[Row]
    diagnoses: list[str]
    providers: list[Provider]
    payments: list[MoneyEntry]  # the entries on these lines, and payments not on any line, in the period
    charged_cents: int
    paid_cents: int
    balance_cents: int  # what these lines still owe
    account_balance_cents: int  # the whole account's balance

    @property
    def lettered_diagnoses(self) -> list[tuple[str, str]]:
        """(A, F33.2), (B, ...): the letters the pointers use."""
        return [(chr(ord("A") + i), code) for i, code in enumerate(self.diagnoses)]


def period_check(first: date | None, last: date | None) -> tuple[date, date]:
    """Both days given, in order, at most PERIOD_MAX_DAYS apart; a ValidationError says what is wrong."""
    if first is None or last is None:
        raise ValidationError({"from": "Give the first and the last day of the period (YYYY-MM-DD)."})
    if last < first:
        raise ValidationError({"to": "The last day of the period cannot be before the first."})
    if (last - first).days > PERIOD_MAX_DAYS:
        raise ValidationError({"to": "A superbill covers at most a year: choose a shorter period."})
    return first, last


def superbill(*, ctx: AuditContext, patient_id: int, first: date | None, last: date | None) -> Superbill:
    """The superbill of the patient's approved lines from `first` through `last` (both days), checked (money.view;
    the patient: their own) and audited with the period and the lines."""
    access = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.MONEY_VIEW, record_allowed=False)
    start, end = period_check(first, last)
    lines = list(
        balances.billed_lines(patient_id)
        .filter(date_of_service__gte=start, date_of_service__lte=end)
        .select_related("rendering_provider")
        .order_by("date_of_service", "id")
    )
    diagnoses = rules.diagnoses_in_order(line.diagnoses for line in lines)
    per_line = balances.line_balances(patient_id)
    providers: dict[int, Provider] = {}
    rows: list[Row] = []
    for line in lines:
        provider = providers.setdefault(line.rendering_provider_id, provider_of(line.rendering_provider))
        item = per_line[line.pk]
        rows.append(
            Row(
                line=line,
                provider=provider,
                place=rules.place_of_service_words(line.place_of_service),
                pointers=rules.pointers(line.diagnoses, diagnoses),
                paid_cents=item.charged_cents - item.balance_cents,
                balance_cents=item.balance_cents,
            )
        )
    entries = list(
        balances.counted_entries(patient_id)
        .filter(line__in=lines)
        .select_related("payer")
        .order_by("received_on", "id")
    ) + list(
        balances.counted_entries(patient_id)
        .filter(line__isnull=True, purchase__isnull=True, kind=MoneyKind.PAYMENT)
        .filter(received_on__gte=start, received_on__lte=end)
        .select_related("payer")
        .order_by("received_on", "id")
    )
    coverage = _primary_coverage(patient_id, lines[-1].date_of_service if lines else end)
    access_event_record(
        ctx=ctx,
        action=Action.MONEY_VIEW,
        patient_id=patient_id,
        emergency=access.emergency,
        detail={"superbill": [start.isoformat(), end.isoformat()], "lines": [line.pk for line in lines]},
    )
    charged = sum(row.line.amount_cents or 0 for row in rows)
    owed = sum(row.balance_cents for row in rows)
    return Superbill(
        access=access,
        patient=access.patient,
        practice=practice(),
        coverage=coverage,
        first=start,
        last=end,
        rows=rows,
        diagnoses=diagnoses,
        providers=list(providers.values()),
        payments=entries,
        charged_cents=charged,
        paid_cents=charged - owed,
        balance_cents=owed,
        account_balance_cents=balances.balance_of(patient_id).balance_cents,
    )


def _primary_coverage(patient_id: int, day: date) -> Coverage | None:
    found = Coverage.objects.filter(patient_id=patient_id, rank=CoverageRank.PRIMARY).select_related("payer")
    return next((c for c in found if c.in_force(day)), None)
