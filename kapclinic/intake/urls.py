from django.urls import path

from kapclinic.intake import views

app_name = "intake"

urlpatterns = [
    path("inquiries/", views.inquiry_list, name="list"),
    path("inquiries/new/", views.inquiry_new, name="new"),
    path("inquiries/<id:inquiry_id>/", views.inquiry_detail, name="detail"),
    path("inquiries/<id:inquiry_id>/status/", views.inquiry_status, name="status"),
    path("icd10/", views.icd10_options, name="icd10"),
    path("patients/<id:patient_id>/eligibility/", views.eligibility_page, name="eligibility"),
]
