from django.urls import path

from kapclinic.billing import payment_views

app_name = "billing_portal"

urlpatterns = [
    path("", payment_views.my_billing, name="home"),
    path("superbill.pdf", payment_views.my_superbill, name="superbill"),
]
