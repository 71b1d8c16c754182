"""The inbox (issue 16, item 5): one place per member of staff for what needs them, each item linking to where it
is done. Derived from the records every time (the same selectors as the home pages), never a second copy that could
drift: an item leaves the inbox when the record says it is done."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import connection
from django.db.models import IntegerField, QuerySet, Subquery
from django.urls import reverse
from django.utils import timezone
from psycopg import ClientCursor

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.services import access_events_record_many
from kapclinic.billing.authorisations import authorisations_needing_attention, needing_attention_rows
from kapclinic.clinical.instruments import INSTRUMENTS
from kapclinic.clinical.wording import weekday_time_text
from kapclinic.dosing.selectors import (
    adverse_events_to_review,
    adverse_events_unreviewed,
    alerts_open,
    open_alerts_for,
    rems_forms_due,
    rems_unsubmitted,
    sessions_waiting,
    sessions_waiting_for_prescriber,
)
from kapclinic.intake.models import Inquiry, InquiryStatus
from kapclinic.ledger.selectors import ledger_clocks, ledger_overdue
from kapclinic.measures.selectors import open_safety_flags, open_safety_flags_for_user
from kapclinic.messaging.selectors import messages_unread, threads_waiting, threads_waiting_for_user
from kapclinic.outcomes.selectors import open_prompts, open_prompts_newest
from kapclinic.oversight.selectors import emergency_accesses_to_review
from kapclinic.patients.templatetags.clinic_words import patient_name
from kapclinic.reminders.selectors import reschedule_asked, reschedule_requests
from kapclinic.roles import Action, Role, may
from kapclinic.therapy.selectors import integration_sessions_due, integration_waiting, notes_to_sign, notes_waiting

LIMIT = 50  # per section: the inbox says when there are more, the home pages and lists have the rest
ORDERS_LIMIT = 20  # dosing.selectors.sessions_waiting_for_prescriber lists at most 20


@dataclass(frozen=True)
class InboxItem:
    text: str
    url: str
    patient_name: str = ""
    when: datetime | date | None = None
    urgent: bool = False


@dataclass(frozen=True)
class InboxSection:
    key: str
    title: str
    items: list[InboxItem]

    @property
    def count(self) -> int:
        return len(self.items)


def _name(patient: object) -> str:
    """ "FAMILY, Given", as every staff page names a patient (the patient_name filter)."""
    return patient_name(patient)


DIRECTOR_SECTIONS = ["adverse", "rems", "emergency", "ledger"]


def sections_for(role: str) -> list[str]:
    """The keys of the inbox sections that apply to `role`, in order of urgency (safety first): the one answer
    for the page, the API and the header's count."""
    keys = []
    if may(role, Action.SAFETY_ACKNOWLEDGE):
        keys.append("safety")
    if may(role, Action.ALERT_ACKNOWLEDGE):
        keys.append("alerts")
    if may(role, Action.MESSAGE_VIEW):
        keys.append("messages")
    if may(role, Action.DOSE_ORDER):
        keys.append("orders")
    if may(role, Action.NOTE_WRITE) or may(role, Action.NOTE_COSIGN) or role == Role.DIRECTOR:
        keys.append("notes")
    if role == Role.THERAPIST:
        keys.append("integration")
    if may(role, Action.OUTCOME_PROMPT_ACT):
        keys.append("outcomes")
    if may(role, Action.INQUIRY_MANAGE):
        keys.append("inquiries")
    if may(role, Action.APPOINTMENT_BOOK) and role in (Role.COORDINATOR, Role.DIRECTOR):
        keys.append("reschedule")
    if may(role, Action.AUTHORISATION_RECORD):
        keys.append("authorisations")
    if role == Role.DIRECTOR:
        keys += DIRECTOR_SECTIONS
    return keys


