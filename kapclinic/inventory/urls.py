from django.urls import path

from kapclinic.inventory import views

app_name = "inventory"

urlpatterns = [
    path("", views.stock, name="stock"),
    path("entries/", views.entries, name="entries"),
    path("receive/", views.receive, name="receive"),
    path("record/", views.record, name="record"),
    path("transfer/", views.transfer, name="transfer"),
    path("locations/", views.locations, name="locations"),
    path("products/", views.products, name="products"),
    path("registration/", views.registration, name="registration"),
    path("counts/", views.counts, name="counts"),
    path("counts/new/<int:location_id>/", views.count_new, name="count_new"),
    path("counts/<int:count_id>/", views.count_detail, name="count"),
    path("investigations/<int:investigation_id>/", views.investigation_resolve, name="investigation"),
]
