"""The address of the caller's own calendar feed over the API (issue 16, items 3 and 9): the same services as the
calendar feed page."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema, Status

from kapclinic.accounts.services import calendar_feed_token_issue, calendar_feed_token_live, calendar_feed_token_revoke
from kapclinic.accounts.web import api_context, api_user
from kapclinic.apitypes import ERROR_ANSWERS
from kapclinic.appointments.calendar import feed_address

router = Router(tags=["calendar feed"])


class FeedStateOut(Schema):
    live: bool
    created_at: datetime | None
    last_used_at: datetime | None


class FeedAddressOut(Schema):
    url: str  # shown once: only a digest of the secret in it is kept
    created_at: datetime


class FeedEndedOut(Schema):
    ended: int


@router.get("", response={200: FeedStateOut, **ERROR_ANSWERS})
def feed_state(request: HttpRequest) -> dict[str, object]:
    """Whether you have a live calendar feed address, when it was made and last read (the address is not kept)."""
    live = calendar_feed_token_live(api_user(request))
    return {
        "live": live is not None,
        "created_at": live.created_at if live else None,
        "last_used_at": live.last_used_at if live else None,
    }


@router.post("", response={201: FeedAddressOut, **ERROR_ANSWERS})
def feed_issue(request: HttpRequest) -> Status[dict[str, object]]:
    """Make a new address for your calendar feed (your own bookings as iCalendar), ending the one you had; the
    address is in this answer only."""
    token, secret = calendar_feed_token_issue(ctx=api_context(request))
    return Status(201, {"url": feed_address(request, secret), "created_at": token.created_at})


@router.delete("", response={200: FeedEndedOut, **ERROR_ANSWERS})
def feed_revoke(request: HttpRequest) -> dict[str, object]:
    """End your calendar feed address: calendar apps using it get "not found" from then on."""
    return {"ended": calendar_feed_token_revoke(ctx=api_context(request))}
