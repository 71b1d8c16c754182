"""The FHIR face through a real client library, fhirpy, over HTTP against a running server with the demo clinic
(issue 17, item 6 and Done when): a clinician's client finds the demo's patients by name and by MRN (identifier in
the clinic's system), reads their vital signs, PHQ-9 totals and ketamine given, with the right codes; a system
client gets a token by SMART Backend Services (a signed JWT assertion) and runs a Group $export to completion
(the database worker, `manage.py db_worker --batch`), then downloads its NDJSON.

Marked `browser` as the other tests against a live server (tests/browser/conftest.py: runserver on a fresh demo
database); no Chromium is needed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
import uuid
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fhirpy import SyncFHIRClient
from jwt.algorithms import RSAAlgorithm

from tests.browser.conftest import _SERVER_ENV, REPO_ROOT, server_python

pytestmark = pytest.mark.browser
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

SETUP = """
import json
from django.conf import settings
from kapclinic.accounts.models import User
from kapclinic.accounts.services import api_token_issue
from kapclinic.accounts.smart import smart_client_register
from kapclinic.audit.context import AuditContext
from kapclinic.dosing.models import Administration
from kapclinic.patients.models import CareTeamMember, Patient
director = User.objects.get(username="director")
dosed = Patient.objects.filter(pk__in=Administration.objects.values("session__patient_id")).order_by("pk").first()
prescriber = CareTeamMember.objects.filter(patient=dosed, role="prescriber").select_related("user").first().user
client = smart_client_register(
    ctx=AuditContext(user=director, channel="test"), name="Research partner (test)", jwks=JWKS,
    scopes="system/Patient.rs system/Observation.rs system/MedicationAdministration.rs", user_id=director.pk,
)
_, raw = api_token_issue(user=prescriber)
print(json.dumps({
    "token": raw, "client_id": client.client_id, "caseload": prescriber.pk,
    "mrn_system": settings.KAPCLINIC_FHIR_MRN_SYSTEM,
    "patient": {"id": dosed.pk, "mrn": dosed.mrn, "family": dosed.family_name, "given": dosed.given_name},
}))
"""


def _post_form(url: str, form: dict[str, str]) -> dict[str, Any]:
    body = urlencode(form).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    request = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310 - http://127.0.0.1, the test's
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - the test's own http://127.0.0.1 server
        found: dict[str, Any] = json.loads(answer.read())
        return found


def _get(url: str, token: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}", **headers})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - the test's own http://127.0.0.1 server
        return answer.status, dict(answer.headers), answer.read()


def _codes(resource: Any, system: str) -> set[str]:
    return {c["code"] for c in (resource.get("code") or {}).get("coding", []) if c["system"] == system}


def test_fhirpy_finds_the_demo_patients_and_a_system_client_exports_a_caseload(server_url: str) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**json.loads(RSAAlgorithm.to_jwk(key.public_key())), "kid": "k1", "alg": "RS384", "use": "sig"}
    world = server_python(f"JWKS = {json.dumps({'keys': [jwk]})!r}\n{SETUP}")
    patient = world["patient"]
    fhir = SyncFHIRClient(f"{server_url}/fhir", authorization=f"Bearer {world['token']}")

    # Found by name and by MRN (the identifier in the clinic's system).
    by_name = fhir.resources("Patient").search(family=patient["family"], given=patient["given"]).fetch_all()
    assert str(patient["id"]) in {p.id for p in by_name}
    by_mrn = fhir.resources("Patient").search(identifier=f"{world['mrn_system']}|{patient['mrn']}").fetch_all()
    assert [p.id for p in by_mrn] == [str(patient["id"])]
    assert by_mrn[0]["identifier"][0]["value"] == patient["mrn"]

    # Vital signs with their LOINC codes (the blood pressure panel with systolic and diastolic components).
    vitals = fhir.resources("Observation").search(patient=patient["id"], category="vital-signs").fetch_all()
    assert {"85354-9", "8867-4"} <= set().union(*(_codes(o, LOINC) for o in vitals))
    panel = next(o for o in vitals if "85354-9" in _codes(o, LOINC))
    assert {c["code"]["coding"][0]["code"] for c in panel["component"]} == {"8480-6", "8462-4"}
    # PHQ-9 totals: LOINC 44261-6, a score.
    phq9 = fhir.resources("Observation").search(patient=patient["id"], code=f"{LOINC}|44261-6").fetch_all()
    assert phq9 and all(o["valueQuantity"]["code"] == "{score}" for o in phq9)
    # Ketamine given: the contained Medication (with its lot) coded RxNorm 6130 (esketamine by text: it has no
    # RxNorm code here), a dose and a route.
    given = fhir.resources("MedicationAdministration").search(patient=patient["id"]).fetch_all()
    assert given
    for administration in given:
        assert administration["medicationReference"]["reference"] == "#med"
        concept = administration["contained"][0]["code"]
        rxnorm = {c["code"] for c in concept.get("coding", []) if c["system"] == RXNORM}
        assert rxnorm == {"6130"} or concept["text"].startswith("esketamine")
        assert administration["subject"]["reference"] == f"Patient/{patient['id']}"
        assert administration["dosage"]["dose"]["value"] > 0 and administration["dosage"]["route"]["coding"]

    # SMART Backend Services: a signed assertion buys a token ...
    token_url = f"{server_url}/fhir/auth/token"
    now = int(time.time())
    claims = {"iss": world["client_id"], "sub": world["client_id"], "aud": token_url, "exp": now + 240, "iat": now}
    signed = jwt.encode({**claims, "jti": str(uuid.uuid4())}, key, algorithm="RS384", headers={"kid": "k1"})
    granted = _post_form(
        token_url,
        {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": signed,
            "scope": "system/Patient.rs system/Observation.rs system/MedicationAdministration.rs",
        },
    )
    system_token = granted["access_token"]
    # ... that runs a Group export (a prescriber's caseload) to completion, and downloads the files.
    status, headers, _ = _get(
        f"{server_url}/fhir/Group/{world['caseload']}/$export?_type=Patient,Observation,MedicationAdministration",
        system_token,
        Prefer="respond-async",
    )
    assert status == 202
    status_url = headers["Content-Location"]
    # The database worker builds the export (and whatever else the demo queued), then stops.
    subprocess.run(
        [sys.executable, "manage.py", "db_worker", "--batch"], cwd=REPO_ROOT, env=_SERVER_ENV, check=True, timeout=60
    )
    status, _, body = _get(status_url, system_token)
    assert status == 200, body
    manifest = json.loads(body)
    assert {o["type"] for o in manifest["output"]} == {"Patient", "Observation", "MedicationAdministration"}
    exported: dict[str, list[dict[str, Any]]] = {}
    for output in manifest["output"]:
        status, headers, ndjson = _get(output["url"], system_token)
        lines = [json.loads(line) for line in ndjson.splitlines()]
        assert headers["Content-Type"] == "application/fhir+ndjson" and len(lines) == output["count"] > 0
        assert {r["resourceType"] for r in lines} == {output["type"]}
        exported[output["type"]] = lines
    # The dosed patient is on the caseload: their record is in the files.
    assert str(patient["id"]) in {p["id"] for p in exported["Patient"]}
    subject = f"Patient/{patient['id']}"
    assert {a["id"] for a in exported["MedicationAdministration"] if a["subject"]["reference"] == subject} == {
        a.id for a in given
    }
