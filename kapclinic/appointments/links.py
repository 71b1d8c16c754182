"""Video links: only an https address with a real host is kept, and only such an address is ever made a link.

A stored `javascript:` link ran script from the appointment page (issue 12, fault 4); the check is in the
service (page and API alike) and again on output, for links stored before it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

# The column's length: Appointment.video_link is a URLField, 200 characters by default.
VIDEO_LINK_MAX = 200

# Django's URL check: a real host name or address, no spaces or control characters; https only.
_HTTPS_URL = URLValidator(schemes=["https"])


def video_link_problem(link: str) -> str | None:
    """Why `link` cannot be an appointment's video link, or None when it can."""
    if len(link) > VIDEO_LINK_MAX:
        return f"A video link is at most {VIDEO_LINK_MAX} characters."
    try:
        _HTTPS_URL(link)
    except ValidationError:
        return "Give the video link as an https:// address with its host, e.g. https://meet.example.com/room-1."
    parts = urlsplit(link)
    if parts.username is not None or parts.password is not None:
        return "A video link cannot carry a user name or password."
    return None


def video_href(link: str) -> str:
    """The address a page may link to: the stored one if it is a safe https address, else ""."""
    return link if link and video_link_problem(link) is None else ""
