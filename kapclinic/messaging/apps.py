from django.apps import AppConfig


class MessagingConfig(AppConfig):
    # Not "messages": that label is django.contrib.messages'.
    name = "kapclinic.messaging"
    label = "messaging"
    verbose_name = "Secure messages"
