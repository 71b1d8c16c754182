from django.urls import include, path, register_converter

from kapclinic.api import api
from kapclinic.converters import DbIdConverter
from kapclinic.home.views import healthz, readyz
from kapclinic.intake.views import public_inquiry

# Before the includes below: their patterns use <id:...> (kapclinic/converters.py).
register_converter(DbIdConverter, "id")

urlpatterns = [
    path("", include("kapclinic.home.urls")),
    path("accounts/", include("kapclinic.accounts.urls")),
    path("patients/", include("kapclinic.patients.urls")),
    path("patients/", include("kapclinic.chart.urls")),
    path("patients/<id:patient_id>/consent/", include("kapclinic.consent.patient_urls")),
    path("patients/<id:patient_id>/referrals/", include("kapclinic.fhir.imports_urls")),
    path("audit/", include("kapclinic.oversight.urls")),
    path("fhir/", include("kapclinic.fhir.urls")),
    path("portal/sessions/", include("kapclinic.dosing.portal_urls")),
    path("portal/consent/", include("kapclinic.consent.portal_urls")),
    path("portal/journal/", include("kapclinic.therapy.portal_urls")),
    path("portal/messages/", include("kapclinic.messaging.portal_urls")),
    path("portal/bookings/", include("kapclinic.reminders.portal_urls")),
    path("portal/billing/", include("kapclinic.billing.portal_urls")),
    path("portal/", include("kapclinic.portal.urls")),
    path("consent/", include("kapclinic.consent.urls")),
    path("ledger/reports/", include("kapclinic.ledger.report_urls")),
    path("ledger/", include("kapclinic.ledger.urls")),
    path("measures/", include("kapclinic.measures.urls")),
    path("intake/", include("kapclinic.intake.urls")),
    path("appointments/", include("kapclinic.appointments.urls")),
    path("calendar/feed/", include("kapclinic.appointments.feed_urls")),
    path("", include("kapclinic.plans.urls")),
    path("", include("kapclinic.therapy.urls")),
    path("", include("kapclinic.messaging.urls")),
    path("", include("kapclinic.billing.urls")),
    path("dosing/", include("kapclinic.dosing.urls")),
    path("outcomes/", include("kapclinic.outcomes.urls")),
    path("inquire/", public_inquiry, name="public_inquiry"),
    path("api/v1/", api.urls),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
]

handler403 = "kapclinic.errorpages.forbidden"
handler404 = "kapclinic.errorpages.page_not_found"
handler500 = "kapclinic.errorpages.server_error"
