"""This clinic's records as FHIR R4 (4.0.1) resources, profiled on US Core 6.1 where one applies; plain dicts that
the tests validate with fhir.resources (its R4B models: R4B keeps R4's shape for these resources)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson

from kapclinic.accounts.models import User
from kapclinic.clinical.instruments import INSTRUMENTS, Use
from kapclinic.dosing.models import VitalSign
from kapclinic.fhir import terminology as t
from kapclinic.fhir.search import INCLUDES, REVINCLUDES, SUPPORTED
from kapclinic.measures.models import QuestionnaireResponse
from kapclinic.patients.models import Patient

Resource = dict[str, Any]
FHIR_VERSION = "4.0.1"
SECURITY_SERVICE = "http://terminology.hl7.org/CodeSystem/restful-security-service"
OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
MEDICAL_RECORD_NUMBER = {
    "coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR", "display": "Medical record number"}
    ]
}


_SECONDS = orjson.OPT_OMIT_MICROSECONDS


def instant(moment: datetime | str) -> str:
    """A FHIR instant/dateTime: ISO 8601 with its offset, to the second as the record keeps it. The same text as
    moment.isoformat(timespec="seconds") (RFC 3339; the tests compare them), written by orjson in a quarter of the
    time. A str is an instant the database has written already (the bulk export's rows: registry.InstantText)."""
    if isinstance(moment, str):
        return moment
    return orjson.dumps(moment, option=_SECONDS)[1:-1].decode()


def patient_resource(patient: Patient, *, mrn_system: str) -> Resource:
    """A US Core Patient. The registry records sex at birth (the birth-sex extension), not an administrative
    gender, so `gender` is "unknown" rather than a guess from it."""
    names: list[dict[str, Any]] = [{"use": "official", "family": patient.family_name, "given": [patient.given_name]}]
    if patient.preferred_name:
        names.append({"use": "usual", "given": [patient.preferred_name]})
    resource: Resource = {
        "resourceType": "Patient",
        "id": str(patient.pk),
        "meta": {"profile": [t.US_CORE_PATIENT], "lastUpdated": instant(patient.updated_at)},
        "extension": [{"url": t.US_CORE_BIRTH_SEX, "valueCode": t.BIRTH_SEX.get(patient.sex_at_birth, "UNK")}],
        "identifier": [{"use": "usual", "type": MEDICAL_RECORD_NUMBER, "system": mrn_system, "value": patient.mrn}],
        "active": True,
        "name": names,
        "gender": "unknown",
        "birthDate": patient.birth_date.isoformat(),
        "communication": [{"language": {"text": patient.preferred_language}}],
    }
    telecom = [{"system": "phone", "value": patient.phone, "use": "home"}] if patient.phone else []
    if patient.email:
        telecom.append({"system": "email", "value": patient.email})
    if telecom:
        resource["telecom"] = telecom
    if patient.address_line1:
        lines = [line for line in (patient.address_line1, patient.address_line2) if line]
        address = {"use": "home", "line": lines, "city": patient.city, "state": patient.region}
        address.update({"postalCode": patient.postal_code, "country": patient.country})
        resource["address"] = [{k: v for k, v in address.items() if v}]
    return resource


def practitioner_resource(user: User, *, staff_system: str) -> Resource:
    """A US Core Practitioner for a member of staff: name and licence (or the clinic's staff number)."""
    identifiers: list[dict[str, Any]] = [{"system": staff_system, "value": str(user.pk)}]
    if user.licence_number:
        identifiers.append({"type": {"text": f"{user.licence_type or 'Licence'} number"}, "value": user.licence_number})
    name: dict[str, Any] = {"text": user.display_name}
    if user.last_name:
        name["family"] = user.last_name
    if user.first_name:
        name["given"] = [user.first_name]
    return {
        "resourceType": "Practitioner",
        "id": str(user.pk),
        "meta": {"profile": [t.US_CORE_PRACTITIONER]},
        "identifier": identifiers,
        "active": user.is_active,
        "name": [name],
    }


def _quantity(value: int, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": t.UCUM, "code": unit}


def _code(vital: t.VitalCode, text: str) -> dict[str, Any]:
    return {"coding": [{"system": t.LOINC, "code": c, "display": d} for c, d in vital.codes], "text": text}


VITAL_TEXT = {"bp": "Blood pressure", "hr": "Heart rate", "spo2": "Oxygen saturation", "rr": "Respiratory rate"}


def vital_keys(vital: VitalSign) -> list[str]:
    """Which observations a set of vital signs gives: the ones it has a value for."""
    keys = ["bp"] if vital.systolic is not None or vital.diastolic is not None else []
    if vital.heart_rate is not None:
        keys.append("hr")
    if vital.spo2 is not None:
        keys.append("spo2")
    if vital.respiratory_rate is not None:
        keys.append("rr")
    return keys


_VITAL_CATEGORY = [{"coding": [{"system": t.OBSERVATION_CATEGORY, "code": "vital-signs", "display": "Vital Signs"}]}]
_DATA_ABSENT = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "unknown"}]}
# The parts each vital sign's observations share, built once (shared by every resource: never changed after).
_VITAL_META = {key: {"profile": [t.VITAL_SIGNS_PROFILE, profile]} for key, profile in t.US_CORE_VITALS.items()}
_VITAL_CODE = {key: _code(t.VITALS[key], VITAL_TEXT[key]) for key in t.VITALS}
MM_HG = t.BLOOD_PRESSURE.unit
_VITAL_UNIT = {key: vital.unit for key, vital in t.VITALS.items()}
_BP_PARTS = [
    {"coding": [{"system": t.LOINC, "code": code, "display": display}]} for code, display in (t.SYSTOLIC, t.DIASTOLIC)
]
_VALUE_FIELD = {"hr": "heart_rate", "spo2": "spo2", "rr": "respiratory_rate"}
_QUANTITY = {key: {"unit": unit, "system": t.UCUM, "code": unit} for key, unit in _VITAL_UNIT.items()}


