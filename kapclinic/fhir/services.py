"""FHIR writes: a Bulk Data export started or cancelled, each one transaction with its audit (the views in bulk.py
check who may and parse the request; the worker in tasks.py builds the files)."""

from __future__ import annotations

import shutil
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.services import access_event_record
from kapclinic.fhir.models import ExportFile, ExportJob, ExportStatus
from kapclinic.fhir.tasks import export_folder, fhir_export_build


def export_start(
    *, ctx: AuditContext, kind: str, owner: User | None, types: list[str], since: datetime | None, request_url: str
) -> ExportJob:
    """Record the export asked for and queue its build; the task row commits with the job's."""
    with transaction.atomic():
        job = ExportJob.objects.create(
            requester=ctx.user,
            kind=kind,
            group=owner,
            types=types,
            since=since,
            request_url=request_url[:2000],
            channel=ctx.channel,
            transaction_time=timezone.now(),
        )
        access_event_record(
            ctx=ctx,
            action="fhir.bulk_export",
            detail={"job": str(job.pk), "kind": kind, "group": owner.pk if owner else None, "types": types},
        )
        fhir_export_build.enqueue(str(job.pk))
    return job


def export_cancel(*, ctx: AuditContext, job_id: Any) -> bool:
    """Cancel an export not yet cancelled or failed and remove its files; False when there was nothing to cancel."""
    with transaction.atomic():
        cancelled = ExportJob.objects.filter(
            pk=job_id, status__in=[ExportStatus.ACCEPTED, ExportStatus.IN_PROGRESS, ExportStatus.COMPLETED]
        ).update(status=ExportStatus.CANCELLED, finished_at=timezone.now())
        if not cancelled:
            return False
        ExportFile.objects.filter(job_id=job_id).delete()
        access_event_record(ctx=ctx, action="fhir.bulk_export.cancel", detail={"job": str(job_id)})
    shutil.rmtree(export_folder(job_id), ignore_errors=True)  # the worker removes what it writes after this
    return True
