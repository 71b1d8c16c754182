"""Psychotherapy (issue 8): notes by kind, signing, addenda, co-signatures, privacy of process notes,
the patient's reflections, goals progress, search; the pages, the portal journal and the API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.postgres.search import SearchQuery
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.template.loader import render_to_string
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import AccessEvent, Outcome
from kapclinic.dosing.models import DosingSession
from kapclinic.errors import AccessDenied, Conflict, NotFound
from kapclinic.patients.models import Patient
from kapclinic.plans.models import TreatmentPlan
from kapclinic.therapy import selectors, services
from kapclinic.therapy.kinds import BODY_MAX, REFLECTION_MAX, SECTION_MAX
from kapclinic.therapy.models import GoalProgress, NoteAddendum, NoteShare, Reflection, TherapyNote
from tests.db_roles import REFUSED

pytestmark = pytest.mark.django_db


def ctx(user: User, channel: str = "page") -> AuditContext:
    return AuditContext(user=user, channel=channel)


def integration(author: User, patient: Patient, **values: Any) -> TherapyNote:
    values.setdefault("sections", {"reported": "Slept better since the session.", "themes": "Grief; the garden."})
    return services.note_draft_create(ctx=ctx(author), patient_id=patient.pk, kind="integration", values=values)


def signed(author: User, patient: Patient, kind: str = "integration", **values: Any) -> TherapyNote:
    values.setdefault("body", f"A {kind} note.")
    note = services.note_draft_create(ctx=ctx(author), patient_id=patient.pk, kind=kind, values=values)
    return services.note_sign(ctx=ctx(author), note_id=note.pk)


def last_event(**filters: Any) -> AccessEvent:
    event = AccessEvent.objects.filter(**filters).order_by("-id").first()
    assert event is not None, f"no audit event {filters}"
    return event


@pytest.fixture
def therapist(personas: dict[str, User]) -> User:
    return personas["therapist"]


@pytest.fixture
def session(plan: TreatmentPlan, team_patient: Patient) -> DosingSession:
    return DosingSession.objects.create(
        patient=team_patient, plan=plan, number=1, scheduled_for=timezone.now() - timedelta(days=2)
    )


# --- drafts and signing -----------------------------------------------------------------------------------


def test_a_draft_keeps_its_template_fields_and_free_text(therapist: User, team_patient: Patient) -> None:
    note = services.note_draft_create(
        ctx=ctx(therapist),
        patient_id=team_patient.pk,
        kind="preparation",
        values={
            "sections": {"intentions": "To feel less alone.", "safety_plan": "Raise a hand to pause."},
            "body": "Anxious about the needle.",
            "modality": "video",
            "minutes": 50,
        },
    )
    note.refresh_from_db()
    assert note.sections == {"intentions": "To feel less alone.", "safety_plan": "Raise a hand to pause."}
    assert (note.modality, note.minutes, note.is_signed) == ("video", 50, False)
    assert "needle" in note.search_text and "alone" in note.search_text
    assert last_event(action="note.write").detail == {"note": note.pk, "kind": "preparation", "op": "create"}


def test_autosave_changes_only_the_fields_sent_and_bumps_the_version(therapist: User, team_patient: Patient) -> None:
    note = integration(therapist, team_patient)
    services.note_draft_update(
        ctx=ctx(therapist), note_id=note.pk, values={"sections": {"insights": "Kinder to herself."}}, version=1
    )
    note.refresh_from_db()
    assert note.sections["insights"] == "Kinder to herself."
    assert note.sections["reported"] == "Slept better since the session."
    assert note.version == 2
    with pytest.raises(Conflict, match="changed in another window"):
        services.note_draft_update(ctx=ctx(therapist), note_id=note.pk, values={"body": "old tab"}, version=1)
    note.refresh_from_db()
    assert note.body == ""


def test_a_field_of_another_kind_or_an_over_long_text_is_refused_and_audited(
    therapist: User, team_patient: Patient
) -> None:
    note = integration(therapist, team_patient)
    with pytest.raises(ValidationError) as caught:
        services.note_draft_update(
            ctx=ctx(therapist),
            note_id=note.pk,
            values={"sections": {"music": "Bach", "themes": "x" * (SECTION_MAX + 1)}, "body": "y" * (BODY_MAX + 1)},
        )
    errors = caught.value.message_dict
    assert "has no field 'music'" in errors["music"][0]
    assert "under 5,000 characters" in errors["themes"][0]
    assert "under 20,000 characters" in errors["body"][0]
    note.refresh_from_db()
    assert note.sections["themes"] == "Grief; the garden." and note.body == "" and note.version == 1
    assert last_event(action="note.write").outcome == Outcome.INVALID


def test_signing_stores_the_digest_and_freezes_the_note(therapist: User, team_patient: Patient) -> None:
    note = signed(therapist, team_patient)
    assert note.signed_by == therapist and note.signature_intact
    assert last_event(action="note.sign").detail["digest"] == note.signed_digest
    with pytest.raises(Conflict, match="signed and cannot be changed; add an addendum"):
        services.note_draft_update(ctx=ctx(therapist), note_id=note.pk, values={"body": "changed"})
    assert last_event(action="note.write").outcome == Outcome.DENIED
    with pytest.raises(Conflict, match="already signed"):
        services.note_sign(ctx=ctx(therapist), note_id=note.pk)
    note.refresh_from_db()
    assert note.body == "A integration note."


def test_the_database_refuses_to_change_or_delete_a_signed_note(therapist: User, team_patient: Patient) -> None:
    note = signed(therapist, team_patient)
    with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic():
        TherapyNote.objects.filter(pk=note.pk).update(body="tampered")
    with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic():
        TherapyNote.objects.filter(pk=note.pk).delete()


def test_an_empty_note_cannot_be_signed(therapist: User, team_patient: Patient) -> None:
    note = services.note_draft_create(ctx=ctx(therapist), patient_id=team_patient.pk, kind="therapy")
    with pytest.raises(ValidationError, match="Write the note before signing"):
        services.note_sign(ctx=ctx(therapist), note_id=note.pk)


def test_nobody_signs_or_edits_someone_elses_note(personas: dict[str, User], team_patient: Patient) -> None:
    note = integration(personas["therapist"], team_patient)
    with pytest.raises(AccessDenied, match="Only the author of a note may sign it"):
        services.note_sign(ctx=ctx(personas["prescriber"]), note_id=note.pk)
    assert last_event(action="note.sign").outcome == Outcome.DENIED
    with pytest.raises(AccessDenied, match="Only the author of a note may change it"):
        services.note_draft_update(ctx=ctx(personas["prescriber"]), note_id=note.pk, values={"body": "mine"})
    note.refresh_from_db()
    assert not note.is_signed and note.body == ""


def test_only_the_care_team_writes_notes(personas: dict[str, User], other_patient: Patient) -> None:
    with pytest.raises(AccessDenied, match="not on your care team"):
        integration(personas["therapist"], other_patient)
    with pytest.raises(AccessDenied):
        integration(personas["nurse"], other_patient)
    assert not TherapyNote.objects.exists()


def test_an_unknown_kind_is_a_validation_error(therapist: User, team_patient: Patient) -> None:
    with pytest.raises(ValidationError, match="Choose preparation"):
        services.note_draft_create(ctx=ctx(therapist), patient_id=team_patient.pk, kind="gossip")


def test_a_dosing_session_of_another_patient_is_refused(
    therapist: User, team_patient: Patient, other_patient: Patient, session: DosingSession
) -> None:
    note = integration(therapist, team_patient, dosing_session=session.pk)
    assert note.dosing_session == session
    other = TherapyNote(patient=other_patient, author=therapist, kind="integration", occurred_at=timezone.now())
    with pytest.raises(ValidationError, match="not one of this patient's"):
        services._clean_note_values(other, {"dosing_session": session.pk})
    with pytest.raises(ValidationError, match="not one of this patient's"):
        services._clean_note_values(other, {"dosing_session": "abc"})


def test_in_session_note_start_returns_the_same_draft_for_the_session(therapist: User, session: DosingSession) -> None:
    first = services.in_session_note_start(ctx=ctx(therapist), session_id=session.pk)
    again = services.in_session_note_start(ctx=ctx(therapist), session_id=session.pk)
    assert first.pk == again.pk and first.kind == "in_session" and first.dosing_session_id == session.pk
    assert selectors.notes_for_dosing_session(user=therapist, session_id=session.pk) == [first]
    with pytest.raises(NotFound):
        services.in_session_note_start(ctx=ctx(therapist), session_id=999_999)


# --- addenda and co-signatures --------------------------------------------------------------------------


def test_an_addendum_says_who_when_and_why_and_leaves_the_note_as_signed(
    therapist: User, team_patient: Patient
) -> None:
    note = signed(therapist, team_patient)
    addendum = services.note_addendum_add(
        ctx=ctx(therapist), note_id=note.pk, body="She called: slept 7 hours.", reason="Late information"
    )
    assert (addendum.author, addendum.reason) == (therapist, "Late information")
    note.refresh_from_db()
    assert note.signature_intact and note.body == "A integration note."
    with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic():
        NoteAddendum.objects.filter(pk=addendum.pk).update(body="rewritten")


def test_an_addendum_without_a_reason_is_refused_and_audited(therapist: User, team_patient: Patient) -> None:
    note = signed(therapist, team_patient)
    with pytest.raises(ValidationError, match="Say why the note is being amended"):
        services.note_addendum_add(ctx=ctx(therapist), note_id=note.pk, body="More.", reason="  ")
    assert not NoteAddendum.objects.exists()
    assert last_event(action="note.addendum").outcome == Outcome.INVALID


def test_addenda_only_by_the_author_and_only_after_signing(personas: dict[str, User], team_patient: Patient) -> None:
    draft = integration(personas["therapist"], team_patient)
    with pytest.raises(Conflict, match="still a draft"):
        services.note_addendum_add(ctx=ctx(personas["therapist"]), note_id=draft.pk, body="x", reason="y")
    note = signed(personas["therapist"], team_patient)
    with pytest.raises(AccessDenied, match="Only the author"):
        services.note_addendum_add(ctx=ctx(personas["prescriber"]), note_id=note.pk, body="x", reason="y")
    assert not NoteAddendum.objects.exists()


def test_the_named_supervisor_cosigns_a_trainees_signed_note_once(
    personas: dict[str, User], team_patient: Patient
) -> None:
    trainee, supervisor = personas["therapist"], personas["outsider_therapist"]
    draft = integration(trainee, team_patient, cosigner=supervisor.pk, body="Trainee note.")
    with pytest.raises(Conflict, match="not signed this note yet"):
        services.note_cosign(ctx=ctx(supervisor), note_id=draft.pk)
    note = services.note_sign(ctx=ctx(trainee), note_id=draft.pk)
    with pytest.raises(AccessDenied, match="Only the supervisor the author named"):
        services.note_cosign(ctx=ctx(personas["prescriber"]), note_id=note.pk)
    # The supervisor is on no care team, yet reads and co-signs what they were asked to.
    assert selectors.note_get_for_user(ctx=ctx(supervisor), note_id=note.pk).can_cosign
    assert [n.pk for n in selectors.notes_to_sign(ctx=ctx(supervisor)).to_cosign] == [note.pk]
    cosignature = services.note_cosign(ctx=ctx(supervisor), note_id=note.pk, comment="Agree.")
    assert cosignature.note_digest == note.signed_digest
    with pytest.raises(Conflict, match="already co-signed"):
        services.note_cosign(ctx=ctx(supervisor), note_id=note.pk)
    assert selectors.notes_to_sign(ctx=ctx(supervisor)).to_cosign == []


def test_the_cosigner_must_be_a_clinician_other_than_the_author(
    personas: dict[str, User], team_patient: Patient
) -> None:
    with pytest.raises(ValidationError, match="supervising therapist or prescriber"):
        integration(personas["therapist"], team_patient, cosigner=personas["director"].pk)
    with pytest.raises(ValidationError, match="someone other than the author"):
        integration(personas["therapist"], team_patient, cosigner=personas["therapist"].pk)


# --- who sees which note ----------------------------------------------------------------------------------


def test_a_signed_note_is_read_by_the_team_director_and_auditor_not_the_coordinator_or_patient(
    personas: dict[str, User], team_patient: Patient
) -> None:
    note = signed(personas["therapist"], team_patient)
    for reader in ("therapist", "prescriber", "nurse", "director", "auditor"):
        assert selectors.note_get_for_user(ctx=ctx(personas[reader]), note_id=note.pk).note.pk == note.pk
    for refused in ("coordinator", "patient_user", "outsider_therapist"):
        with pytest.raises(AccessDenied):
            selectors.note_get_for_user(ctx=ctx(personas[refused]), note_id=note.pk)
    event = last_event(action="note.view", username="outsider_therapist")
    assert event.outcome == Outcome.DENIED and event.patient_id == team_patient.pk


def test_a_patient_cannot_read_their_therapists_note(personas: dict[str, User], team_patient: Patient) -> None:
    note = signed(personas["therapist"], team_patient)
    with pytest.raises(AccessDenied, match="Your role cannot read therapy notes"):
        selectors.note_get_for_user(ctx=ctx(personas["patient_user"]), note_id=note.pk)
    assert last_event(action="note.view", username="patient_user").outcome == Outcome.DENIED


def test_a_draft_is_for_its_author_only(personas: dict[str, User], team_patient: Patient) -> None:
    note = integration(personas["therapist"], team_patient)
    assert selectors.note_get_for_user(ctx=ctx(personas["therapist"]), note_id=note.pk).can_edit
    with pytest.raises(AccessDenied, match="draft"):
        selectors.note_get_for_user(ctx=ctx(personas["prescriber"]), note_id=note.pk)
    assert selectors.notes_for_patient(ctx=ctx(personas["prescriber"]), patient_id=team_patient.pk) == []


def test_a_process_note_is_read_only_by_its_author_and_whom_they_share_it_with(
    personas: dict[str, User], team_patient: Patient
) -> None:
    author, colleague = personas["therapist"], personas["prescriber"]
    note = signed(author, team_patient, kind="process", body="Countertransference: I felt protective.")
    assert selectors.note_get_for_user(ctx=ctx(author), note_id=note.pk).can_share
    for name in ("prescriber", "nurse", "director", "auditor", "outsider_therapist", "patient_user"):
        with pytest.raises(AccessDenied, match=r"process note|cannot read"):
            selectors.note_get_for_user(ctx=ctx(personas[name]), note_id=note.pk)
        assert last_event(username=name, patient_id=team_patient.pk).outcome == Outcome.DENIED
    assert selectors.notes_for_patient(ctx=ctx(colleague), patient_id=team_patient.pk) == []
    assert selectors.notes_for_chart(user=colleague, patient_id=team_patient.pk) == []

    services.note_share(ctx=ctx(author), note_id=note.pk, user_id=colleague.pk)
    assert selectors.note_get_for_user(ctx=ctx(colleague), note_id=note.pk).note.pk == note.pk
    assert last_event(action="note.process_view", username="prescriber").outcome == Outcome.ALLOWED
    assert [n.pk for n in selectors.notes_for_patient(ctx=ctx(colleague), patient_id=team_patient.pk)] == [note.pk]

    services.note_unshare(ctx=ctx(author), note_id=note.pk, user_id=colleague.pk)
    with pytest.raises(AccessDenied, match="process note"):
        selectors.note_get_for_user(ctx=ctx(colleague), note_id=note.pk)
    assert NoteShare.objects.count() == 2  # the grant and its revocation both stay on record


def test_sharing_rules(personas: dict[str, User], team_patient: Patient) -> None:
    author = personas["therapist"]
    process = signed(author, team_patient, kind="process")
    regular = signed(author, team_patient)
    with pytest.raises(AccessDenied, match="Only the author of a process note may share it"):
        services.note_share(ctx=ctx(personas["prescriber"]), note_id=process.pk, user_id=personas["nurse"].pk)
    with pytest.raises(ValidationError, match="Only process notes are shared"):
        services.note_share(ctx=ctx(author), note_id=regular.pk, user_id=personas["nurse"].pk)
    with pytest.raises(ValidationError, match="Choose a clinician"):
        services.note_share(ctx=ctx(author), note_id=process.pk, user_id=personas["director"].pk)
    services.note_share(ctx=ctx(author), note_id=process.pk, user_id=personas["nurse"].pk)
    with pytest.raises(Conflict, match="already shared"):
        services.note_share(ctx=ctx(author), note_id=process.pk, user_id=personas["nurse"].pk)
    with pytest.raises(NotFound, match="not shared with them"):
        services.note_unshare(ctx=ctx(author), note_id=process.pk, user_id=personas["prescriber"].pk)


def test_the_record_export_leaves_process_notes_out_unless_their_author_includes_them(
    personas: dict[str, User], team_patient: Patient
) -> None:
    author = personas["therapist"]
    regular = signed(author, team_patient)
    process = signed(author, team_patient, kind="process")
    integration(author, team_patient)  # a draft: never exported
    exported = selectors.notes_for_export(ctx=ctx(author), patient_id=team_patient.pk, include_process_notes_of=set())
    assert [n.pk for n in exported] == [regular.pk]
    exported = selectors.notes_for_export(
        ctx=ctx(author), patient_id=team_patient.pk, include_process_notes_of={author.pk}
    )
    assert [n.pk for n in exported] == [regular.pk, process.pk]
    with pytest.raises(AccessDenied, match="Only its author may include a process note"):
        selectors.notes_for_export(
            ctx=ctx(personas["director"]), patient_id=team_patient.pk, include_process_notes_of={author.pk}
        )
    assert last_event(action="note.export").outcome == Outcome.DENIED
    exported = selectors.notes_for_export(
        ctx=ctx(personas["director"]), patient_id=team_patient.pk, include_process_notes_of=set()
    )
    assert [n.pk for n in exported] == [regular.pk]


# --- reflections and goals --------------------------------------------------------------------------------


def test_the_patient_writes_and_shares_reflections_and_the_team_sees_only_shared_ones(
    personas: dict[str, User], team_patient: Patient
) -> None:
    patient = personas["patient_user"]
    private = services.reflection_write(ctx=ctx(patient), patient_id=team_patient.pk, body="Just for me.")
    shared = services.reflection_write(
        ctx=ctx(patient),
        patient_id=team_patient.pk,
        body="The music felt like the sea.",
        kind="post_session",
        prompt="stood_out",
        share=True,
    )
    own = selectors.reflections_for_patient(ctx=ctx(patient), patient_id=team_patient.pk)
    assert {r.pk for r in own} == {private.pk, shared.pk}
    seen = selectors.reflections_for_patient(ctx=ctx(personas["therapist"]), patient_id=team_patient.pk)
    assert [r.pk for r in seen] == [shared.pk]
    for name in ("nurse", "director", "outsider_therapist"):
        with pytest.raises(AccessDenied):
            selectors.reflections_for_patient(ctx=ctx(personas[name]), patient_id=team_patient.pk)
    services.reflection_share_set(ctx=ctx(patient), reflection_id=shared.pk, shared=False)
    assert selectors.reflections_for_patient(ctx=ctx(personas["therapist"]), patient_id=team_patient.pk) == []


def test_reflection_rules(personas: dict[str, User], team_patient: Patient, other_patient: Patient) -> None:
    patient = personas["patient_user"]
    with pytest.raises(ValidationError, match="under 5,000 characters"):
        services.reflection_write(ctx=ctx(patient), patient_id=team_patient.pk, body="x" * (REFLECTION_MAX + 1))
    assert last_event(action="reflection.write").outcome == Outcome.INVALID
    with pytest.raises(ValidationError, match="Choose one of the prompts"):
        services.reflection_write(ctx=ctx(patient), patient_id=team_patient.pk, body="ok", prompt="nonsense")
    with pytest.raises(NotFound):
        services.reflection_write(ctx=ctx(patient), patient_id=other_patient.pk, body="Not my record.")
    with pytest.raises(AccessDenied):
        services.reflection_write(ctx=ctx(personas["therapist"]), patient_id=team_patient.pk, body="Ghostwritten.")
    assert not Reflection.objects.exists()
    entry = services.reflection_write(ctx=ctx(patient), patient_id=team_patient.pk, body="Draft thought.", share=True)
    with pytest.raises(Conflict, match="stop sharing it before changing it"):
        services.reflection_update(ctx=ctx(patient), reflection_id=entry.pk, body="Changed.")
    services.reflection_share_set(ctx=ctx(patient), reflection_id=entry.pk, shared=False)
    services.reflection_update(ctx=ctx(patient), reflection_id=entry.pk, body="Changed.")
    entry.refresh_from_db()
    assert entry.body == "Changed."


def test_goal_progress_is_recorded_against_the_signed_plan(
    personas: dict[str, User], team_patient: Patient, plan: TreatmentPlan
) -> None:
    therapist = personas["therapist"]
    note = integration(therapist, team_patient)
    services.goal_progress_record(
        ctx=ctx(therapist),
        patient_id=team_patient.pk,
        goal_index=0,
        level="some",
        comment="5 nights of 7",
        note_id=note.pk,
    )
    services.goal_progress_record(ctx=ctx(therapist), patient_id=team_patient.pk, goal_index=0, level="much")
    goals = selectors.goals_get_for_user(ctx=ctx(personas["patient_user"]), patient_id=team_patient.pk)
    assert [row.text for row in goals.rows] == ["Sleep through the night", "Walk in the park twice a week"]
    assert [p.level for p in goals.rows[0].progress] == ["some", "much"]
    assert goals.rows[0].latest is not None and goals.rows[0].latest.level_label == "Much progress"
    assert goals.rows[1].latest is None
    with pytest.raises(ValidationError, match="no such goal"):
        services.goal_progress_record(ctx=ctx(therapist), patient_id=team_patient.pk, goal_index=5, level="some")
    with pytest.raises(AccessDenied):
        services.goal_progress_record(
            ctx=ctx(personas["nurse"]), patient_id=team_patient.pk, goal_index=0, level="some"
        )
    with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic():
        GoalProgress.objects.update(level="worse")


def test_goal_progress_needs_a_signed_plan(therapist: User, team_patient: Patient) -> None:
    with pytest.raises(ValidationError, match="no signed treatment plan"):
        services.goal_progress_record(ctx=ctx(therapist), patient_id=team_patient.pk, goal_index=0, level="some")


# --- search and home lists ------------------------------------------------------------------------------


def test_search_finds_own_notes_and_shared_reflections_of_own_patients(
    personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    therapist = personas["therapist"]
    mine = integration(therapist, team_patient, body="We talked about the lighthouse dream.")
    integration(personas["prescriber"], team_patient, body="Lighthouse again, says the prescriber.")
    shared = services.reflection_write(
        ctx=ctx(personas["patient_user"]), patient_id=team_patient.pk, body="The lighthouse was calm.", share=True
    )
    services.reflection_write(
        ctx=ctx(personas["patient_user"]), patient_id=team_patient.pk, body="A private lighthouse.", share=False
    )
    found = selectors.therapy_search(ctx=ctx(therapist), query="lighthouse")
    assert [n.pk for n in found.notes] == [mine.pk]
    assert [r.pk for r in found.reflections] == [shared.pk]
    assert selectors.therapy_search(ctx=ctx(therapist), query="lighthouse dream").notes == [mine]
    assert selectors.therapy_search(ctx=ctx(therapist), query="submarine").notes == []
    assert last_event(action="note.search").detail == {"query": "lighthouse dream"}
    assert selectors.therapy_search(ctx=ctx(personas["outsider_therapist"]), query="lighthouse").reflections == []
    with pytest.raises(AccessDenied):
        selectors.therapy_search(ctx=ctx(personas["nurse"]), query="lighthouse")


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_full_text_search_on_postgresql_stems_and_ranks(personas: dict[str, User], team_patient: Patient) -> None:
    assert connection.vendor == "postgresql"
    therapist = personas["therapist"]
    dreams = integration(therapist, team_patient, body="She keeps dreaming of oceans; dreams of oceans again.")
    once = integration(therapist, team_patient, body="One dream, then quiet.")
    found = selectors.therapy_search(ctx=ctx(therapist), query="dream ocean")
    assert [n.pk for n in found.notes] == [dreams.pk]
    found = selectors.therapy_search(ctx=ctx(therapist), query="dream")
    assert [n.pk for n in found.notes] == [dreams.pk, once.pk]
    found = selectors.therapy_search(ctx=ctx(therapist), query="dream -ocean")
    assert [n.pk for n in found.notes] == [once.pk]
    # The filter is the indexed expression: with sequential scans off, the planner uses the GIN index.
    terms = SearchQuery("dream", config="english", search_type="websearch")
    query = TherapyNote.objects.annotate(document=selectors.Document("search_text")).filter(document=terms)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        assert "therapynote_search" in query.explain()


def test_home_lists_drafts_overdue_ones_and_the_directors_view(
    personas: dict[str, User], team_patient: Patient, settings: Any
) -> None:
    settings.KAPCLINIC_UNSIGNED_NOTE_DAYS = 3
    therapist = personas["therapist"]
    fresh = integration(therapist, team_patient)
    old = integration(therapist, team_patient)
    TherapyNote.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=4))
    signed(therapist, team_patient)
    lists = selectors.notes_to_sign(ctx=ctx(therapist))
    assert [(d.note.pk, d.overdue) for d in lists.own_drafts] == [(old.pk, True), (fresh.pk, False)]
    director = selectors.notes_to_sign(ctx=ctx(personas["director"]))
    assert [n.pk for n in director.overdue_all] == [old.pk] and director.own_drafts == []
    assert selectors.notes_to_sign(ctx=ctx(personas["nurse"])).own_drafts == []


def test_the_notes_to_sign_card_and_inbox_read_nothing_per_note(
    personas: dict[str, User], team_patient: Patient, settings: Any, client_for: Any
) -> None:
    # The lists read only what they show (kind, dates, names): a column they left unread and the page used would be
    # one query per note, so two more notes of each kind must cost no query.
    settings.KAPCLINIC_UNSIGNED_NOTE_DAYS = 3
    trainee, supervisor = personas["therapist"], personas["outsider_therapist"]

    def more_notes() -> None:
        old = integration(trainee, team_patient)
        TherapyNote.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=4))
        signed(trainee, team_patient, cosigner=supervisor.pk)

    pages = [(trainee.username, "/"), (supervisor.username, "/inbox/"), ("director", "/"), ("director", "/inbox/")]
    more_notes()
    counts = []
    for _ in range(2):
        seen = []
        for username, url in pages:
            client = client_for(username)
            client.get(url)
            with CaptureQueriesContext(connection) as captured:
                body = client.get(url).content.decode()
            assert "TEAMPATIENT, Alder" in body, (username, url)
            seen.append(len(captured))
        counts.append(seen)
        more_notes()
        more_notes()
    assert counts[0] == counts[1]


# --- the API --------------------------------------------------------------------------------------------


def post(client: Client, path: str, data: dict[str, Any]) -> Any:
    return client.post(path, data, content_type="application/json")


def test_api_write_sign_and_amend_a_note(api_for: Any, team_patient: Patient) -> None:
    api = api_for("therapist")
    created = post(
        api,
        f"/api/v1/patients/{team_patient.pk}/notes",
        {"kind": "preparation", "body": "First meeting.", "intentions": "Feel my feelings.", "minutes": 50},
    )
    assert created.status_code == 201, created.content
    note = created.json()
    assert note["status"] == "draft" and note["sections"] == {"intentions": "Feel my feelings."}
    patched = api.patch(
        f"/api/v1/notes/{note['id']}",
        {"safety_plan": "Stop word: harbour.", "version": 1},
        content_type="application/json",
    )
    assert patched.status_code == 200 and patched.json()["sections"]["safety_plan"] == "Stop word: harbour."
    signed_note = post(api, f"/api/v1/notes/{note['id']}/sign", {})
    assert signed_note.status_code == 200 and signed_note.json()["status"] == "signed"
    refused = api.patch(f"/api/v1/notes/{note['id']}", {"body": "Rewritten."}, content_type="application/json")
    assert refused.status_code == 409 and "add an addendum" in refused.json()["detail"]
    no_reason = post(api, f"/api/v1/notes/{note['id']}/addenda", {"body": "More."})
    assert no_reason.status_code == 422
    assert no_reason.json()["detail"][0]["loc"] == ["body", "reason"]
    addendum = post(api, f"/api/v1/notes/{note['id']}/addenda", {"body": "More.", "reason": "Forgot the ride home."})
    assert addendum.status_code == 201 and addendum.json()["author"] == "therapist"
    read = api.get(f"/api/v1/notes/{note['id']}").json()
    assert read["body"] == "First meeting." and [a["reason"] for a in read["addenda"]] == ["Forgot the ride home."]


def test_api_refusals(api_for: Any, personas: dict[str, User], team_patient: Patient) -> None:
    note = signed(personas["therapist"], team_patient, kind="process", body="Private.")
    draft = integration(personas["therapist"], team_patient)
    assert api_for("outsider_therapist").get(f"/api/v1/notes/{note.pk}").status_code == 403
    assert api_for("prescriber").get(f"/api/v1/notes/{note.pk}").status_code == 403
    assert api_for("patient_user").get(f"/api/v1/notes/{note.pk}").status_code == 403
    assert api_for("therapist").get("/api/v1/notes/999999").status_code == 404
    assert post(api_for("prescriber"), f"/api/v1/notes/{draft.pk}/sign", {}).status_code == 403
    long_body = post(
        api_for("therapist"), f"/api/v1/patients/{team_patient.pk}/notes", {"kind": "therapy", "body": "x" * 20_001}
    )
    assert long_body.status_code == 422 and "under 20,000 characters" in long_body.json()["detail"][0]["msg"]
    unknown = post(
        api_for("therapist"), f"/api/v1/patients/{team_patient.pk}/notes", {"kind": "therapy", "music": "Bach"}
    )
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "music"]
    assert TherapyNote.objects.count() == 2
    refusals = AccessEvent.objects.exclude(outcome=Outcome.ALLOWED).filter(channel="api")
    assert refusals.count() >= 6


def test_api_share_a_process_note(api_for: Any, personas: dict[str, User], team_patient: Patient) -> None:
    note = signed(personas["therapist"], team_patient, kind="process", body="Private.")
    shared = post(api_for("therapist"), f"/api/v1/notes/{note.pk}/shares", {"user": personas["prescriber"].pk})
    assert shared.status_code == 201 and shared.json()["active"]
    assert api_for("prescriber").get(f"/api/v1/notes/{note.pk}").json()["body"] == "Private."
    assert api_for("therapist").delete(f"/api/v1/notes/{note.pk}/shares/{personas['prescriber'].pk}").status_code == 200
    assert api_for("prescriber").get(f"/api/v1/notes/{note.pk}").status_code == 403


def test_api_reflections_and_goals(api_for: Any, team_patient: Patient, plan: TreatmentPlan) -> None:
    patient = api_for("patient_user")
    made = post(
        patient,
        f"/api/v1/patients/{team_patient.pk}/reflections",
        {"body": "Lighter today.", "prompt": "carry", "shared": True, "kind": "post_session"},
    )
    assert made.status_code == 201 and made.json()["prompt_text"] == "What do you want to carry into daily life?"
    post(patient, f"/api/v1/patients/{team_patient.pk}/reflections", {"body": "Private thought."})
    assert len(patient.get(f"/api/v1/patients/{team_patient.pk}/reflections").json()) == 2
    seen = api_for("therapist").get(f"/api/v1/patients/{team_patient.pk}/reflections").json()
    assert [r["body"] for r in seen] == ["Lighter today."]
    assert api_for("nurse").get(f"/api/v1/patients/{team_patient.pk}/reflections").status_code == 403
    progress = post(
        api_for("therapist"),
        f"/api/v1/patients/{team_patient.pk}/goals/1/progress",
        {"level": "some", "comment": "Once"},
    )
    assert progress.status_code == 201
    goals = patient.get(f"/api/v1/patients/{team_patient.pk}/goals").json()
    assert goals["goals"][1]["progress"][0]["level_label"] == "Some progress"
    assert post(patient, f"/api/v1/patients/{team_patient.pk}/goals/1/progress", {"level": "much"}).status_code == 403


def test_api_search(api_for: Any, personas: dict[str, User], team_patient: Patient) -> None:
    integration(personas["therapist"], team_patient, body="The orchard again.")
    found = api_for("therapist").get("/api/v1/notes/search", {"q": "orchard"}).json()
    assert [n["kind"] for n in found["notes"]] == ["integration"]


# --- pages ----------------------------------------------------------------------------------------------


def form_data(note: TherapyNote, **changes: Any) -> dict[str, Any]:
    data = {
        "version": note.version,
        "occurred_at": timezone.localtime(note.occurred_at).strftime("%Y-%m-%dT%H:%M"),
        "modality": note.modality,
        "minutes": note.minutes or "",
        "dosing_session": note.dosing_session_id or "",
        "cosigner": note.cosigner_id or "",
        "body": note.body,
        **note.sections,
    }
    data.update(changes)
    return data


def test_the_notes_page_lists_notes_by_kind_with_new_note_buttons(
    client_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    signed(personas["therapist"], team_patient, kind="preparation")
    signed(personas["therapist"], team_patient, kind="process", body="Private thoughts.")
    page = client_for("therapist").get(f"/patients/{team_patient.pk}/notes/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Preparation session" in html and "Psychotherapy process note (private)" in html
    assert "New integration session" in html
    colleague = client_for("prescriber").get(f"/patients/{team_patient.pk}/notes/").content.decode()
    assert "Preparation session" in colleague and "process note (private)</td>" not in colleague
    only_prep = client_for("therapist").get(f"/patients/{team_patient.pk}/notes/", {"kind": "process"})
    assert "Preparation session</td>" not in only_prep.content.decode()
    assert client_for("outsider_therapist").get(f"/patients/{team_patient.pk}/notes/").status_code == 403
    assert client_for("coordinator").get(f"/patients/{team_patient.pk}/notes/").status_code == 403
    assert client_for("patient_user").get(f"/patients/{team_patient.pk}/notes/")["Location"] == "/portal/journal/"


def test_a_new_note_opens_as_a_draft_form_that_autosaves(
    client_for: Any, therapist: User, team_patient: Patient
) -> None:
    client = client_for("therapist")
    created = client.post(f"/patients/{team_patient.pk}/notes/new/", {"kind": "integration"})
    note = TherapyNote.objects.get()
    assert created["Location"] == f"/notes/{note.pk}/"
    page = client.get(f"/notes/{note.pk}/").content.decode()
    assert 'hx-trigger="input changed delay:1s"' in page and "What the patient reported" in page
    saved = client.post(
        f"/notes/{note.pk}/autosave/", form_data(note, reported="Calmer.", body="Half-written"), HTTP_HX_REQUEST="true"
    )
    assert saved.status_code == 200 and "Draft saved" in saved.content.decode()
    # One audit row per autosave: the write (not a read as well, as it runs every second of typing).
    assert list(AccessEvent.objects.filter(path__endswith="/autosave/").values_list("action", "outcome")) == [
        ("note.write", Outcome.ALLOWED)
    ]
    assert 'id="id_version"' in saved.content.decode() and 'value="2"' in saved.content.decode()
    note.refresh_from_db()
    assert note.sections == {"reported": "Calmer."} and note.body == "Half-written"
    stale = client.post(f"/notes/{note.pk}/autosave/", form_data(note, version=1, body="Old tab"))
    assert stale.status_code == 409 and "another window" in stale.content.decode()
    too_long = client.post(f"/notes/{note.pk}/autosave/", form_data(note, themes="x" * (SECTION_MAX + 1)))
    assert too_long.status_code == 422 and "under 5,000 characters" in too_long.content.decode()
    note.refresh_from_db()
    assert note.body == "Half-written" and "themes" not in note.sections
    assert client_for("prescriber").post(f"/notes/{note.pk}/autosave/", form_data(note)).status_code == 403


def test_sign_from_the_form_saves_then_signs_and_the_note_becomes_read_only(
    client_for: Any, therapist: User, team_patient: Patient
) -> None:
    client = client_for("therapist")
    note = integration(therapist, team_patient)
    response = client.post(f"/notes/{note.pk}/sign/", form_data(note, plan="Next week."))
    assert response.status_code == 302
    note.refresh_from_db()
    assert note.is_signed and note.sections["plan"] == "Next week."
    page = client.get(f"/notes/{note.pk}/").content.decode()
    assert "✓ Signed by" in page and "unchanged since signing" in page and 'id="note-form"' not in page
    assert "Add an addendum" in page
    edit = client.post(f"/notes/{note.pk}/", form_data(note, body="Changed after signing"))
    assert edit.status_code == 409 and "add an addendum" in edit.content.decode()
    assert client_for("prescriber").post(f"/notes/{note.pk}/", form_data(note, body="Not mine")).status_code == 403
    note.refresh_from_db()
    assert note.body == ""


def test_an_addendum_from_the_page_shows_beneath_the_note(
    client_for: Any, therapist: User, team_patient: Patient
) -> None:
    note = signed(therapist, team_patient)
    client = client_for("therapist")
    missing = client.post(f"/notes/{note.pk}/addenda/", {"body": "More", "reason": ""})
    assert missing.status_code == 422 and "Say why the note is being amended" in missing.content.decode()
    client.post(f"/notes/{note.pk}/addenda/", {"body": "She called after.", "reason": "Late information"})
    page = client_for("prescriber").get(f"/notes/{note.pk}/").content.decode()
    assert "Addendum by Therapist Persona" in page and "Reason: Late information" in page
    assert "Add an addendum" not in page  # not the author


def test_the_integration_note_shows_shared_reflections_and_goals_beside_it(
    client_for: Any, personas: dict[str, User], team_patient: Patient, plan: TreatmentPlan
) -> None:
    services.reflection_write(
        ctx=ctx(personas["patient_user"]), patient_id=team_patient.pk, body="The sea, the sea.", share=True
    )
    services.reflection_write(ctx=ctx(personas["patient_user"]), patient_id=team_patient.pk, body="Only mine.")
    note = integration(personas["therapist"], team_patient)
    client = client_for("therapist")
    page = client.get(f"/notes/{note.pk}/").content.decode()
    assert "Shared by the patient" in page and "The sea, the sea." in page and "Only mine." not in page
    assert "Sleep through the night" in page
    panel = client.post(
        f"/notes/{note.pk}/goals/", {"goal_index": 0, "level": "much", "comment": "6 of 7"}, HTTP_HX_REQUEST="true"
    )
    assert panel.status_code == 200 and "Much progress" in panel.content.decode()
    assert GoalProgress.objects.get().note == note


def test_the_process_note_page_is_closed_to_colleagues(
    client_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    note = signed(personas["therapist"], team_patient, kind="process", body="Private thoughts.")
    for name in ("prescriber", "outsider_therapist", "director", "auditor"):
        response = client_for(name).get(f"/notes/{note.pk}/")
        assert response.status_code == 403 and "Private thoughts" not in response.content.decode()
    client = client_for("therapist")
    page = client.get(f"/notes/{note.pk}/").content.decode()
    assert "Who can read this process note" in page
    client.post(f"/notes/{note.pk}/shares/", {"op": "share", "user": personas["prescriber"].pk})
    assert "Private thoughts" in client_for("prescriber").get(f"/notes/{note.pk}/").content.decode()
    client.post(f"/notes/{note.pk}/shares/", {"op": "unshare", "user": personas["prescriber"].pk})
    assert client_for("prescriber").get(f"/notes/{note.pk}/").status_code == 403


def test_cosign_from_the_page(client_for: Any, personas: dict[str, User], team_patient: Patient) -> None:
    note = signed(personas["therapist"], team_patient, cosigner=personas["outsider_therapist"].pk)
    supervisor = client_for("outsider_therapist")
    assert "Co-sign note" in supervisor.get(f"/notes/{note.pk}/").content.decode()
    supervisor.post(f"/notes/{note.pk}/cosign/", {"comment": "Agreed."})
    assert "✓ Co-signed by Outsider_Therapist Persona" in supervisor.get(f"/notes/{note.pk}/").content.decode()


def test_a_refused_signature_shows_the_draft_again_with_the_reason_beside_the_field(
    client_for: Any, therapist: User, team_patient: Patient
) -> None:
    client = client_for("therapist")
    note = integration(therapist, team_patient, sections={})
    refused = client.post(f"/notes/{note.pk}/sign/", form_data(note, minutes="45"))
    html = refused.content.decode()
    assert refused.status_code == 422
    assert '<p class="field-error" id="id_body_error">Write the note before signing it.</p>' in html
    assert 'name="minutes" value="45"' in html
    # The typed values were saved before signing was refused: the form carries the new version on.
    saved = TherapyNote.objects.get(pk=note.pk)
    assert not saved.is_signed and saved.minutes == 45 and saved.version == 2
    assert 'name="version" value="2"' in html
    assert client.post(f"/notes/{note.pk}/sign/", form_data(saved, body="Written now.")).status_code == 302
    assert TherapyNote.objects.filter(pk=note.pk, body="Written now.", signed_at__isnull=False).exists()
    again = client.post(f"/notes/{note.pk}/sign/", {})
    assert again.status_code == 409 and "This note is already signed." in again.content.decode()


def test_a_refused_cosignature_keeps_the_comment_beside_its_field(
    client_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    note = signed(personas["therapist"], team_patient, cosigner=personas["outsider_therapist"].pk)
    supervisor = client_for("outsider_therapist")
    too_long = supervisor.post(f"/notes/{note.pk}/cosign/", {"comment": "Agreed " + "x" * 2000})
    html = too_long.content.decode()
    assert too_long.status_code == 422
    assert '<p class="field-error" id="cosign-comment_error">Keep the comment under 2,000 characters.</p>' in html
    assert 'value="Agreed xxx' in html
    assert supervisor.post(f"/notes/{note.pk}/cosign/", {"comment": "Agreed."}).status_code == 302
    twice = supervisor.post(f"/notes/{note.pk}/cosign/", {"comment": "Again."})
    assert twice.status_code == 409 and "You have already co-signed this note." in twice.content.decode()


def test_a_refused_share_shows_the_process_note_again_with_the_reason(
    client_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    note = signed(personas["therapist"], team_patient, kind="process", body="Private thoughts.")
    client = client_for("therapist")
    yourself = client.post(f"/notes/{note.pk}/shares/", {"op": "share", "user": personas["therapist"].pk})
    assert yourself.status_code == 422 and "You are the author: you can already read it." in yourself.content.decode()
    nobody = client.post(f"/notes/{note.pk}/shares/", {"op": "share", "user": ""}, follow=True)
    assert "Choose a colleague." in nobody.content.decode()
    client.post(f"/notes/{note.pk}/shares/", {"op": "share", "user": personas["prescriber"].pk})
    twice = client.post(f"/notes/{note.pk}/shares/", {"op": "share", "user": personas["prescriber"].pk})
    assert twice.status_code == 409 and "already shared with them" in twice.content.decode()
    not_shared = client.post(f"/notes/{note.pk}/shares/", {"op": "unshare", "user": personas["nurse"].pk})
    assert not_shared.status_code == 422 and "The note is not shared with them." in not_shared.content.decode()
    assert NoteShare.objects.count() == 1


def test_a_new_note_of_no_known_kind_is_refused_with_a_message(
    client_for: Any, therapist: User, team_patient: Patient
) -> None:
    refused = client_for("therapist").post(f"/patients/{team_patient.pk}/notes/new/", {"kind": "poem"}, follow=True)
    assert "Choose preparation, in_session, integration" in refused.content.decode()
    assert not TherapyNote.objects.exists()


def test_search_page(client_for: Any, therapist: User, team_patient: Patient) -> None:
    integration(therapist, team_patient, body="The violin came back.")
    page = client_for("therapist").get("/therapy/search/", {"q": "violin"}).content.decode()
    assert "My notes (1)" in page and "TEAMPATIENT" in page
    assert client_for("nurse").get("/therapy/search/", {"q": "violin"}).status_code == 403


def test_home_pages_show_unsigned_notes(
    client_for: Any, personas: dict[str, User], team_patient: Patient, settings: Any
) -> None:
    settings.KAPCLINIC_UNSIGNED_NOTE_DAYS = 3
    note = integration(personas["therapist"], team_patient)
    TherapyNote.objects.filter(pk=note.pk).update(created_at=timezone.now() - timedelta(days=5))
    therapist_home = client_for("therapist").get("/").content.decode()
    assert "Notes to sign" in therapist_home and "⚠ unsigned for 5" in therapist_home
    director_home = client_for("director").get("/").content.decode()
    assert "Unsigned for more than 3 days, clinic-wide" in director_home and "TEAMPATIENT" in director_home
    prescriber_home = client_for("prescriber").get("/").content.decode()
    assert "No unsigned notes." in prescriber_home


# --- the portal journal ---------------------------------------------------------------------------------


def test_the_patient_writes_shares_and_rereads_their_journal(
    client_for: Any, personas: dict[str, User], team_patient: Patient, plan: TreatmentPlan
) -> None:
    client = client_for("patient_user")
    home = client.get("/portal/").content.decode()
    assert "/portal/journal/" in home
    page = client.get("/portal/journal/", {"prompt": "carry"}).content.decode()
    assert "What do you want to carry into daily life?" in page and "Sleep through the night" in page
    written = client.post(
        "/portal/journal/", {"kind": "post_session", "prompt": "carry", "body": "Breathe before answering."}
    )
    assert written.status_code == 302
    entry = Reflection.objects.get()
    assert not entry.is_shared
    assert (
        "Breathe before answering."
        not in client_for("therapist").get(f"/patients/{team_patient.pk}/notes/").content.decode()
    )
    client.post(f"/portal/journal/{entry.pk}/share/", {"shared": "1"})
    assert (
        "Breathe before answering."
        in client_for("therapist").get(f"/patients/{team_patient.pk}/notes/").content.decode()
    )
    page = client.get("/portal/journal/").content.decode()
    assert "Shared with your therapist" in page and "Stop sharing" in page
    too_long = client.post("/portal/journal/", {"kind": "journal", "body": "x" * (REFLECTION_MAX + 1)})
    assert too_long.status_code == 422 and "under 5,000 characters" in too_long.content.decode()
    assert Reflection.objects.count() == 1


def test_the_journal_is_the_patients_own(
    client_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    entry = Reflection.objects.create(patient=team_patient, body="Mine.")
    assert client_for("therapist").get("/portal/journal/")["Location"] == "/"
    other = User.objects.create(username="other_patient_user", role="patient")
    Patient.objects.filter(pk=other_patient.pk).update(user=other)
    intruder = Client()
    intruder.force_login(other)
    response = intruder.get(f"/portal/journal/{entry.pk}/")
    assert response.status_code == 404, response.get("Location")
    assert intruder.post(f"/portal/journal/{entry.pk}/share/", {"shared": "1"}).status_code == 404
    entry.refresh_from_db()
    assert not entry.is_shared


# --- query counts ---------------------------------------------------------------------------------------


def test_the_integration_note_screen_costs_the_same_however_much_there_is_beside_it(
    client_for: Any,
    personas: dict[str, User],
    team_patient: Patient,
    plan: TreatmentPlan,
    django_assert_num_queries: Any,
) -> None:
    therapist, patient = personas["therapist"], personas["patient_user"]
    note = integration(therapist, team_patient)
    client = client_for("therapist")
    client.get(f"/notes/{note.pk}/")  # the session is created on the first request

    def grow() -> None:
        services.reflection_write(ctx=ctx(patient), patient_id=team_patient.pk, body="Shared.", share=True)
        services.goal_progress_record(ctx=ctx(therapist), patient_id=team_patient.pk, goal_index=0, level="some")
        integration(therapist, team_patient)

    for rounds in (1, 6):
        for _ in range(rounds):
            grow()
        # session, user; the note, its addenda, co-signatures, shares; patient, care team (note); patient, care
        # team, reflections (beside); plan, goal progress; banner: care team, duplicate flags, safety flags,
        # allergies; the form's dosing sessions and co-signers; the page's audit rows: chain head and one INSERT;
        # the header's inbox and message counts (one query).
        with django_assert_num_queries(22):
            response = client.get(f"/notes/{note.pk}/")
        assert response.status_code == 200


def test_a_signed_notes_screen_costs_the_same_however_many_addenda(
    client_for: Any, personas: dict[str, User], team_patient: Patient, django_assert_num_queries: Any
) -> None:
    therapist = personas["therapist"]
    note = signed(therapist, team_patient, cosigner=personas["outsider_therapist"].pk)
    services.note_cosign(ctx=ctx(personas["outsider_therapist"]), note_id=note.pk)
    client = client_for("prescriber")
    client.get(f"/notes/{note.pk}/")
    for rounds in (1, 6):
        for n in range(rounds):
            services.note_addendum_add(ctx=ctx(therapist), note_id=note.pk, body=f"More {n}.", reason="Later")
        # session, user; the note (with author, co-signer, signer, session), addenda, co-signatures, shares;
        # patient, care team, audit chain head and INSERT; banner: care team, duplicate flags, safety flags, allergies;
        # the header's inbox and message counts (one query).
        with django_assert_num_queries(15):
            response = client.get(f"/notes/{note.pk}/")
        assert response.content.decode().count("Addendum by") == len(NoteAddendum.objects.filter(note=note))


def test_the_notes_list_costs_the_same_however_many_notes(
    client_for: Any, personas: dict[str, User], team_patient: Patient, django_assert_num_queries: Any
) -> None:
    therapist = personas["therapist"]
    client = client_for("therapist")
    client.get(f"/patients/{team_patient.pk}/notes/")
    for rounds in (1, 6):
        for _ in range(rounds):
            signed(therapist, team_patient)
            services.reflection_write(
                ctx=ctx(personas["patient_user"]), patient_id=team_patient.pk, body="Shared.", share=True
            )
        # session, user; patient, care team, the notes (with addenda counts); patient, care team, reflections;
        # banner: care team, duplicate flags, safety flags, allergies; plan; the page's audit rows: chain head and
        # one INSERT (kapclinic/audit/page_reads.py); the header's inbox and message counts (one query).
        with django_assert_num_queries(16):
            assert client.get(f"/patients/{team_patient.pk}/notes/").status_code == 200


def test_the_chart_include_lists_what_notes_for_chart_returns(personas: dict[str, User], team_patient: Patient) -> None:
    signed(personas["therapist"], team_patient, kind="preparation")
    signed(personas["therapist"], team_patient, kind="process")
    integration(personas["therapist"], team_patient)
    for name, expected in (("therapist", 3), ("prescriber", 1), ("director", 1), ("coordinator", 0)):
        notes = selectors.notes_for_chart(user=personas[name], patient_id=team_patient.pk)
        assert len(notes) == expected, name
    html = render_to_string(
        "therapy/_chart_notes.html",
        {
            "patient": team_patient,
            "therapy_notes": selectors.notes_for_chart(user=personas["prescriber"], patient_id=team_patient.pk),
        },
    )
    assert "Preparation session" in html and "process note" not in html
    assert f"/patients/{team_patient.pk}/notes/" in html


def test_a_private_journal_entry_is_edited_on_its_page(client_for: Any, team_patient: Patient) -> None:
    entry = Reflection.objects.create(patient=team_patient, body="First draft of a thought.")
    client = client_for("patient_user")
    assert "First draft of a thought." in client.get(f"/portal/journal/{entry.pk}/").content.decode()
    assert (
        client.post(f"/portal/journal/{entry.pk}/", {"kind": "journal", "body": "Second thought."}).status_code == 302
    )
    entry.refresh_from_db()
    assert entry.body == "Second thought."
    entry.shared_at = timezone.now()
    entry.save()
    refused = client.post(f"/portal/journal/{entry.pk}/", {"kind": "journal", "body": "Third."})
    assert refused.status_code == 409 and "stop sharing it before changing it" in refused.content.decode()


def test_goal_progress_has_no_default(
    client_for: Any, personas: dict[str, User], team_patient: Patient, plan: TreatmentPlan
) -> None:
    """Issue 13, defect 6: the level is chosen, never the first one by default; an unchosen level records nothing."""
    note = integration(personas["therapist"], team_patient)
    client = client_for("therapist")
    page = client.get(f"/notes/{note.pk}/").content.decode()
    assert 'name="level" required>\n          <option value="" selected>— choose —</option>' in page
    client.post(f"/notes/{note.pk}/goals/", {"goal_index": 0, "level": "", "comment": ""}, HTTP_HX_REQUEST="true")
    assert not GoalProgress.objects.exists()
