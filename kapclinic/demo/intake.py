"""Synthetic intake for the demo: inquiries in several states, a booked consultation, and two evaluations,
one with an absolute contraindication and one with only relative findings."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.appointments.services import appointment_book
from kapclinic.audit.context import AuditContext
from kapclinic.clinical.registry import SYNTHETIC_MRN_BASE, mrn_from_number
from kapclinic.intake.models import Inquiry, InquirySource, InquiryStatus
from kapclinic.intake.services import evaluation_save
from kapclinic.patients.models import Patient

INQUIRIES = (
    ("Thistle", "Inquirydemo", "(212) 555-0161", InquirySource.WEB, InquiryStatus.NEW, "Low mood for two years."),
    (
        "Vetch",
        "Inquirydemo",
        "(212) 555-0162",
        InquirySource.PHONE,
        InquiryStatus.CONTACTED,
        "PTSD; referred by a friend.",
    ),
    (
        "Wisteria",
        "Inquirydemo",
        "(212) 555-0163",
        InquirySource.REFERRAL,
        InquiryStatus.NEW,
        "Referred by primary care.",
    ),
)


@transaction.atomic
def intake_demo_ensure(staff: dict[str, User]) -> int:
    """Create the demo inquiries and evaluations once; return how many inquiries were made."""
    if Inquiry.objects.filter(family_name="Inquirydemo").exists():
        return 0
    coordinator = AuditContext(user=staff["coordinator"], channel="system")
    made = []
    for given, family, phone, source, status, reason in INQUIRIES:
        made.append(
            Inquiry.objects.create(
                given_name=given,
                family_name=family,
                phone=phone,
                source=source,
                status=status,
                reason=reason,
                email=f"{given.lower()}@example.test",
                consent_to_contact=True,
                created_by=None if source == InquirySource.WEB else staff["coordinator"],
            )
        )
    tomorrow = (timezone.localtime() + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    appointment_book(
        ctx=coordinator,
        kind="consultation",
        with_user_id=staff["coordinator"].pk,
        starts_at=tomorrow,
        minutes=30,
        mode="video",
        video_link="https://video.example.test/consult-demo",
        inquiry_id=made[2].pk,
    )
    prescriber = AuditContext(user=staff["prescriber"], channel="system")
    absolute = Patient.objects.get(mrn=mrn_from_number(SYNTHETIC_MRN_BASE + 3))
    evaluation_save(
        ctx=prescriber,
        patient_id=absolute.pk,
        values={
            "diagnoses": ["F33.2"],
            "aneurysmal_vascular_disease": True,
            "weight_kg": 70,
            "height_cm": 170,
            "systolic_bp": 128,
            "diastolic_bp": 80,
            "heart_rate": 72,
            "medications": ["sertraline"],
        },
    )
    relative = Patient.objects.get(mrn=mrn_from_number(SYNTHETIC_MRN_BASE + 5))
    evaluation_save(
        ctx=prescriber,
        patient_id=relative.pk,
        values={
            "diagnoses": ["F33.1"],
            "weight_kg": 82,
            "height_cm": 178,
            "systolic_bp": 152,
            "diastolic_bp": 94,
            "heart_rate": 80,
            "medications": ["lamotrigine", "sertraline"],
            "allergies": [],
        },
    )
    return len(made)
