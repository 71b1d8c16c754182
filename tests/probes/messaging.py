"""Role-matrix probes for secure messages (issue 16, item 6): read, send, triage.

The conversations the probes read are written straight into the database by `outsider_therapist`, who plays no
role in the matrix walk, so a persona never reads a conversation because they started it.
"""

from __future__ import annotations

from kapclinic.messaging.models import Message, MessageThread
from kapclinic.patients.models import Patient
from kapclinic.roles import Action
from tests.probes.world import Probe, World


def _thread(w: World, patient: Patient) -> MessageThread:
    author = w.people["outsider_therapist"]
    thread = MessageThread.objects.create(patient=patient, subject="Probe conversation", started_by=author)
    Message.objects.create(thread=thread, author=author, body="Probe message.")
    return thread


def _message_view(w: World, patient: Patient) -> bool:
    thread = _thread(w, patient)
    response = w.api.get(f"/api/v1/patients/{patient.pk}/messages/{thread.pk}")
    return response.status_code == 200 and response.json()["messages"][0]["body"] == "Probe message."


def _message_send(w: World, patient: Patient) -> bool:
    w.api.post(
        f"/api/v1/patients/{patient.pk}/messages",
        {"subject": "Probe", "body": "Probe message sent."},
        content_type="application/json",
    )
    return Message.objects.filter(thread__patient=patient, body="Probe message sent.").exists()


def _message_triage(w: World, patient: Patient) -> bool:
    thread = _thread(w, patient)
    w.api.post(
        f"/api/v1/patients/{patient.pk}/messages/{thread.pk}/needs-response",
        {"needed": True},
        content_type="application/json",
    )
    thread.refresh_from_db()
    return thread.needs_response


PROBES: dict[Action, tuple[Probe, bool]] = {
    Action.MESSAGE_VIEW: (_message_view, True),
    Action.MESSAGE_SEND: (_message_send, True),
    Action.MESSAGE_TRIAGE: (_message_triage, True),
}