def inbox_for(ctx: AuditContext) -> list[InboxSection]:
    """The sections that apply to the user's role, in order of urgency (safety first), each possibly empty."""
    user = ctx.user
    role = user.role
    keys = set(sections_for(role))
    sections: list[InboxSection] = []
    if "safety" in keys:
        flags = open_safety_flags_for_user(ctx=ctx, limit=LIMIT)
        sections.append(
            InboxSection(
                "safety",
                "Safety flags to acknowledge",
                [
                    InboxItem(
                        f.get_code_display(),
                        reverse("chart:patient", args=[f.patient_id]) + "#safety",
                        _name(f.patient),
                        f.raised_at,
                        urgent=True,
                    )
                    for f in flags
                ],
            )
        )
    if "alerts" in keys:
        alerts = open_alerts_for(user)
        access_events_record_many(
            ctx=ctx, action="inbox.alerts", patient_ids=sorted({a.session.patient_id for a in alerts})
        )
        sections.append(
            InboxSection(
                "alerts",
                "Monitoring alerts open",
                [
                    InboxItem(
                        a.message,
                        reverse("dosing:session", args=[a.session_id]) + "#alerts",
                        _name(a.session.patient),
                        a.raised_at,
                        urgent=a.level in ("alert", "critical"),
                    )
                    for a in alerts
                ],
            )
        )
    if "messages" in keys:
        threads = threads_waiting_for_user(ctx=ctx, limit=LIMIT)
        sections.append(
            InboxSection(
                "messages",
                "Messages waiting on you",
                [
                    InboxItem(
                        t.subject
                        + (" — needs a clinical response" if t.needs_response_at else "")
                        + (" (staff only)" if t.staff_only else ""),
                        reverse("messaging:thread", args=[t.patient_id, t.pk]),
                        _name(t.patient),
                        t.last_message_at,
                        urgent=t.needs_response_at is not None,
                    )
                    for t in threads
                ],
            )
        )
    if "orders" in keys:
        waiting = sessions_waiting_for_prescriber(user)
        access_events_record_many(ctx=ctx, action="inbox.orders", patient_ids=sorted({s.patient_id for s in waiting}))
        sections.append(
            InboxSection(
                "orders",
                "Sessions waiting for your order or review",
                [
                    InboxItem(
                        f"{s.get_state_display()} — dose order needed"
                        if s.state == "cleared"
                        else f"{s.get_state_display()} — review the hold",
                        reverse("dosing:session", args=[s.pk]),
                        _name(s.patient),
                        s.scheduled_for,
                        urgent=s.state == "held",
                    )
                    for s in waiting
                ],
            )
        )
    if "notes" in keys:
        notes = notes_to_sign(ctx=ctx, limit=LIMIT)
        items = [
            InboxItem(
                f"Your draft {d.note.get_kind_display().lower()}" + (" — overdue" if d.overdue else ""),
                reverse("therapy:note", args=[d.note.pk]),
                _name(d.note.patient),
                d.note.created_at,
                urgent=d.overdue,
            )
            for d in notes.own_drafts
        ]
        items += [
            InboxItem(
                f"Co-sign {n.author.display_name}'s {n.get_kind_display().lower()}",
                reverse("therapy:note", args=[n.pk]),
                _name(n.patient),
                n.signed_at,
            )
            for n in notes.to_cosign
        ]
        items += [
            InboxItem(
                f"{n.author.display_name}'s draft unsigned over {notes.days} days",
                reverse("therapy:note", args=[n.pk]),
                _name(n.patient),
                n.created_at,
                urgent=True,
            )
            for n in notes.overdue_all
        ]
        sections.append(InboxSection("notes", "Notes to sign or co-sign", items))
    if "integration" in keys:
        due = integration_sessions_due(ctx=ctx, limit=LIMIT)
        sections.append(
            InboxSection(
                "integration",
                "Integration sessions due",
                [
                    InboxItem(
                        f"Discharged {d.days_waiting} days ago, no integration session since",
                        reverse("chart:patient", args=[d.session.patient_id]),
                        _name(d.session.patient),
                        d.discharged_at,
                    )
                    for d in due
                ],
            )
        )
    if "outcomes" in keys:
        prompts = open_prompts_newest(ctx=ctx, limit=LIMIT)[:LIMIT]
        sections.append(
            InboxSection(
                "outcomes",
                "Outcome prompts to answer",
                [
                    InboxItem(
                        f"{p.get_rule_display()} on the {INSTRUMENTS[p.instrument].name}"
                        if p.instrument in INSTRUMENTS
                        else p.get_rule_display(),
                        reverse("outcomes:prompt", args=[p.pk]),
                        _name(p.patient),
                        p.raised_at,
                    )
                    for p in prompts
                ],
            )
        )
    if "inquiries" in keys:
        new = list(_inquiries_new().order_by("created_at")[:LIMIT])
        sections.append(
            InboxSection(
                "inquiries",
                "New inquiries",
                [
                    InboxItem(
                        f"From {i.given_name} {i.family_name}",
                        reverse("intake:detail", args=[i.pk]),
                        "",
                        i.created_at,
                    )
                    for i in new
                ],
            )
        )
    if "reschedule" in keys:
        sections.append(_reschedule_section(ctx))
    if "authorisations" in keys:
        sections.append(_authorisations_section(ctx))
    if "adverse" in keys:
        sections += _director_sections(ctx)
    return sections


