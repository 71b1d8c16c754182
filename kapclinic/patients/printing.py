"""A printed record as a PDF download (issue 16, item 8): one way for every page about a patient to print.

The page's own read has already passed the access check and been audited; printing adds one more row saying a
copy left the screen (what, which record, for whom), so the audit log can answer "who printed this chart?".
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import EmergencyAccess
from kapclinic.audit.services import access_event_record
from kapclinic.errors import Conflict
from kapclinic.patients.models import Patient
from kapclinic.pdf import pdf_response

PRINT_ACTION = "record.print"


def printed_pdf_response(
    request: HttpRequest,
    *,
    ctx: AuditContext,
    patient: Patient,
    what: str,
    record_id: int,
    title: str,
    template: str,
    context: dict[str, Any],
    emergency: EmergencyAccess | None = None,
) -> HttpResponse:
    """Audit the print and answer with `template` as a PDF named `<what>-<MRN>-<record_id>.pdf`."""
    access_event_record(
        ctx=ctx,
        action=PRINT_ACTION,
        patient_id=patient.pk,
        emergency=emergency,
        detail={"what": what, "id": record_id, "output": "pdf"},
    )
    page = {
        **context,
        "patient": patient,
        "document_title": title,
        "printed_at": timezone.localtime(),
        "printed_by": ctx.user.display_name,
    }
    filename = f"{what.replace('_', '-')}-{patient.mrn}-{record_id}.pdf"
    return pdf_response(request, template, page, filename=filename)


def not_printable_as_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Answer a print the record's state refuses (a draft note) with a 409 page that says why, not a PDF."""

    @wraps(view)
    def answered(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except Conflict as exc:
            return render(request, "print/not_printable.html", {"message": exc.message}, status=409)

    return answered
