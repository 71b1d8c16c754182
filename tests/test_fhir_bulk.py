"""FHIR Bulk Data export (issue 17, item 3; Bulk Data Access IG v2): the kick-off, the worker's task (run here in
the test's process), the status manifest, the NDJSON files (each line validated with fhir.resources R4B), _type
and _since, the refusals, the audit, and that the worker reads patients in chunks."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.group import Group
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir_core.fhirabstractmodel import FHIRAbstractModel

from kapclinic.accounts.models import User
from kapclinic.audit.models import AccessEvent
from kapclinic.dosing.models import DosingSession, VitalSign
from kapclinic.fhir import tasks
from kapclinic.fhir.models import ExportJob, ExportStatus
from kapclinic.fhir.registry import BULK_TYPES
from kapclinic.fhir.tasks import export_build, fhir_export_build
from kapclinic.patients.models import CareTeamMember, Patient
from tests.probes.records import plan_make, response_make

ASYNC = {"Prefer": "respond-async", "Accept": "application/fhir+json"}
MODELS: dict[str, type[FHIRAbstractModel]] = {name: get_fhir_model_class(name) for name in BULK_TYPES}


@pytest.fixture(autouse=True)
def export_dir(settings: Any, tmp_path: Path) -> Path:
    settings.KAPCLINIC_EXPORT_DIR = tmp_path / "exports"
    return tmp_path / "exports"


@pytest.fixture
def records(personas: dict[str, User], team_patient: Patient, other_patient: Patient) -> dict[str, Any]:
    """Vitals (one corrected) and questionnaire totals for the team's patient; a PHQ-9 for the other."""
    plan = plan_make(team_patient, personas, stamp=True)
    session = DosingSession.objects.create(
        patient=team_patient, plan=plan, number=1, scheduled_for=timezone.now() - timedelta(hours=2), state="monitoring"
    )
    nurse, now = personas["nurse"], timezone.now()
    first = VitalSign.objects.create(
        session=session, measured_at=now - timedelta(minutes=90), systolic=128, diastolic=82, heart_rate=72,
        spo2=98, respiratory_rate=14, recorded_by=nurse, recorded_at=now - timedelta(minutes=85),
    )  # fmt: skip
    an_hour_ago = now - timedelta(hours=1)
    wrong = VitalSign.objects.create(
        session=session, measured_at=an_hour_ago, systolic=210, recorded_by=nurse, recorded_at=an_hour_ago
    )
    fixed = VitalSign.objects.create(
        session=session,
        measured_at=an_hour_ago,
        systolic=140,
        recorded_by=nurse,
        corrects=wrong,
        correction_reason="Typo",
    )
    phq = response_make(team_patient, nurse, 14, submitted_at=now - timedelta(days=3))
    gad = response_make(team_patient, nurse, 9, instrument="gad7", submitted_at=now - timedelta(days=3))
    theirs = response_make(other_patient, personas["prescriber"], 20, submitted_at=now - timedelta(days=2))
    return {"vitals": [first, wrong, fixed], "phq": phq, "gad": gad, "theirs": theirs}


def kickoff(client: Client, path: str = "$export", params: dict[str, str] | None = None, status: int = 202) -> Any:
    answer = client.get(f"/fhir/{path}", params or {}, headers=ASYNC)
    assert answer.status_code == status, answer.content
    if status != 202:
        OperationOutcome.model_validate(answer.json())
        return answer.json()
    return answer["Content-Location"]


def run(status_url: str) -> ExportJob:
    """The worker's task, run here as `manage.py db_worker` runs the one the kick-off queued."""
    job_id = status_url.rstrip("/").rsplit("/", 1)[1]
    queued = DBTaskResult.objects.get(task_path="kapclinic.fhir.tasks.fhir_export_build", args_kwargs__args=[job_id])
    assert queued.status == "READY"
    fhir_export_build.call(job_id)
    return ExportJob.objects.get(pk=UUID(job_id))