def _bp_part(part: dict[str, Any], value: int | None) -> dict[str, Any]:
    if value is None:
        return {"code": part, "dataAbsentReason": _DATA_ABSENT}
    return {"code": part, "valueQuantity": {"value": value, **_QUANTITY["bp"]}}


def vital_observation(vital: VitalSign, key: str, *, patient_id: int, superseded: bool) -> Resource:
    """One vital sign of a set as a US Core vital-signs Observation. A reading corrected later is
    "entered-in-error"; the correction is "amended" (it replaces an earlier reading)."""
    return vital_set_observations(vital, [key], patient_id=patient_id, superseded=superseded)[0]


def vital_set_observations(
    vital: VitalSign, keys: Iterable[str] | None = None, *, patient_id: int, superseded: bool
) -> list[Resource]:
    """The observations of one set of vital signs (`keys`, default: each it has a value for), what they share
    worked out once and the constant parts shared by every resource (the bulk export writes millions)."""
    status = "entered-in-error" if superseded else "amended" if vital.corrects_id else "final"
    subject = {"reference": f"Patient/{patient_id}"}
    effective, issued = instant(vital.measured_at), instant(vital.recorded_at)
    performer = [{"reference": f"Practitioner/{vital.recorded_by_id}"}]
    prefix = f"vs-{vital.pk}-"
    made = []
    for key in vital_keys(vital) if keys is None else keys:
        resource: Resource = {
            "resourceType": "Observation",
            "id": prefix + key,
            "meta": _VITAL_META[key],
            "status": status,
            "category": _VITAL_CATEGORY,
            "code": _VITAL_CODE[key],
            "subject": subject,
            "effectiveDateTime": effective,
            "issued": issued,
            "performer": performer,
        }
        if key == "bp":
            resource["component"] = [_bp_part(_BP_PARTS[0], vital.systolic), _bp_part(_BP_PARTS[1], vital.diastolic)]
        else:
            value = getattr(vital, _VALUE_FIELD[key])
            assert value is not None
            resource["valueQuantity"] = {"value": value, **_QUANTITY[key]}
        made.append(resource)
    return made


