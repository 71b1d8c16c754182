"""Secure-message reads: a patient's conversations, one conversation, and the staff inbox. Each read is
audited; a patient never sees a staff-only conversation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, F, Func, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.services import access_event_record, access_events_record_many
from kapclinic.messaging.models import Message, MessageRead, MessageThread
from kapclinic.messaging.services import thread_for_access
from kapclinic.patients.access import PatientAccess, on_care_team_of, patient_get_for_user
from kapclinic.patients.models import Patient
from kapclinic.roles import Action, Role, Scope, scope_for


@dataclass(frozen=True)
class PatientThreads:
    access: PatientAccess
    threads: QuerySet[MessageThread]  # newest activity first; the page or API takes one page of it


def threads_for_patient(*, ctx: AuditContext, patient_id: int) -> PatientThreads:
    """The patient's conversations the user may read (a patient: theirs with the team, no staff-only one);
    audited."""
    access = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.MESSAGE_VIEW)
    threads = MessageThread.objects.filter(patient_id=patient_id).select_related("needs_response_by")
    if access.scope is Scope.OWN:
        threads = threads.filter(staff_only=False)
    return PatientThreads(access=access, threads=unread_annotated(threads, reader_id=ctx.user.pk))


def unread_annotated(threads: QuerySet[MessageThread], *, reader_id: int) -> QuerySet[MessageThread]:
    """Annotate each thread with its number of messages (`message_count`) and of those the reader has not read
    (`unread_count`): two correlated subqueries, so a page of threads is one query."""
    read = MessageRead.objects.filter(message=OuterRef("pk"), reader_id=reader_id)
    messages = Message.objects.filter(thread=OuterRef("pk")).order_by().values("thread")  # grouped by thread
    return threads.annotate(
        message_count=_count(messages),
        unread_count=_count(messages.exclude(Exists(read))),
    ).order_by("-last_message_at", "-id")


def _count(messages: QuerySet[Message, Any]) -> Coalesce:
    """COUNT over a subquery of one thread's messages (0 when none)."""
    counted = messages.annotate(n=Func(F("pk"), function="COUNT")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


@dataclass(frozen=True)
class ThreadView:
    access: PatientAccess
    thread: MessageThread
    messages: Sequence[Message]  # oldest first, with their authors and any safety flag raised from them
    unread_ids: set[int]  # messages the user had not read before this view


def thread_for_user(*, ctx: AuditContext, patient_id: int, thread_id: int) -> ThreadView:
    """One conversation with its messages; audited with the conversation's id (a read of its content)."""
    access = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.MESSAGE_VIEW, record_allowed=False)
    thread = thread_for_access(ctx=ctx, access=access, thread_id=thread_id, action=Action.MESSAGE_VIEW)
    access_event_record(
        ctx=ctx,
        action=Action.MESSAGE_VIEW,
        patient_id=patient_id,
        detail={"thread": thread.pk},
        emergency=access.emergency,
    )
    read = MessageRead.objects.filter(message=OuterRef("pk"), reader_id=ctx.user.pk)
    messages = list(
        Message.objects.filter(thread=thread)
        .select_related("author", "safety_flag_link__flag__raised_by")
        .annotate(read_by_me=Exists(read))
        .order_by("sent_at", "id")
    )
    unread = {m.pk for m in messages if not m.read_by_me}
    return ThreadView(access=access, thread=thread, messages=messages, unread_ids=unread)


def _team_threads(user: User) -> QuerySet[MessageThread] | None:
    """The conversations about the care-team member's patients; None for roles that read no messages and for
    patients (whose conversations are their own, in the portal)."""
    if user.role == Role.PATIENT or scope_for(user.role, Action.MESSAGE_VIEW) is Scope.NONE:
        return None
    return MessageThread.objects.filter(on_care_team_of(user.pk, patient_field="patient_id"))


def threads_waiting(user: User) -> QuerySet[MessageThread]:
    """The conversations that wait on a care-team member (a message they have not read, or marked as needing a
    clinical response), newest first and unread: the inbox lists them, the header counts them."""
    team = _team_threads(user)
    if team is None:
        return MessageThread.objects.none()
    threads = unread_annotated(team, reader_id=user.pk)
    return threads.filter(Q(unread_count__gt=0) | Q(needs_response_at__isnull=False))


def messages_unread(user: User) -> QuerySet[Message]:
    """The messages of the care-team member's conversations they have not read, unread themselves (the header
    counts them)."""
    team = _team_threads(user)
    if team is None:
        return Message.objects.none()
    read = MessageRead.objects.filter(message=OuterRef("pk"), reader_id=user.pk)
    return Message.objects.filter(thread__in=team.values("pk")).exclude(Exists(read))


def threads_waiting_for_user(*, ctx: AuditContext, limit: int = 50) -> list[MessageThread]:
    """The conversations that wait on a care-team member: of their patients, with a message they have not read
    or marked as needing a clinical response; derived from the messages, never a second copy. Audited as a
    list (one row per patient shown). Empty for roles that read no messages and for patients."""
    waiting = list(threads_waiting(ctx.user).select_related("patient", "needs_response_by")[:limit])
    access_events_record_many(ctx=ctx, action="message.inbox", patient_ids=sorted({t.patient_id for t in waiting}))
    return waiting


def recipients_for_user(*, ctx: AuditContext, limit: int = 500) -> list[tuple[int, str]]:
    """The patients the user may start a conversation about (their care team's), as (id, "Family, Given (MRN)")
    for a select; audited as a list of names shown."""
    if scope_for(ctx.user.role, Action.MESSAGE_SEND) is not Scope.TEAM:
        return []
    patients = list(
        Patient.objects.filter(on_care_team_of(ctx.user.pk))
        .order_by("family_name", "given_name", "pk")
        .values_list("pk", "family_name", "given_name", "mrn")[:limit]
    )
    access_events_record_many(ctx=ctx, action="message.recipients", patient_ids=[row[0] for row in patients])
    return [(pk, f"{family}, {given} ({mrn})") for pk, family, given, mrn in patients]
