"""The controlled-substance ledger: products, lots, storage locations and append-only entries."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from kapclinic.clinical.ledger import SIGN, EntryKind


class ClinicRegistration(models.Model):
    """The registrant's DEA registration (21 CFR 1301.12: one per place where stock is kept)."""

    registrant_name = models.CharField(max_length=200)
    dea_number = models.CharField("DEA number", max_length=9)
    address = models.TextField()
    schedules = models.CharField(max_length=40, default="3N")
    expires_on = models.DateField()
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.registrant_name} ({self.dea_number})"


class StorageLocation(models.Model):
    name = models.CharField(max_length=80, unique=True)
    description = models.CharField(max_length=200, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ProductUnit(models.TextChoices):
    ML = "mL", "mL of solution"
    DEVICE = "device", "nasal-spray device"
    TROCHE = "troche", "troche / lozenge"


class Product(models.Model):
    """A controlled product as it comes from the supplier (21 CFR 1304.22(a)(2): name, form, strength, size)."""

    name = models.CharField(max_length=120, help_text="e.g. Ketamine HCl injection")
    form = models.CharField(max_length=60, help_text="e.g. multi-dose vial")
    mg_per_unit = models.DecimalField("mg per unit", max_digits=9, decimal_places=3)
    unit = models.CharField(max_length=8, choices=ProductUnit.choices)
    units_per_container = models.DecimalField(max_digits=9, decimal_places=3, help_text="e.g. 10 (mL per vial)")
    ndc = models.CharField("NDC", max_length=14, blank=True)
    schedule = models.CharField(max_length=4, default="III")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name", "mg_per_unit"]
        constraints = [
            models.CheckConstraint(name="product_strength_positive", condition=Q(mg_per_unit__gt=0)),
            models.CheckConstraint(name="product_container_positive", condition=Q(units_per_container__gt=0)),
            models.CheckConstraint(name="product_unit_known", condition=Q(unit__in=ProductUnit.values)),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.mg_per_unit.normalize():f} mg/{self.unit} ({self.form})"


class Lot(models.Model):
    """A received lot: the supplier's invoice is the Schedule III receipt record (21 CFR 1304.22(c))."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="lots")
    lot_number = models.CharField(max_length=40)
    expires_on = models.DateField()
    supplier_name = models.CharField(max_length=120)
    supplier_address = models.CharField(max_length=200, blank=True)
    supplier_dea_number = models.CharField(max_length=9, blank=True)
    invoice_reference = models.CharField(max_length=60)
    received_on = models.DateField()
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["expires_on", "lot_number"]
        constraints = [models.UniqueConstraint(fields=["product", "lot_number"], name="lot_number_once_per_product")]

    def __str__(self) -> str:
        return f"{self.product.name} lot {self.lot_number} (exp {self.expires_on:%Y-%m-%d})"


def _sign_condition() -> Q:
    """Schema rule: entries that only ever add are positive, those that only take away are negative."""
    ins = [k.value for k, s in SIGN.items() if s > 0]
    outs = [k.value for k, s in SIGN.items() if s < 0]
    either = [k.value for k, s in SIGN.items() if s == 0]
    return (
        Q(kind__in=ins, quantity_mg__gt=0)
        | Q(kind__in=outs, quantity_mg__lt=0)
        | (Q(kind__in=either) & ~Q(quantity_mg=0))
    )


class LedgerEntry(models.Model):
    """One movement of stock at one location. Append-only (trigger in migration 0002).

    `quantity_mg` is signed (in > 0, out < 0) and `balance_after_mg` is the lot's balance at
    this location after the entry, so every balance can be read from one row and re-derived
    by summing.
    """

    kind = models.CharField(max_length=20, choices=[(k.value, k.label) for k in EntryKind])
    # Indexed first in ledger_lot_location_latest (below), which serves the foreign key too.
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="entries", db_index=False)
    location = models.ForeignKey(StorageLocation, on_delete=models.PROTECT, related_name="entries")
    quantity_mg = models.DecimalField(max_digits=12, decimal_places=3)
    units = models.DecimalField(max_digits=12, decimal_places=3, help_text="signed, in the product's unit")
    balance_after_mg = models.DecimalField(max_digits=12, decimal_places=3)
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    witness = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    patient = models.ForeignKey(
        "patients.Patient", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    reason = models.TextField(blank=True)
    reference = models.CharField(max_length=80, blank=True, help_text="invoice, DEA Form 106/41, return record")
    corrects = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="corrections")
    count_line = models.ForeignKey(
        "CountLine", null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="for an adjustment"
    )
    counterpart = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="the other leg of a transfer",
    )
    # Hash chain (kapclinic/hashchain.py): written once by kapclinic/audit/chain.py, checked by verify_ledger.
    previous_hash = models.CharField(max_length=64, editable=False)
    row_hash = models.CharField(max_length=64, editable=False)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["lot", "location", "-id"], name="ledger_lot_location_latest")]
        constraints = [
            models.CheckConstraint(name="ledger_balance_not_negative", condition=Q(balance_after_mg__gte=0)),
            models.CheckConstraint(name="ledger_sign_matches_kind", condition=_sign_condition()),
            models.CheckConstraint(name="ledger_kind_known", condition=Q(kind__in=[k.value for k in EntryKind])),
            models.CheckConstraint(
                name="ledger_witness_not_actor", condition=Q(witness__isnull=True) | ~Q(witness=F("actor"))
            ),
            models.CheckConstraint(
                name="ledger_adjustment_only_through_a_count",
                condition=~Q(kind=EntryKind.COUNT_ADJUSTMENT) | Q(count_line__isnull=False),
            ),
            models.CheckConstraint(
                name="ledger_correction_points_back",
                condition=~Q(kind=EntryKind.CORRECTION) | Q(corrects__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.quantity_mg} mg lot {self.lot_id} at {self.location_id}"


class CountKind(models.TextChoices):
    INITIAL = "initial", "Initial inventory"
    SHIFT = "shift", "Shift count"
    DAILY = "daily", "Daily count"
    BIENNIAL = "biennial", "Biennial inventory"


class BusinessTime(models.TextChoices):
    # 21 CFR 1304.11(a): an inventory states whether it was taken at the opening or close of business.
    OPENING = "opening", "Opening of business"
    CLOSE = "close", "Close of business"
    DURING = "during", "During the day (shift change)"


class InventoryCount(models.Model):
    """A physical count at one location, entered blind and witnessed, then compared with the ledger."""

    kind = models.CharField(max_length=10, choices=CountKind.choices)
    business_time = models.CharField(max_length=8, choices=BusinessTime.choices)
    location = models.ForeignKey(StorageLocation, on_delete=models.PROTECT, related_name="counts")
    counted_at = models.DateTimeField(default=timezone.now)
    counted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    witness = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-counted_at", "-id"]
        constraints = [
            models.CheckConstraint(name="count_witness_not_counter", condition=~Q(witness=F("counted_by"))),
            models.CheckConstraint(name="count_kind_known", condition=Q(kind__in=CountKind.values)),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.location_id} on {self.counted_at:%Y-%m-%d}"


class CountLine(models.Model):
    """What was counted of one lot, and what the ledger said at that moment (kept for the record)."""

    count = models.ForeignKey(InventoryCount, on_delete=models.PROTECT, related_name="lines")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="+")
    counted_mg = models.DecimalField(max_digits=12, decimal_places=3)
    expected_mg = models.DecimalField(max_digits=12, decimal_places=3)

    class Meta:
        ordering = ["count", "lot"]
        constraints = [
            models.UniqueConstraint(fields=["count", "lot"], name="count_line_once_per_lot"),
            models.CheckConstraint(name="count_line_not_negative", condition=Q(counted_mg__gte=0, expected_mg__gte=0)),
        ]

    def __str__(self) -> str:
        return f"count {self.count_id} lot {self.lot_id}: {self.counted_mg} mg counted, {self.expected_mg} expected"

    @property
    def difference_mg(self) -> object:
        return self.counted_mg - self.expected_mg


class Investigation(models.Model):
    """A count discrepancy; it stays on the director's dashboard until resolved."""

    line = models.OneToOneField(CountLine, on_delete=models.PROTECT, related_name="investigation")
    opened_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolution = models.TextField(blank=True)
    adjustment = models.OneToOneField(
        "LedgerEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="investigation"
    )

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.CheckConstraint(
                name="investigation_resolved_with_reason",
                condition=Q(resolved_at__isnull=True) | ~Q(resolution=""),
            )
        ]

    def __str__(self) -> str:
        return f"investigation of count line {self.line_id} ({'resolved' if self.resolved_at else 'open'})"


class LossReportKind(models.TextChoices):
    # 21 CFR 1301.76(b): written notice within one business day of discovery; DEA Form 106 within 45 days
    # (88 FR 40707). The clocks are in kapclinic/clinical/ledger.py.
    WRITTEN_NOTICE = "written_notice", "Written notice to the DEA Field Division Office"
    FORM_106 = "form_106", "DEA Form 106 submitted"


class LossReport(models.Model):
    """A filing that a theft or significant loss requires, once of each kind per loss entry. Append-only."""

    loss = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, related_name="loss_reports")
    kind = models.CharField(max_length=16, choices=LossReportKind.choices)
    filed_on = models.DateField()
    reference = models.CharField(max_length=80, blank=True, help_text="e.g. the Form 106 confirmation number")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["loss", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["loss", "kind"], name="loss_report_once_per_kind"),
            models.CheckConstraint(name="loss_report_kind_known", condition=Q(kind__in=LossReportKind.values)),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for loss entry {self.loss_id} filed {self.filed_on}"
