"""The inbox (issue 16, item 5): one place per member of staff for what needs them, each item linking to where it
is done. Derived from the records every time (the same selectors as the home pages), never a second copy that could
drift: an item leaves the inbox when the record says it is done."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.urls import reverse
from django.utils import timezone

from kapclinic.audit.context import AuditContext
from kapclinic.audit.services import access_events_record_many
from kapclinic.clinical.wording import weekday_time_text
from kapclinic.dosing.selectors import (
    adverse_events_to_review,
    open_alerts_for,
    rems_forms_due,
    sessions_waiting_for_prescriber,
)
from kapclinic.intake.models import Inquiry, InquiryStatus
from kapclinic.ledger.selectors import ledger_clocks
from kapclinic.measures.selectors import open_safety_flags_for_user
from kapclinic.messaging.selectors import threads_waiting_for_user
from kapclinic.oversight.selectors import emergency_accesses_to_review
from kapclinic.patients.templatetags.clinic_words import patient_name
from kapclinic.reminders.selectors import reschedule_requests
from kapclinic.roles import Action, Role, may
from kapclinic.therapy.selectors import integration_sessions_due, notes_to_sign

LIMIT = 50  # per section: the inbox says when there are more, the home pages and lists have the rest


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


def inbox_for(ctx: AuditContext) -> list[InboxSection]:
    """The sections that apply to the user's role, in order of urgency (safety first), each possibly empty."""
    user = ctx.user
    role = user.role
    sections: list[InboxSection] = []
    if may(role, Action.SAFETY_ACKNOWLEDGE):
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
    if may(role, Action.ALERT_ACKNOWLEDGE):
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
    if may(role, Action.MESSAGE_VIEW):
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
    if may(role, Action.DOSE_ORDER):
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
    if may(role, Action.NOTE_WRITE) or may(role, Action.NOTE_COSIGN) or role == Role.DIRECTOR:
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
    if role == Role.THERAPIST:
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
    if may(role, Action.INQUIRY_MANAGE):
        new = list(Inquiry.objects.filter(status=InquiryStatus.NEW).order_by("created_at")[:LIMIT])
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
    if may(role, Action.APPOINTMENT_BOOK) and role in (Role.COORDINATOR, Role.DIRECTOR):
        sections.append(_reschedule_section(ctx))
    if role == Role.DIRECTOR:
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