def _reschedule_section(ctx: AuditContext) -> InboxSection:
    """The bookings whose patient asks for another time: the coordinator (and the director) move them."""
    asking = reschedule_requests(now=timezone.now(), limit=LIMIT)
    access_events_record_many(
        ctx=ctx, action="inbox.reschedule", patient_ids=sorted({a.patient_id for a in asking if a.patient_id})
    )
    return InboxSection(
        "reschedule",
        "Patients asking to reschedule",
        [
            InboxItem(
                f"{a.get_kind_display()} on {weekday_time_text(timezone.localtime(a.starts_at))} with "
                f"{a.with_user.display_name}" + (f" — “{a.reply_note}”" if a.reply_note else ""),  # type: ignore[attr-defined]
                reverse("appointments:detail", args=[a.pk]) + "#change",
                _name(a.patient),
                a.reply_at,  # type: ignore[attr-defined]
            )
            for a in asking
        ],
    )


def _authorisations_section(ctx: AuditContext) -> InboxSection:
    """Prior authorisations ending within the notice days or used up: ask the payer for more (issue 18 item 7)."""
    return InboxSection(
        "authorisations",
        "Prior authorisations ending or used up",
        [
            InboxItem(
                f"{s.authorisation.number} ({s.authorisation.payer.name}): {s.attention}, through "
                f"{s.authorisation.effective_to:%b} {s.authorisation.effective_to.day}"
                + ("" if s.used is None else f", {s.used} of {s.authorisation.approved_units} used"),
                reverse("billing:prior_authorisations", args=[s.authorisation.patient_id]),
                _name(s.authorisation.patient),
                s.authorisation.effective_to,
                urgent=s.attention == "used up",
            )
            for s in authorisations_needing_attention(ctx=ctx, limit=LIMIT)
        ],
    )


