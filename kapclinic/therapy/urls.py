from django.urls import path

from kapclinic.therapy import views

app_name = "therapy"

urlpatterns = [
    path("patients/<id:patient_id>/notes/", views.patient_notes, name="patient_notes"),
    path("patients/<id:patient_id>/notes/new/", views.note_new, name="note_new"),
    path("dosing-sessions/<id:session_id>/in-session-note/", views.in_session_note, name="in_session_note"),
    path("notes/<id:note_id>/", views.note_detail, name="note"),
    path("notes/<id:note_id>/note.pdf", views.note_pdf, name="note_pdf"),
    path("notes/<id:note_id>/autosave/", views.note_autosave, name="note_autosave"),
    path("notes/<id:note_id>/sign/", views.note_sign, name="note_sign"),
    path("notes/<id:note_id>/addenda/", views.note_addendum, name="note_addendum"),
    path("notes/<id:note_id>/cosign/", views.note_cosign, name="note_cosign"),
    path("notes/<id:note_id>/shares/", views.note_shares, name="note_shares"),
    path("notes/<id:note_id>/goals/", views.note_goal_progress, name="note_goal_progress"),
    path("therapy/search/", views.search, name="search"),
]
