"""Paying for care (issue 18): payers, a patient's coverages, the clinic's fee schedule, and charge lines proposed
from signed records with the biller's review of each.

A charge line is what a claim line will say (date and place of service, rendering provider, code, modifiers,
units, diagnosis pointers, NDC, amount in integer cents) and the recorded fact that justifies it. Lines and
reviews are append-only (database triggers, kapclinic/dbtriggers.py): a line is never edited; a correction is a
new line pointing at the one it corrects, reviewed again. Which codes a record supports is decided by the pure
rules in kapclinic/clinical/billing.py.
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from kapclinic.clinical.billing import EsketamineScheme

NAME_MAX = 120
REASON_MAX = 1000


class Payer(models.Model):
    """An insurer the clinic bills or gives superbills for."""

    name = models.CharField(max_length=NAME_MAX, unique=True)
    # The payer's electronic id (X12 NM109 of the payer loop), as the clearinghouse lists it.
    payer_id = models.CharField("payer id", max_length=80, blank=True)
    in_network = models.BooleanField("in network for this clinic", default=False)
    esketamine_scheme = models.CharField(
        "how it pays a Spravato session",
        max_length=12,
        choices=[
            (EsketamineScheme.VISIT_CODE.value, "G2082/G2083 visit code (drug and observation included)"),
            (EsketamineScheme.DRUG_PER_MG.value, "Drug per mg (J0013) beside a visit"),
        ],
        default=EsketamineScheme.VISIT_CODE.value,
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CoverageRank(models.TextChoices):
    PRIMARY = "primary", "Primary"
    SECONDARY = "secondary", "Secondary"


class Relationship(models.TextChoices):
    """The patient's relationship to the subscriber (X12 individual relationship, in words)."""

    SELF = "self", "Self"
    SPOUSE = "spouse", "Spouse"
    CHILD = "child", "Child"
    OTHER = "other", "Other"


