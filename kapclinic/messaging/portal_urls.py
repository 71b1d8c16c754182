from django.urls import path

from kapclinic.messaging import views

app_name = "messaging_portal"

urlpatterns = [
    path("", views.portal_threads, name="home"),
    path("<id:thread_id>/", views.portal_thread, name="thread"),
]
