"""The clinic's URLs plus two bare views: the yardstick every page is measured against, and what every page about
one patient must do before its own content (for comparison only: the target stays set against the bare view)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template import RequestContext, Template, engines
from django.template.backends.django import DjangoTemplates
from django.urls import include, path

from kapclinic import urls as clinic_urls
from kapclinic.audit.context import AuditContext
from kapclinic.patients.access import patient_get_for_user
from kapclinic.patients.models import Patient

PATIENT_FLOOR = """{% extends "base.html" %}{% block title %}{{ patient|patient_name }}{% endblock title %}
{% block content %}{% load patient_tags %}{% patient_banner patient %}{% endblock content %}"""
_compiled: dict[int, Template] = {}  # by engine: override_settings(DEBUG=...) makes a new one


def bare_patient(request: HttpRequest, pk: int) -> HttpResponse:
    """One primary-key query and a tiny response: no access check, audit or template."""
    patient = Patient.objects.get(pk=pk)
    return HttpResponse(patient.mrn, content_type="text/plain")


def patient_floor(request: HttpRequest, pk: int) -> HttpResponse:
    """The access door (its checks and audit row) and the base page with the patient banner, nothing else."""
    access = patient_get_for_user(ctx=AuditContext.from_request(request), patient_id=pk)
    backend = engines["django"]
    assert isinstance(backend, DjangoTemplates)
    template = _compiled.get(id(backend.engine))
    if template is None:
        template = _compiled[id(backend.engine)] = backend.engine.from_string(PATIENT_FLOOR)
    return HttpResponse(template.render(RequestContext(request, {"patient": access.patient, "access": access})))


urlpatterns = [
    path("bench/bare/<int:pk>/", bare_patient, name="bench_bare"),
    path("bench/patient-floor/<int:pk>/", patient_floor, name="bench_patient_floor"),
    path("", include(clinic_urls)),
]

handler403 = clinic_urls.handler403
handler404 = clinic_urls.handler404
handler500 = clinic_urls.handler500
