from django.urls import path

from kapclinic.appointments import views

app_name = "appointments"

urlpatterns = [
    path("book/", views.book, name="book"),
    path("availability/", views.availability, name="availability"),
    path("calendar/", views.calendar, name="calendar"),
    path("mine.ics", views.ics_mine, name="ics_mine"),
    path("<id:appointment_id>/", views.detail, name="detail"),
    path("<id:appointment_id>/<str:what>/", views.change, name="change"),
    path("<id:appointment_id>.ics", views.ics_one, name="ics"),
]
