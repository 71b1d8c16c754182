"""Synthetic psychotherapy for the demo patient (serial 1, portal login "patient"): a signed preparation note,
reflections (one shared, one private), a signed integration note with an addendum, an integration draft left
unsigned for four days, and the therapist's private process note, shared with nobody. Every word is made up."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.clinical.registry import SYNTHETIC_MRN_BASE, mrn_from_number
from kapclinic.patients.models import Patient
from kapclinic.plans.selectors import current_plan
from kapclinic.therapy.kinds import NoteKind, searchable_text
from kapclinic.therapy.models import GoalProgress, NoteAddendum, Reflection, TherapyNote


def _note(
    patient: Patient,
    author: User,
    kind: NoteKind,
    occurred_at: datetime,
    sections: dict[str, str],
    body: str = "",
    *,
    signed: bool = True,
    minutes: int = 50,
    modality: str = "in_person",
) -> TherapyNote:
    note = TherapyNote(
        patient=patient,
        author=author,
        kind=kind,
        occurred_at=occurred_at,
        modality=modality,
        minutes=minutes,
        sections=sections,
        body=body,
        search_text=searchable_text(sections, body),
        created_at=occurred_at + timedelta(minutes=minutes),
        updated_at=occurred_at + timedelta(minutes=minutes + 20),
    )
    if signed:
        note.signature_stamp(author.pk, at=occurred_at + timedelta(hours=2))
    note.save()
    return note


@transaction.atomic
def load_therapy(staff: dict[str, User]) -> int:
    """Create the demo therapy record once; return how many notes were written."""
    patient = Patient.objects.get(mrn=mrn_from_number(SYNTHETIC_MRN_BASE + 1))
    if TherapyNote.objects.filter(patient=patient).exists():
        return 0
    therapist = staff["therapist"]
    now = timezone.now().replace(second=0, microsecond=0)
    _note(
        patient,
        therapist,
        NoteKind.PREPARATION,
        now - timedelta(days=21, hours=3),
        {
            "intentions": "To feel less weighed down in the mornings, and to start painting again.",
            "expectations": "Talked through dissociation, the eye shades and music, and that feelings may come in "
            "waves. Patient worried about 'losing control'; we agreed she can ask for the music to stop.",
            "safety_plan": "Raise a hand to pause; stop word 'harbour'. Partner drives her home and stays the night. "
            "Crisis line 988 card given.",
            "support": "Partner at home; sister by phone.",
        },
        "Synthetic demo note. Patient calm by the end of the session, curious about the first dose.",
        modality="video",
    )
    Reflection.objects.create(
        patient=patient,
        kind="post_session",
        prompt="stood_out",
        body="The music in the middle felt like standing in a warm kitchen as a child. I cried, and it felt like "
        "relief, not sadness. Afterwards I wanted to phone my sister.",
        written_at=now - timedelta(days=6, hours=20),
        updated_at=now - timedelta(days=6, hours=20),
        shared_at=now - timedelta(days=6, hours=19),
    )
    Reflection.objects.create(
        patient=patient,
        kind="journal",
        body="Bad night. Did not want to tell anyone yet. Writing it down helps a little.",
        written_at=now - timedelta(days=2, hours=22),
        updated_at=now - timedelta(days=2, hours=22),
    )
    integration = _note(
        patient,
        therapist,
        NoteKind.INTEGRATION,
        now - timedelta(days=5, hours=4),
        {
            "reported": "Mornings 'lighter' on four of the last six days. Shared reflection about the warm kitchen.",
            "themes": "Childhood safety; grief for her mother; permission to rest.",
            "insights": "'I don't have to earn a slow morning.'",
            "coping": "Five minutes of sketching with coffee; a walk before checking messages.",
            "goals_progress": "Sleep: some progress. Painting: first sketch in a year.",
            "risk": "No suicidal ideation reported; PHQ-9 item 9 = 0. Safety plan reviewed.",
            "plan": "Next integration session after dosing session 3.",
        },
    )
    addendum_at = integration.signed_at + timedelta(days=1) if integration.signed_at else now
    addendum = NoteAddendum(
        note=integration,
        reason="Information received after signing",
        body="Patient phoned the next day: slept seven hours two nights running.",
    )
    addendum.signature_stamp(therapist.pk, at=addendum_at)
    addendum.save(force_insert=True)
    draft = _note(
        patient,
        therapist,
        NoteKind.INTEGRATION,
        now - timedelta(days=4, hours=2),
        {"reported": "Harder week; argument with her partner about the course's cost."},
        signed=False,
    )
    TherapyNote.objects.filter(pk=draft.pk).update(created_at=now - timedelta(days=4))
    _note(
        patient,
        therapist,
        NoteKind.PROCESS,
        now - timedelta(days=5, hours=3),
        {},
        "My own reactions: I noticed I wanted to rescue her when she spoke about her father. Take to supervision. "
        "(Synthetic demo process note: private to the author, shared with nobody.)",
        minutes=10,
    )
    plan = current_plan(patient.pk)
    if plan is not None and plan.goals:
        GoalProgress.objects.create(
            patient=patient,
            plan=plan,
            goal_index=0,
            goal_text=str(plan.goals[0])[:300],
            level="some",
            comment="Mornings lighter four days in six.",
            note=integration,
            recorded_by=therapist,
            recorded_at=integration.created_at,
        )
    return 4