class Coverage(models.Model):
    """One coverage of a patient: a payer's plan (primary or secondary), or self-pay (no payer). A coverage is in
    force from `effective_from` through `effective_to` (open when blank); ending it sets `effective_to`."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="coverages")
    payer = models.ForeignKey(Payer, null=True, blank=True, on_delete=models.PROTECT, related_name="coverages")
    self_pay = models.BooleanField(default=False)
    rank = models.CharField(max_length=10, choices=CoverageRank.choices, default=CoverageRank.PRIMARY)
    member_id = models.CharField("member id", max_length=80, blank=True)
    group_number = models.CharField("group number", max_length=80, blank=True)
    subscriber_name = models.CharField("subscriber", max_length=200, blank=True)
    subscriber_birth_date = models.DateField("subscriber's date of birth", null=True, blank=True)
    relationship = models.CharField(
        "patient's relationship to the subscriber", max_length=8, choices=Relationship.choices, default="self"
    )
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["rank", "-effective_from", "-id"]
        constraints = [
            models.CheckConstraint(
                name="coverage_payer_or_self_pay",
                condition=Q(self_pay=True, payer__isnull=True) | Q(self_pay=False, payer__isnull=False),
            ),
            models.CheckConstraint(
                name="coverage_dates_in_order",
                condition=Q(effective_to__isnull=True) | Q(effective_to__gte=models.F("effective_from")),
            ),
        ]

    def __str__(self) -> str:
        return f"{'self-pay' if self.self_pay else self.payer_id} coverage of patient {self.patient_id}"

    def in_force(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)


class FeeScheduleEntry(models.Model):
    """The clinic's price for one unit of a code from a date. A new price closes the one before it (the day before
    the new one starts); prices are never rewritten."""

    code = models.CharField(max_length=5)
    price_cents = models.PositiveIntegerField("price per unit (cents)")
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["code", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["code", "effective_from"], name="fee_one_price_per_code_and_day"),
            models.CheckConstraint(
                name="fee_dates_in_order",
                condition=Q(effective_to__isnull=True) | Q(effective_to__gte=models.F("effective_from")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.price_cents} cents from {self.effective_from}"


class SourceKind(models.TextChoices):
    """The signed record a line comes from."""

    THERAPY_NOTE = "therapy_note", "Therapy note"
    DOSING_SESSION = "dosing_session", "Dosing session"
    EVALUATION = "evaluation", "Eligibility evaluation"  # the signed decision holding the E/M level


class ChargeLine(models.Model):
    """One proposed charge line and the fact that justifies it. Append-only; its review is a separate row."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="charge_lines")
    source_kind = models.CharField(max_length=16, choices=SourceKind.choices)
    source_id = models.PositiveBigIntegerField()
    date_of_service = models.DateField(db_index=True)
    place_of_service = models.CharField(max_length=2)
    rendering_provider = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    code = models.CharField(max_length=5)
    modifiers = models.JSONField(default=list)  # up to four two-character modifiers, in order
    units = models.PositiveIntegerField()
    # ICD-10-CM codes, in pointer order (the claim's diagnosis pointers A, B, ... point into this list).
    diagnoses = models.JSONField(default=list)
    ndc = models.CharField("NDC", max_length=14, blank=True)
    ndc_quantity = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    ndc_unit = models.CharField(max_length=2, blank=True)
    amount_cents = models.PositiveIntegerField(null=True, blank=True)  # units x the fee on the date; None: no fee
    justification = models.TextField()
    caveats = models.JSONField(default=list)
    rules_version = models.CharField(max_length=20)
    corrects = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="correction")
    correction_reason = models.CharField(max_length=REASON_MAX, blank=True)
    proposed_at = models.DateTimeField(default=timezone.now)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-date_of_service", "-id"]
        indexes = [models.Index(fields=["source_kind", "source_id"], name="charge_source")]
        constraints = [
            # One proposal per record and code: proposing again adds nothing (a correction is not a proposal).
            models.UniqueConstraint(
                fields=["source_kind", "source_id", "code"],
                condition=Q(corrects__isnull=True),
                name="charge_proposed_once",
            ),
            models.CheckConstraint(name="charge_units_positive", condition=Q(units__gte=1)),
            models.CheckConstraint(
                name="charge_correction_has_reason", condition=Q(corrects__isnull=True) | ~Q(correction_reason="")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} x {self.units} on {self.date_of_service} for patient {self.patient_id}"


class Decision(models.TextChoices):
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class ChargeReview(models.Model):
    """The biller's decision on one line: approved, or rejected with a reason. Once; append-only."""

    line = models.OneToOneField(ChargeLine, on_delete=models.PROTECT, related_name="review")
    decision = models.CharField(max_length=8, choices=Decision.choices)
    reason = models.CharField(max_length=REASON_MAX, blank=True)
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="charge_rejection_has_reason", condition=Q(decision="approved") | ~Q(reason="")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.decision} line {self.line_id}"


# --- money: self-pay packages and the money ledger --------------------------------------------------------------


