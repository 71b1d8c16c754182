from django.urls import path

from kapclinic.ledger import views

app_name = "ledger"

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
    path("counts/new/<id:location_id>/", views.count_new, name="count_new"),
    path("counts/<id:count_id>/", views.count_detail, name="count"),
    path("investigations/<id:investigation_id>/", views.investigation_resolve, name="investigation"),
    path("losses/<id:entry_id>/reports/", views.loss_report, name="loss_report"),
]
