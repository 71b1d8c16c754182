from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.forms import BaseFormSet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from kapclinic.accounts.web import current_user, forbidden, not_found, refused_status, submitted
from kapclinic.audit.context import AuditContext, client_address
from kapclinic.audit.services import access_event_record
from kapclinic.clinical.billing import EM_BASIS_LABELS, em_codes_in_force
from kapclinic.clinical.eligibility import Evidence, Finding, treatment_resistance
from kapclinic.intake import services
from kapclinic.intake.evaluation_forms import EvaluationForm, TrialForm, TrialFormSet, trial_initial
from kapclinic.intake.forms import (
    FIELDS,
    ConvertForm,
    DecisionForm,
    InquiryStatusForm,
    PublicInquiryForm,
    StaffInquiryForm,
)
from kapclinic.intake.icd10 import icd10_search
from kapclinic.intake.models import EligibilityDecisionKind, Evaluation, Inquiry, InquiryStatus
from kapclinic.intake.selectors import eligibility_for_patient, snapshot_for
from kapclinic.intake.services import eligibility_decide, evaluation_save
from kapclinic.patients.models import Patient
from kapclinic.patients.pages import refusals_as_pages
from kapclinic.patients.services import PossibleDuplicates
from kapclinic.roles import Action, Role, may


def public_inquiry(request: HttpRequest) -> HttpResponse:
    """The clinic's public contact form: no login, a honeypot and a rate limit against spam."""
    form = PublicInquiryForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid() and form.cleaned_data.get("website"):
            return render(request, "intake/public_thanks.html")  # a bot: say thanks, keep nothing
        try:
            received = submitted(
                form,
                lambda: services.inquiry_receive_public(
                    values={name: form.cleaned_data.get(name) for name in FIELDS},
                    client_address=client_address(request),
                ),
            )
        except services.TooManyInquiries:
            # The rate limit is no value to correct: the form says so with its own status.
            return render(request, "intake/public_form.html", {"form": form, "too_many": True}, status=429)
        if received is not None:
            return render(request, "intake/public_thanks.html")
        status = refused_status(form)
    return render(request, "intake/public_form.html", {"form": form}, status=status)


@login_required
def inquiry_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    if not may(user.role, Action.INQUIRY_VIEW):
        return forbidden(request, "Your role does not see inquiries.")
    status = request.GET.get("status", "")
    query = request.GET.get("q", "").strip()[:100]
    inquiries = services.inquiries_search(status=status, query=query)
    page = Paginator(inquiries, 25).get_page(request.GET.get("page"))
    access_event_record(
        ctx=AuditContext.from_request(request), action="inquiry.list", detail={"status": status, "q": query}
    )
    return render(
        request,
        "intake/list.html",
        {
            "page": page,
            "statuses": InquiryStatus.choices,
            "status": status,
            "q": query,
            "can_manage": may(user.role, Action.INQUIRY_MANAGE),
        },
    )


@login_required
def inquiry_new(request: HttpRequest) -> HttpResponse:
    if not may(current_user(request).role, Action.INQUIRY_MANAGE):
        return forbidden(request, "Your role does not take inquiries.")
    form = StaffInquiryForm(request.POST or None)
    status = 200
    if request.method == "POST":
        inquiry = submitted(
            form,
            lambda: services.inquiry_record(
                ctx=AuditContext.from_request(request),
                values={name: form.cleaned_data.get(name) for name in FIELDS},
                source=form.cleaned_data["source"],
            ),
        )
        if inquiry is not None:
            messages.success(request, f"The inquiry from {inquiry.full_name} was recorded.")
            return redirect("intake:detail", inquiry_id=inquiry.pk)
        status = refused_status(form)
    return render(request, "intake/new.html", {"form": form}, status=status)


def _inquiry(inquiry_id: int) -> Inquiry | None:
    return Inquiry.objects.select_related("patient", "created_by").filter(pk=inquiry_id).first()


def _detail_page(
    request: HttpRequest,
    inquiry: Inquiry,
    *,
    form: ConvertForm | None = None,
    status_form: InquiryStatusForm | None = None,
    duplicates: Sequence[object] = (),
    status: int = 200,
) -> HttpResponse:
    """The inquiry with its forms: to move it along, and to convert it to a patient."""
    form = form or ConvertForm(initial={"birth_date": inquiry.birth_date})
    if not duplicates:  # "a different person from the duplicates shown" only when some are shown
        form.fields.pop("allow_duplicate", None)
    return render(
        request,
        "intake/detail.html",
        {
            "inquiry": inquiry,
            "form": form,
            "status_form": status_form or InquiryStatusForm(),
            "duplicates": duplicates,
            "can_manage": may(current_user(request).role, Action.INQUIRY_MANAGE),
        },
        status=status,
    )