def _director_sections(ctx: AuditContext) -> list[InboxSection]:
    today = timezone.localdate()
    adverse = adverse_events_to_review()
    rems = rems_forms_due(today)
    grants = list(emergency_accesses_to_review()[:LIMIT])
    access_events_record_many(
        ctx=ctx,
        action="inbox.director",
        patient_ids=sorted(
            {*(e.patient_id for e in adverse), *(r.session.patient_id for r in rems), *(g.patient_id for g in grants)}
        ),
    )
    clocks = ledger_clocks(ctx=ctx, today=today)
    return [
        InboxSection(
            "adverse",
            "Adverse events to review",
            [
                InboxItem(
                    e.what,
                    reverse("dosing:adverse_review", args=[e.pk]),
                    _name(e.patient),
                    e.occurred_at,
                    urgent=e.serious,
                )
                for e in adverse
            ],
        ),
        InboxSection(
            "rems",
            "Spravato REMS monitoring forms due",
            [
                InboxItem(
                    f"Due {r.due_on:%b} {r.due_on.day}" + (" — overdue" if r.overdue else ""),
                    reverse("dosing:session", args=[r.session.pk]),
                    _name(r.session.patient),
                    r.due_on,
                    urgent=r.overdue,
                )
                for r in rems
            ],
        ),
        InboxSection(
            "emergency",
            "Emergency access to review",
            [
                InboxItem(
                    f"{g.user.display_name} opened the chart ({weekday_time_text(timezone.localtime(g.granted_at))})",
                    reverse("audit:emergency_review", args=[g.pk]),
                    _name(g.patient),
                    g.granted_at,
                )
                for g in grants
            ],
        ),
        InboxSection(
            "ledger",
            "Controlled-substance deadlines overdue",
            [InboxItem(f"{clocks.attention} overdue", reverse("ledger_reports:index"), "", today, urgent=True)]
            if clocks.attention
            else [],
        ),
    ]


def inbox_count(sections: list[InboxSection]) -> int:
    return sum(section.count for section in sections)


def _inquiries_new() -> QuerySet[Inquiry]:
    return Inquiry.objects.filter(status=InquiryStatus.NEW)


def _counted(user: User, key: str) -> list[tuple[QuerySet[Any], int]]:
    """What a section lists, as (rows, how many the page lists at most): the notes section lists three."""
    if key == "notes":
        notes = notes_waiting(user)
        return [(notes.own_drafts, LIMIT), (notes.to_cosign, LIMIT), (notes.overdue_all, LIMIT)]
    rows: dict[str, Callable[[], QuerySet[Any]]] = {
        "safety": lambda: open_safety_flags(user),
        "alerts": lambda: alerts_open(user),
        "messages": lambda: threads_waiting(user),
        "orders": lambda: sessions_waiting(user),
        "integration": lambda: integration_waiting(user),
        "outcomes": lambda: open_prompts(user),
        "inquiries": _inquiries_new,
        "reschedule": lambda: reschedule_asked(now=timezone.now()),
        "adverse": adverse_events_unreviewed,
        "rems": rems_unsubmitted,
        "emergency": emergency_accesses_to_review,
        "authorisations": lambda: needing_attention_rows(timezone.localdate()),
    }
    return [(rows[key](), ORDERS_LIMIT if key == "orders" else LIMIT)]


class _CountUpTo(Subquery):
    """(SELECT COUNT(*) FROM (rows LIMIT n)): a count that stops reading at the page's limit."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) AS counted)"
    output_field = IntegerField()
    empty_result_set_value = 0

    def __init__(self, rows: QuerySet[Any], limit: int) -> None:
        super().__init__(rows.order_by().values("pk")[:limit])


@dataclass(frozen=True)
class InboxCounts:
    sections: dict[str, int]  # as many items as each section of the inbox lists
    unread_messages: int  # messages of the user's care team they have not read, at most MESSAGES_COUNTED

    @property
    def total(self) -> int:
        """The inbox's items (inbox_count of the page's sections)."""
        return sum(self.sections.values())


MESSAGES_COUNTED = LIMIT + 1  # the header says "50+" past 50


def unread_messages_count(user: User) -> int:
    """The user's unread messages (InboxCounts.unread_messages) alone: one query, not audited (a number)."""
    return messages_unread(user)[:MESSAGES_COUNTED].count()