def manifest(client: Client, status_url: str) -> dict[str, Any]:
    answer = client.get(status_url)
    assert answer.status_code == 200, answer.content
    body: dict[str, Any] = answer.json()
    assert body["requiresAccessToken"] is True and body["error"] == []
    return body


def download(client: Client, url: str) -> list[dict[str, Any]]:
    answer = client.get(url)
    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/fhir+ndjson"
    text = b"".join(answer.streaming_content).decode()  # type: ignore[attr-defined]
    lines = [__import__("json").loads(line) for line in text.splitlines()]
    for line in lines:
        MODELS[line["resourceType"]].model_validate(line)
    return lines


@pytest.mark.django_db
def test_a_system_export_runs_to_a_manifest_of_valid_ndjson(
    api_for: Any, records: dict[str, Any], team_patient: Patient, other_patient: Patient
) -> None:
    api = api_for("director")
    status_url = kickoff(api)
    assert "/fhir/$export-status/" in status_url
    waiting = api.get(status_url)
    assert waiting.status_code == 202 and waiting["X-Progress"].startswith("accepted")
    job = run(status_url)
    assert job.status == ExportStatus.COMPLETED and job.expires_at is not None
    body = manifest(api, status_url)
    assert body["request"].endswith("/fhir/$export")
    by_type = {o["type"]: o for o in body["output"]}
    # Every type with records is written (the fixture's plan and session give CarePlan, Condition, Encounter...).
    assert {"Patient", "Observation"} <= set(by_type) <= set(BULK_TYPES)
    for output in body["output"]:
        assert len(download(api, output["url"])) == output["count"]
    patients = download(api, by_type["Patient"]["url"])
    assert {p["id"] for p in patients} == {str(team_patient.pk), str(other_patient.pk)}
    assert by_type["Patient"]["count"] == 2
    observations = download(api, by_type["Observation"]["url"])
    ids = {o["id"] for o in observations}
    first, wrong, fixed = records["vitals"]
    assert {f"vs-{first.pk}-{k}" for k in ("bp", "hr", "spo2", "rr")} <= ids
    assert f"qr-{records['phq'].pk}-total" in ids and f"qr-{records['theirs'].pk}-total" in ids
    status = {o["id"]: o["status"] for o in observations}
    assert status[f"vs-{wrong.pk}-bp"] == "entered-in-error" and status[f"vs-{fixed.pk}-bp"] == "amended"
    assert by_type["Observation"]["count"] == len(observations) == 4 + 1 + 1 + 3
    # Audited: the kick-off, and each patient whose data was written (one row per patient per chunk).
    assert AccessEvent.objects.filter(action="fhir.bulk_export", user=job.requester, patient=None).count() == 1
    written = AccessEvent.objects.filter(action=tasks.AUDIT_ACTION, channel="fhir")
    assert sorted(written.values_list("patient_id", flat=True)) == sorted([team_patient.pk, other_patient.pk])
    assert (
        AccessEvent.objects.filter(action="fhir.bulk_export.download").count() == len(body["output"]) + 2
    )  # each file once, Patient and Observation again


@pytest.mark.django_db
def test_a_clinician_exports_their_caseload_group_only(
    api_for: Any, personas: dict[str, User], records: dict[str, Any], team_patient: Patient
) -> None:
    nurse = personas["nurse"]
    api = api_for("nurse")
    group = api.get(f"/fhir/Group/{nurse.pk}")
    assert group.status_code == 200
    Group.model_validate(group.json())
    assert group.json()["member"] == [{"entity": {"reference": f"Patient/{team_patient.pk}"}}]
    status_url = kickoff(api, f"Group/{nurse.pk}/$export", {"_type": "Patient", "_outputFormat": "ndjson"})
    run(status_url)
    [output] = manifest(api, status_url)["output"]
    assert [p["id"] for p in download(api, output["url"])] == [str(team_patient.pk)]
    # Not another clinician's caseload, not the whole clinic; the director may export any caseload.
    kickoff(api, f"Group/{personas['prescriber'].pk}/$export", status=403)
    kickoff(api, "$export", status=403)
    kickoff(api, "Patient/$export", status=403)
    kickoff(api_for("director"), f"Group/{nurse.pk}/$export")
    kickoff(api_for("director"), f"Group/{personas['coordinator'].pk}/$export", status=404)  # not a clinician
    kickoff(api_for("director"), "Group/999999999/$export", status=404)


