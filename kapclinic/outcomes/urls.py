from django.urls import path

from kapclinic.outcomes import views

app_name = "outcomes"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("cohorts.csv", views.dashboard_csv, name="dashboard_csv"),
    path("research.csv", views.research_csv, name="research_csv"),
    path("completeness/", views.completeness_page, name="completeness"),
    path("completeness/overdue/", views.overdue, name="overdue"),
    path("prompts/", views.prompts, name="prompts"),
    path("prompts/<id:prompt_id>/", views.prompt, name="prompt"),
    path("patients/<id:patient_id>/", views.patient, name="patient"),
    path("patients/<id:patient_id>/report/", views.report, name="report"),
    path("reports/<id:report_id>.pdf", views.report_pdf, name="report_pdf"),
]
