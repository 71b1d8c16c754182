from django.urls import path

from kapclinic.therapy import views

app_name = "journal"

urlpatterns = [
    path("", views.journal, name="home"),
    path("<id:reflection_id>/", views.journal_entry, name="entry"),
    path("<id:reflection_id>/share/", views.journal_share, name="share"),
]
