from django.urls import path

from kapclinic.measures import views

app_name = "measures"

urlpatterns = [
    path("patients/<id:patient_id>/schedule/", views.schedule_apply, name="schedule"),
    path("patients/<id:patient_id>/<slug:code>/", views.paper_entry, name="paper_entry"),
    path("safety-flags/<id:flag_id>/acknowledge/", views.safety_acknowledge, name="safety_acknowledge"),
]
