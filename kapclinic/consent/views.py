"""Consent pages: the director's texts, the staff page per patient (with the clinic tablet), the patient's portal."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from kapclinic.accounts.web import current_user, forbidden, not_found, refused_status, submitted
from kapclinic.audit.context import AuditContext
from kapclinic.audit.services import access_event_record
from kapclinic.consent import services
from kapclinic.consent.forms import PublishForm, SignForm, WithdrawForm, WitnessForm
from kapclinic.consent.models import ConsentSignature, ConsentVersion, ConsentWithdrawal
from kapclinic.consent.selectors import (
    PatientConsent,
    consent_current,
    consent_document,
    consent_for_patient,
    consent_signature_for_user,
    consent_version_latest,
    withdrawal_of,
)
from kapclinic.errors import NotFound
from kapclinic.measures.selectors import open_safety_flags_for_patient
from kapclinic.patients.access import patient_get_for_user, portal_patient_id
from kapclinic.patients.pages import refusals_as_pages
from kapclinic.patients.selectors import chart_header
from kapclinic.pdf import pdf_response
from kapclinic.roles import Action, Role, may

View = Callable[..., HttpResponse]


def _user_agent(request: HttpRequest) -> str:
    return str(request.META.get("HTTP_USER_AGENT", ""))[:300]


def _signed(
    request: HttpRequest, ctx: AuditContext, patient_id: int, version: ConsentVersion, channel: str
) -> tuple[ConsentSignature | None, SignForm, int]:
    """Sign from the posted form: the signature, or None with the form to show again and the page's status."""
    form = SignForm(request.POST, version=version)
    signature = submitted(
        form,
        lambda: services.consent_sign(
            ctx=ctx,
            patient_id=patient_id,
            version_id=form.cleaned_data["version_id"],
            typed_name=form.cleaned_data["typed_name"],
            risks_acknowledged=form.cleaned_data["risks_acknowledged"],
            user_agent=_user_agent(request),
            channel=channel,
        ),
    )
    status = refused_status(form)
    if signature is None and "version_id" in form.errors:
        # The text changed while the patient was reading: they start again on the current version.
        notice = " ".join(str(error) for error in form.errors["version_id"])
        form = SignForm(version=version)
        form.notice = notice
    return signature, form, status


# --- The director's consent texts ------------------------------------------------------------------


def _staff_reader(request: HttpRequest) -> HttpResponse | None:
    user = current_user(request)
    if user.role == Role.PATIENT:
        return redirect("consent_portal:home")
    if not may(user.role, Action.CONSENT_VIEW):
        return forbidden(request, "Your role does not read consent texts.")
    return None


@login_required
def text_list(request: HttpRequest) -> HttpResponse:
    """Every version of every consent text, newest first; the director publishes a new one from here."""
    refused = _staff_reader(request)
    if refused:
        return refused
    versions = list(
        ConsentVersion.objects.select_related("published_by")
        .annotate(signature_count=Count("signatures"))
        .order_by("document", "-number")
    )
    documents: dict[str, list[ConsentVersion]] = {}
    for version in versions:
        documents.setdefault(version.document, []).append(version)
    return render(
        request,
        "consent/texts.html",
        {
            "documents": documents,
            "default_document": consent_document(),
            "can_publish": may(current_user(request).role, Action.CONSENT_PUBLISH),
        },
    )


@login_required
def text_detail(request: HttpRequest, version_id: int) -> HttpResponse:
    """One version exactly as patients read it, with its digest; old versions stay readable."""
    refused = _staff_reader(request)
    if refused:
        return refused
    version = ConsentVersion.objects.select_related("published_by").filter(pk=version_id).first()
    if version is None:
        return not_found(request, "There is no such consent version.")
    latest = consent_version_latest(version.document)
    return render(
        request,
        "consent/text_detail.html",
        {
            "version": version,
            "latest": latest,
            "can_publish": may(current_user(request).role, Action.CONSENT_PUBLISH),
        },
    )


