from django.urls import path

from kapclinic.plans import views

app_name = "plans"
urlpatterns = [
    path("patients/<int:patient_id>/plans/", views.patient_plans, name="list"),
    path("patients/<int:patient_id>/plans/new/", views.plan_new, name="new"),
    path("plans/<int:plan_id>/", views.plan_detail, name="detail"),
    path("plans/<int:plan_id>/edit/", views.plan_edit, name="edit"),
    path("plans/<int:plan_id>/sign/", views.plan_sign, name="sign"),
]
