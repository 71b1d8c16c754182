from django.urls import path

from kapclinic.oversight import views

app_name = "audit"

urlpatterns = [
    path("", views.audit_log, name="log"),
    path("export.csv", views.audit_export, name="export"),
    path("emergency/<id:grant_id>/review/", views.emergency_review, name="emergency_review"),
]
