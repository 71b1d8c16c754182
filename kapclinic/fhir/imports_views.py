"""The referral import pages (issue 17 item 4): the patient's uploaded bundles with the upload form, and one
bundle's comparison with the record where the prescriber chooses, item by item. Thin: the services in
kapclinic/fhir/imports.py do the reading, checking, writing and auditing."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from kapclinic.accounts.web import current_user, refused_status, submitted
from kapclinic.audit.context import AuditContext
from kapclinic.errors import NotFound
from kapclinic.fhir.imports import (
    BUNDLE_MAX_BYTES,
    Comparison,
    referral_choose,
    referral_compare,
    referral_upload,
    referrals_for_patient,
)
from kapclinic.patients.models import Patient
from kapclinic.patients.pages import refusals_as_pages
from kapclinic.roles import Action, may

LATER, TAKE, LEAVE = "", "take", "leave"


class UploadForm(forms.Form):
    bundle = forms.FileField(
        label="Referral bundle (FHIR R4 JSON)",
        help_text=f"A transaction or collection Bundle from the referring provider's system, up to "
        f"{BUNDLE_MAX_BYTES // 1_048_576} MB. Its patient must be this patient (name and date of birth).",
        widget=forms.ClearableFileInput(attrs={"accept": ".json,application/json,application/fhir+json"}),
    )


class ChoiceForm(forms.Form):
    """One take / leave / later choice for each item that may still be taken."""

    def __init__(self, comparison: Comparison, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for section in comparison.sections:
            for shown in section.offers:
                if shown.offer.takeable and shown.state in ("open", "left"):
                    self.fields[f"item_{shown.offer.key}"] = forms.ChoiceField(
                        label=shown.offer.label,
                        required=False,
                        initial=LATER,
                        choices=[(TAKE, "Take"), (LEAVE, "Leave"), (LATER, "Decide later")],
                        widget=forms.RadioSelect,
                    )

    def chosen(self, answer: str) -> list[str]:
        return [name.removeprefix("item_") for name, value in self.cleaned_data.items() if value == answer]


def _patient(patient_id: int) -> Patient:
    patient = Patient.objects.filter(pk=patient_id).first()
    if patient is None:
        raise NotFound("No patient with that id.")
    return patient


@login_required
@refusals_as_pages
def referral_list(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The bundles uploaded for the patient (who, when, from whom) and the upload form."""
    user = current_user(request)
    ctx = AuditContext.from_request(request)
    referrals = referrals_for_patient(ctx=ctx, patient_id=patient_id)
    form = UploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        # One byte past the cap is enough for the service to say the file is too large.
        made = submitted(
            form,
            lambda: referral_upload(
                ctx=ctx, patient_id=patient_id, raw=form.cleaned_data["bundle"].read(BUNDLE_MAX_BYTES + 1)
            ),
        )
        if made is not None:
            messages.success(request, f"The bundle was kept ({made.entries} entries).")
            if may(user.role, Action.REFERRAL_REVIEW):
                return redirect("referrals:detail", patient_id=patient_id, referral_id=made.pk)
            return redirect("referrals:list", patient_id=patient_id)
        status = refused_status(form)
    page = Paginator(referrals, 20).get_page(request.GET.get("page"))
    return render(
        request,
        "fhir/referrals.html",
        {
            "patient": _patient(patient_id),
            "page": page,
            "form": form,
            "can_review": may(user.role, Action.REFERRAL_REVIEW),
        },
        status=status,
    )


@login_required
@refusals_as_pages
def referral_detail(request: HttpRequest, patient_id: int, referral_id: int) -> HttpResponse:
    """What the bundle offers beside what the record holds; the prescriber takes or leaves each item."""
    ctx = AuditContext.from_request(request)
    comparison = referral_compare(ctx=ctx, referral_id=referral_id)
    if comparison.referral.patient_id != patient_id:
        raise NotFound("No referral import with that id for this patient.")
    form = ChoiceForm(comparison, request.POST or None)
    status = 200
    if request.method == "POST":
        made = submitted(
            form,
            lambda: referral_choose(ctx=ctx, referral_id=referral_id, take=form.chosen(TAKE), leave=form.chosen(LEAVE)),
        )
        if made is not None:
            taken = sum(1 for choice in made if choice.taken)
            messages.success(request, f"{taken} taken into the record, {len(made) - taken} left.")
            return redirect("referrals:detail", patient_id=patient_id, referral_id=referral_id)
        status = refused_status(form)
    return render(
        request,
        "fhir/referral.html",
        {
            "patient": comparison.referral.patient,
            "comparison": comparison,
            "form": form,
            # Each offer beside its choice's radios (None where nothing is left to choose).
            "sections": [
                (
                    section,
                    [
                        (shown, form[f"item_{shown.offer.key}"] if f"item_{shown.offer.key}" in form.fields else None)
                        for shown in section.offers
                    ],
                )
                for section in comparison.sections
            ],
        },
        status=status,
    )
