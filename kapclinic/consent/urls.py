"""The director's consent texts, mounted at /consent/."""

from django.urls import path

from kapclinic.consent import views

app_name = "consent"

urlpatterns = [
    path("texts/", views.text_list, name="texts"),
    path("texts/publish/", views.text_publish, name="publish"),
    path("texts/<id:version_id>/", views.text_detail, name="text"),
]
