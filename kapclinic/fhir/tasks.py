"""The worker's side of a FHIR Bulk Data export (issue 17, item 3), run by Django's task interface (django-tasks,
database worker: `manage.py db_worker`).

Streaming: the patients are read in chunks of PATIENT_CHUNK ids (keyset paging on the primary key), and for each
chunk every resource type's builder (registry.BULK_TYPES) yields resources that go straight to that type's NDJSON
file as orjson lines; nothing grows with the number of patients but the files. After each chunk, one INSERT
audits every patient whose data was written (the requester's export, on the kick-off's channel), the progress is
saved, and a cancellation (DELETE on the status URL) is noticed.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

import orjson
from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django_tasks import task

from kapclinic.audit.context import AuditContext
from kapclinic.audit.services import access_events_record_many
from kapclinic.fhir.models import ExportFile, ExportJob, ExportKind, ExportStatus
from kapclinic.fhir.registry import BULK_TYPES
from kapclinic.patients.access import on_care_team_of, patients_visible_to
from kapclinic.patients.models import Patient
from kapclinic.roles import Action

logger = logging.getLogger(__name__)
PATIENT_CHUNK = 1000
WRITE_BUFFER = 1 << 20
AUDIT_ACTION = "fhir.bulk_export.write"


class Cancelled(Exception):
    """The requester cancelled the export while it was being built."""


def export_folder(job_id: uuid.UUID | str) -> Path:
    return Path(settings.KAPCLINIC_EXPORT_DIR) / str(job_id)


def file_name(resource_type: str) -> str:
    return f"{resource_type}.ndjson"


@task()
def fhir_export_build(job_id: str) -> int:
    """Build one export; first remove the files of exports that have expired. Return the resources written."""
    exports_expired_remove()
    return export_build(uuid.UUID(job_id))


def exports_expired_remove() -> int:
    """Delete the files of exports past their expiry (the job rows stay, as the history of what left)."""
    expired = ExportJob.objects.filter(expires_at__lte=timezone.now()).exclude(files=None)
    removed = 0
    for job_id in expired.values_list("pk", flat=True):
        shutil.rmtree(export_folder(job_id), ignore_errors=True)
        removed += ExportFile.objects.filter(job_id=job_id).delete()[0]
    return removed


def export_patients(job: ExportJob) -> QuerySet[Patient]:
    """The patients an export covers, through the access door for its requester (a caseload: its care team)."""
    ctx = AuditContext(user=job.requester, channel=job.channel)
    rows = patients_visible_to(ctx=ctx, action=Action.PATIENT_VIEW_CLINICAL)
    if job.kind == ExportKind.GROUP:
        assert job.group_id is not None
        rows = rows.filter(on_care_team_of(job.group_id))
    return rows


def patient_chunks(rows: QuerySet[Patient], size: int = PATIENT_CHUNK) -> Iterator[list[int]]:
    """The ids in order, `size` at a time, by keyset (id > the last one): one short query per chunk."""
    last = 0
    while True:
        ids = list(rows.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:size])
        if not ids:
            return
        yield ids
        last = ids[-1]


def _patient_of(resource: dict[str, Any]) -> str | None:
    """The patient a resource is about, as its reference ("Patient/<id>"): a Patient itself, or its subject or
    patient reference."""
    if resource["resourceType"] == "Patient":
        return f"Patient/{resource['id']}"
    for field in ("subject", "patient"):
        reference = resource.get(field)
        if isinstance(reference, dict):
            return str(reference.get("reference", "")) or None
    return None


def _patient_ids(references: set[str]) -> list[int]:
    return sorted(int(r[8:]) for r in references if r.startswith("Patient/") and r[8:].isdigit())


def export_build(job_id: uuid.UUID) -> int:
    """Claim an accepted job, write its files, and mark it completed (or failed, or leave it cancelled)."""
    claimed = ExportJob.objects.filter(pk=job_id, status=ExportStatus.ACCEPTED).update(status=ExportStatus.IN_PROGRESS)
    if not claimed:
        return 0  # cancelled before it started, or another worker has it
    job = ExportJob.objects.select_related("requester").get(pk=job_id)
    folder = export_folder(job.pk)
    try:
        counts, sizes = _write(job, folder)
    except Cancelled:
        shutil.rmtree(folder, ignore_errors=True)
        return 0
    except Exception as error:  # the job says it failed; the log has the details
        logger.exception("FHIR export %s failed", job.pk)
        shutil.rmtree(folder, ignore_errors=True)
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportStatus.FAILED, error=f"The export failed ({type(error).__name__}).", finished_at=timezone.now()
        )
        return 0
    ExportFile.objects.bulk_create(
        ExportFile(job=job, resource_type=kind, name=file_name(kind), count=counts[kind], size=sizes[kind])
        for kind in job.types
    )
    now = timezone.now()
    finished = ExportJob.objects.filter(pk=job.pk, status=ExportStatus.IN_PROGRESS).update(
        status=ExportStatus.COMPLETED,
        finished_at=now,
        expires_at=now + timedelta(hours=settings.KAPCLINIC_EXPORT_HOURS),
    )
    if not finished:  # cancelled during the last chunk
        ExportFile.objects.filter(job=job).delete()
        shutil.rmtree(folder, ignore_errors=True)
        return 0
    return sum(counts.values())


def _write(job: ExportJob, folder: Path) -> tuple[dict[str, int], dict[str, int]]:
    folder.mkdir(parents=True, exist_ok=True)
    ctx = AuditContext(user=job.requester, channel=job.channel)
    detail = {"job": str(job.pk)}
    counts = dict.fromkeys(job.types, 0)
    handles: dict[str, IO[bytes]] = {}
    dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    try:
        for kind in job.types:
            handles[kind] = (folder / file_name(kind)).open("wb", buffering=WRITE_BUFFER)
        done = 0
        for ids in patient_chunks(export_patients(job)):
            written: set[str | None] = set()
            for kind in job.types:
                write, note, count = handles[kind].write, written.add, 0
                for resource in BULK_TYPES[kind](ids, job.since):
                    write(dumps(resource, option=newline))  # into the file's buffer: each line freed at once
                    subject = resource.get("subject")  # the common case without a call, then the rest
                    note(subject["reference"] if subject else _patient_of(resource))
                    count += 1
                counts[kind] += count
            access_events_record_many(
                ctx=ctx, action=AUDIT_ACTION, patient_ids=_patient_ids({w for w in written if w}), detail=detail
            )
            done += len(ids)
            still = ExportJob.objects.filter(pk=job.pk, status=ExportStatus.IN_PROGRESS).update(patients_done=done)
            if not still:
                raise Cancelled
    finally:
        for handle in handles.values():
            handle.close()
    sizes = {kind: (folder / file_name(kind)).stat().st_size for kind in job.types}
    return counts, sizes