# Building the counts' query costs the ORM 5-25 ms of Python for 0.2 ms of SQL (issue 15: it was most of a staff
# page's time). Its shape depends only on the role, its values on the user's id and the time: built once a minute
# per role with a stand-in id, then run with the user's. A count may be a minute behind a time threshold (a note
# becoming overdue); never behind a record: the rows are read at every request.
_STAND_IN_ID = 9_007_199_254_740_881  # no user has this id (ids are bigint sequences from 1)
_BUILT: dict[tuple[str, str, int], tuple[str, tuple[Any, ...], list[str]]] = {}


def _count_query(role: str) -> tuple[str, tuple[Any, ...], list[str]]:
    """The counts' SQL for `role` with the stand-in user id among its parameters, and the counted names."""
    key = (role, connection.vendor, int(time.time() // 60))
    built = _BUILT.get(key)
    if built is None:
        stand_in = User(pk=_STAND_IN_ID, role=role)
        counted: dict[str, _CountUpTo] = {}
        for section in sections_for(role):
            if section != "ledger":
                for n, (rows, limit) in enumerate(_counted(stand_in, section)):
                    counted[f"{section}_{n}"] = _CountUpTo(rows, limit)
        if may(role, Action.MESSAGE_VIEW):
            counted["unread_messages"] = _CountUpTo(messages_unread(stand_in), MESSAGES_COUNTED)
        sql, params = "", ()
        if counted:
            # Any one row to hang the subqueries on: the user's own.
            rows_sql = User.objects.filter(pk=_STAND_IN_ID).annotate(**counted).values_list(*counted)
            sql, params = _user_id_only(*rows_sql.query.sql_with_params())
        if len(_BUILT) > 64:  # a minute's roles; the older minutes go
            _BUILT.clear()
        built = _BUILT[key] = (sql, tuple(params), list(counted))
    return built


def _user_id_only(sql: str, params: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
    """On PostgreSQL, the minute's values written into the text and only the user's id left as a parameter.

    With its 40-odd values as parameters PostgreSQL planned the prepared statement afresh on every page (a custom
    plan, 4 ms for the coordinator's and director's counts against 1 ms to run): it judged a generic plan for
    unknown dates and states costlier. With the user's id alone it keeps one plan per minute (PostgreSQL docs,
    PREPARE: "generic plan ... custom plan"). The values are the ORM's own, quoted by the driver (psycopg's mogrify)."""
    if connection.vendor != "postgresql" or not params:
        return sql, params
    connection.ensure_connection()
    with ClientCursor(connection.connection) as quoting:
        text = quoting.mogrify(sql, list(params)).replace("%", "%%")
    stand_in = str(_STAND_IN_ID)
    return text.replace(stand_in, "%s"), (_STAND_IN_ID,) * text.count(stand_in)


def inbox_counts(user: User) -> InboxCounts:
    """How many items each inbox section lists for `user`, and their unread messages: ONE query of scalar
    subqueries (for the director, two more for the ledger's clocks, which are rules over dates and not a count).

    Not audited, unlike the inbox page: it reads numbers, never a row of a patient's record, so nobody's data is
    shown (the same reason the home pages' counts are not). Empty for patients, whose inbox is the portal."""
    if user.role == Role.PATIENT:
        return InboxCounts(sections={}, unread_messages=0)
    sql, params, names = _count_query(user.role)
    row: dict[str, int] = {}
    if names:
        with connection.cursor() as cursor:
            cursor.execute(sql, [user.pk if p == _STAND_IN_ID else p for p in params])
            values = cursor.fetchone()
        row = dict(zip(names, values, strict=True))
    unread = row.pop("unread_messages", 0)
    sections: dict[str, int] = {}
    for name, value in row.items():
        key = name.rsplit("_", 1)[0]
        sections[key] = sections.get(key, 0) + value
    if user.role == Role.DIRECTOR:
        sections["ledger"] = 1 if ledger_overdue(timezone.localdate()) else 0
    return InboxCounts(sections=sections, unread_messages=unread)
