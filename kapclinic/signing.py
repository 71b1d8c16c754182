"""Signing a clinical record: who signed, when, and a digest of exactly what they signed.

A signed record (a treatment plan, a consent signature, a therapy note, a session's dose order)
is frozen: the digest over its signed fields is stored with the signature, `signature_intact`
re-computes it, and the database refuses any UPDATE of a signed row (`frozen_once_signed`, in
kapclinic/dbtriggers.py). Corrections are addenda or new versions that point at the original.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if timezone.is_aware(value) else value.isoformat()
    if isinstance(value, date | time | Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def content_digest(fields: Mapping[str, Any]) -> str:
    """Return the SHA-256 (hex) of `fields` as canonical JSON: same content, same digest, on any backend."""
    text = json.dumps(_canonical(fields), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class SignedRecord(models.Model):
    """Abstract: the signature columns. Subclasses say which fields the signature covers."""

    SIGNED_FIELDS: tuple[str, ...] = ()

    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    signed_digest = models.CharField(max_length=64, blank=True)

    class Meta:
        abstract = True

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None

    def signed_content(self) -> dict[str, Any]:
        """The values the signature covers (foreign keys by id)."""
        content: dict[str, Any] = {}
        for name in self.SIGNED_FIELDS:
            field = self._meta.get_field(name)
            assert isinstance(field, models.Field)
            content[name] = getattr(self, field.attname)
        return content

    def signature_stamp(self, user_id: int, at: datetime | None = None) -> None:
        """Fill the signature columns (the caller saves, in its service's transaction)."""
        self.signed_by_id = user_id
        self.signed_at = at or timezone.now()
        self.signed_digest = content_digest(self.signed_content())

    @property
    def signature_intact(self) -> bool:
        """Whether the stored content still matches what was signed."""
        return self.is_signed and self.signed_digest == content_digest(self.signed_content())
