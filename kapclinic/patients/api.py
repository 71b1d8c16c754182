from __future__ import annotations

from datetime import date, datetime

from django.http import HttpRequest
from django.urls import reverse
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from kapclinic.accounts.web import api_context
from kapclinic.apitypes import ERROR_ANSWERS, DbId, DbInt, Offset
from kapclinic.clinical.registry import parse_search
from kapclinic.patients import services
from kapclinic.patients.access import patient_get_for_user, patients_visible_to
from kapclinic.patients.models import Patient
from kapclinic.patients.selectors import MAX_PAGE_SIZE, patient_search_for_user

router = Router(tags=["patients"])
# GET /api/v1/search: the header's search box as JSON (issue 16, item 7), mounted at the API's root.
search_router = Router(tags=["search"])


class PatientOut(Schema):
    id: int
    mrn: str
    given_name: str
    family_name: str
    preferred_name: str
    birth_date: date
    sex_at_birth: str
    gender_identity: str
    pronouns: str
    phone: str
    email: str
    address_line1: str
    address_line2: str
    city: str
    region: str
    postal_code: str
    country: str
    emergency_contact_name: str
    emergency_contact_relationship: str
    emergency_contact_phone: str
    preferred_language: str
    insurance_payer: str
    insurance_member_id: str
    version: int
    created_at: datetime
    updated_at: datetime


class PatientListOut(Schema):
    items: list[PatientOut]
    count: int = Field(description="How many match; when count_capped, at least this many (the count stops there).")
    count_capped: bool = Field(
        default=False, description="True when more patients match than `count`: page on with offset to see them."
    )


class PatientIn(Schema):
    model_config = ConfigDict(extra="forbid")  # an unknown field is a 422, not silently dropped

    given_name: str
    family_name: str
    birth_date: date
    preferred_name: str = ""
    sex_at_birth: str = "unknown"
    gender_identity: str = ""
    pronouns: str = ""
    phone: str = ""
    email: str = ""
    address_line1: str = ""
    address_line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = "United States"
    emergency_contact_name: str = ""
    emergency_contact_relationship: str = ""
    emergency_contact_phone: str = ""
    preferred_language: str = "English"
    insurance_payer: str = ""
    insurance_member_id: str = ""
    allow_duplicate: bool = Field(
        default=False, description="Register even though the name and date of birth or phone match someone."
    )


class PatientPatch(Schema):
    model_config = ConfigDict(extra="forbid")  # an unknown field is a 422, not silently dropped

    given_name: str | None = None
    family_name: str | None = None
    birth_date: date | None = None
    preferred_name: str | None = None
    sex_at_birth: str | None = None
    gender_identity: str | None = None
    pronouns: str | None = None
    phone: str | None = None
    email: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None
    emergency_contact_name: str | None = None
    emergency_contact_relationship: str | None = None
    emergency_contact_phone: str | None = None
    preferred_language: str | None = None
    insurance_payer: str | None = None
    insurance_member_id: str | None = None
    version: DbInt | None = Field(
        default=None, description="The version you read; a change made since then is refused with 409."
    )


class ListParams(Schema):
    search: str = Field(default="", max_length=100)
    limit: int = Field(default=25, ge=1, le=MAX_PAGE_SIZE)
    offset: Offset = 0


class DuplicateOut(Schema):
    id: int
    mrn: str
    reasons: list[str]


class DuplicatesOut(Schema):
    detail: str
    duplicates: list[DuplicateOut]


@router.get("", response={200: PatientListOut, **ERROR_ANSWERS})
def patient_list(request: HttpRequest, params: Query[ListParams]) -> dict[str, object]:
    """Search patients by name, MRN, phone or date of birth (YYYY-MM-DD); paginated."""
    page = patient_search_for_user(
        ctx=api_context(request), query=params.search, limit=params.limit, offset=params.offset
    )
    return {"items": page.items, "count": page.count, "count_capped": page.count_capped}


@router.post("", response={201: PatientOut, **ERROR_ANSWERS, 409: DuplicatesOut})
def patient_create(request: HttpRequest, payload: PatientIn) -> Status[object]:
    """Register a patient; the MRN is made by the system. A possible duplicate answers 409."""
    values = payload.dict(exclude={"allow_duplicate"})
    try:
        patient = services.patient_register(
            ctx=api_context(request), values=values, allow_duplicate=payload.allow_duplicate
        )
    except services.PossibleDuplicates as exc:
        return Status(
            409,
            {
                "detail": "This may be a patient who is already registered. Send allow_duplicate=true if not.",
                "duplicates": [{"id": m.patient.pk, "mrn": m.patient.mrn, "reasons": m.reasons} for m in exc.matches],
            },
        )
    return Status(201, patient)


@router.get("/{patient_id}", response={200: PatientOut, **ERROR_ANSWERS})
def patient_read(request: HttpRequest, patient_id: DbId) -> Patient:
    return patient_get_for_user(ctx=api_context(request), patient_id=patient_id).patient


@router.patch("/{patient_id}", response={200: PatientOut, **ERROR_ANSWERS})
def patient_update(request: HttpRequest, patient_id: DbId, payload: PatientPatch) -> Patient:
    """Change some fields; send only those. Nurses may change contact fields of their team's patients."""
    values = payload.dict(exclude_unset=True, exclude={"version"})
    return services.patient_update(
        ctx=api_context(request), patient_id=patient_id, values=values, expected_version=payload.version
    )


# --- search from anywhere -------------------------------------------------------------------------------

SEARCH_LIMIT_MAX = 25


class PatientSearchParams(Schema):
    model_config = ConfigDict(extra="forbid")

    q: str = Field(
        default="",
        max_length=100,
        pattern=r"^[^\x00-\x08\x0b-\x1f\x7f]*$",
        description="A name (or the start of one), an MRN, a phone number or a date of birth (YYYY-MM-DD).",
    )
    limit: int = Field(default=8, ge=1, le=SEARCH_LIMIT_MAX)


class PatientSearchHit(Schema):
    id: int
    mrn: str
    given_name: str
    family_name: str
    preferred_name: str
    birth_date: date
    url: str = Field(description="The chart page, for a person to open.")


class PatientSearchOut(Schema):
    items: list[PatientSearchHit]
    count: int = Field(description="How many match; when count_capped, at least this many.")
    count_capped: bool = False
    exact_mrn: bool = Field(description="True when the query is an MRN and exactly one patient has it.")


@search_router.get("/search", response={200: PatientSearchOut, **ERROR_ANSWERS})
def search(request: HttpRequest, params: Query[PatientSearchParams]) -> dict[str, object]:
    """Find patients the caller may list, as the staff header's search box does; each one returned is audited.

    An empty `q` finds nobody (it is not "everyone"); page through GET /patients?search= for the full list.
    """
    ctx = api_context(request)
    query = " ".join(params.q.split())
    if not query:
        patients_visible_to(ctx=ctx)  # the access check alone: a role that lists nobody is refused (audited)
        return {"items": [], "count": 0, "count_capped": False, "exact_mrn": False}
    page = patient_search_for_user(ctx=ctx, query=query, limit=params.limit)
    items = [
        {
            "id": p.pk,
            "mrn": p.mrn,
            "given_name": p.given_name,
            "family_name": p.family_name,
            "preferred_name": p.preferred_name,
            "birth_date": p.birth_date,
            "url": reverse("chart:patient", kwargs={"patient_id": p.pk}),
        }
        for p in page.items
    ]
    exact = len(items) == 1 and parse_search(query).mrn is not None
    return {"items": items, "count": page.count, "count_capped": page.count_capped, "exact_mrn": exact}
