"""The clinic's URLs plus one bare view: the yardstick every page is measured against."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from kapclinic import urls as clinic_urls
from kapclinic.patients.models import Patient


def bare_patient(request: HttpRequest, pk: int) -> HttpResponse:
    """One primary-key query and a tiny response: no access check, audit or template."""
    patient = Patient.objects.get(pk=pk)
    return HttpResponse(patient.mrn, content_type="text/plain")


urlpatterns = [
    path("bench/bare/<int:pk>/", bare_patient, name="bench_bare"),
    path("", include(clinic_urls)),
]

handler403 = clinic_urls.handler403
handler404 = clinic_urls.handler404
handler500 = clinic_urls.handler500
