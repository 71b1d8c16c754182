from django.urls import path

from kapclinic.dosing import session_views, views

app_name = "dosing"
urlpatterns = [
    path("schedule/", views.schedule, name="schedule_list"),
    path("sessions/<id:session_id>/schedule/", views.session_schedule, name="schedule"),
    path("today/", session_views.board, name="board"),
    path("alerts/", session_views.my_alerts, name="my_alerts"),
    path("adverse-events/<id:event_id>/review/", session_views.adverse_review, name="adverse_review"),
    path("sessions/<id:session_id>/", session_views.session_page, name="session"),
    path("sessions/<id:session_id>/record.pdf", session_views.session_pdf, name="session_pdf"),
    path("sessions/<id:session_id>/rems.pdf", session_views.rems_pdf, name="rems_pdf"),
    path("sessions/<id:session_id>/alerts/", session_views.session_alerts, name="session_alerts"),
    path("sessions/<id:session_id>/<slug:step>/", session_views.session_step, name="step"),
]
