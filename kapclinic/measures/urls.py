from django.urls import path

from kapclinic.measures import views

app_name = "measures"

urlpatterns = [
    path("patients/<int:patient_id>/schedule/", views.schedule_apply, name="schedule"),
    path("patients/<int:patient_id>/<slug:code>/", views.paper_entry, name="paper_entry"),
    path("safety-flags/<int:flag_id>/acknowledge/", views.safety_acknowledge, name="safety_acknowledge"),
]
