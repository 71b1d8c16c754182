from django.urls import path

from kapclinic.chart import views

app_name = "chart"

urlpatterns = [
    path("<id:patient_id>/", views.patient_chart, name="patient"),
    path("<id:patient_id>/summary.pdf", views.patient_summary_pdf, name="summary_pdf"),
    path("<id:patient_id>/record.json", views.patient_record_download, name="record"),
]
