"""The header's counts beside "Inbox" and "Messages" on every staff page (issue 16, item 5)."""

from __future__ import annotations

from functools import cached_property

from django.http import HttpRequest

from kapclinic.accounts.models import User
from kapclinic.home.inbox import LIMIT, InboxCounts, inbox_counts

_ON_REQUEST = "_kapclinic_header_counts"


class HeaderCounts:
    """The counts, read when the header is drawn and not before: a page without the header (an htmx partial, a
    file, JSON) costs nothing, and a page drawn twice in a request (an error page) reads them once."""

    def __init__(self, user: User) -> None:
        self.user = user

    @cached_property
    def _counts(self) -> InboxCounts:
        return inbox_counts(self.user)

    @property
    def inbox(self) -> str:
        """The number shown beside "Inbox" ("" for none; "50+" past the inbox's page of 50)."""
        return _shown(self._counts.total)

    @property
    def inbox_label(self) -> str:
        return _spoken(self._counts.total, "item needs you", "items need you")

    @property
    def messages(self) -> str:
        return _shown(self._counts.unread_messages)

    @property
    def messages_label(self) -> str:
        return _spoken(self._counts.unread_messages, "unread message", "unread messages")


def _shown(count: int) -> str:
    if count > LIMIT:
        return f"{LIMIT}+"
    return str(count) if count else ""


def _spoken(count: int, one: str, many: str) -> str:
    if count > LIMIT:
        return f"More than {LIMIT} {many}"
    return f"1 {one}" if count == 1 else f"{count} {many}"


def header_counts(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if not isinstance(user, User):  # signed out, or an answer given before authentication
        return {}
    counts = getattr(request, _ON_REQUEST, None)
    if counts is None:
        counts = HeaderCounts(user)
        setattr(request, _ON_REQUEST, counts)
    return {"header_counts": counts}
