from django.urls import path

from kapclinic.messaging import views

app_name = "messaging"

urlpatterns = [
    path("messages/", views.inbox, name="inbox"),
    path("patients/<id:patient_id>/messages/", views.patient_threads, name="patient_threads"),
    path("patients/<id:patient_id>/messages/<id:thread_id>/", views.thread, name="thread"),
    path(
        "patients/<id:patient_id>/messages/<id:thread_id>/needs-response/",
        views.thread_needs_response,
        name="needs_response",
    ),
    path(
        "patients/<id:patient_id>/messages/<id:thread_id>/<id:message_id>/safety-flag/",
        views.message_safety_flag,
        name="safety_flag",
    ),
]
