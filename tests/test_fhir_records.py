"""The FHIR face, second part (issue 17): the instruments as Questionnaires and the answers as
QuestionnaireResponses, Provenance (who signed what, when) with _revinclude=Provenance:target, the audit trail as
AuditEvents (director and auditor only), 42 CFR Part 2 labels, a patient's own token, and psychotherapy process notes
never leaving. Every answer validated with the fhir.resources R4B models; the must-support elements the models do
not enforce asserted explicitly."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client, override_settings
from django.utils import timezone
from fhir.resources.R4B.allergyintolerance import AllergyIntolerance
from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.provenance import Provenance
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse as FhirResponse

from kapclinic.accounts.models import User
from kapclinic.audit.models import AccessEvent
from kapclinic.clinical.part2 import is_substance_use_disorder
from kapclinic.consent.models import ConsentSignature
from kapclinic.dosing.models import DosingSession
from kapclinic.fhir.registry import BULK_TYPES
from kapclinic.fhir.search import SUPPORTED
from kapclinic.measures.models import QuestionnaireResponse, ResponseItem
from kapclinic.patients.models import Patient
from kapclinic.therapy.models import TherapyNote
from tests.probes.dosing import _ready
from tests.probes.medications import dose_given_make
from tests.probes.records import plan_make, response_make
from tests.probes.world import World
from tests.test_fhir import VALIDATORS, fhir, ids
from tests.test_fhir_bulk import download, kickoff, manifest, run

VALIDATORS.update(
    {
        "Questionnaire": Questionnaire,
        "QuestionnaireResponse": FhirResponse,
        "Provenance": Provenance,
        "AuditEvent": AuditEvent,
        "MedicationAdministration": MedicationAdministration,
        "MedicationRequest": MedicationRequest,
        "CarePlan": CarePlan,
        "Consent": Consent,
        "Condition": Condition,
        "AllergyIntolerance": AllergyIntolerance,
        "Encounter": Encounter,
        "Appointment": FhirAppointment,
    }
)
LOINC = "http://loinc.org"
PROCESS_TEXT = "Process: the patient spoke of the lighthouse"
PART2_CODES = {
    ("http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "R"),
    ("http://terminology.hl7.org/CodeSystem/v3-ActCode", "42CFRPart2"),
    ("http://terminology.hl7.org/CodeSystem/v3-ActCode", "NORDSLCD"),
}
NOTICE = "42 CFR part 2 prohibits unauthorized use or disclosure of these records."


def _phq9(patient: Patient, by: User, answers: list[int], **fields: Any) -> QuestionnaireResponse:
    response = response_make(patient, by, sum(answers), **fields)
    ResponseItem.objects.bulk_create(
        ResponseItem(response=response, item=str(n), value=value) for n, value in enumerate(answers, 1)
    )
    return response


# --- Questionnaire -------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_instruments_are_questionnaires_with_their_loinc_codes(api_for: Any) -> None:
    api = api_for("patient_user")  # the instruments are no one's data: any signed-in caller reads them
    phq9 = fhir(api, "Questionnaire/phq9")
    assert phq9["url"] == "urn:kapclinic:questionnaire:phq9" and phq9["version"] == "1"
    assert phq9["status"] == "active" and phq9["title"] == "PHQ-9" and phq9["subjectType"] == ["Patient"]
    assert phq9["code"] == [{"system": LOINC, "code": "44249-1", "display": "PHQ-9 quick depression assessment panel"}]
    first = phq9["item"][0]
    assert first["linkId"] == "1" and first["type"] == "choice" and first["required"] is True
    assert first["code"][0]["system"] == LOINC and first["code"][0]["code"]
    assert [o["valueCoding"]["code"] for o in first["answerOption"]] == ["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"]
    assert [o["extension"][0]["valueDecimal"] for o in first["answerOption"]] == [0, 1, 2, 3]
    # An answer without a LOINC code is the clinic's own; an item asked only after another's answer says so.
    tenth = phq9["item"][9]
    assert tenth["answerOption"][3]["valueCoding"]["system"] == "urn:kapclinic:questionnaire-answer:phq9"
    cssrs = fhir(api, "Questionnaire/cssrs-screen")
    third = next(i for i in cssrs["item"] if i["linkId"] == "3")
    assert third["enableWhen"][0]["question"] == "2" and third["enableWhen"][0]["operator"] == "="
    # Search: by canonical, name, LOINC panel; the ids FHIR allows (no underscore).
    assert ids(fhir(api, "Questionnaire", {"url": "urn:kapclinic:questionnaire:gad7"})) == ["gad7"]
    assert ids(fhir(api, "Questionnaire", {"name": "pcl"})) == ["pcl5", "pcl5-week"]
    assert ids(fhir(api, "Questionnaire", {"code": f"{LOINC}|44249-1"})) == ["phq9"]
    paged = fhir(api, "Questionnaire", {"_count": "5"})
    assert len(paged["entry"]) == 5 and [link for link in paged["link"] if link["relation"] == "next"]
    fhir(api, "Questionnaire/phq9_x", status=404)
    fhir(api, "Questionnaire", {"subject-type": "Patient"}, status=400)


# --- QuestionnaireResponse --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_response_is_the_patients_answers_linked_to_its_questionnaire(
    api_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    month_ago = timezone.now() - timedelta(days=30)
    earlier = _phq9(team_patient, personas["patient_user"], [1] * 8 + [0], source="portal", submitted_at=month_ago)
    latest = _phq9(team_patient, personas["nurse"], [2, 2, 2, 2, 2, 2, 2, 2, 1])
    _phq9(other_patient, personas["prescriber"], [0] * 9)
    body = fhir(api_for("nurse"), f"QuestionnaireResponse/{latest.pk}")
    assert body["questionnaire"] == "urn:kapclinic:questionnaire:phq9|1"
    assert body["status"] == "completed" and body["subject"] == {"reference": f"Patient/{team_patient.pk}"}
    assert body["author"] == {"reference": f"Practitioner/{personas['nurse'].pk}"}
    assert body["authored"] == latest.submitted_at.isoformat(timespec="seconds")
    assert body["item"][8]["linkId"] == "9"
    assert body["item"][8]["answer"] == [
        {"valueCoding": {"system": LOINC, "code": "LA6569-3", "display": "Several days"}}
    ]
    portal = fhir(api_for("patient_user"), f"QuestionnaireResponse/{earlier.pk}")
    assert portal["author"] == {"reference": f"Patient/{team_patient.pk}"}
    # Search: patient with questionnaire and authored (prefixes), _count paging with a next link.
    api = api_for("nurse")
    patient = str(team_patient.pk)
    assert ids(fhir(api, "QuestionnaireResponse", {"patient": patient})) == [str(latest.pk), str(earlier.pk)]
    week_ago = (timezone.localdate() - timedelta(days=7)).isoformat()
    assert ids(fhir(api, "QuestionnaireResponse", {"patient": patient, "authored": f"ge{week_ago}"})) == [
        str(latest.pk)
    ]
    assert ids(fhir(api, "QuestionnaireResponse", {"patient": patient, "authored": f"lt{week_ago}"})) == [
        str(earlier.pk)
    ]
    by_canonical = {"patient": patient, "questionnaire": "urn:kapclinic:questionnaire:phq9|1"}
    assert len(ids(fhir(api, "QuestionnaireResponse", by_canonical))) == 2
    assert ids(fhir(api, "QuestionnaireResponse", {"patient": patient, "questionnaire": "Questionnaire/gad7"})) == []
    first = fhir(api, "QuestionnaireResponse", {"patient": patient, "_count": "1"})
    [following] = [link["url"] for link in first["link"] if link["relation"] == "next"]
    assert [e["resource"]["id"] for e in api.get(following).json()["entry"]] == [str(earlier.pk)]
    # A correction: the replaced response is entered-in-error, the correction amended.
    fixed = _phq9(team_patient, personas["nurse"], [2] * 9, corrects=latest, correction_reason="Item 9 misread")
    assert fhir(api, f"QuestionnaireResponse/{latest.pk}")["status"] == "entered-in-error"
    assert fhir(api, f"QuestionnaireResponse/{fixed.pk}")["status"] == "amended"
    # The pages' rule (MEASURE_VIEW): the coordinator sees no answers; an outsider not this patient's.
    fhir(api_for("coordinator"), f"QuestionnaireResponse/{latest.pk}", status=403)
    fhir(api_for("outsider_nurse"), "QuestionnaireResponse", {"patient": patient}, status=403)
    # The patient's own token: with no patient named, their own answers only.
    assert set(ids(fhir(api_for("patient_user"), "QuestionnaireResponse"))) == {
        str(earlier.pk),
        str(latest.pk),
        str(fixed.pk),
    }
    assert AccessEvent.objects.filter(action="measure.view", channel="fhir", patient_id=team_patient.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"_count": "1000000"}, "_count"),
        ({"authored": "ap2026-01-01"}, "Date prefix 'ap'"),
        ({"authored": "sa2026"}, "Date prefix 'sa'"),
        ({"author": "Practitioner/1"}, "Unknown or unsupported search parameter 'author'"),
        ({"questionnaire": "urn:elsewhere:q"}, "questionnaire must name"),
        ({"_include": "QuestionnaireResponse:author"}, "_include='QuestionnaireResponse:author' is not supported"),
        ({"_revinclude": "AuditEvent:entity"}, "_revinclude='AuditEvent:entity' is not supported"),
    ],
)
def test_bad_searches_are_a_400_operation_outcome_audited_with_nothing_read(
    api_for: Any, team_patient: Patient, params: dict[str, str], words: str
) -> None:
    before = AccessEvent.objects.count()
    outcome = fhir(api_for("nurse"), "QuestionnaireResponse", {"patient": str(team_patient.pk), **params}, status=400)
    assert words in outcome["issue"][0]["diagnostics"]
    [refused] = AccessEvent.objects.filter(pk__gt=0).order_by("-id")[:1]
    assert AccessEvent.objects.count() == before + 1
    assert refused.action == "fhir.request" and refused.outcome == "invalid" and refused.patient_id is None


# --- Provenance and _revinclude ------------------------------------------------------------------------------------


@pytest.fixture
def signed(personas: dict[str, User], team_patient: Patient) -> dict[str, Any]:
    plan = plan_make(team_patient, personas, stamp=True)
    session = DosingSession.objects.create(
        patient=team_patient, plan=plan, number=1, scheduled_for=timezone.now() - timedelta(hours=3), state="discharged"
    )
    order, administration = dose_given_make(session, personas)
    return {"plan": plan, "order": order, "administration": administration}


@pytest.mark.django_db
def test_provenance_says_who_signed_what_and_when(
    api_for: Any, personas: dict[str, User], team_patient: Patient, signed: dict[str, Any]
) -> None:
    order = signed["order"]
    api = api_for("nurse")
    body = fhir(api, f"Provenance/mr-{order.pk}")
    # US Core Provenance: target, recorded, agent (type, who, onBehalfOf for a Practitioner: provenance-1).
    assert body["meta"]["profile"] == ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-provenance"]
    assert body["target"] == [{"reference": f"MedicationRequest/{order.pk}"}]
    assert body["recorded"] == order.signed_at.isoformat(timespec="seconds")
    [agent] = body["agent"]
    assert agent["type"]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
        "code": "author",
        "display": "Author",
    }
    assert agent["who"] == {"reference": f"Practitioner/{personas['prescriber'].pk}"} and agent["onBehalfOf"]
    assert body["signature"][0]["who"] == agent["who"] and body["signature"][0]["type"][0]["code"]
    administration = fhir(api, f"Provenance/ma-{signed['administration'].pk}")
    assert administration["agent"][0]["who"] == {"reference": f"Practitioner/{personas['nurse'].pk}"}
    assert "signature" not in administration  # recorded, not signed with a digest
    plan = fhir(api, f"Provenance/cp-{signed['plan'].pk}")
    assert {t["reference"] for t in plan["target"]} == {
        f"CarePlan/{signed['plan'].pk}",
        f"Condition/pl-{signed['plan'].pk}",
    }
    # Search by patient (everything signed or recorded of theirs) and by target.
    everything = ids(fhir(api, "Provenance", {"patient": str(team_patient.pk)}))
    assert {f"mr-{order.pk}", f"ma-{signed['administration'].pk}", f"cp-{signed['plan'].pk}"} <= set(everything)
    assert ids(
        fhir(api, "Provenance", {"patient": str(team_patient.pk), "target": f"MedicationRequest/{order.pk}"})
    ) == [f"mr-{order.pk}"]
    fhir(api_for("outsider_nurse"), f"Provenance/mr-{order.pk}", status=403)
    fhir(api_for("coordinator"), f"Provenance/mr-{order.pk}", status=403)
    fhir(api, "Provenance/mr-999999999", status=404)
    fhir(api, "Provenance/zz-1", status=404)


@pytest.mark.django_db
def test_revinclude_provenance_target_adds_who_signed_each_match(
    api_for: Any, team_patient: Patient, signed: dict[str, Any]
) -> None:
    api = api_for("prescriber")
    order = signed["order"]
    patient = str(team_patient.pk)
    bundle = fhir(api, "MedicationRequest", {"patient": patient, "_revinclude": "Provenance:target"})
    modes = {(e["resource"]["resourceType"], e["resource"]["id"]): e["search"]["mode"] for e in bundle["entry"]}
    assert modes[("MedicationRequest", str(order.pk))] == "match"
    assert modes[("Provenance", f"mr-{order.pk}")] == "include"
    plans = fhir(api, "CarePlan", {"patient": patient, "_revinclude": "Provenance:target"})
    assert [e["resource"]["id"] for e in plans["entry"] if e["search"]["mode"] == "include"] == [
        f"cp-{signed['plan'].pk}"
    ]
    # Without it, no Provenance; MedicationRequest:medication is accepted (the drug is coded in the request).
    assert {e["search"]["mode"] for e in fhir(api, "MedicationRequest", {"patient": patient})["entry"]} == {"match"}
    medication = fhir(api, "MedicationRequest", {"patient": patient, "_include": "MedicationRequest:medication"})
    assert {e["search"]["mode"] for e in medication["entry"]} == {"match"}
    outcome = fhir(api, "Encounter", {"patient": patient, "_include": "Encounter:practitioner"}, status=400)
    assert "not supported" in outcome["issue"][0]["diagnostics"]


# --- AuditEvent ------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_audit_trail_is_read_only_for_the_director_and_the_auditor(
    api_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    for _ in range(2):  # audited reads to find
        fhir(api_for("nurse"), f"Patient/{team_patient.pk}")
    read = AccessEvent.objects.filter(action="patient.view", patient_id=team_patient.pk).latest("id")
    for who in ("director", "auditor"):
        body = fhir(api_for(who), f"AuditEvent/{read.pk}")
        assert body["recorded"] == read.occurred_at.isoformat(timespec="seconds")
        assert body["action"] == "R" and body["outcome"] == "0"
        assert body["agent"][0]["who"] == {"reference": f"Practitioner/{personas['nurse'].pk}"}
        assert body["agent"][0]["requestor"] is True
        assert body["entity"][0]["what"] == {"reference": f"Patient/{team_patient.pk}"}
        assert body["subtype"][0]["code"] == "patient.view"
    api = api_for("auditor")
    today = timezone.localdate().isoformat()
    by_patient = fhir(api, "AuditEvent", {"patient": f"Patient/{team_patient.pk}", "date": f"ge{today}"})
    assert str(read.pk) in ids(by_patient)
    assert all(
        e["resource"]["entity"][0]["what"]["reference"] == f"Patient/{team_patient.pk}" for e in by_patient["entry"]
    )
    by_agent = fhir(api, "AuditEvent", {"agent": f"Practitioner/{personas['nurse'].pk}", "_count": "1"})
    assert len(by_agent["entry"]) == 1 and [link for link in by_agent["link"] if link["relation"] == "next"]
    assert ids(fhir(api, "AuditEvent", {"entity": f"Patient/{other_patient.pk}", "date": f"lt{today}"})) == []
    # Reading the trail is itself recorded; everyone else is refused (recorded); nothing can be written.
    browsed = AccessEvent.objects.filter(action="audit.browse", user=personas["auditor"], channel="fhir")
    assert browsed.filter(patient_id=team_patient.pk).exists()  # a patient's trail read is recorded against them
    for who in ("nurse", "prescriber", "coordinator", "patient_user"):
        fhir(api_for(who), "AuditEvent", status=403)
        fhir(api_for(who), f"AuditEvent/{read.pk}", status=403)
    assert AccessEvent.objects.filter(action="audit.browse", outcome="denied", user=personas["nurse"]).count() == 2
    assert api.post("/fhir/AuditEvent", {}).status_code == 405
    fhir(api, "AuditEvent", {"agent": "Device/3"}, status=400)
    fhir(api, "AuditEvent", {"_count": "1000000"}, status=400)
    fhir(api, "AuditEvent/999999999", status=404)


# --- A patient's own token -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_patients_token_finds_exactly_their_own_record(
    api_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    api = api_for("patient_user")
    assert ids(fhir(api, "Patient")) == [str(team_patient.pk)]
    assert ids(fhir(api, "Patient", {"name": "birch"})) == []  # the other patient is not there for them
    assert ids(fhir(api, "Patient", {"_id": str(other_patient.pk)})) == []
    assert ids(fhir(api, "Patient", {"family": "teampatient"})) == [str(team_patient.pk)]
    # patient/*.rs: a search that names no patient is about their own record; naming another's is refused.
    response = _phq9(team_patient, personas["patient_user"], [1] * 9, source="portal")
    assert ids(fhir(api, "Observation", {"category": "survey"})) == [f"qr-{response.pk}-total"]
    fhir(api, "Observation", {"patient": str(other_patient.pk)}, status=404)
    assert AccessEvent.objects.filter(action="fhir.patient.search", patient_id=team_patient.pk).exists()
    assert not AccessEvent.objects.filter(action="fhir.patient.search", patient_id=other_patient.pk).exists()


# --- 42 CFR Part 2 -------------------------------------------------------------------------------------------------


def test_substance_use_disorders_are_part_2_but_not_tobacco() -> None:
    assert is_substance_use_disorder("F10.20") and is_substance_use_disorder("f19.10")
    assert not is_substance_use_disorder("F17.210")  # nicotine: 42 CFR 2.11 excludes tobacco
    assert not is_substance_use_disorder("F33.1") and not is_substance_use_disorder("")


def _labels(resource: dict[str, Any]) -> set[tuple[str, str]]:
    return {(c["system"], c["code"]) for c in resource.get("meta", {}).get("security", [])}


@pytest.mark.django_db
def test_a_part_2_programs_substance_use_records_carry_the_labels_and_notice(
    api_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    plan = plan_make(
        team_patient, personas, stamp=True, indication_code="F10.20", indication_text="Alcohol use disorder"
    )
    plan_make(other_patient, personas, stamp=True)  # depression: not a Part 2 record
    response = _phq9(team_patient, personas["nurse"], [1] * 9)
    api, patient = api_for("prescriber"), str(team_patient.pk)
    assert _labels(fhir(api, f"Patient/{team_patient.pk}")) == set()  # the clinic is not a Part 2 program
    with override_settings(KAPCLINIC_PART2_PROGRAM=True):
        for body in (
            fhir(api, f"Patient/{team_patient.pk}"),
            fhir(api, f"CarePlan/{plan.pk}"),
            fhir(api, f"QuestionnaireResponse/{response.pk}"),
            fhir(api, f"Provenance/cp-{plan.pk}"),
            *(e["resource"] for e in fhir(api, "Observation", {"patient": patient})["entry"]),
            *(e["resource"] for e in fhir(api, "Condition", {"patient": patient})["entry"]),
        ):
            assert _labels(body) >= PART2_CODES, body["resourceType"]
            assert {"url": "urn:kapclinic:fhir:redisclosure-notice", "valueString": NOTICE} in body["meta"]["extension"]
        assert _labels(fhir(api, f"Patient/{other_patient.pk}")) == set()
        # Bulk export: the same labels, chunk by chunk; the other patient's resources untouched.
        for kind in ("Patient", "CarePlan", "QuestionnaireResponse", "Observation", "Provenance"):
            streamed = list(BULK_TYPES[kind]([team_patient.pk, other_patient.pk], None))
            assert streamed, kind
            for resource in streamed:
                reference: dict[str, str] = resource.get("subject") or resource.get("patient") or {}
                about = reference.get("reference") or (f"Patient/{resource['id']}" if kind == "Patient" else None)
                if kind == "Provenance":
                    about = (
                        f"Patient/{team_patient.pk}"
                        if resource["id"] in {f"cp-{plan.pk}", f"qr-{response.pk}"}
                        else None
                    )
                if about == f"Patient/{team_patient.pk}":
                    assert _labels(resource) >= PART2_CODES, resource
                elif about == f"Patient/{other_patient.pk}" or kind != "Provenance":
                    assert not _labels(resource), resource
            VALIDATORS[kind].model_validate(streamed[0])
    # The vital signs' shared meta was not changed by labelling (a new meta per labelled resource).
    assert _labels(fhir(api, f"Patient/{team_patient.pk}")) == set()


@pytest.mark.django_db
def test_a_part_2_bulk_export_writes_the_labels_in_its_files(
    api_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient, settings: Any, tmp_path: Any
) -> None:
    settings.KAPCLINIC_EXPORT_DIR = tmp_path / "exports"
    settings.KAPCLINIC_PART2_PROGRAM = True
    plan = plan_make(
        team_patient, personas, stamp=True, indication_code="F11.20", indication_text="Opioid use disorder"
    )
    theirs = plan_make(other_patient, personas, stamp=True)
    api = api_for("director")
    status_url = kickoff(api, params={"_type": "Patient,CarePlan,Provenance"})
    run(status_url)
    lines = [line for output in manifest(api, status_url)["output"] for line in download(api, output["url"])]
    labelled = {f"{r['resourceType']}/{r['id']}" for r in lines if _labels(r) >= PART2_CODES}
    assert labelled == {f"Patient/{team_patient.pk}", f"CarePlan/{plan.pk}", f"Provenance/cp-{plan.pk}"}
    assert {f"Patient/{other_patient.pk}", f"CarePlan/{theirs.pk}", f"Provenance/cp-{theirs.pk}"} <= {
        f"{r['resourceType']}/{r['id']}" for r in lines
    }


# --- Psychotherapy process notes never leave --------------------------------------------------------------------------


@pytest.mark.django_db
def test_psychotherapy_process_notes_never_leave_through_any_fhir_type(
    api_for: Any, personas: dict[str, User], team_patient: Patient, nurse_world: World
) -> None:
    _ready(nurse_world, team_patient)  # eligible, consented, a signed plan
    session = DosingSession.objects.filter(patient=team_patient).first() or DosingSession.objects.create(
        patient=team_patient,
        plan=plan_make(team_patient, personas, stamp=True),
        number=1,
        scheduled_for=timezone.now() - timedelta(hours=3),
        state="discharged",
    )
    dose_given_make(session, personas)
    _phq9(team_patient, personas["nurse"], [1] * 9)
    for kind in ("process", "integration"):
        note = TherapyNote(
            patient=team_patient,
            author=personas["therapist"],
            kind=kind,
            occurred_at=timezone.now(),
            body=PROCESS_TEXT,
            dosing_session=session,
        )
        note.signature_stamp(personas["therapist"].pk)
        note.save()
    assert ConsentSignature.objects.filter(patient=team_patient).exists()
    api = api_for("therapist")  # the author, who may read the note on the pages
    patient = str(team_patient.pk)
    seen = 0
    for kind in SUPPORTED:
        params: dict[str, str] = {}
        if "patient" in SUPPORTED[kind]:
            params["patient"] = patient
        api_kind = api_for("director") if kind == "AuditEvent" else api
        answer = api_kind.get(f"/fhir/{kind}", params)
        assert answer.status_code in (200, 403), (kind, answer.content)
        assert "lighthouse" not in answer.content.decode(), kind
        seen += answer.status_code == 200
        for entry in answer.json().get("entry", []):
            resource = entry["resource"]
            read = api_kind.get(f"/fhir/{resource['resourceType']}/{resource['id']}")
            assert "lighthouse" not in read.content.decode(), kind
    assert seen >= len(SUPPORTED) - 2
    for kind, stream in BULK_TYPES.items():
        assert not any("lighthouse" in str(resource) for resource in stream([team_patient.pk], None)), kind


# --- The CapabilityStatement tells the truth --------------------------------------------------------------------------


def test_the_capability_statement_lists_the_new_types_includes_and_revincludes(client: Client, db: None) -> None:
    statement = fhir(client, "metadata")
    by_type = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert {"Questionnaire", "QuestionnaireResponse", "Provenance", "AuditEvent"} <= set(by_type)
    assert by_type["MedicationRequest"]["searchInclude"] == ["MedicationRequest:medication"]
    assert by_type["Observation"]["searchRevInclude"] == ["Provenance:target"]
    assert "searchRevInclude" not in by_type["AuditEvent"]
    assert [i["code"] for i in by_type["AuditEvent"]["interaction"]] == ["read", "search-type"]
    assert "auditor" in by_type["AuditEvent"]["documentation"]
    assert by_type["Provenance"]["profile"] == "http://hl7.org/fhir/us/core/StructureDefinition/us-core-provenance"
    assert {p["name"] for p in by_type["QuestionnaireResponse"]["searchParam"]} == set(
        SUPPORTED["QuestionnaireResponse"]
    )
