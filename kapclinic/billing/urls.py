from django.urls import path

from kapclinic.billing import authorisation_views, report_views, views

app_name = "billing"

urlpatterns = [
    path("billing/charges/", views.charges, name="charges"),
    path("billing/charges/propose/", views.propose, name="propose"),
    path("billing/charges/<id:line_id>/", views.charge, name="charge"),
    path("billing/setup/", views.setup, name="setup"),
    path("billing/reports/", report_views.billing_reports, name="reports"),
    path("patients/<id:patient_id>/coverage/", views.coverages, name="coverages"),
    path(
        "patients/<id:patient_id>/prior-authorisations/",
        authorisation_views.prior_authorisations,
        name="prior_authorisations",
    ),
]
