from django.apps import AppConfig


class RemindersConfig(AppConfig):
    name = "kapclinic.reminders"
    label = "reminders"
    verbose_name = "Booking reminders"
