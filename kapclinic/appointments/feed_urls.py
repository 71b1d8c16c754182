from django.urls import path

from kapclinic.appointments import feed_views

app_name = "calendar_feed"

urlpatterns = [
    path("", feed_views.feed_page, name="page"),
    path("revoke/", feed_views.feed_revoke, name="revoke"),
    path("<str:token>.ics", feed_views.feed, name="feed"),
]