def score_code(instrument: str) -> tuple[str, str, str] | None:
    """The code system, code and display of an instrument's total, when it has one that is a sum (codes.md).

    LOINC where the instrument has a result code; the in-session scales (MOAA/S, RASS, CADSS-6, the dissociation
    rating) have none in codes.md, so their totals carry the clinic's own code system (issue 17 item 1 asks for
    in-session sedation and dissociation scores as Observations; US Core's screening-assessment code binding is
    extensible, and no LOINC code stands for them).
    """
    found = INSTRUMENTS.get(instrument)
    if found is None or instrument in t.NOT_A_SUM:
        return None
    if found.loinc_result is not None:
        return t.LOINC, found.loinc_result.code, found.loinc_result.display
    if Use.IN_SESSION in found.uses:
        return t.INSTRUMENT_SCORE, found.code, f"{found.name} total"
    return None


def score_observation(response: QuestionnaireResponse, *, superseded: bool) -> Resource:
    """A questionnaire's total as a US Core screening-assessment Observation (category survey), e.g. PHQ-9 total
    44261-6. A response a later correction replaced is "entered-in-error"; the correction "amended"."""
    code = score_code(response.instrument)
    assert code is not None and response.total is not None
    status = "entered-in-error" if superseded else "amended" if response.corrects_id else "final"
    name = INSTRUMENTS[response.instrument].name
    submitted = instant(response.submitted_at)
    return {
        "resourceType": "Observation",
        "id": f"qr-{response.pk}-total",
        "meta": {"profile": [t.US_CORE_SCREENING]},
        "status": status,
        "category": [{"coding": [{"system": t.OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}]}],
        "code": {"coding": [{"system": code[0], "code": code[1], "display": code[2]}], "text": f"{name} total"},
        "subject": {"reference": f"Patient/{response.patient_id}"},
        "effectiveDateTime": submitted,
        "issued": submitted,
        "performer": [{"reference": f"Patient/{response.patient_id}"}]
        if response.source == "portal"
        else [{"reference": f"Practitioner/{response.entered_by_id}"}],
        "valueQuantity": {"value": response.total, "unit": t.SCORE_UNIT, "system": t.UCUM, "code": t.SCORE_UNIT},
    }


