from django.urls import path

from kapclinic.fhir import bulk, clinical_views, record_views, smart, views

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
    path(
        "MedicationAdministration",
        clinical_views.medication_administration_search,
        name="medication_administration_search",
    ),
    path(
        "MedicationAdministration/<str:administration_id>",
        clinical_views.medication_administration_read,
        name="medication_administration",
    ),
    path("MedicationRequest", clinical_views.medication_request_search, name="medication_request_search"),
    path("MedicationRequest/<str:order_id>", clinical_views.medication_request_read, name="medication_request"),
    path("Encounter", clinical_views.encounter_search, name="encounter_search"),
    path("Encounter/<str:encounter_id>", clinical_views.encounter_read, name="encounter"),
    path("Condition", clinical_views.condition_search, name="condition_search"),
    path("Condition/<str:condition_id>", clinical_views.condition_read, name="condition"),
    path("AllergyIntolerance", clinical_views.allergy_search, name="allergy_search"),
    path("AllergyIntolerance/<str:allergy_id>", clinical_views.allergy_read, name="allergy"),
    path("CarePlan", clinical_views.careplan_search, name="careplan_search"),
    path("CarePlan/<str:careplan_id>", clinical_views.careplan_read, name="careplan"),
    path("Consent", clinical_views.consent_search, name="consent_search"),
    path("Consent/<str:signature_id>", clinical_views.consent_read, name="consent"),
    path("Appointment", clinical_views.appointment_search, name="appointment_search"),
    path("Appointment/<str:appointment_id>", clinical_views.appointment_read, name="appointment"),
    # Issue 17, second part (record_views.py): instruments, answers, who signed what, the audit trail.
    path("Questionnaire", record_views.questionnaire_search, name="questionnaire_search"),
    path("Questionnaire/<str:questionnaire_id>", record_views.questionnaire_read, name="questionnaire"),
    path("QuestionnaireResponse", record_views.questionnaire_response_search, name="questionnaire_response_search"),
    path(
        "QuestionnaireResponse/<str:response_id>",
        record_views.questionnaire_response_read,
        name="questionnaire_response",
    ),
    path("Provenance", record_views.provenance_search, name="provenance_search"),
    path("Provenance/<str:provenance_id>", record_views.provenance_read, name="provenance"),
    path("AuditEvent", record_views.audit_event_search, name="audit_event_search"),
    path("AuditEvent/<str:audit_event_id>", record_views.audit_event_read, name="audit_event"),
]
