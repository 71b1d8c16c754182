from django.urls import path

from kapclinic.fhir import views

app_name = "fhir"

urlpatterns = [
    path("metadata", views.metadata, name="metadata"),
    path("Patient", views.patient_search, name="patient_search"),
    path("Patient/<str:patient_id>", views.patient_read, name="patient"),
    path("Practitioner", views.practitioner_search, name="practitioner_search"),
    path("Practitioner/<str:practitioner_id>", views.practitioner_read, name="practitioner"),
    path("Observation", views.observation_search, name="observation_search"),
    path("Observation/<str:observation_id>", views.observation_read, name="observation"),
]
