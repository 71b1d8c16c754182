"""The controlled-substance reports, mounted at /ledger/reports/."""

from django.urls import path

from kapclinic.ledger import report_views

app_name = "ledger_reports"

urlpatterns = [
    path("", report_views.index, name="index"),
    path("dispensing-log/", report_views.dispensing_log, name="dispensing_log"),
    path("dispensing-log.csv", report_views.dispensing_log, {"output": "csv"}, name="dispensing_log_csv"),
    path("dispensing-log.pdf", report_views.dispensing_log, {"output": "pdf"}, name="dispensing_log_pdf"),
    path("inventory/", report_views.inventory, name="inventory"),
    path("inventory.csv", report_views.inventory, {"output": "csv"}, name="inventory_csv"),
    path("inventory.pdf", report_views.inventory, {"output": "pdf"}, name="inventory_pdf"),
    path("reconciliation/", report_views.reconciliation, name="reconciliation"),
    path("reconciliation.csv", report_views.reconciliation, {"output": "csv"}, name="reconciliation_csv"),
    path("reconciliation.pdf", report_views.reconciliation, {"output": "pdf"}, name="reconciliation_pdf"),
]
