"""The patient's own consent in the portal, mounted at /portal/consent/."""

from django.urls import path

from kapclinic.consent import views

app_name = "consent_portal"

urlpatterns = [
    path("", views.portal_home, name="home"),
    path("sign/", views.portal_sign, name="sign"),
    path("<id:signature_id>/", views.portal_signature, name="signature"),
    path("<id:signature_id>/withdraw/", views.portal_withdraw, name="withdraw"),
    path("<id:signature_id>/pdf/", views.portal_pdf, name="pdf"),
]
