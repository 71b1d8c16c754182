"""The record export in the API: the whole record as one document (the chart app reads every stage)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from kapclinic.accounts.web import api_context
from kapclinic.apitypes import ERROR_ANSWERS, DbId
from kapclinic.chart.export import record_export

router = Router(tags=["patients"])


@router.get("/{patient_id}/record", response={200: dict[str, Any], **ERROR_ANSWERS})
def patient_record(request: HttpRequest, patient_id: DbId, include_process_notes: bool = False) -> dict[str, Any]:
    """The patient's record as one document. Psychotherapy process notes are left out unless the exporting
    author includes their own with include_process_notes=true (a colleague's never)."""
    return record_export(
        ctx=api_context(request), patient_id=patient_id, include_own_process_notes=include_process_notes
    )
