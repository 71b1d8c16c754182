"""Signing a clinical record: who signed, when, and a digest of exactly what they signed.

Every signed record (a treatment plan, a dosing session, a therapy note and its addenda, a consent signature,
a dose order) is a `Signed` model: it names the fields its signature covers (SIGNED_FIELDS), is stamped with
`signature_stamp` and checked with `signature_intact`; nothing else builds a signature's digest. A signed row
is frozen: the database refuses any UPDATE of it (`frozen_once_signed` or `append_only`, in
kapclinic/dbtriggers.py). Corrections are addenda or new versions that point at the original.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, ClassVar

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


def _decimal_texts(value: Decimal, places_max: int) -> list[str]:
    """`value` written with each number of decimal places that keeps it exact, from 0 to `places_max`."""
    texts = []
    for places in range(places_max + 1):
        written = value.quantize(Decimal(1).scaleb(-places))
        if written == value:
            texts.append(str(written))
    return texts


class Signed(models.Model):
    """Abstract: how every signed record signs and is checked. Subclasses name the fields the signature covers
    and, where their columns have their own names, the signer, time and digest columns."""

    # The fields the digest covers (foreign keys by id), under their names unless SIGNED_AS renames them.
    SIGNED_FIELDS: ClassVar[tuple[str, ...]] = ()
    # Fields added after records were first signed: covered only when set, so older digests still verify.
    SIGNED_WHEN_SET: ClassVar[tuple[str, ...]] = ()
    # A field's key in the signed content when it differs from the field's name, e.g. {"written_at": "at"}.
    SIGNED_AS: ClassVar[Mapping[str, str]] = {}
    # Decimals once digested as the dose calculator wrote them ("50", "0.5") rather than as the column stores
    # them ("50.00"): the check also accepts the same value written with 0 to 6 places.
    SIGNED_DECIMALS_AS_CALCULATED: ClassVar[tuple[str, ...]] = ()
    SIGNER_FIELD: ClassVar[str] = "signed_by"
    SIGNED_AT_FIELD: ClassVar[str] = "signed_at"
    DIGEST_FIELD: ClassVar[str] = "signed_digest"

    class Meta:
        abstract = True

    @property
    def is_signed(self) -> bool:
        return getattr(self, self.SIGNED_AT_FIELD) is not None

    @property
    def signature_digest(self) -> str:
        return str(getattr(self, self.DIGEST_FIELD))

    def signed_content(self) -> dict[str, Any]:
        """The values the signature covers: foreign keys by id, decimals as their column stores them."""
        content: dict[str, Any] = {}
        for name in self.SIGNED_FIELDS + self.SIGNED_WHEN_SET:
            field = self._meta.get_field(name)
            assert isinstance(field, models.Field)
            value = getattr(self, field.attname)
            if name in self.SIGNED_WHEN_SET and value in (None, ""):
                continue
            if isinstance(field, models.DecimalField) and value is not None:
                # The digest taken before saving then matches the row read back.
                value = Decimal(value).quantize(Decimal(1).scaleb(-field.decimal_places))
            content[self.SIGNED_AS.get(name, name)] = value
        return content

    def signature_stamp(self, user_id: int, at: datetime | None = None) -> None:
        """Fill the signature columns (the caller saves, in its service's transaction)."""
        signer = self._meta.get_field(self.SIGNER_FIELD)
        assert isinstance(signer, models.ForeignKey)
        setattr(self, signer.attname, user_id)
        setattr(self, self.SIGNED_AT_FIELD, at or timezone.now())
        setattr(self, self.DIGEST_FIELD, content_digest(self.signed_content()))

    def _signed_contents(self) -> Iterator[dict[str, Any]]:
        """The signed content, then the forms older signatures of this record may have digested."""
        content = self.signed_content()
        yield content
        keys = [self.SIGNED_AS.get(n, n) for n in self.SIGNED_DECIMALS_AS_CALCULATED]
        keys = [k for k in keys if isinstance(content.get(k), Decimal)]
        for texts in itertools.product(*(_decimal_texts(content[k], 6) for k in keys)):
            yield {**content, **dict(zip(keys, texts, strict=True))}

    @property
    def signature_intact(self) -> bool:
        """Whether the stored content still matches what was signed."""
        digest = self.signature_digest
        return self.is_signed and any(digest == content_digest(c) for c in self._signed_contents())


class SignedRecord(Signed):
    """Abstract: a record written as a draft and signed later (plans, sessions, notes): nullable signature columns."""

    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    signed_digest = models.CharField(max_length=64, blank=True)

    class Meta:
        abstract = True
