from django.urls import path

from kapclinic.plans import views

app_name = "plans"
urlpatterns = [
    path("patients/<id:patient_id>/plans/", views.patient_plans, name="list"),
    path("patients/<id:patient_id>/plans/new/", views.plan_new, name="new"),
    path("plans/<id:plan_id>/", views.plan_detail, name="detail"),
    path("plans/<id:plan_id>/plan.pdf", views.plan_pdf, name="pdf"),
    path("plans/<id:plan_id>/edit/", views.plan_edit, name="edit"),
    path("plans/<id:plan_id>/sign/", views.plan_sign, name="sign"),
]
