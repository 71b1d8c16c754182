from django.urls import path

from kapclinic.outcomes import views

app_name = "outcomes"
urlpatterns = [
    path("prompts/", views.prompts, name="prompts"),
    path("prompts/<id:prompt_id>/", views.prompt, name="prompt"),
    path("patients/<id:patient_id>/", views.patient, name="patient"),
]
