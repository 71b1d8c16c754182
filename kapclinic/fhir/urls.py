from django.urls import path

from kapclinic.fhir import bulk, smart, views

app_name = "fhir"

urlpatterns = [
    path("metadata", views.metadata, name="metadata"),
    path(".well-known/smart-configuration", smart.smart_configuration, name="smart_configuration"),
    path("auth/token", smart.token, name="smart_token"),
    # Bulk Data export (bulk.py); before Patient/<id>, which would take "$export" for an id.
    path("$export", bulk.system_export, name="export"),
    path("Patient/$export", bulk.patient_export, name="patient_export"),
    path("Group/<str:group_id>/$export", bulk.group_export, name="group_export"),
    path("Group/<str:group_id>", bulk.group_read, name="group"),
    path("$export-status/<uuid:job_id>", bulk.export_status, name="export_status"),
    path("$export-file/<uuid:job_id>/<str:file_name>", bulk.export_file, name="export_file"),
    path("Patient", views.patient_search, name="patient_search"),
    path("Patient/<str:patient_id>", views.patient_read, name="patient"),
    path("Practitioner", views.practitioner_search, name="practitioner_search"),
    path("Practitioner/<str:practitioner_id>", views.practitioner_read, name="practitioner"),
    path("Observation", views.observation_search, name="observation_search"),
    path("Observation/<str:observation_id>", views.observation_read, name="observation"),
]
