"""The referral import pages (issue 17 item 4), under /patients/<id>/referrals/."""

from django.urls import path

from kapclinic.fhir import imports_views

app_name = "referrals"

urlpatterns = [
    path("", imports_views.referral_list, name="list"),
    path("<id:referral_id>/", imports_views.referral_detail, name="detail"),
]
