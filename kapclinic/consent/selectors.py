"""Reads of consent that pages, the API and the scheduling rules share; each has a fixed number of queries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record
from kapclinic.clinical.wording import day_text
from kapclinic.consent.models import ConsentSignature, ConsentVersion, ConsentWithdrawal, ConsentWitness
from kapclinic.errors import NotFound
from kapclinic.patients.access import PatientAccess, patient_get_for_user
from kapclinic.prepared import prepared_rows
from kapclinic.roles import Action


def consent_document() -> str:
    """Return the slug of the consent every patient signs before dosing (setting KAPCLINIC_CONSENT_DOCUMENT)."""
    return str(settings.KAPCLINIC_CONSENT_DOCUMENT)


class ConsentState(StrEnum):
    CURRENT = "current"
    NONE = "none"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


@dataclass(frozen=True)
class ConsentStatus:
    """Where a patient stands on the current consent document on a given day, and why."""

    state: ConsentState
    # The patient's latest signature on the document on that day (in force or not); None if never signed.
    signature: ConsentSignature | None
    expires_on: date | None
    message: str

    @property
    def current(self) -> ConsentSignature | None:
        return self.signature if self.state is ConsentState.CURRENT else None


def _local_date(moment: datetime) -> date:
    return timezone.localdate(moment)


def withdrawal_of(signature: ConsentSignature) -> ConsentWithdrawal | None:
    """Return the signature's withdrawal, if any (no query when it was selected with the signature)."""
    try:
        return signature.withdrawal
    except ConsentWithdrawal.DoesNotExist:
        return None


def consent_status_of(
    signatures: Iterable[ConsentSignature], *, on: date | None = None, document: str | None = None
) -> ConsentStatus:
    """Return the consent status from the patient's signatures (newest first, with version and withdrawal loaded).

    Only the latest signature on the document counts: a withdrawal is never undone by an older signature, and a
    signature of an earlier version still holds (a new version never changes what was signed).
    """
    day = on or timezone.localdate()
    document = document or consent_document()
    latest = next(
        (s for s in signatures if s.version.document == document and _local_date(s.signed_at) <= day),
        None,
    )
    if latest is None:
        return ConsentStatus(ConsentState.NONE, None, None, "The patient has not signed the treatment consent.")
    signed_on = _local_date(latest.signed_at)
    expires_on = signed_on + timedelta(days=settings.KAPCLINIC_CONSENT_VALID_DAYS)
    withdrawal = withdrawal_of(latest)
    if withdrawal is not None and _local_date(withdrawal.withdrawn_at) <= day:
        return ConsentStatus(
            ConsentState.WITHDRAWN,
            latest,
            None,
            f"The patient withdrew their consent on {day_text(_local_date(withdrawal.withdrawn_at))}.",
        )
    if day > expires_on:
        return ConsentStatus(
            ConsentState.EXPIRED,
            latest,
            expires_on,
            f"The consent signed on {day_text(signed_on)} expired on {day_text(expires_on)}: "
            "the patient must read and sign it again.",
        )
    return ConsentStatus(
        ConsentState.CURRENT,
        latest,
        expires_on,
        f"Signed on {day_text(signed_on)} (version {latest.version.number}), valid until {day_text(expires_on)}.",
    )


def consent_status(patient_id: int, on: date | None = None) -> ConsentStatus:
    """Return the patient's status on the current consent document on `on` (default today). One query."""
    day = on or timezone.localdate()
    end_of_day = timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))
    # Prepared (kapclinic/prepared.py): the chart asks whenever it is drawn; the document is a setting, so in the key.
    document = consent_document()
    latest = prepared_rows(
        ("consent.consent_status", document),
        lambda pid, before: (
            ConsentSignature.objects.filter(patient_id=pid, version__document=document, signed_at__lt=before)
            .select_related("version", "withdrawal")
            .order_by("-signed_at", "-id")[:1]
        ),
        patient_id,
        end_of_day,
    )
    return consent_status_of(latest, on=day)


def consent_current(patient_id: int, on: date | None = None) -> ConsentSignature | None:
    """Return the signature that makes the patient's consent current on `on` (default today), or None.

    Current: the latest signature on the current document (setting KAPCLINIC_CONSENT_DOCUMENT), of any version,
    not withdrawn, and not older than KAPCLINIC_CONSENT_VALID_DAYS. No dosing is scheduled without one.
    """
    return consent_status(patient_id, on).current


def consent_version_latest(document: str | None = None) -> ConsentVersion | None:
    """Return the version patients sign now: the highest number of the document."""
    return (
        ConsentVersion.objects.filter(document=document or consent_document())
        .select_related("published_by")
        .order_by("-number")
        .first()
    )


def consent_versions() -> list[ConsentVersion]:
    """Return every published version of every document, newest first within each document. One query."""
    return list(ConsentVersion.objects.select_related("published_by").order_by("document", "-number"))


def _signatures() -> QuerySet[ConsentSignature]:
    return ConsentSignature.objects.select_related(
        "version", "recorded_by", "withdrawal", "withdrawal__recorded_by"
    ).prefetch_related(
        Prefetch("witnesses", queryset=ConsentWitness.objects.select_related("witness").order_by("witnessed_at", "id"))
    )


def consent_signatures(patient_id: int) -> list[ConsentSignature]:
    """Return the patient's signatures, newest first, with version, witnesses and withdrawal. Two queries."""
    return list(_signatures().filter(patient_id=patient_id).order_by("-signed_at", "-id"))


@dataclass(frozen=True)
class PatientConsent:
    """What a consent page shows for one patient."""

    access: PatientAccess
    status: ConsentStatus
    signatures: list[ConsentSignature]
    latest_version: ConsentVersion | None

    @property
    def needs_signature(self) -> bool:
        """Whether the patient has no consent in force, or signed an older version than the one published now."""
        if self.latest_version is None:
            return False
        current = self.status.current
        return current is None or current.version_id != self.latest_version.pk


def consent_for_patient(*, ctx: AuditContext, patient_id: int, action: Action = Action.CONSENT_VIEW) -> PatientConsent:
    """Return the patient's consent status and history if `ctx.user` may see it; audited. Four queries after access."""
    access = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=action)
    signatures = consent_signatures(patient_id)
    return PatientConsent(
        access=access,
        status=consent_status_of(signatures),
        signatures=signatures,
        latest_version=consent_version_latest(),
    )


def consent_signature_for_user(
    *, ctx: AuditContext, signature_id: int, action: Action = Action.CONSENT_VIEW, record_allowed: bool = True
) -> tuple[ConsentSignature, PatientAccess]:
    """Return one signature (with version, witnesses, withdrawal) if `ctx.user` may act on its patient; audited."""
    signature = _signatures().select_related("patient").filter(pk=signature_id).first()
    if signature is None:
        access_event_record(ctx=ctx, action=action, outcome=Outcome.NOT_FOUND, detail={"signature": signature_id})
        raise NotFound("No such consent signature.")
    access = patient_get_for_user(
        ctx=ctx, patient_id=signature.patient_id, action=action, record_allowed=record_allowed
    )
    return signature, access