@login_required
def text_publish(request: HttpRequest) -> HttpResponse:
    """Publish a new version (director): the form starts from the current text."""
    user = current_user(request)
    if not may(user.role, Action.CONSENT_PUBLISH):
        return forbidden(request, "Only the clinic director publishes consent texts.")
    document = (request.POST.get("document") or request.GET.get("document") or consent_document()).strip()[:60]
    current = consent_version_latest(document)
    form = PublishForm.from_version(current, document, request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        version = submitted(
            form,
            lambda: services.consent_version_publish(
                ctx=AuditContext.from_request(request),
                document=form.cleaned_data["document"],
                title=form.cleaned_data["title"],
                body=form.cleaned_data["body"],
                risks=form.risks(),
                change_summary=form.cleaned_data["change_summary"],
            ),
        )
        if version is not None:
            messages.success(request, f"Version {version.number} of “{version.title}” was published.")
            return redirect("consent:text", version_id=version.pk)
        status = refused_status(form)
    return render(request, "consent/publish.html", {"form": form, "current": current}, status=status)


# --- Staff pages per patient -----------------------------------------------------------------------


def _rows(consent: PatientConsent, user_id: int) -> list[dict[str, Any]]:
    current = consent.status.signature
    return [
        {
            "signature": s,
            "witnessed_by_me": any(w.witness_id == user_id for w in s.witnesses.all()),
            "withdrawal": withdrawal_of(s),
            # Only the latest signature can be withdrawn (an older one was replaced by it).
            "withdrawable": current is not None and s.pk == current.pk and withdrawal_of(s) is None,
        }
        for s in consent.signatures
    ]


def _staff_context(request: HttpRequest, consent: PatientConsent) -> dict[str, Any]:
    user = current_user(request)
    patient = consent.access.patient
    can_view_scores = may(user.role, Action.MEASURE_VIEW)
    return {
        "patient": patient,
        "access": consent.access,
        "header": chart_header(patient=patient),
        "safety_flags": open_safety_flags_for_patient(patient_id=patient.pk) if can_view_scores else [],
        "consent": consent,
        "rows": _rows(consent, user.pk),
        "can_witness": may(user.role, Action.CONSENT_WITNESS),
        "can_withdraw": may(user.role, Action.CONSENT_WITHDRAW),
        "witness_form": WitnessForm(),
    }


def _staff_only(request: HttpRequest) -> HttpResponse | None:
    if current_user(request).role == Role.PATIENT:
        return redirect("consent_portal:home")
    return None


@login_required
@refusals_as_pages
def patient_consent(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The patient's consent: in force or not and why, every signature with witnesses and withdrawal."""
    refused = _staff_only(request)
    if refused:
        return refused
    consent = consent_for_patient(ctx=AuditContext.from_request(request), patient_id=patient_id)
    return render(request, "consent/patient.html", _staff_context(request, consent))


@login_required
@refusals_as_pages
def patient_sign(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The clinic tablet: the patient reads, ticks and types their name; the staff member is the witness."""
    refused = _staff_only(request)
    if refused:
        return refused
    ctx = AuditContext.from_request(request)
    # Only staff who may witness for this patient hand over the tablet; the read itself is audited as a view.
    patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.CONSENT_WITNESS, record_allowed=False)
    consent = consent_for_patient(ctx=ctx, patient_id=patient_id)
    version = consent.latest_version
    if version is None:
        messages.error(request, "The clinic director has not published a consent text yet.")
        return redirect("consent_patient:home", patient_id=patient_id)
    form = SignForm(version=version)
    status = 200
    if request.method == "POST":
        signature, form, status = _signed(request, ctx, patient_id, version, "clinic")
        if signature is not None:
            messages.success(request, "The consent was signed; you are recorded as the witness.")
            return redirect("consent_patient:home", patient_id=patient_id)
    return render(
        request,
        "consent/clinic_sign.html",
        {"patient": consent.access.patient, "version": version, "form": form},
        status=status,
    )


@login_required
@require_POST
@refusals_as_pages
def patient_witness(request: HttpRequest, patient_id: int, signature_id: int) -> HttpResponse:
    """Witness a signature; a refusal shows the consent page again with the form as it was filled in."""
    _signature_of_patient(request, signature_id, patient_id, Action.CONSENT_WITNESS)
    ctx = AuditContext.from_request(request)
    form = WitnessForm(request.POST)
    witnessed = submitted(
        form, lambda: services.consent_witness(ctx=ctx, signature_id=signature_id, note=form.cleaned_data["note"])
    )
    if witnessed is not None:
        messages.success(request, "You are recorded as a witness of this signature.")
        return redirect("consent_patient:home", patient_id=patient_id)
    consent = consent_for_patient(ctx=ctx, patient_id=patient_id)
    return render(
        request,
        "consent/patient.html",
        {**_staff_context(request, consent), "witness_form": form},
        status=refused_status(form),
    )


def _signature_of_patient(
    request: HttpRequest, signature_id: int, patient_id: int, action: Action, record_allowed: bool = False
) -> ConsentSignature:
    signature, _ = consent_signature_for_user(
        ctx=AuditContext.from_request(request), signature_id=signature_id, action=action, record_allowed=record_allowed
    )
    if signature.patient_id != patient_id:
        raise NotFound("No such consent signature for this patient.")
    return signature


def _signature_for_withdrawal(request: HttpRequest, signature_id: int, patient_id: int) -> ConsentSignature:
    """Check the right to withdraw (refusals audited); the confirmation page itself is audited as a view."""
    signature = _signature_of_patient(request, signature_id, patient_id, Action.CONSENT_WITHDRAW)
    if request.method != "POST":
        access_event_record(
            ctx=AuditContext.from_request(request),
            action=Action.CONSENT_VIEW,
            patient_id=patient_id,
            detail={"signature": signature.pk, "page": "withdraw"},
        )
    return signature


@login_required
@refusals_as_pages
def patient_withdraw(request: HttpRequest, patient_id: int, signature_id: int) -> HttpResponse:
    """Record a withdrawal the patient asked for, after a confirmation; planned sessions are cancelled."""
    refused = _staff_only(request)
    if refused:
        return refused
    signature = _signature_for_withdrawal(request, signature_id, patient_id)
    form = WithdrawForm(request.POST or None)
    form.fields["reason"].label = "How and why the patient asked to withdraw"
    form.fields["reason"].required = True
    status = 200
    if request.method == "POST":
        if _withdrawn(request, signature, form) is not None:
            messages.success(request, "The withdrawal was recorded; dosing sessions not yet started were cancelled.")
            return redirect("consent_patient:home", patient_id=patient_id)
        status = refused_status(form)
    return render(
        request,
        "consent/withdraw.html",
        {"signature": signature, "patient": signature.patient, "form": form, "portal": False},
        status=status,
    )


def _withdrawn(request: HttpRequest, signature: ConsentSignature, form: WithdrawForm) -> ConsentWithdrawal | None:
    return submitted(
        form,
        lambda: services.consent_withdraw(
            ctx=AuditContext.from_request(request), signature_id=signature.pk, reason=form.cleaned_data["reason"]
        ),
    )


def signature_pdf_response(request: HttpRequest, signature: ConsentSignature) -> HttpResponse:
    """Answer with the signed consent as PDF (the caller has checked access and audited the read)."""
    patient = signature.patient
    stamp = timezone.localtime(signature.signed_at).strftime("%Y%m%d-%H%M")
    return pdf_response(
        request,
        "consent/print.html",
        {"signature": signature, "patient": patient},
        filename=f"consent-{patient.mrn}-v{signature.version.number}-{stamp}.pdf",
    )


@login_required
@refusals_as_pages
def patient_pdf(request: HttpRequest, patient_id: int, signature_id: int) -> HttpResponse:
    refused = _staff_only(request)
    if refused:
        return refused
    signature = _signature_of_patient(request, signature_id, patient_id, Action.CONSENT_VIEW, record_allowed=True)
    return signature_pdf_response(request, signature)


# --- The patient's portal --------------------------------------------------------------------------


def _portal(view: View) -> View:
    """Give the view the signed-in patient's own record id; staff go to their home page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        patient_id = portal_patient_id(current_user(request))
        if patient_id is None:
            if current_user(request).role == Role.PATIENT:
                return forbidden(request, "Your login is not linked to a patient record yet. Please call the clinic.")
            return redirect("home:home")
        return view(request, patient_id, *args, **kwargs)

    return login_required(refusals_as_pages(wrapper))


@_portal
def portal_home(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The patient's consent: what they signed, whether it is in force, and the text to sign when needed."""
    consent = consent_for_patient(ctx=AuditContext.from_request(request), patient_id=patient_id)
    return render(
        request,
        "consent/portal_home.html",
        {"consent": consent, "patient": consent.access.patient, "rows": _rows(consent, 0)},
    )


@_portal
def portal_sign(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Read the current consent, tick each key risk, type the full name, sign."""
    ctx = AuditContext.from_request(request)
    consent = consent_for_patient(ctx=ctx, patient_id=patient_id)
    version = consent.latest_version
    if version is None:
        messages.error(request, "The clinic has not published its consent text yet. Please call the clinic.")
        return redirect("consent_portal:home")
    if not consent.needs_signature:
        messages.success(request, "You have already signed the current consent.")
        return redirect("consent_portal:home")
    form = SignForm(version=version)
    status = 200
    if request.method == "POST":
        signature, form, status = _signed(request, ctx, patient_id, version, "portal")
        if signature is not None:
            messages.success(request, "Thank you: your consent is signed. You can download a copy below.")
            return redirect("consent_portal:signature", signature_id=signature.pk)
    return render(
        request,
        "consent/portal_sign.html",
        {"patient": consent.access.patient, "version": version, "form": form, "consent": consent},
        status=status,
    )


@_portal
def portal_signature(request: HttpRequest, patient_id: int, signature_id: int) -> HttpResponse:
    """Exactly what the patient signed: the version's text, their ticks, name and time."""
    signature = _signature_of_patient(request, signature_id, patient_id, Action.CONSENT_VIEW, record_allowed=True)
    consent_now = consent_current(patient_id)
    return render(
        request,
        "consent/portal_signature.html",
        {
            "signature": signature,
            "patient": signature.patient,
            "withdrawable": consent_now is not None and consent_now.pk == signature.pk,
        },
    )


@_portal
def portal_withdraw(request: HttpRequest, patient_id: int, signature_id: int) -> HttpResponse:
    """Withdraw consent after a confirmation: the treatment stops and planned sessions are cancelled."""
    signature = _signature_for_withdrawal(request, signature_id, patient_id)
    form = WithdrawForm(request.POST or None)
    form.fields["reason"].label = "Would you like to tell us why? (optional)"
    status = 200
    if request.method == "POST":
        if _withdrawn(request, signature, form) is not None:
            messages.success(
                request,
                "Your consent is withdrawn and your planned sessions are cancelled. Your care team will call you.",
            )
            return redirect("consent_portal:home")
        status = refused_status(form)
    return render(
        request,
        "consent/withdraw.html",
        {"signature": signature, "patient": signature.patient, "form": form, "portal": True},
        status=status,
    )


@_portal
def portal_pdf(request: HttpRequest, patient_id: int, signature_id: int) -> HttpResponse:
    signature = _signature_of_patient(request, signature_id, patient_id, Action.CONSENT_VIEW, record_allowed=True)
    return signature_pdf_response(request, signature)
