from django.urls import path

from kapclinic.dosing import views

app_name = "dosing_portal"
urlpatterns = [
    path("<id:session_id>/checklist/", views.portal_checklist, name="checklist"),
]