@pytest.mark.django_db
def test_type_and_since_choose_what_is_written(api_for: Any, records: dict[str, Any], team_patient: Patient) -> None:
    api = api_for("director")
    status_url = kickoff(api, "Patient/$export", {"_type": "Observation"})
    run(status_url)
    [output] = manifest(api, status_url)["output"]
    assert output["type"] == "Observation"
    # Since half an hour ago: the correction, and the reading it replaced (now entered in error); nothing older.
    since = (timezone.now() - timedelta(minutes=30)).isoformat()
    status_url = kickoff(api, "$export", {"_type": "Observation", "_since": since})
    run(status_url)
    [output] = manifest(api, status_url)["output"]
    ids = {o["id"] for o in download(api, output["url"])}
    _, wrong, fixed = records["vitals"]
    assert ids == {f"vs-{wrong.pk}-bp", f"vs-{fixed.pk}-bp"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "headers", "words"),
    [
        ({}, {}, "Prefer: respond-async"),
        ({"_type": "Patient,Encounterz"}, ASYNC, "Encounterz"),
        ({"_outputFormat": "application/json"}, ASYNC, "NDJSON only"),
        ({"_since": "2026-01-01T00:00:00"}, ASYNC, "time zone"),
        ({"_since": "yesterday"}, ASYNC, "FHIR instant"),
        ({"_typeFilter": "Observation?code=1"}, ASYNC, "not supported"),
    ],
)
def test_a_kickoff_the_server_does_not_support_is_a_400(
    api_for: Any, params: dict[str, str], headers: dict[str, str], words: str
) -> None:
    answer = api_for("director").get("/fhir/$export", params, headers=headers)
    assert answer.status_code == 400
    assert words in (OperationOutcome.model_validate(answer.json()).issue[0].diagnostics or "")
    assert not ExportJob.objects.exists()


@pytest.mark.django_db
def test_refusals(api_for: Any, personas: dict[str, User], records: dict[str, Any], settings: Any) -> None:
    for role in ("patient_user", "coordinator", "auditor"):
        kickoff(api_for(role), "$export", status=403)
    kickoff(api_for("patient_user"), f"Group/{personas['nurse'].pk}/$export", status=403)
    assert AccessEvent.objects.filter(action="fhir.bulk_export", outcome="denied").count() == 4
    assert Client().get("/fhir/$export", headers=ASYNC).status_code == 401
    director = api_for("director")
    status_url = kickoff(director, "$export", {"_type": "Patient"})
    run(status_url)
    file_url = manifest(director, status_url)["output"][0]["url"]
    # Another user's job and file: not found, even for a role that may export.
    other = api_for("prescriber")
    assert other.get(status_url).status_code == 404
    assert other.get(file_url).status_code == 404
    assert director.get(file_url.replace("Patient.ndjson", "Secret.ndjson")).status_code == 404
    # Expired: the status and the file are gone; the worker's next run deletes the files.
    ExportJob.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert director.get(file_url).status_code == 404
    assert director.get(status_url).status_code == 404
    assert tasks.exports_expired_remove() == 1
    assert not any(Path(settings.KAPCLINIC_EXPORT_DIR).glob("*/*.ndjson"))


