from django.urls import path

from kapclinic.patients import search_views, views

app_name = "patients"

urlpatterns = [
    path("", views.patient_list, name="list"),
    path("new/", views.patient_register, name="register"),
    path("search/", search_views.quick_search, name="quick_search"),
    path("search/go/", search_views.search_go, name="search_go"),
    path("<id:patient_id>/edit/", views.patient_edit, name="edit"),
    path("<id:patient_id>/emergency-access/", views.emergency_access, name="emergency_access"),
    path("<id:patient_id>/portal-account/", views.portal_account, name="portal_account"),
    path("<id:patient_id>/care-team/", views.care_team_assign, name="care_team"),
]
