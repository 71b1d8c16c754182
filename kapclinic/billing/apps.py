from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "kapclinic.billing"
    label = "billing"
    verbose_name = "Billing: coverage, fees and charges"
