from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class OutcomesConfig(AppConfig):
    name = "kapclinic.outcomes"
    label = "outcomes"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kapclinic.measures.signals import response_scored

        response_scored.connect(_evaluate_on_score, dispatch_uid="outcomes.evaluate_on_score")


def _evaluate_on_score(sender: object, *, patient_id: int, **kwargs: Any) -> None:
    """A new score: the rules read it now, inside the response's transaction (docs/house.md signals)."""
    from kapclinic.outcomes.services import prompts_evaluate

    prompts_evaluate(patient_id=patient_id)