@login_required
@refusals_as_pages
def inquiry_detail(request: HttpRequest, inquiry_id: int) -> HttpResponse:
    user = current_user(request)
    if not may(user.role, Action.INQUIRY_VIEW):
        return forbidden(request, "Your role does not see inquiries.")
    inquiry = _inquiry(inquiry_id)
    if inquiry is None:
        return not_found(request, "No such inquiry.")
    ctx = AuditContext.from_request(request)
    if request.method != "POST":
        access_event_record(ctx=ctx, action="inquiry.view", detail={"inquiry": inquiry.pk})
        return _detail_page(request, inquiry)
    if not may(user.role, Action.INQUIRY_MANAGE):
        return forbidden(request, "Your role does not convert inquiries.")
    form = ConvertForm(request.POST, initial={"birth_date": inquiry.birth_date})
    duplicates: Sequence[object] = ()
    try:
        patient = submitted(
            form,
            lambda: services.inquiry_convert(
                ctx=ctx,
                inquiry_id=inquiry.pk,
                birth_date=form.cleaned_data["birth_date"],
                sex_at_birth=form.cleaned_data["sex_at_birth"],
                allow_duplicate=form.cleaned_data["allow_duplicate"],
            ),
        )
    except PossibleDuplicates as exc:
        # Not a refusal: the page lists the possible duplicates and asks to confirm a different person.
        patient, duplicates = None, exc.matches
    if patient is not None:
        messages.success(request, f"{patient.full_name} was registered with MRN {patient.mrn}.")
        return redirect("chart:patient", patient_id=patient.pk)
    inquiry.refresh_from_db()  # a conflict means it moved on: show it as it is now
    return _detail_page(request, inquiry, form=form, duplicates=duplicates, status=refused_status(form))


@login_required
@require_POST
@refusals_as_pages
def inquiry_status(request: HttpRequest, inquiry_id: int) -> HttpResponse:
    """Move an inquiry along; a refusal shows the inquiry again with what was typed and why."""
    ctx = AuditContext.from_request(request)
    form = InquiryStatusForm(request.POST)
    updated = submitted(
        form,
        lambda: services.inquiry_set_status(
            ctx=ctx,
            inquiry_id=inquiry_id,
            status=form.cleaned_data["status"],
            closed_reason=form.cleaned_data["closed_reason"],
        ),
    )
    if updated is not None:
        messages.success(request, "The inquiry was updated.")
        return redirect("intake:detail", inquiry_id=inquiry_id)
    inquiry = _inquiry(inquiry_id)
    if inquiry is None:
        return not_found(request, "No such inquiry.")
    access_event_record(ctx=ctx, action="inquiry.view", detail={"inquiry": inquiry.pk})
    return _detail_page(request, inquiry, status_form=form, status=refused_status(form))


def evidence_in_words(evidence: Evidence) -> str:
    """Return what a finding read, in words ("Aneurysmal vascular disease: not recorded; diagnoses: none")."""

    def value_words(value: object) -> str:
        if value is None:
            return "not recorded"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, tuple | list):
            return ", ".join(str(v) for v in value) or "none"
        return str(value)

    parts = [f"{key.replace('_', ' ')}: {value_words(value)}" for key, value in evidence.items()]
    text = "; ".join(parts)
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class ShownFinding:
    """A finding as the screen shows it: the message, its source, and what it read in words."""

    code: str
    message: str
    source: str
    evidence: str

    @classmethod
    def of(cls, finding: Finding) -> ShownFinding:
        return cls(finding.code, finding.message, finding.source, evidence_in_words(finding.evidence))


# The missing items, grouped by what they are needed for (the words of clinical.eligibility's messages).
MISSING_KINDS = (
    ("absolute", "To rule out an absolute contraindication"),
    ("relative", "To rule out a relative contraindication"),
    ("other", "For the other checks"),
)


@dataclass(frozen=True)
class MissingItem:
    """One line of the missing-information checklist: what to record, and the full reason and source."""

    what: str
    kind: str
    message: str
    source: str

    @classmethod
    def of(cls, finding: Finding) -> MissingItem:
        message = finding.message
        what = message
        for marker in (" is not recorded", " are not recorded", ";"):
            if marker in message:
                what = message.split(marker, 1)[0]
                break
        what = what.removeprefix("Whether the patient has ")
        kind = "absolute" if "absolute contraindication" in message else "other"
        if kind == "other" and "relative contraindication" in message:
            kind = "relative"
        return cls(what[:1].upper() + what[1:], kind, message, finding.source)


