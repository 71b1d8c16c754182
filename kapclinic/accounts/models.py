from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils import timezone

from kapclinic.roles import Role


class User(AbstractUser):
    """A person who signs in: a staff member in one role, or a patient."""

    role = models.CharField(max_length=20, choices=[(r.value, r.label) for r in Role])
    licence_type = models.CharField(max_length=40, blank=True, help_text="e.g. MD, NP, RN")
    licence_number = models.CharField(max_length=40, blank=True)
    must_change_password = models.BooleanField(default=False)

    class Meta:
        ordering = ["last_name", "first_name", "username"]
        constraints = [
            models.CheckConstraint(
                name="user_role_known",
                condition=Q(role__in=[r.value for r in Role]),
            ),
        ]

    @property
    def clinic_role(self) -> Role:
        return Role(self.role)

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username


def api_token_digest(raw: str) -> str:
    """Return the stored digest of a bearer token; the token itself is never stored."""
    return hashlib.sha256(raw.encode()).hexdigest()


def secret_new(prefix: str) -> tuple[str, str, str]:
    """Return a new secret as (text shown once, digest stored, characters that tell it apart)."""
    raw = prefix + secrets.token_urlsafe(32)
    return raw, api_token_digest(raw), raw[len(prefix) : len(prefix) + 8]


class ApiToken(models.Model):
    """A bearer token for the API; only its SHA-256 digest is kept."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="api_tokens")
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8, help_text="First characters, to tell tokens apart")
    label = models.CharField(max_length=80, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"kap_{self.prefix}… ({self.user_id})"

    def is_usable(self, now: datetime | None = None) -> bool:
        moment = now or timezone.now()
        return self.revoked_at is None and self.expires_at > moment


class CalendarFeedToken(models.Model):
    """The secret in the address of a person's calendar feed (a calendar app cannot sign in; issue 16, item 3).
    Only its SHA-256 digest is kept, as for API tokens; a person has at most one live feed address."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="calendar_feed_tokens")
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8, help_text="First characters, to tell addresses apart")
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(revoked_at__isnull=True), name="calendar_feed_token_one_live"
            ),
        ]

    def __str__(self) -> str:
        return f"feed {self.prefix}… ({self.user_id})"


class SmartClient(models.Model):
    """A system client of the FHIR face (SMART Backend Services, issue 17): it proves who it is with a JWT signed
    by one of its registered public keys (RS384/ES384), and reads as the staff account chosen at registration,
    under that account's role and care-team rules, further narrowed by its scopes (SMART v2, `system/...`)."""

    client_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=120)
    jwks = models.JSONField(help_text="The client's public keys: a JWK Set")
    scopes = models.TextField(help_text="The scopes it may be granted, space-separated (system/Patient.rs ...)")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="smart_clients")
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.client_id})"


class SmartAssertionJti(models.Model):
    """A client assertion's `jti`, kept until the assertion expires: the same one is refused again (replay)."""

    client = models.ForeignKey(SmartClient, on_delete=models.PROTECT, related_name="+")
    jti = models.CharField(max_length=255)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client", "jti"], name="smart_assertion_jti_once")]

    def __str__(self) -> str:
        return f"jti {self.jti[:16]} ({self.client_id})"


class SmartAccessToken(models.Model):
    """An access token granted to a system client: only its SHA-256 digest is kept, as for API tokens."""

    client = models.ForeignKey(SmartClient, on_delete=models.PROTECT, related_name="tokens")
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8, help_text="First characters, to tell tokens apart")
    scopes = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"smart {self.prefix}… ({self.client_id})"
