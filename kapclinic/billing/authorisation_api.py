"""Prior authorisations over JSON: the same reads and writes as the patient's page, so the same rules and audit."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict

from kapclinic.accounts.web import api_context
from kapclinic.apitypes import ERROR_ANSWERS, DbId
from kapclinic.billing import authorisations
from kapclinic.billing.authorisations import AuthorisationShown

router = Router(tags=["billing"])


class AuthorisationOut(Schema):
    id: int
    payer: int
    payer_name: str
    covers: str
    code: str
    number: str
    approved_units: int
    used: int | None = Field(description="sessions scheduled or given within its days; null for a code")
    left: int | None
    effective_from: date
    effective_to: date
    attention: str = Field(description='"ends soon", "used up" or ""')
    replaces: int | None
    note: str


class AuthorisationIn(Schema):
    model_config = ConfigDict(extra="forbid")

    payer: DbId
    covers: str = Field(description="esketamine, iv_ketamine or code")
    code: str = Field(default="", max_length=5, description="the CPT/HCPCS code, when covers is code")
    number: str = Field(max_length=200)
    approved_units: int = Field(description="approved sessions (a drug) or units (a code)")
    effective_from: date
    effective_to: date
    note: str = Field(default="", max_length=4000)
    replaces: DbId | None = Field(default=None, description="the authorisation this one replaces (same patient)")


def _out(shown: AuthorisationShown) -> dict[str, Any]:
    a = shown.authorisation
    return {
        "id": a.pk,
        "payer": a.payer_id,
        "payer_name": a.payer.name,
        "covers": a.covers,
        "code": a.code,
        "number": a.number,
        "approved_units": a.approved_units,
        "used": shown.used,
        "left": shown.left,
        "effective_from": a.effective_from,
        "effective_to": a.effective_to,
        "attention": shown.attention,
        "replaces": a.replaces_id,
        "note": a.note,
    }


@router.get("/patients/{patient_id}/prior-authorisations", response={200: list[AuthorisationOut], **ERROR_ANSWERS})
def authorisation_list(request: HttpRequest, patient_id: DbId) -> list[dict[str, Any]]:
    """The patient's prior authorisations, latest end first, with the sessions counted against each."""
    found = authorisations.authorisations_for_patient(ctx=api_context(request), patient_id=patient_id)
    return [_out(s) for s in found.authorisations]


@router.post("/patients/{patient_id}/prior-authorisations", response={201: AuthorisationOut, **ERROR_ANSWERS})
def authorisation_create(request: HttpRequest, patient_id: DbId, payload: AuthorisationIn) -> Status[dict[str, Any]]:
    """Record a payer's prior authorisation (coordinator, director or biller). 422 with the field's reason: a code
    not in the code table, dates reversed, no units, a replaced authorisation of another patient."""
    ctx = api_context(request)
    made = authorisations.prior_authorisation_add(
        ctx=ctx,
        patient_id=patient_id,
        given=authorisations.AuthorisationInput(
            payer_id=payload.payer,
            covers=payload.covers,
            code=payload.code,
            number=payload.number,
            approved_units=payload.approved_units,
            effective_from=payload.effective_from,
            effective_to=payload.effective_to,
            note=payload.note,
            replaces_id=payload.replaces,
        ),
    )
    shown = authorisations.shown_one(made)
    return Status(201, _out(shown))
