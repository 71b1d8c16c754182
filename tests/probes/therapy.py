"""Role-matrix probes for psychotherapy (issue 8): notes, process notes, co-signing, reflections, goals.

Notes the probes read are written straight into the database by `outsider_therapist`, who plays no
role in the matrix walk, so a persona never reads a note because they wrote it.
"""

from __future__ import annotations

from datetime import date

from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.patients.models import Patient
from kapclinic.roles import Action
from kapclinic.therapy.models import GoalProgress, NoteCosignature, NoteShare, Reflection, TherapyNote
from tests.probes.records import plan_make
from tests.probes.world import Probe, World


def _me(w: World) -> User:
    return User.objects.get(pk=int(w.page.session["_auth_user_id"]))


def _signed_note(w: World, patient: Patient, kind: str, **extra: object) -> TherapyNote:
    author = w.people["outsider_therapist"]
    note = TherapyNote(
        patient=patient, author=author, kind=kind, occurred_at=timezone.now(), body=f"Probe {kind} note.", **extra
    )
    note.signature_stamp(author.pk)
    note.save()
    return note


def _write(w: World, patient: Patient, kind: str) -> bool:
    before = TherapyNote.objects.filter(patient=patient, kind=kind).count()
    api = w.api.post(
        f"/api/v1/patients/{patient.pk}/notes", {"kind": kind, "body": "Probe."}, content_type="application/json"
    )
    page = w.page.post(f"/patients/{patient.pk}/notes/new/", {"kind": kind})
    created = TherapyNote.objects.filter(patient=patient, kind=kind).count() - before
    assert (api.status_code == 201) == (page.status_code == 302), f"page and API disagree: {page.status_code}"
    return api.status_code == 201 and created == 2


def _note_write(w: World, patient: Patient) -> bool:
    return _write(w, patient, "integration")


def _process_note_write(w: World, patient: Patient) -> bool:
    return _write(w, patient, "process")


def _read(w: World, note: TherapyNote) -> bool:
    api = w.api.get(f"/api/v1/notes/{note.pk}")
    page = w.page.get(f"/notes/{note.pk}/")
    page_ok = page.status_code == 200 and note.body in page.content.decode()
    assert (api.status_code == 200) == page_ok, f"page and API disagree: {page.status_code}"
    return api.status_code == 200 and api.json()["body"] == note.body


def _note_view(w: World, patient: Patient) -> bool:
    return _read(w, _signed_note(w, patient, "integration"))


def _process_note_view(w: World, patient: Patient) -> bool:
    # Shared with the persona by its author: the role decides whether a share is enough.
    note = _signed_note(w, patient, "process")
    NoteShare.objects.create(note=note, shared_with=_me(w), by=note.author)
    return _read(w, note)


def _cosign(w: World, patient: Patient) -> bool:
    # Named as co-signer by the author: the role decides whether they may co-sign.
    note = _signed_note(w, patient, "integration", cosigner=_me(w))
    w.api.post(f"/api/v1/notes/{note.pk}/cosign", {}, content_type="application/json")
    return NoteCosignature.objects.filter(note=note).exists()


def _reflection_write(w: World, patient: Patient) -> bool:
    before = Reflection.objects.filter(patient=patient).count()
    w.api.post(f"/api/v1/patients/{patient.pk}/reflections", {"body": "Probe entry."}, content_type="application/json")
    return Reflection.objects.filter(patient=patient).count() == before + 1


def _reflection_view(w: World, patient: Patient) -> bool:
    reflection = Reflection.objects.create(patient=patient, body="Probe shared entry.", shared_at=timezone.now())
    response = w.api.get(f"/api/v1/patients/{patient.pk}/reflections")
    return response.status_code == 200 and reflection.pk in {r["id"] for r in response.json()}


def _goal_progress(w: World, patient: Patient) -> bool:
    plan_make(
        patient,
        w.people,
        stamp=True,
        indication_text="Probe indication",
        session_count=1,
        first_session_on=date(2026, 1, 5),
        therapist=w.people["outsider_therapist"],
        goals=["Probe goal"],
        dosing_policy_version="probe",
    )
    w.api.post(f"/api/v1/patients/{patient.pk}/goals/0/progress", {"level": "some"}, content_type="application/json")
    return GoalProgress.objects.filter(patient=patient).exists()


PROBES: dict[Action, tuple[Probe, bool]] = {
    Action.NOTE_WRITE: (_note_write, True),
    Action.NOTE_VIEW: (_note_view, True),
    Action.PROCESS_NOTE_WRITE: (_process_note_write, True),
    Action.PROCESS_NOTE_VIEW: (_process_note_view, True),
    Action.NOTE_COSIGN: (_cosign, True),
    Action.REFLECTION_WRITE: (_reflection_write, True),
    Action.REFLECTION_VIEW: (_reflection_view, True),
    Action.GOAL_PROGRESS: (_goal_progress, True),
}