@login_required
@refusals_as_pages
def eligibility_page(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The evaluation and eligibility screen: every finding with its reason and source, and the decision."""
    user = current_user(request)
    ctx = AuditContext.from_request(request)
    findings, latest = eligibility_for_patient(ctx=ctx, patient_id=patient_id)
    patient = Patient.objects.get(pk=patient_id)
    evaluation = Evaluation.objects.filter(patient_id=patient_id).first()
    can_record = may(user.role, Action.EVALUATION_RECORD)
    data_in = evaluation.data if evaluation else {}
    form = EvaluationForm(data_in=data_in)
    trials = TrialFormSet(prefix="trials", initial=trial_initial(data_in.get("prior_trials")))
    snapshot = snapshot_for(patient, data_in)
    decision_form = DecisionForm()
    status = 200
    if request.method == "POST" and can_record:
        if request.POST.get("form") == "evaluation":
            form = EvaluationForm(request.POST, data_in=data_in)
            # A post without the trials table (an older form, a script) leaves the recorded trials alone.
            with_trials = "trials-TOTAL_FORMS" in request.POST
            if with_trials:
                trials = TrialFormSet(request.POST, prefix="trials", initial=trial_initial(data_in.get("prior_trials")))
            if not with_trials or trials.is_valid():
                saved = submitted(
                    form,
                    lambda: evaluation_save(ctx=ctx, patient_id=patient_id, values=_evaluation_values(form, trials)),
                )
                if saved is not None:
                    messages.success(request, "The evaluation was saved; the findings below are up to date.")
                    return redirect("intake:eligibility", patient_id=patient_id)
                status = refused_status(form)
            else:
                form.is_valid()  # the evaluation's own errors show beside the trials' ones
                status = 422
        else:
            decision_form = DecisionForm(request.POST)
            decided = submitted(
                decision_form,
                lambda: eligibility_decide(
                    ctx=ctx,
                    patient_id=patient_id,
                    decision=decision_form.cleaned_data["decision"],
                    reason=decision_form.cleaned_data["reason"],
                    em_code=decision_form.cleaned_data["em_code"],
                    em_basis=decision_form.cleaned_data["em_basis"],
                    em_minutes=decision_form.cleaned_data["em_minutes"],
                ),
            )
            if decided is not None:
                messages.success(request, "The eligibility decision was recorded.")
                return redirect("intake:eligibility", patient_id=patient_id)
            status = refused_status(decision_form)
    groups = [
        (severity, label, [ShownFinding.of(f) for f in findings if f.severity == severity])
        for severity, label in (
            ("absolute", "✕ Absolute contraindications"),
            ("relative", "⚠ Relative contraindications and precautions"),
            ("interaction", "⚠ Interactions"),
        )
    ]
    missing = [MissingItem.of(f) for f in findings if f.severity == "missing"]
    return render(
        request,
        "intake/eligibility.html",
        {
            "patient": patient,
            "groups": groups,
            "missing": missing,
            "missing_groups": [
                (label, [m for m in missing if m.kind == kind])
                for kind, label in MISSING_KINDS
                if kind in {m.kind for m in missing}
            ],
            "latest": latest,
            "form": form,
            "trials": trials,
            "resistance": treatment_resistance(snapshot.prior_trials),
            "snapshot": snapshot,
            "can_record": can_record,
            "can_decide": may(user.role, Action.ELIGIBILITY_DECIDE),
            "decision_form": decision_form,
            "decisions": EligibilityDecisionKind.choices,
            "em_codes": em_codes_in_force(timezone.localdate()),
            "em_bases": [(b.value, label.capitalize()) for b, label in EM_BASIS_LABELS.items()],
        },
        status=status,
    )


def _evaluation_values(form: EvaluationForm, trials: BaseFormSet[TrialForm]) -> dict[str, object]:
    """The evaluation as typed; the trials table only when the post had it (an older form, a script may not)."""
    values = form.values()
    if trials.is_bound:
        values["prior_trials"] = [t for t in (f.trial() for f in trials.forms) if t is not None]
    return values


@login_required
def icd10_options(request: HttpRequest) -> HttpResponse:
    """ICD-10-CM search results as <option>s for a picker's datalist (htmx), for staff."""
    user = current_user(request)
    if user.role == Role.PATIENT:
        return forbidden(request, "Staff only.")
    query = next((request.GET[k] for k in ("q", "indication_code", "diagnosis_search") if request.GET.get(k)), "")
    return render(request, "intake/_icd10_options.html", {"codes": icd10_search(query[:60])})
