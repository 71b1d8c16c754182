"""Password strength beyond length: zxcvbn's offline estimate of how many guesses a password would take."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from zxcvbn import zxcvbn

# zxcvbn reads at most this much; a longer password is judged on its start (and is long enough anyway).
_LONGEST_JUDGED = 100


class GuessablePasswordValidator:
    """Refuse a password zxcvbn scores below `min_score` (0 too guessable .. 4 very unguessable).

    Repeats ("aaaaaaaaaaaa"), keyboard walks, dates, common words and the user's own name or username are
    guessed quickly however long they are (NIST SP 800-63B 5.1.1.2).
    """

    def __init__(self, min_score: int = 3) -> None:
        self.min_score = min_score

    def validate(self, password: str, user: Any = None) -> None:
        hints = [
            str(value)
            for value in (
                getattr(user, "username", ""),
                getattr(user, "first_name", ""),
                getattr(user, "last_name", ""),
                getattr(user, "email", ""),
                "kapclinic",
                "ketamine",
            )
            if value
        ]
        result = zxcvbn(password[:_LONGEST_JUDGED], user_inputs=hints)
        if result["score"] < self.min_score:
            advice = result["feedback"].get("warning") or "It would be guessed too quickly."
            raise ValidationError(
                f"This password is too easy to guess. {advice.rstrip('.')}. "
                "Use a few unrelated words or a longer mix of characters.",
                code="password_too_guessable",
            )

    def get_help_text(self) -> str:
        return "Your password must be hard to guess: not a repeat, a keyboard pattern, a date or your name."
