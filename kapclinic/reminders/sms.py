"""Text messages through a pluggable backend, as Django's EMAIL_BACKEND does for email.

KAPCLINIC_SMS_BACKEND names a class whose instances have `send_text(to, body)`; empty: no texts are sent and
patients are not offered them. A provider's backend (Twilio, Amazon SNS, ...) is a small class of the same shape
kept by the clinic; it raises on a failure, so the reminder is not recorded as sent and a later run tries again.
"""

from __future__ import annotations

import sys
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


class SmsBackend(Protocol):
    def send_text(self, to: str, body: str) -> None:
        """Send `body` to the phone number `to`; raise if it could not be sent."""


class ConsoleSmsBackend:
    """Print each text to standard output (the demo and development), like Django's console email backend."""

    def send_text(self, to: str, body: str) -> None:
        sys.stdout.write(f"--- text message to {to} ---\n{body}\n")
        sys.stdout.flush()


# What LocmemSmsBackend sent, oldest first (tests read and clear it, as Django's mail.outbox).
outbox: list[tuple[str, str]] = []


class LocmemSmsBackend:
    """Keep each text in `outbox` (tests)."""

    def send_text(self, to: str, body: str) -> None:
        outbox.append((to, body))


def sms_offered() -> bool:
    """Whether the clinic sends text messages at all (a backend is configured)."""
    return bool(settings.KAPCLINIC_SMS_BACKEND)


def sms_backend() -> SmsBackend:
    """Return the configured backend; only called when `sms_offered()`."""
    backend: SmsBackend = import_string(settings.KAPCLINIC_SMS_BACKEND)()
    return backend
