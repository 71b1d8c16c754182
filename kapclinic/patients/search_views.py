"""Search from anywhere: the staff header's search box (issue 16, item 7).

Typing asks `quick_search` for a few matches (htmx, debounced); Enter sends the form to `search_go`, which opens
the chart of an exact MRN match and otherwise shows the patient list with the same query. Both read through
`patient_search_for_user`, so every patient shown is an audited read within what the user may list.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode

from kapclinic.accounts.web import refusals_as_plain_pages
from kapclinic.audit.context import AuditContext
from kapclinic.clinical.registry import parse_search
from kapclinic.patients.access import patients_visible_to
from kapclinic.patients.forms import PatientSearchForm
from kapclinic.patients.selectors import patient_search_for_user

# Matches shown under the header's box: enough to pick from, few enough to read at a glance.
QUICK_LIMIT = 8


@login_required
@refusals_as_plain_pages
def quick_search(request: HttpRequest) -> HttpResponse:
    """Up to QUICK_LIMIT patients matching `q`, as the list under the header's search box."""
    ctx = AuditContext.from_request(request)
    query = PatientSearchForm(request.GET).query()
    if not query:
        patients_visible_to(ctx=ctx)  # the access check alone (a refused role is audited and answered 403)
        return render(request, "patients/_quick_results.html", {"q": "", "page": None})
    page = patient_search_for_user(ctx=ctx, query=query, limit=QUICK_LIMIT)
    return render(request, "patients/_quick_results.html", {"q": query, "page": page})


@login_required
@refusals_as_plain_pages
def search_go(request: HttpRequest) -> HttpResponse:
    """Enter in the header's box: the chart of the one patient an MRN names, else the patient list with `q`."""
    ctx = AuditContext.from_request(request)
    query = PatientSearchForm(request.GET).query()
    list_url = reverse("patients:list")
    if not query:
        patients_visible_to(ctx=ctx)
        return redirect(list_url)
    if parse_search(query).mrn:
        page = patient_search_for_user(ctx=ctx, query=query, limit=2)
        if len(page.items) == 1:
            # The chart asks its own access question (PATIENT_VIEW) and audits the read.
            return redirect("chart:patient", patient_id=page.items[0].pk)
    else:
        patients_visible_to(ctx=ctx)  # the list page lists (and audits) what it shows
    return redirect(f"{list_url}?{urlencode({'q': query})}")
