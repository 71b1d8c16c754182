from django.urls import path

from kapclinic.reminders import views

app_name = "reminders_portal"

urlpatterns = [
    path("", views.bookings, name="bookings"),
    path("<id:appointment_id>/confirm/", views.confirm, name="confirm"),
    path("<id:appointment_id>/reschedule/", views.reschedule, name="reschedule"),
    path("reminders/", views.reminders, name="reminders"),
]