def operation_outcome(code: str, diagnostics: str, severity: str = "error") -> Resource:
    """R4 OperationOutcome with one issue (issue-type codes: invalid, not-supported, not-found, forbidden, login)."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }


def searchset(
    base: str,
    resources: Sequence[Resource],
    *,
    self_url: str,
    next_url: str | None,
    included: Sequence[Resource] = (),
) -> Resource:
    """A searchset Bundle; `next` when there may be more (no count of every match: that costs a full scan);
    `included`: what _include/_revinclude added (search mode "include")."""
    links = [{"relation": "self", "url": self_url}]
    if next_url is not None:
        links.append({"relation": "next", "url": next_url})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": [
            {"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
            for r in resources
        ]
        + [
            {"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "include"}}
            for r in included
        ],
    }


BULK_DATA = "http://hl7.org/fhir/uv/bulkdata"
PROFILES = {
    "Patient": t.US_CORE_PATIENT,
    "Practitioner": t.US_CORE_PRACTITIONER,
    "MedicationRequest": f"{t.US_CORE}/StructureDefinition/us-core-medicationrequest",
    "Encounter": f"{t.US_CORE}/StructureDefinition/us-core-encounter",
    "AllergyIntolerance": f"{t.US_CORE}/StructureDefinition/us-core-allergyintolerance",
    "CarePlan": f"{t.US_CORE}/StructureDefinition/us-core-careplan",
    "Provenance": f"{t.US_CORE}/StructureDefinition/us-core-provenance",
    # US Core 6.1 uses the SDC profiles for questionnaires and their responses.
    "Questionnaire": "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire",
    "QuestionnaireResponse": "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaireresponse",
}
# What the statement says of a type beyond its parameters.
DOCUMENTATION = {
    "AuditEvent": "Read-only: the clinic's audit trail, to the clinic director and the auditor only.",
    "Provenance": "Who signed or recorded each record, and when; also by _revinclude=Provenance:target.",
    "Questionnaire": "The clinic's instruments, with LOINC item codes where they exist.",
}
# Types whose resources claim one of several profiles (a type with none here or in PROFILES claims none: US Core
# 6.1 has no MedicationAdministration profile).
SUPPORTED_PROFILES = {
    "Observation": [*t.US_CORE_VITALS.values(), t.US_CORE_SCREENING],
    "Condition": [
        f"{t.US_CORE}/StructureDefinition/us-core-condition-problems-health-concerns",
        f"{t.US_CORE}/StructureDefinition/us-core-condition-encounter-diagnosis",
    ],
}


def capability_statement(base: str, *, published: datetime, software_version: str) -> Resource:
    """What this server really does: read and search of the resources below, with exactly these parameters."""

    def entry(resource_type: str) -> dict[str, Any]:
        item: dict[str, Any] = {
            "type": resource_type,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [{"name": name, "type": kind} for name, kind in SUPPORTED[resource_type].items()],
        }
        if resource_type in PROFILES:
            item["profile"] = PROFILES[resource_type]
        if resource_type in SUPPORTED_PROFILES:
            item["supportedProfile"] = SUPPORTED_PROFILES[resource_type]
        if resource_type in INCLUDES:
            item["searchInclude"] = list(INCLUDES[resource_type])
        if resource_type in REVINCLUDES:
            item["searchRevInclude"] = list(REVINCLUDES[resource_type])
        if resource_type in DOCUMENTATION:
            item["documentation"] = DOCUMENTATION[resource_type]
        return item

    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": instant(published),
        "kind": "instance",
        "software": {"name": "kapclinic", "version": software_version},
        "implementation": {"description": "kapclinic FHIR R4 server (read and search)", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "cors": False,
                    "service": [{"coding": [{"system": SECURITY_SERVICE, "code": "SMART-on-FHIR"}]}],
                    "extension": [
                        {"url": OAUTH_URIS, "extension": [{"url": "token", "valueUri": f"{base}/auth/token"}]}
                    ],
                    "description": "Bearer tokens (POST /api/v1/auth/token), or SMART Backend Services for system "
                    "clients (private_key_jwt, RS384/ES384; scopes such as system/Observation.rs); each read of "
                    "patient data is audited under the same role and care-team rules as the pages. A patient's own "
                    "token reads their own record only (patient/*.rs). In a 42 CFR Part 2 program, a substance use "
                    "disorder patient's resources carry meta.security 42CFRPart2, R, ETH and NORDSLCD and the "
                    "redisclosure notice (42 CFR 2.32). Psychotherapy notes never leave through FHIR.",
                },
                "resource": [entry(name) for name in SUPPORTED],
                # Bulk Data export (bulk.py): the whole clinic, every patient, a clinician's caseload as a Group.
                "operation": [
                    {"name": name, "definition": f"{BULK_DATA}/OperationDefinition/{name}"}
                    for name in ("export", "patient-export", "group-export")
                ],
            }
        ],
    }


def vital_observations(vitals: Iterable[VitalSign], keys: set[str] | None, *, superseded: set[int]) -> list[Resource]:
    """Each set's observations (only `keys`, when given), in the order given."""
    return [
        resource
        for v in vitals
        for resource in vital_set_observations(
            v,
            None if keys is None else [key for key in vital_keys(v) if key in keys],
            patient_id=v.session.patient_id,
            superseded=v.pk in superseded,
        )
    ]
