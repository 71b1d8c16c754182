"""Paths as the logs write them. One path holds a secret: a calendar feed's address is its only sign-in (a
calendar app cannot sign in; appointments/feed_urls.py), so logs name the route and leave the secret out."""

from __future__ import annotations

import logging
import re

_FEED_PATH = re.compile(r"^/calendar/feed/[^/]+\.ics$")


def path_for_log(path: str) -> str:
    """The path as a log line writes it: a calendar feed's secret left out."""
    return "/calendar/feed/….ics" if _FEED_PATH.match(path) else path


class PathsWithoutSecrets(logging.Filter):
    """Leave a feed's secret out of Django's request lines ("Not Found: <path>")."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(path_for_log(a) if isinstance(a, str) else a for a in record.args)
        return True
