"""A patient's consent for staff, mounted at /patients/<patient_id>/consent/."""

from django.urls import path

from kapclinic.consent import views

app_name = "consent_patient"

urlpatterns = [
    path("", views.patient_consent, name="home"),
    path("sign/", views.patient_sign, name="sign"),
    path("<id:signature_id>/witness/", views.patient_witness, name="witness"),
    path("<id:signature_id>/withdraw/", views.patient_withdraw, name="withdraw"),
    path("<id:signature_id>/pdf/", views.patient_pdf, name="pdf"),
]
