"""What every API router shares: bounded integers, clock times, and the error answers each operation can give.

Kept out of kapclinic/api.py, which imports every router: a router importing it would import itself.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Any

from ninja import Field, Schema
from pydantic import AfterValidator, WithJsonSchema

# The largest id PostgreSQL's bigint (and SQLite's INTEGER) holds; a larger one can name no record, and the
# database refuses to compare with it (issue 12, fault 8: 500 on ids of 2**63 and 2**64).
DB_ID_MAX = 2**63 - 1
# An IntegerField on PostgreSQL: 32 bits (https://www.postgresql.org/docs/15/datatype-numeric.html).
DB_INT_MAX = 2**31 - 1
# Far past any list the clinic keeps; a larger offset would overflow the SQL OFFSET.
OFFSET_MAX = 10_000_000

DbId = Annotated[int, Field(ge=1, le=DB_ID_MAX, description="a record's id")]
"""A record's id: a positive integer the database can hold (others are a 422, never a 500)."""

DbInt = Annotated[int, Field(ge=-DB_INT_MAX - 1, le=DB_INT_MAX)]
"""Any other whole number stored in an integer column; the service checks the clinical range."""

Offset = Annotated[int, Field(ge=0, le=OFFSET_MAX, description="how many to skip")]


def _local(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("Give the time without an offset: it is the clinic's local time.")
    return value


ClockTime = Annotated[
    time,
    AfterValidator(_local),
    # A local time in the clinic's time zone, without offset: OpenAPI's "time" format (RFC 3339 full-time)
    # requires an offset, so the document described an answer ("09:30:00") it could never give.
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$",
            "description": "a clock time in the clinic's time zone, HH:MM or HH:MM:SS",
            "examples": ["09:30", "14:00:00"],
        }
    ),
]


class ErrorOut(Schema):
    """Every refusal but a validation error: 400, 401, 403, 404, 409, 429."""

    detail: str


class FieldErrorOut(Schema):
    """One invalid field: where it is (e.g. ["body", "payload", "video_link"]), what is wrong, and its kind."""

    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorOut(Schema):
    """422: the request is well formed but a value is refused; one entry per field and message."""

    detail: list[FieldErrorOut]


class ClashOut(Schema):
    """409 for a booking: the time is taken (or someone or something is away or closed then); `next_free` are the
    next starts when everyone and everything it needs is free, `field` the request field it is about."""

    detail: str
    field: str = ""
    next_free: list[datetime] = []


ERROR_ANSWERS: dict[int, Any] = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    422: ValidationErrorOut,
    429: ErrorOut,
}
"""The error answers the API's handlers (kapclinic/api.py) give for any operation; spread into each
`response={...}` so the OpenAPI document describes them: `response={200: PatientOut, **ERROR_ANSWERS}`."""

BOOKING_ANSWERS: dict[int, Any] = {**ERROR_ANSWERS, 409: ClashOut}
"""The error answers of the booking operations: a clash is 409 with the next free times (kapclinic/api.py)."""
