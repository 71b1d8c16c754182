"""Synthetic secure messages for the demo patient (serial 1, portal login "patient"): a conversation with their
therapist (the last answer not read yet by the therapist), an older one that the therapist turned into a safety
flag (acknowledged after a call), and a staff-only note between the nurse and the
therapist about them, which the patient never sees. Every word is made up."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.clinical.registry import SYNTHETIC_MRN_BASE, mrn_from_number
from kapclinic.measures.models import SafetyFlag, SafetyFlagCode
from kapclinic.messaging.models import Message, MessageRead, MessageSafetyFlag, MessageThread
from kapclinic.patients.models import Patient


def _thread(
    patient: Patient, subject: str, lines: list[tuple[User, str, datetime]], *, staff_only: bool = False
) -> MessageThread:
    first_author, _, first_at = lines[0]
    thread = MessageThread.objects.create(
        patient=patient,
        subject=subject,
        staff_only=staff_only,
        started_by=first_author,
        started_at=first_at,
        last_message_at=lines[-1][2],
    )
    sent: list[Message] = []
    for author, body, at in lines:
        # Whoever answers has read what came before.
        read = set(MessageRead.objects.filter(message__in=sent, reader=author).values_list("message_id", flat=True))
        for earlier in sent:
            if earlier.pk not in read:
                MessageRead.objects.create(message=earlier, reader=author, read_at=at)
        message = Message.objects.create(thread=thread, author=author, body=body, sent_at=at)
        MessageRead.objects.create(message=message, reader=author, read_at=at)
        sent.append(message)
    return thread


@transaction.atomic
def load_messages(staff: dict[str, User]) -> int:
    """Create the demo conversations once; return how many were made."""
    patient = Patient.objects.get(mrn=mrn_from_number(SYNTHETIC_MRN_BASE + 1))
    if patient.user is None or MessageThread.objects.filter(patient=patient).exists():
        return 0
    therapist, nurse, me = staff["therapist"], staff["nurse"], patient.user
    now = timezone.now().replace(second=0, microsecond=0)
    _thread(
        patient,
        "Dreams since the last session (synthetic demo)",
        [
            (
                me,
                "Since Tuesday's session I keep dreaming about my grandmother's garden. Is that normal?",
                now - timedelta(days=2, hours=3),
            ),
            (
                therapist,
                "Thank you for writing. Dreams like that are common after a session; bring one to our integration "
                "session on Friday and we will look at it together.",
                now - timedelta(days=2, hours=1),
            ),
            (me, "I will. I wrote one down in my journal this morning.", now - timedelta(hours=5)),
        ],
    )
    # The patient's newest message is not read by the therapist yet: their inbox shows the conversation waiting.
    _thread(
        patient,
        "Tired at check-in (synthetic demo)",
        [
            (
                nurse,
                "Seemed more tired than usual at check-in today; sleep 5 hours. Worth asking about on Friday?",
                now - timedelta(days=1, hours=6),
            ),
            (therapist, "Yes, I will ask. Thanks for flagging it.", now - timedelta(days=1, hours=2)),
        ],
        staff_only=True,
    )
    older = _thread(
        patient,
        "A hard night (synthetic demo)",
        [
            (me, "Last night was hard. I could not stop thinking that nothing will change.", now - timedelta(days=20)),
            (
                therapist,
                "Thank you for telling me. I am calling you this morning; if it gets worse, call or text 988.",
                now - timedelta(days=20) + timedelta(hours=1),
            ),
        ],
    )
    # The therapist turned the first message into a safety flag, then acknowledged it after the call.
    worrying = older.messages.order_by("sent_at").first()
    assert worrying is not None
    raised_at = worrying.sent_at + timedelta(minutes=40)
    flag = SafetyFlag.objects.create(
        patient=patient,
        code=SafetyFlagCode.MESSAGE_CONCERN,
        raised_at=raised_at,
        raised_by=therapist,
        reason="Hopelessness in a portal message (synthetic demo).",
        acknowledged_by=therapist,
        acknowledged_at=raised_at + timedelta(hours=2),
        action_taken="Called the patient; safety plan reviewed; no current intent (synthetic demo).",
    )
    MessageSafetyFlag.objects.create(message=worrying, flag=flag)
    return 3
