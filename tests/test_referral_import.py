"""Importing a referral's FHIR Bundle (issue 17 item 4): the bundle read by hand, the patient matched, the offers
beside the record, the choices written through the owners' services with their provenance, and every bad input
refused with its reason, nothing changed, audited."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kapclinic.accounts.models import User
from kapclinic.audit.models import AccessEvent
from kapclinic.fhir.imports_bundle import BUNDLE_MAX_BYTES, BundleProblem, bundle_read, person_mismatch
from kapclinic.fhir.models import ReferralChoice, ReferralImport
from kapclinic.intake.models import Evaluation
from kapclinic.measures.models import QuestionnaireResponse, ResponseSource
from kapclinic.patients.models import Patient
from kapclinic.roles import Action
from tests.probes.referrals import ICD10CM, LOINC, RXNORM, SNOMED, referral_bundle, referral_bundle_for, referral_make


def _raw(bundle: dict[str, Any]) -> bytes:
    return json.dumps(bundle).encode()


def _bundle(extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return referral_bundle_for("Testperson", "Alex", "1980-04-02", extra=extra)


BUNDLE = _bundle()


def _offers(bundle: dict[str, Any]) -> dict[str, Any]:
    return {o.key: o for o in bundle_read(_raw(bundle)).offers}


# --- Reading (no database) ---------------------------------------------------------------------------------


def test_a_referral_offers_its_diagnosis_medication_allergy_and_score() -> None:
    read = bundle_read(_raw(BUNDLE))
    assert read.bundle_type == "collection"
    assert read.person.family == "Testperson" and read.person.birth_date == "1980-04-02"
    assert read.source == "Synthetic Family Practice"
    offers = {o.kind: o for o in read.offers}
    assert (offers["condition"].value, offers["condition"].takeable) == ("F33.1", True)
    assert (offers["medication"].value, offers["medication"].code) == ("sertraline 50 MG Oral Tablet", "312940")
    assert offers["allergy"].value == "penicillin G"
    assert (offers["score"].instrument, offers["score"].value) == ("phq9", "17")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "not valid JSON (line 1, column 2)"),
        (b"", "empty"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[1, 2]", "not a FHIR resource, not a FHIR Bundle"),
        (b'{"resourceType": "Patient"}', "a Patient, not a FHIR Bundle"),
        (b'{"resourceType": "Bundle", "type": "history", "entry": []}', "type is history"),
        (b'{"resourceType": "Bundle", "type": "collection", "entry": []}', "no entries"),
        (b'{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": 3}]}', "Entry 1 has no resource"),
        (
            b'{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Condition"}}]}',
            "names no patient",
        ),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
        (b'{"resourceType": "Bundle", "id": "a\\u0000b"}', "NUL character"),
        (b'{"resourceType": "Bundle", "total": NaN}', "not valid JSON"),
        (b'{"resourceType": "Bundle", "total": ' + b"9" * 5000 + b"}", "not valid JSON"),
    ],
)
def test_what_is_not_a_referral_bundle_is_refused_with_the_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(BundleProblem, match=reason.replace("(", r"\(").replace(")", r"\)")):
        bundle_read(raw)


def test_a_file_past_the_cap_is_refused_unread() -> None:
    with pytest.raises(BundleProblem, match="the largest bundle taken is 10 MB"):
        bundle_read(b" " * (BUNDLE_MAX_BYTES + 1))


def test_two_patients_in_one_bundle_are_refused() -> None:
    bundle = _bundle([{"resourceType": "Patient", "id": "p2"}])
    with pytest.raises(BundleProblem, match="names 2 patients"):
        bundle_read(_raw(bundle))


def test_unknown_codes_are_not_recognised_never_guessed() -> None:
    extra: list[dict[str, Any]] = [
        # A SNOMED CT condition without its ICD-10-CM code: the evaluation records ICD-10-CM; no mapping is guessed.
        {"resourceType": "Condition", "id": "x1", "code": {"coding": [{"system": SNOMED, "code": "47505003"}]}},
        # An ICD-10-CM code that is not in the list.
        {"resourceType": "Condition", "id": "x2", "code": {"coding": [{"system": ICD10CM, "code": "F99.99"}]}},
        # A medication coded in a local system only.
        {
            "resourceType": "MedicationStatement",
            "id": "x3",
            "status": "active",
            "medicationCodeableConcept": {"coding": [{"system": "urn:local", "code": "K1"}], "text": "Ketamine troche"},
        },
        # An allergy with text only.
        {"resourceType": "AllergyIntolerance", "id": "x4", "code": {"text": "cats"}},
        # A questionnaire total the clinic does not score.
        {
            "resourceType": "Observation",
            "id": "x5",
            "status": "final",
            "category": [{"coding": [{"code": "survey"}]}],
            "code": {"coding": [{"system": LOINC, "code": "89204-2"}]},
            "valueQuantity": {"value": 4},
        },
    ]
    offers = _offers(_bundle(extra))
    for key in ("e6", "e7", "e8", "e9", "e10"):
        assert offers[key].why_not.startswith("Not recognised"), offers[key]
        assert not offers[key].takeable and not offers[key].recognised
    assert "SNOMED CT only" in offers["e6"].why_not
    assert offers["e6"].value == "" and offers["e8"].value == ""


def test_stopped_resolved_and_out_of_range_items_are_shown_but_not_offered() -> None:
    extra: list[dict[str, Any]] = [
        {
            "resourceType": "MedicationRequest",
            "id": "x1",
            "status": "stopped",
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "197696", "display": "lithium"}]},
        },
        {
            "resourceType": "Condition",
            "id": "x2",
            "clinicalStatus": {"coding": [{"code": "resolved"}]},
            "code": {"coding": [{"system": ICD10CM, "code": "F41.1"}]},
        },
        {
            "resourceType": "Observation",
            "id": "x3",
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "70274-6"}]},
            "effectiveDateTime": "2024-01-01",
            "valueQuantity": {"value": 40},
        },
        {
            "resourceType": "Observation",
            "id": "x4",
            "status": "preliminary",
            "code": {"coding": [{"system": LOINC, "code": "101698-9"}]},
            "effectiveDateTime": "2024-01-01",
            "valueInteger": 30,
        },
    ]
    offers = _offers(_bundle(extra))
    assert "not a current medication" in offers["e6"].why_not
    assert "not a present diagnosis" in offers["e7"].why_not
    assert "outside GAD-7's 0 to 21" in offers["e8"].why_not
    assert "only final results" in offers["e9"].why_not and offers["e9"].instrument == "pcl5_week"


def test_the_patient_must_match_by_name_and_birth_date() -> None:
    person = bundle_read(_raw(BUNDLE)).person
    assert person_mismatch(person, family="TESTPERSON", given="alex", birth_date=date(1980, 4, 2)) == ""
    why = person_mismatch(person, family="Testperson", given="Alex", birth_date=date(1980, 4, 3))
    assert "the birth date is 1980-04-02 in the bundle, 1980-04-03 here" in why
    why = person_mismatch(person, family="Other", given="Sam", birth_date=date(1980, 4, 2))
    assert "family name" in why and "given name" in why


# --- Through the pages and the API -----------------------------------------------------------------------


@pytest.fixture
def patient(team_patient: Patient) -> Patient:
    return team_patient


def _upload_page(client: Any, patient: Patient, raw: bytes) -> Any:
    return client.post(
        f"/patients/{patient.pk}/referrals/", {"bundle": SimpleUploadedFile("referral.json", raw, "application/json")}
    )


@pytest.mark.django_db
def test_the_prescriber_uploads_compares_and_takes_item_by_item(
    client_for: Any, patient: Patient, personas: dict[str, User], django_assert_max_num_queries: Any
) -> None:
    Evaluation.objects.create(
        patient=patient, data={"medications": ["bupropion"], "diagnoses": ["F41.1"]}, recorded_by=personas["prescriber"]
    )
    client = client_for("prescriber")
    response = _upload_page(client, patient, _raw(referral_bundle(patient)))
    referral = ReferralImport.objects.get(patient=patient)
    assert response.status_code == 302 and response.url == f"/patients/{patient.pk}/referrals/{referral.pk}/"
    assert referral.uploaded_by == personas["prescriber"] and referral.bundle_type == "collection"
    with django_assert_max_num_queries(
        15
    ):  # session, user, the bundle, patient, evaluation, scores, choices, banner, audit
        page = client.get(response.url)
    html = page.content.decode()
    assert page.status_code == 200
    # Side by side: the bundle's items and what the evaluation holds.
    assert "sertraline 50 MG Oral Tablet" in html and "bupropion" in html and "F41.1" in html
    assert 'name="item_e2"' in html and 'name="item_e5"' in html  # the diagnosis and the PHQ-9 total
    # Take the diagnosis, the medication and the score; leave the allergy.
    answer = client.post(
        page.request["PATH_INFO"], {"item_e2": "take", "item_e3": "take", "item_e4": "leave", "item_e5": "take"}
    )
    assert answer.status_code == 302
    data = Evaluation.objects.get(patient=patient).data
    assert data["diagnoses"] == ["F41.1", "F33.1"]
    assert data["medications"] == ["bupropion", "sertraline 50 MG Oral Tablet"]
    assert "allergies" not in data  # left: not written
    score = QuestionnaireResponse.objects.get(patient=patient)
    assert (score.instrument, score.total, score.source) == ("phq9", 17, ResponseSource.REFERRAL)
    assert score.submitted_at.isoformat() == "2024-03-01T10:00:00+00:00"  # dated when it was taken
    assert score.severity == "moderately severe" and score.items.count() == 0
    choices = {c.item: c for c in ReferralChoice.objects.filter(referral=referral)}
    assert {k: c.taken for k, c in choices.items()} == {"e2": True, "e3": True, "e4": False, "e5": True}
    assert choices["e5"].response == score and choices["e2"].original_date == "2024-02-01"
    # The provenance is shown beside what was taken; the left allergy may still be taken.
    html = client.get(page.request["PATH_INFO"]).content.decode()
    assert html.count("Synthetic Family Practice") >= 4 and "Taken" in html
    assert 'name="item_e4"' in html and 'name="item_e2"' not in html
    # ... and on the evaluation screen, where the diagnosis and the medication now are.
    evaluation_page = client.get(f"/intake/patients/{patient.pk}/eligibility/").content.decode()
    assert "Taken from referral records (3)" in evaluation_page
    assert (
        "<strong>F33.1</strong>" in evaluation_page
        and "from Synthetic Family Practice, dated Feb 1, 2024" in evaluation_page
    )
    events = AccessEvent.objects.filter(patient_id=patient.pk, action=Action.REFERRAL_REVIEW, outcome="allowed")
    assert any(e.detail.get("taken") == ["e2", "e3", "e5"] for e in events)
    # Revisited: the allergy left before is taken now.
    client.post(page.request["PATH_INFO"], {"item_e4": "take"})
    assert Evaluation.objects.get(patient=patient).data["allergies"] == ["penicillin G"]
    assert ReferralChoice.objects.filter(referral=referral, item="e4").count() == 2


@pytest.mark.django_db
def test_a_bundle_about_someone_else_is_refused_with_the_reason(
    client_for: Any, api_for: Any, patient: Patient, other_patient: Patient
) -> None:
    raw = _raw(referral_bundle(other_patient))
    page = _upload_page(client_for("coordinator"), patient, raw)
    assert page.status_code == 422
    assert "is not this patient" in page.content.decode()
    api = api_for("prescriber").post(
        f"/api/v1/patients/{patient.pk}/referral-imports", raw, content_type="application/fhir+json"
    )
    assert api.status_code == 422 and "is not this patient" in api.json()["detail"][0]["msg"]
    assert not ReferralImport.objects.exists()
    refused = AccessEvent.objects.filter(patient_id=patient.pk, action=Action.REFERRAL_UPLOAD, outcome="invalid")
    assert refused.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{oops", "not valid JSON"),
        (b'{"resourceType": "Observation"}', "not a FHIR Bundle"),
        (b'{"resourceType": "Bundle", "type": "history", "entry": [{}]}', "a referral is a transaction"),
        (b" " * (BUNDLE_MAX_BYTES + 10), "the largest bundle taken is 10 MB"),
    ],
)
def test_bad_files_change_nothing_and_are_audited(
    client_for: Any, api_for: Any, patient: Patient, raw: bytes, reason: str
) -> None:
    page = _upload_page(client_for("prescriber"), patient, raw)
    assert page.status_code == 422 and reason in page.content.decode()
    api = api_for("coordinator").post(f"/api/v1/patients/{patient.pk}/referral-imports", raw, "application/json")
    assert api.status_code == 422 and reason in api.json()["detail"][0]["msg"]
    assert not ReferralImport.objects.exists()
    assert AccessEvent.objects.filter(action=Action.REFERRAL_UPLOAD, outcome="invalid").count() == 2


@pytest.mark.django_db
def test_script_in_every_text_field_is_shown_as_text(client_for: Any, patient: Patient) -> None:
    script = "<script>alert(1)</script>"
    bundle = referral_bundle(patient)
    for entry in bundle["entry"]:
        resource = entry["resource"]
        for concept in ("code", "medicationCodeableConcept"):
            if concept in resource:
                resource[concept]["text"] = script
                for coding in resource[concept]["coding"]:
                    coding["display"] = script
        if resource["resourceType"] == "Organization":
            resource["name"] = script
        if "status" in resource and resource["resourceType"] == "Observation":
            resource["issued"] = script
    bundle["identifier"]["value"] = script
    client = client_for("prescriber")
    upload = _upload_page(client, patient, _raw(bundle))
    assert upload.status_code == 302
    html = client.get(upload.url).content.decode()
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    listing = client.get(f"/patients/{patient.pk}/referrals/").content.decode()
    assert "<script>alert" not in listing


@pytest.mark.django_db
def test_the_api_twin_uploads_compares_and_takes(api_for: Any, patient: Patient) -> None:
    coordinator, prescriber = api_for("coordinator"), api_for("prescriber")
    made = coordinator.post(
        f"/api/v1/patients/{patient.pk}/referral-imports", _raw(referral_bundle(patient)), "application/fhir+json"
    )
    assert made.status_code == 201, made.content
    referral_id = made.json()["id"]
    listed = coordinator.get(f"/api/v1/patients/{patient.pk}/referral-imports").json()
    assert listed["count"] == 1 and listed["items"][0]["source"] == "Synthetic Family Practice"
    # The coordinator keeps the bundle but sees no clinical content.
    assert coordinator.get(f"/api/v1/referral-imports/{referral_id}").status_code == 403
    compared = prescriber.get(f"/api/v1/referral-imports/{referral_id}").json()
    by_kind = {s["kind"]: s for s in compared["sections"]}
    assert by_kind["medication"]["offers"][0]["state"] == "open"
    assert compared["patient_in_bundle"]["family"] == patient.family_name
    url = f"/api/v1/referral-imports/{referral_id}/choices"
    # A key the bundle does not have, an item both taken and left: refused whole, nothing written.
    for body in ({"take": ["e2", "e99"]}, {"take": ["e2"], "leave": ["e2"]}, {}):
        refused = prescriber.post(url, body, content_type="application/json")
        assert refused.status_code == 422, body
    assert not Evaluation.objects.filter(patient=patient).exists() and not ReferralChoice.objects.exists()
    taken = prescriber.post(url, {"take": ["e4"], "leave": ["e3"]}, content_type="application/json")
    assert taken.status_code == 201
    assert [(c["item"], c["taken"]) for c in taken.json()["items"]] == [("e4", True), ("e3", False)]
    assert Evaluation.objects.get(patient=patient).data == {"allergies": ["penicillin G"]}
    again = prescriber.post(url, {"take": ["e4"]}, content_type="application/json")
    assert again.status_code == 422 and "already taken" in again.json()["detail"][0]["msg"]
    compared = prescriber.get(f"/api/v1/referral-imports/{referral_id}").json()
    allergy = {s["kind"]: s for s in compared["sections"]}["allergy"]
    assert allergy["offers"][0]["state"] == "taken" and allergy["record"] == ["penicillin G"]


@pytest.mark.django_db
def test_a_score_is_not_taken_twice_from_two_uploads(api_for: Any, patient: Patient) -> None:
    prescriber = api_for("prescriber")
    ids = [
        prescriber.post(
            f"/api/v1/patients/{patient.pk}/referral-imports", _raw(referral_bundle(patient)), "application/json"
        ).json()["id"]
        for _ in range(2)
    ]
    first = prescriber.post(f"/api/v1/referral-imports/{ids[0]}/choices", {"take": ["e5"]}, "application/json")
    assert first.status_code == 201
    second = prescriber.post(f"/api/v1/referral-imports/{ids[1]}/choices", {"take": ["e5"]}, "application/json")
    assert second.status_code == 422 and "already in the record" in second.json()["detail"][0]["msg"]
    assert QuestionnaireResponse.objects.filter(patient=patient).count() == 1


@pytest.mark.django_db
def test_the_coordinator_uploads_but_does_not_choose(client_for: Any, patient: Patient) -> None:
    client = client_for("coordinator")
    upload = _upload_page(client, patient, _raw(referral_bundle(patient)))
    assert upload.status_code == 302 and upload.url == f"/patients/{patient.pk}/referrals/"
    referral = ReferralImport.objects.get()
    listing = client.get(upload.url).content.decode()
    assert "Synthetic Family Practice" in listing and "Compare and choose" not in listing
    assert client.get(f"/patients/{patient.pk}/referrals/{referral.pk}/").status_code == 403
    assert client.post(f"/patients/{patient.pk}/referrals/{referral.pk}/", {"item_e2": "take"}).status_code == 403
    assert not ReferralChoice.objects.exists()


@pytest.mark.django_db
def test_a_referral_of_another_patient_is_not_found_under_this_one(
    client_for: Any, patient: Patient, other_patient: Patient, personas: dict[str, User]
) -> None:
    referral = referral_make(other_patient, personas["coordinator"])
    assert client_for("prescriber").get(f"/patients/{patient.pk}/referrals/{referral.pk}/").status_code == 404


@pytest.mark.django_db
def test_kept_bundles_and_choices_are_append_only(patient: Patient, personas: dict[str, User]) -> None:
    referral = referral_make(patient, personas["coordinator"])
    with pytest.raises(DatabaseError), transaction.atomic():
        ReferralImport.objects.filter(pk=referral.pk).update(source="changed")
    with pytest.raises(DatabaseError), transaction.atomic():
        ReferralImport.objects.filter(pk=referral.pk).delete()


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
_FIELDS = [
    "code", "medicationCodeableConcept", "medicationReference", "clinicalStatus", "verificationStatus", "status",
    "category", "valueQuantity", "valueInteger", "effectiveDateTime", "effectivePeriod", "onsetDateTime",
    "authoredOn", "recordedDate", "name", "birthDate", "given", "coding", "system", "display", "text", "id",
]  # fmt: skip
_CODING = st.fixed_dictionaries(
    {
        "system": st.sampled_from([LOINC, SNOMED, RXNORM, ICD10CM, "urn:x"]),
        "code": st.sampled_from(["44261-6", "F33.1", "1", "x"]),
    }
)


# Input generation is slow on a busy machine; the check is what each input does.
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(
        [
            "Condition",
            "MedicationRequest",
            "MedicationStatement",
            "AllergyIntolerance",
            "Observation",
            "Organization",
            "Patient",
            "Medication",
        ]
    ),
    fields=st.dictionaries(
        st.sampled_from(_FIELDS),
        _JSON | st.fixed_dictionaries({"coding": st.lists(_CODING | _JSON, max_size=2)}),
        max_size=6,
    ),
)
def test_whatever_a_resource_holds_it_is_read_or_refused_never_an_error(kind: str, fields: dict[str, Any]) -> None:
    bundle = _bundle([{**fields, "resourceType": kind}])
    try:
        read = bundle_read(_raw(bundle))
    except BundleProblem:
        return  # a second Patient: refused with its reason
    assert all(isinstance(o.why_not, str) and isinstance(o.value, str) for o in read.offers)


@pytest.mark.django_db
@pytest.mark.parametrize("kept", [1, 25])
def test_the_list_of_kept_bundles_is_paged_in_a_fixed_number_of_queries(
    client_for: Any, patient: Patient, personas: dict[str, User], django_assert_max_num_queries: Any, kept: int
) -> None:
    for _ in range(kept):
        referral_make(patient, personas["coordinator"])
    client = client_for("coordinator")
    with django_assert_max_num_queries(14):
        page = client.get(f"/patients/{patient.pk}/referrals/")
    assert page.status_code == 200
    assert page.content.decode().count("Synthetic Family Practice") == min(kept, 20)
    assert ("Page 1 of 2" in page.content.decode()) == (kept > 20)
