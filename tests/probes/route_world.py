"""A small world for the route walk (tests/test_route_access.py): the personas, the two patients of
tests/conftest.py, and one of each object a URL names, for each patient.

Built once per test module, with the probes' own factories where there is one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.test import Client
from django.utils import timezone

from kapclinic.accounts.models import ApiToken, SmartClient, User
from kapclinic.accounts.services import api_token_issue
from kapclinic.appointments.models import Appointment
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import EmergencyAccess
from kapclinic.billing.models import ChargeLine
from kapclinic.consent.models import ConsentSignature, ConsentVersion
from kapclinic.dosing.models import AdverseEvent, DosingSession, MonitoringAlert, SessionState, VitalSign
from kapclinic.intake.models import Evaluation, Inquiry
from kapclinic.ledger.models import Product, StorageLocation
from kapclinic.ledger.services import Quantity, WitnessCredentials, ledger_entry_record
from kapclinic.messaging.models import Message, MessageThread
from kapclinic.patients.models import Patient
from kapclinic.therapy.models import Reflection, TherapyNote
from tests.conftest import PASSWORD, other_patient_create, personas_create, team_patient_create
from tests.probes.claims import claim_make
from tests.probes.dosing import _ready
from tests.probes.medications import dose_given_make
from tests.probes.outcomes import outcome_prompt_make, referrer_report_make
from tests.probes.records import check_in_make, investigation_make, plan_make, receive_make, suicide_risk_flag_make
from tests.probes.referrals import referral_make
from tests.probes.world import World

# The patient-bound objects a URL can name, by the name of its URL parameter.
PATIENT_PARAMETERS = (
    "patient_id",
    "signature_id",
    "session_id",
    "alert_id",
    "event_id",
    "plan_id",
    "note_id",
    "reflection_id",
    "response_id",
    "flag_id",
    "appointment_id",
    "grant_id",
    "thread_id",
    "message_id",
    "observation_id",
    "administration_id",
    "order_id",
    "encounter_id",
    "condition_id",
    "allergy_id",
    "careplan_id",
    "line_id",
    "claim_id",
    "provenance_id",
    "referral_id",
    "prompt_id",
    "report_id",
)


@dataclass
class PatientObjects:
    """One of each object a URL can name that belongs to one patient."""

    patient: Patient
    ids: dict[str, int] = field(default_factory=dict)


@dataclass
class RouteWorld:
    people: dict[str, User]
    team: PatientObjects
    other: PatientObjects
    shared: dict[str, int]  # objects of no patient: ledger, inquiry, consent text
    sessions: dict[str, str]  # persona -> session key of a signed-in browser
    tokens: dict[str, str]  # persona -> bearer token
    token_ids: dict[str, int]

    clients: dict[tuple[str, bool], Client] = field(default_factory=dict)

    def client(self, persona: str | None, *, api: bool) -> Client:
        """A browser (session cookie) or API (bearer token) client of the persona, or of nobody.

        Clients are kept (making one loads every middleware); each request starts signed in again.
        """
        key = (persona or "", api)
        if key not in self.clients:
            headers = {"HTTP_AUTHORIZATION": f"Bearer {self.tokens[persona]}"} if api and persona else {}
            self.clients[key] = Client(raise_request_exception=False, **headers)  # type: ignore[arg-type]
        client = self.clients[key]
        client.cookies.clear()
        if persona is not None and not api:
            client.cookies["sessionid"] = self.sessions[persona]
        return client


def _objects(w: World, patient: Patient, *, note_author: User, cosigner: User | None) -> PatientObjects:
    people = w.people
    now = timezone.now()
    # An eligible, consented patient with a signed esketamine plan (a REMS form exists only for those).
    signed_plan = _ready(w, patient, route="intranasal")
    session = DosingSession.objects.create(
        patient=patient, plan=signed_plan, number=1, scheduled_for=now, state=SessionState.MONITORING
    )
    alert = _alert_on(w, session)
    # Given half an hour ago (a dose time in the future fails the discharge arithmetic).
    order, administration = dose_given_make(session, people, started=now - timedelta(minutes=30))
    evaluation = Evaluation.objects.create(patient=patient, data={"allergies": []}, recorded_by=people["prescriber"])
    draft_plan = plan_make(
        patient,
        people,
        indication_text="MDD",
        session_count=2,
        interval_days=7,
        first_session_on=timezone.localdate() + timedelta(days=3),
        session_time="09:00",
        goals=["Sleep through the night"],
        dosing_policy_version="t",
    )
    note = TherapyNote(
        patient=patient,
        author=note_author,
        kind="integration",
        occurred_at=now,
        body="Walk note.",
        cosigner=cosigner,
    )
    note.signature_stamp(note_author.pk)
    note.save()
    reflection = Reflection.objects.create(patient=patient, body="Walk reflection.", shared_at=now)
    thread = MessageThread.objects.create(patient=patient, subject="Walk conversation", started_by=note_author)
    message = Message.objects.create(thread=thread, author=note_author, body="Walk message.")
    flag = suicide_risk_flag_make(patient, people["director"], 12)
    response = flag.response
    assert response is not None
    event = AdverseEvent.objects.create(
        patient=patient, what="Nausea", severity="mild", action="Ondansetron", occurred_at=now, by=people["nurse"]
    )
    start = (now + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    # A free consultation of a registered patient: its outcome is recorded over the API.
    appointment = Appointment.objects.create(
        kind="consultation",
        patient=patient,
        with_user=people["prescriber"],
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        mode="in_person",
        created_by=people["coordinator"],
    )
    grant = EmergencyAccess.objects.create(
        user=people["outsider_nurse"],
        patient=patient,
        reason="Covering for a colleague on leave",
        granted_at=now - timedelta(hours=2),
        expires_at=now - timedelta(hours=1),  # over: it grants the outsider nothing during the walk
    )
    signature = ConsentSignature.objects.filter(patient=patient).get()
    # A charge line the note produced (its author renders it): what a clinician sees of billing.
    line = ChargeLine.objects.create(
        patient=patient,
        source_kind="therapy_note",
        source_id=note.pk,
        date_of_service=timezone.localdate(),
        place_of_service="11",
        rendering_provider=note_author,
        code="90837",
        units=1,
        diagnoses=["F33.2"],
        justification="Walk line: 55 documented minutes",
        rules_version="t",
        proposed_by=people["director"],
    )
    claim = claim_make(patient, line, people["director"])
    referral = referral_make(patient, people["coordinator"])
    prompt = outcome_prompt_make(patient, signed_plan)
    report = referrer_report_make(patient, signed_plan, people["prescriber"])
    return PatientObjects(
        patient=patient,
        ids={
            "patient_id": patient.pk,
            "signature_id": signature.pk,
            "session_id": session.pk,
            "alert_id": alert.pk,
            "vital_id": alert.vital_id or 0,  # the FHIR Observation route names it as vs-<id>-bp
            "event_id": event.pk,
            "plan_id": draft_plan.pk,
            "note_id": note.pk,
            "reflection_id": reflection.pk,
            "response_id": response.pk,
            "flag_id": flag.pk,
            "appointment_id": appointment.pk,
            "grant_id": grant.pk,
            "thread_id": thread.pk,
            "message_id": message.pk,
            "note_version": note.version,
            "administration_id": administration.pk,
            "order_id": order.pk,
            "signed_plan_id": signed_plan.pk,
            "evaluation_id": evaluation.pk,
            "line_id": line.pk,
            "claim_id": claim.pk,
            "referral_id": referral.pk,
            "prompt_id": prompt.pk,
            "report_id": report.pk,
        },
    )


def _alert_on(w: World, session: DosingSession) -> MonitoringAlert:
    # tests/probes/dosing._alert makes its own session and plan; this raises the alert on the world's session.
    check_in_make(session, w.people["nurse"], at=timezone.now() - timedelta(minutes=20))
    vital = VitalSign.objects.create(
        session=session, measured_at=timezone.now(), systolic=186, diastolic=100, recorded_by=w.people["nurse"]
    )
    return MonitoringAlert.objects.create(
        session=session, vital=vital, code="bp_systolic_high", level="alert", message="BP high", source="test"
    )


def _ledger(people: dict[str, User]) -> dict[str, int]:
    product = Product.objects.create(
        name="Ketamine HCl injection", form="vial", mg_per_unit=Decimal("50"), unit="mL", units_per_container=10
    )
    safe = StorageLocation.objects.create(name="Safe")
    investigation = investigation_make(product, safe, "W1", "INV-W", people["nurse"], people["prescriber"])
    lot, count = investigation.line.lot, investigation.line.count
    # A witnessed loss, through the services (ledger rows are hash-chained), for the DEA loss-report routes.
    ctx = AuditContext(user=people["nurse"], channel="page")
    receive_make(ctx, product, safe, "W1", Quantity("10", "mL"), expires_on=lot.expires_on, invoice_reference="INV-W")
    loss = ledger_entry_record(
        ctx=ctx,
        kind="loss",
        lot_id=lot.pk,
        location_id=safe.pk,
        quantity=Quantity("1", "mL"),
        witness=WitnessCredentials("prescriber", PASSWORD),
        reason="Vial dropped and broken",
        reference="DEA-106-W",
    )
    return {
        "entry_id": loss.pk,
        "location_id": safe.pk,
        "count_id": count.pk,
        "investigation_id": investigation.pk,
        "lot_id": lot.pk,
        "product_id": product.pk,
    }


def route_world_build() -> RouteWorld:
    """Make the personas, both patients and their objects, a browser session and a token for each persona."""
    people = personas_create()
    # The same two patients as tests/conftest.py's team_patient and other_patient.
    team_patient = team_patient_create(people)
    other_patient = other_patient_create()
    w = World(Client(), Client(), team_patient, other_patient, people)
    team = _objects(w, team_patient, note_author=people["therapist"], cosigner=people["prescriber"])
    other = _objects(w, other_patient, note_author=people["outsider_therapist"], cosigner=None)
    inquiry = Inquiry.objects.create(
        source="phone", given_name="Cedar", family_name="Inquirer", phone="212-555-0160", reason="Depression"
    )
    shared = {
        **_ledger(people),
        "inquiry_id": inquiry.pk,
        "version_id": ConsentVersion.objects.get().pk,
        "smart_client_id": SmartClient.objects.create(
            client_id="walk-client",
            name="Walk client",
            jwks={"keys": []},
            scopes="system/*.rs",
            user=people["auditor"],
            created_by=people["director"],
        ).pk,
    }
    sessions, tokens, token_ids = {}, {}, {}
    for name, user in people.items():
        client = Client()
        client.force_login(user)
        sessions[name] = client.cookies["sessionid"].value
        token, raw = api_token_issue(user=user)
        tokens[name], token_ids[name] = raw, token.pk
    assert ApiToken.objects.count() == len(people)
    return RouteWorld(people, team, other, shared, sessions, tokens, token_ids)