class SelfPayPackage(models.Model):
    """A self-pay course the clinic sells at one price, e.g. six ketamine sessions each with an integration
    session. Offered from `effective_from` through `effective_to` (open when blank); a new price is a new
    package, so what a patient bought keeps the terms they bought."""

    name = models.CharField(max_length=NAME_MAX)
    description = models.CharField("what it includes", max_length=REASON_MAX, blank=True)
    sessions = models.PositiveSmallIntegerField("dosing sessions included")
    price_cents = models.PositiveIntegerField("price (cents)")
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["name", "-effective_from"]
        constraints = [
            models.CheckConstraint(name="package_sessions_positive", condition=Q(sessions__gte=1)),
            models.CheckConstraint(
                name="package_dates_in_order",
                condition=Q(effective_to__isnull=True) | Q(effective_to__gte=models.F("effective_from")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sessions} sessions, {self.price_cents} cents)"

    def offered(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)


class PackagePurchase(models.Model):
    """A patient's purchase of a package: what they owe for it (the price on the day, copied), paid up front or in
    parts through the money ledger. Its sessions count down as the patient's dosing sessions from `bought_on`
    are signed. Append-only: a purchase made in error is refunded, never removed."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="package_purchases")
    package = models.ForeignKey(SelfPayPackage, on_delete=models.PROTECT, related_name="purchases")
    bought_on = models.DateField()
    sessions = models.PositiveSmallIntegerField()
    price_cents = models.PositiveIntegerField()
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-bought_on", "-id"]

    def __str__(self) -> str:
        return f"{self.package_id} bought by patient {self.patient_id} on {self.bought_on}"


class MoneyKind(models.TextChoices):
    """What a money entry does to the balance: a payment, an adjustment and a write-off lower it; a refund (money
    given back) raises it."""

    PAYMENT = "payment", "Payment"
    REFUND = "refund", "Refund"
    WRITE_OFF = "write_off", "Write-off"
    ADJUSTMENT = "adjustment", "Insurance adjustment"


class PaymentMethod(models.TextChoices):
    CARD = "card", "Card"
    CASH = "cash", "Cash"
    CHECK = "check", "Check"
    INSURANCE = "insurance", "Insurance"


class AdjustmentGroup(models.TextChoices):
    """X12 claim adjustment group codes (CAS01), as an 835 remittance gives them."""

    CONTRACTUAL = "CO", "CO: contractual obligation"
    PATIENT = "PR", "PR: patient responsibility"
    OTHER = "OA", "OA: other adjustment"
    PAYER_INITIATED = "PI", "PI: payer-initiated reduction"
    CORRECTION = "CR", "CR: correction and reversal"


class MoneyEntry(models.Model):
    """One movement of money on a patient's account, in integer cents (always positive; the kind says which way).

    Append-only (database trigger): an entry is never edited; a correction is a new entry with `corrects`
    pointing at the one it replaces, which then no longer counts (a correction of 0 cents voids it)."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="money_entries")
    kind = models.CharField(max_length=10, choices=MoneyKind.choices)
    amount_cents = models.PositiveIntegerField()
    # Payments and refunds: how the money moved, and its reference (card terminal reference, check number).
    method = models.CharField(max_length=10, choices=PaymentMethod.choices, blank=True)
    reference = models.CharField(max_length=80, blank=True)
    # Insurance payments and adjustments: the payer and its claim reference (e.g. the 835's CLP01/CLP07).
    payer = models.ForeignKey(Payer, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    claim_reference = models.CharField(max_length=80, blank=True)
    adjustment_group = models.CharField(max_length=2, choices=AdjustmentGroup.choices, blank=True)
    adjustment_reason = models.CharField("adjustment reason code", max_length=5, blank=True)  # CARC, e.g. 45
    reason = models.CharField(max_length=REASON_MAX, blank=True)  # a write-off's or a correction's reason
    line = models.ForeignKey(ChargeLine, null=True, blank=True, on_delete=models.PROTECT, related_name="money")
    purchase = models.ForeignKey(PackagePurchase, null=True, blank=True, on_delete=models.PROTECT, related_name="money")
    # Chosen when a payment is more than the balance: the rest stays on the account as the patient's credit.
    keep_as_credit = models.BooleanField(default=False)
    received_on = models.DateField("date")  # the day the money moved (the check's or the remittance's date)
    corrects = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="correction")
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-received_on", "-id"]
        indexes = [models.Index(fields=["patient", "received_on"], name="money_patient_day")]
        constraints = [
            models.CheckConstraint(
                name="money_positive_unless_void", condition=Q(amount_cents__gte=1) | Q(corrects__isnull=False)
            ),
            models.CheckConstraint(
                name="money_method_of_payments",
                condition=Q(kind__in=["payment", "refund"], method__in=["card", "cash", "check", "insurance"])
                | (~Q(kind__in=["payment", "refund"]) & Q(method="")),
            ),
            models.CheckConstraint(name="money_write_off_reason", condition=~Q(kind="write_off") | ~Q(reason="")),
            models.CheckConstraint(
                name="money_adjustment_codes",
                condition=~Q(kind="adjustment") | (~Q(adjustment_group="") & ~Q(adjustment_reason="")),
            ),
            models.CheckConstraint(
                name="money_line_or_purchase", condition=Q(line__isnull=True) | Q(purchase__isnull=True)
            ),
            models.CheckConstraint(name="money_correction_reason", condition=Q(corrects__isnull=True) | ~Q(reason="")),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount_cents} cents for patient {self.patient_id}"

    @property
    def signed_cents(self) -> int:
        """The entry's effect on the balance: a refund adds, everything else takes away."""
        return self.amount_cents if self.kind == MoneyKind.REFUND else -self.amount_cents


# --- prior authorisations (issue 18 item 7) -------------------------------------------------------------------


class AuthorisedFor(models.TextChoices):
    """What a prior authorisation covers: a drug's sessions, or a code."""

    ESKETAMINE = "esketamine", "Esketamine (Spravato) sessions"
    IV_KETAMINE = "iv_ketamine", "IV ketamine infusions"
    CODE = "code", "A billing code"


class PriorAuthorisation(models.Model):
    """A payer's prior authorisation for a patient (issue 18 item 7): its number, what it covers, how many sessions
    or units it approves, and the days it is in force. Recorded by the biller or the coordinator as the payer's
    letter says; never edited (a changed authorisation is a new one, pointing at the one it replaces)."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="prior_authorisations")
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, related_name="prior_authorisations")
    covers = models.CharField(max_length=12, choices=AuthorisedFor.choices)
    code = models.CharField(max_length=5, blank=True)  # the code covered, when `covers` is a code
    number = models.CharField("authorisation number", max_length=50)
    approved_units = models.PositiveIntegerField("approved sessions or units")
    effective_from = models.DateField("from")
    effective_to = models.DateField("through")
    note = models.CharField(max_length=REASON_MAX, blank=True)
    replaces = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by")
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-effective_to", "-id"]
        indexes = [models.Index(fields=["effective_to"], name="prior_auth_ends")]
        constraints = [
            models.CheckConstraint(
                name="prior_auth_dates_in_order", condition=Q(effective_to__gte=models.F("effective_from"))
            ),
            models.CheckConstraint(name="prior_auth_units_positive", condition=Q(approved_units__gte=1)),
            models.CheckConstraint(
                name="prior_auth_code_when_code", condition=(Q(covers="code") & ~Q(code="")) | ~Q(covers="code")
            ),
        ]

    def __str__(self) -> str:
        return f"prior authorisation {self.number} for patient {self.patient_id}"


class AuthorisationGoOn(models.Model):
    """A dosing session scheduled despite a prior-authorisation warning: who went on, when, and why (the house's
    override pattern). Append-only."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    session = models.ForeignKey("dosing.DosingSession", on_delete=models.PROTECT, related_name="+")
    authorisation = models.ForeignKey(
        PriorAuthorisation, null=True, blank=True, on_delete=models.PROTECT, related_name="went_on"
    )
    warning = models.TextField()
    reason = models.CharField(max_length=REASON_MAX)
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [models.CheckConstraint(name="authorisation_go_on_has_reason", condition=~Q(reason=""))]

    def __str__(self) -> str:
        return f"went on despite a prior authorisation warning for session {self.session_id}"


# --- claims and remittances (issue 18 item 5) ----------------------------------------------------------------


class Claim(models.Model):
    """A professional claim (the CMS-1500's content, sent as an 837P) for one patient's approved lines under one
    coverage, one rendering provider. Its state is the last of its events (`ClaimEvent`, append-only); the column
    is kept with each event, in the same transaction, so lists filter on it. A replacement (frequency 7) points at
    the claim it replaces, which becomes "resubmitted" and hands its lines over."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="claims")
    coverage = models.ForeignKey(Coverage, on_delete=models.PROTECT, related_name="claims")
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, related_name="claims")
    rendering_provider = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=12, default="draft", db_index=True)
    # ICD-10-CM codes in pointer order (HI: A is the principal diagnosis); lines point into this list.
    diagnoses = models.JSONField(default=list)
    place_of_service = models.CharField(max_length=2)
    total_cents = models.PositiveIntegerField()
    replaces = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="replacement")
    # The payer's claim control number (835 CLP07), which a replacement names in REF*F8.
    payer_claim_number = models.CharField(max_length=50, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"claim {self.pk} ({self.state}) for patient {self.patient_id}"

    @property
    def number(self) -> str:
        """The claim id sent in CLM01 and returned by the payer in the 835's CLP01."""
        return f"KC{self.pk}"

    @property
    def frequency_code(self) -> str:
        return "7" if self.replaces_id is not None else "1"

    @property
    def state_label(self) -> str:
        return self.state.replace("_", " ").capitalize()


class ClaimLine(models.Model):
    """A charge line on a claim, in claim order, with its diagnosis pointers. A charge line is on one open claim
    at most: the partial unique index holds it in the database; a replaced claim releases its lines (`released`)
    in the transaction that hands them to its replacement."""

    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="lines")
    line = models.ForeignKey(ChargeLine, on_delete=models.PROTECT, related_name="claim_lines")
    position = models.PositiveSmallIntegerField()
    pointers = models.JSONField(default=list)  # 1-based indexes into claim.diagnoses, up to four
    amount_cents = models.PositiveIntegerField()
    released = models.BooleanField(default=False)

    class Meta:
        ordering = ["claim", "position"]
        constraints = [
            models.UniqueConstraint(fields=["line"], condition=Q(released=False), name="claim_line_on_one_open_claim"),
            models.UniqueConstraint(fields=["claim", "position"], name="claim_line_position_once"),
        ]

    def __str__(self) -> str:
        return f"line {self.line_id} on claim {self.claim_id}"


