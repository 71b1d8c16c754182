from django.urls import path

from kapclinic.home import views

app_name = "home"

urlpatterns = [path("", views.home, name="home"), path("inbox/", views.inbox, name="inbox")]
