from django.urls import path

from kapclinic.portal import views

app_name = "portal"

urlpatterns = [
    path("", views.portal_home, name="home"),
    path("plan/", views.my_plan, name="plan"),
    path("record/", views.my_record, name="record"),
    path("record/fhir/", views.my_record_fhir, name="record_fhir"),
    path("record/json/", views.my_record_json, name="record_json"),
    path("questionnaires/<slug:code>/", views.questionnaire, name="questionnaire"),
    path("questionnaires/<slug:code>/draft/", views.questionnaire_draft, name="questionnaire_draft"),
    path("responses/<id:response_id>/", views.response_done, name="response_done"),
]