class ClaimEvent(models.Model):
    """A change of a claim's state: who, when, why (a denial's reason codes from the remittance, or the biller's
    words). Append-only (database trigger)."""

    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="events")
    state = models.CharField(max_length=12)
    reason = models.CharField(max_length=REASON_MAX, blank=True)
    # Reason codes (CAS group-reason, e.g. "CO-50") when a remittance said them.
    codes = models.JSONField(default=list)
    paid_cents = models.PositiveIntegerField(null=True, blank=True)  # what the remittance paid on the claim
    patient_cents = models.PositiveIntegerField(null=True, blank=True)  # what it left to the patient (PR)
    remittance = models.ForeignKey(
        "Remittance", null=True, blank=True, on_delete=models.PROTECT, related_name="claim_events"
    )
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(name="claim_denial_has_reason", condition=~Q(state="denied") | ~Q(reason="")),
        ]

    def __str__(self) -> str:
        return f"claim {self.claim_id} {self.state}"

    @property
    def state_label(self) -> str:
        return self.state.replace("_", " ").capitalize()


class Remittance(models.Model):
    """An 835 file as received, posted whole or not at all. The digest of its text is unique: the same file posted
    twice is recognised and posts nothing the second time. Append-only."""

    digest = models.CharField(max_length=64, unique=True)  # sha256 of the file's text
    text = models.TextField()
    payer_name = models.CharField(max_length=200)
    trace_number = models.CharField(max_length=80)  # TRN02: the check or EFT number
    paid_on = models.DateField()  # BPR16
    total_cents = models.BigIntegerField()  # BPR02
    received_at = models.DateTimeField(default=timezone.now)
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"remittance {self.trace_number} of {self.paid_on}"
