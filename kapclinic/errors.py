"""Errors the services raise; pages and the API turn each into the same answer."""

from __future__ import annotations


class AccessDenied(Exception):
    """The user may not do this (HTTP 403)."""

    def __init__(self, message: str = "You do not have permission to do that.", *, emergency_possible: bool = False):
        super().__init__(message)
        self.message = message
        self.emergency_possible = emergency_possible


class NotFound(Exception):
    """No such record, or none the user may know of (HTTP 404)."""

    def __init__(self, message: str = "Not found."):
        super().__init__(message)
        self.message = message


class Conflict(Exception):
    """The request clashes with the record's current state (HTTP 409)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