@pytest.mark.django_db
def test_delete_cancels(api_for: Any, records: dict[str, Any], export_dir: Path) -> None:
    api = api_for("director")
    status_url = kickoff(api)
    assert api.delete(status_url).status_code == 202
    assert run(status_url).status == ExportStatus.CANCELLED  # the worker finds it cancelled and writes nothing
    assert api.get(status_url).status_code == 404
    assert api.delete(status_url).status_code == 404
    finished = kickoff(api)
    run(finished)
    assert api.delete(finished).status_code == 202
    assert not any(export_dir.glob("*/*.ndjson"))


@pytest.mark.django_db
def test_the_worker_reads_patients_in_chunks(
    personas: dict[str, User], team_patient: Patient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Queries grow with the chunks, not the patients: 30 patients in chunks of 10 cost what 3 chunks cost, and
    twice the chunks cost twice the chunk queries; no query per patient or per row."""
    plan = plan_make(team_patient, personas, stamp=True)
    session = DosingSession.objects.create(patient=team_patient, plan=plan, number=1, scheduled_for=timezone.now())

    def add(n: int) -> None:
        for serial in range(n):
            patient = Patient.objects.create(
                mrn=f"K9{Patient.objects.count():07d}", given_name="Chunk", family_name=f"P{serial}",
                birth_date=team_patient.birth_date,
            )  # fmt: skip
            CareTeamMember.objects.create(patient=patient, user=personas["nurse"], role="nurse")
            response_make(patient, personas["nurse"], 5)
        VitalSign.objects.create(
            session=session, measured_at=timezone.now(), heart_rate=70, recorded_by=personas["nurse"]
        )

    def queries() -> int:
        job = ExportJob.objects.create(
            requester=personas["director"], kind="system", types=["Patient", "Observation"],
            transaction_time=timezone.now(), request_url="/fhir/$export",
        )  # fmt: skip
        with CaptureQueriesContext(connection) as seen:
            export_build(job.pk)
        job.refresh_from_db()
        assert job.status == ExportStatus.COMPLETED
        return len(seen)

    monkeypatch.setattr(tasks, "PATIENT_CHUNK", 10)
    add(9)
    one_chunk = queries()  # 10 patients
    add(10)
    two_chunks = queries()  # 20
    add(10)
    three_chunks = queries()  # 30
    per_chunk = two_chunks - one_chunk
    assert per_chunk == three_chunks - two_chunks
    assert per_chunk < 20  # a handful per chunk, whatever the chunk holds


@pytest.mark.django_db
def test_a_smart_system_client_exports_what_its_scopes_let_it_read(
    api_for: Any, personas: dict[str, User], records: dict[str, Any], team_patient: Patient
) -> None:
    """A system client (SMART Backend Services) runs a Group export to completion, as its account, narrowed to the
    types its scopes read; a type it has no scope for is a 403, audited."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    from tests.test_fhir_smart import ask, assertion, bearer, register

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    client = register(api_for("director"), key, user=personas["director"], scopes="system/Patient.rs system/Group.rs")
    answer = ask(assertion(key, client["client_id"]), "system/Patient.rs system/Group.rs")
    assert answer.status_code == 200, answer.content
    system = bearer(answer.json()["access_token"])
    nurse = personas["nurse"]
    assert system.get(f"/fhir/Group/{nurse.pk}").json()["quantity"] == 1
    kickoff(system, f"Group/{nurse.pk}/$export", {"_type": "Observation"}, status=403)
    assert AccessEvent.objects.filter(action="smart.scope", outcome="denied", channel="smart").exists()
    status_url = kickoff(system, f"Group/{nurse.pk}/$export")  # without _type: the types its scopes read
    assert run(status_url).types == ["Patient"]
    [output] = manifest(system, status_url)["output"]
    assert [p["id"] for p in download(system, output["url"])] == [str(team_patient.pk)]
    written = AccessEvent.objects.get(action=tasks.AUDIT_ACTION)
    assert written.user == personas["director"] and written.patient_id == team_patient.pk
    assert written.channel == "smart"
    assert api_for("director").get(status_url).status_code == 200  # the same account's own job
