from django.urls import path

from kapclinic.billing import authorisation_views, claim_views, payment_views, report_views, views

app_name = "billing"

urlpatterns = [
    path("billing/charges/", views.charges, name="charges"),
    path("billing/charges/propose/", views.propose, name="propose"),
    path("billing/charges/<id:line_id>/", views.charge, name="charge"),
    path("billing/setup/", views.setup, name="setup"),
    path("billing/reports/", report_views.billing_reports, name="reports"),
    path("billing/claims/", claim_views.claims, name="claims"),
    path("billing/claims/new/", claim_views.claim_new, name="claim_new"),
    path("billing/claims/<id:claim_id>/", claim_views.claim, name="claim"),
    path("billing/claims/<id:claim_id>/837/", claim_views.claim_file, name="claim_file"),
    path("billing/remittances/", claim_views.remittance_upload, name="remittances"),
    path("patients/<id:patient_id>/coverage/", views.coverages, name="coverages"),
    path(
        "patients/<id:patient_id>/prior-authorisations/",
        authorisation_views.prior_authorisations,
        name="prior_authorisations",
    ),
]

# Money (issue 18 item 6): kapclinic/billing/payment_views.py.
urlpatterns += [
    path("patients/<id:patient_id>/billing/", payment_views.account, name="account"),
    path("patients/<id:patient_id>/billing/record/", payment_views.record, name="record"),
    path("patients/<id:patient_id>/billing/statement.pdf", payment_views.statement, name="statement"),
    path("patients/<id:patient_id>/billing/superbill.pdf", payment_views.superbill, name="superbill"),
    path("billing/packages/", payment_views.packages, name="packages"),
]
