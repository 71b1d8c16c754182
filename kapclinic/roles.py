"""The role x action table: who may do what, in one place.

Plain Python with no Django import. Every view, API route and selector asks
`scope_for(role, action)`; a test walks every cell of `MATRIX` through real
requests. Starting point: ../shared/design/roles.md.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    COORDINATOR = "coordinator"
    PRESCRIBER = "prescriber"
    NURSE = "nurse"
    THERAPIST = "therapist"
    DIRECTOR = "director"
    AUDITOR = "auditor"
    PATIENT = "patient"
    # Billing (issue 18): demographics, coverage, codes and the facts behind them; no clinical content.
    BILLER = "biller"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]

    @property
    def is_licensed(self) -> bool:
        """Prescribers and nurses carry a licence (a ledger witness must hold one)."""
        return self in {Role.PRESCRIBER, Role.NURSE}


ROLE_LABELS = {
    Role.COORDINATOR: "Intake coordinator",
    Role.PRESCRIBER: "Prescriber",
    Role.NURSE: "Nurse",
    Role.THERAPIST: "Therapist",
    Role.DIRECTOR: "Clinic director",
    Role.AUDITOR: "Auditor",
    Role.PATIENT: "Patient",
    Role.BILLER: "Biller",
}


class Scope(StrEnum):
    """How far an allowed action reaches."""

    NONE = "none"  # not allowed
    ALL = "all"  # any patient
    TEAM = "team"  # patients on the user's care team, or by emergency access
    OWN = "own"  # the patient user's own record only


class Action(StrEnum):
    PATIENT_LIST = "patient.list"
    PATIENT_REGISTER = "patient.register"
    PATIENT_VIEW = "patient.view"
    PATIENT_VIEW_CLINICAL = "patient.view_clinical"
    PATIENT_EDIT = "patient.edit"
    PATIENT_EDIT_CONTACT = "patient.edit_contact"
    CARE_TEAM_ASSIGN = "care_team.assign"
    EMERGENCY_ACCESS = "emergency.access"
    EMERGENCY_REVIEW = "emergency.review"
    AUDIT_BROWSE = "audit.browse"
    USER_LIST = "user.list"
    USER_MANAGE = "user.manage"
    # FHIR system clients (SMART Backend Services, issue 17): register, list and revoke them.
    SMART_CLIENT_MANAGE = "smart_client.manage"
    # A referral's FHIR Bundle (issue 17 item 4): upload it; compare it with the record and choose what to take.
    REFERRAL_UPLOAD = "referral.upload"
    REFERRAL_REVIEW = "referral.review"
    PORTAL_USE = "portal.use"
    LEDGER_RECORD = "ledger.record"
    LEDGER_VIEW = "ledger.view"
    LEDGER_REPORT = "ledger.report"
    LEDGER_SETUP = "ledger.setup"
    LEDGER_INVESTIGATE = "ledger.investigate"
    MEASURE_ANSWER = "measure.answer"
    MEASURE_ENTER = "measure.enter"
    MEASURE_VIEW = "measure.view"
    SAFETY_ACKNOWLEDGE = "safety.acknowledge"
    INQUIRY_MANAGE = "inquiry.manage"
    INQUIRY_VIEW = "inquiry.view"
    APPOINTMENT_BOOK = "appointment.book"
    AVAILABILITY_MANAGE = "availability.manage"
    EVALUATION_RECORD = "evaluation.record"
    ELIGIBILITY_DECIDE = "eligibility.decide"
    ELIGIBILITY_VIEW = "eligibility.view"
    CONSENT_PUBLISH = "consent.publish"
    CONSENT_VIEW = "consent.view"
    CONSENT_SIGN = "consent.sign"
    CONSENT_WITNESS = "consent.witness"
    CONSENT_WITHDRAW = "consent.withdraw"
    PLAN_WRITE = "plan.write"
    PLAN_VIEW = "plan.view"
    DOSING_SCHEDULE = "dosing.schedule"
    CHECKLIST_COMPLETE = "checklist.complete"
    SESSION_VIEW = "session.view"
    SESSION_RUN = "session.run"
    DOSE_ORDER = "dose.order"
    ALERT_ACKNOWLEDGE = "alert.acknowledge"
    ADVERSE_EVENT_RECORD = "adverse_event.record"
    ADVERSE_EVENT_REVIEW = "adverse_event.review"
    REMS_SUBMIT = "rems.submit"
    NOTE_WRITE = "note.write"
    NOTE_VIEW = "note.view"
    # Psychotherapy (issue 8): further actions go here.
    PROCESS_NOTE_WRITE = "note.process_write"
    PROCESS_NOTE_VIEW = "note.process_view"
    NOTE_COSIGN = "note.cosign"
    REFLECTION_WRITE = "reflection.write"
    REFLECTION_VIEW = "reflection.view"
    GOAL_PROGRESS = "goal.progress"
    # Secure messages (issue 16, item 6).
    MESSAGE_VIEW = "message.view"
    MESSAGE_SEND = "message.send"
    MESSAGE_TRIAGE = "message.triage"
    # Booking reminders (issue 16, item 4).
    BOOKING_REPLY = "booking.reply"
    REMINDER_PREFERENCE = "reminder.preference"
    # Billing (issue 18): coverage, payers and the fee schedule, charge lines proposed from signed records.
    COVERAGE_VIEW = "coverage.view"
    COVERAGE_EDIT = "coverage.edit"
    BILLING_SETUP = "billing.setup"
    CHARGE_VIEW = "charge.view"
    CHARGE_REVIEW = "charge.review"
    AUTHORISATION_VIEW = "authorisation.view"
    AUTHORISATION_RECORD = "authorisation.record"
    BILLING_REPORT = "billing.report"
    # Money (issue 18 item 6): recording payments, refunds, write-offs and package sales; a patient's balance,
    # statement and superbill.
    MONEY_RECORD = "money.record"
    MONEY_VIEW = "money.view"
    # Claims (issue 18 item 5): reading claims and their 837P; making, marking and resubmitting them, posting 835s.
    CLAIM_VIEW = "claim.view"
    CLAIM_MANAGE = "claim.manage"
    # Outcomes (issue 19): a patient's course outcome and prompts; answering a prompt; the clinic's cohorts.
    OUTCOME_VIEW = "outcome.view"
    OUTCOME_PROMPT_ACT = "outcome.prompt_act"
    OUTCOME_COHORTS = "outcome.cohorts"
    OUTCOME_REPORT_SIGN = "outcome.report_sign"
    OUTCOME_RESEARCH_EXPORT = "outcome.research_export"


_N, _A, _T, _O = Scope.NONE, Scope.ALL, Scope.TEAM, Scope.OWN
_COLUMNS = (
    Role.COORDINATOR,
    Role.PRESCRIBER,
    Role.NURSE,
    Role.THERAPIST,
    Role.DIRECTOR,
    Role.AUDITOR,
    Role.PATIENT,
)

# fmt: off
_ROWS: dict[Action, tuple[Scope, ...]] = {
    #                              coord presc nurse ther  dir   audit patient
    Action.PATIENT_LIST:          (_A,   _A,   _T,   _T,   _A,   _A,   _N),
    Action.PATIENT_REGISTER:      (_A,   _A,   _N,   _N,   _A,   _N,   _N),
    Action.PATIENT_VIEW:          (_A,   _A,   _T,   _T,   _A,   _A,   _O),
    # A coordinator sees who a patient is and when they come, never clinical content.
    Action.PATIENT_VIEW_CLINICAL: (_N,   _A,   _T,   _T,   _A,   _A,   _O),
    Action.PATIENT_EDIT:          (_A,   _A,   _N,   _N,   _A,   _N,   _N),
    # Nurses may correct contact details of their team's patients; patients their own.
    Action.PATIENT_EDIT_CONTACT:  (_A,   _A,   _T,   _N,   _A,   _N,   _O),
    Action.CARE_TEAM_ASSIGN:      (_A,   _A,   _N,   _N,   _A,   _N,   _N),
    # Break the glass: roles limited to their team may open another chart with a reason.
    Action.EMERGENCY_ACCESS:      (_N,   _N,   _A,   _A,   _N,   _N,   _N),
    Action.EMERGENCY_REVIEW:      (_N,   _N,   _N,   _N,   _A,   _N,   _N),
    Action.AUDIT_BROWSE:          (_N,   _N,   _N,   _N,   _A,   _A,   _N),
    Action.USER_LIST:             (_N,   _N,   _N,   _N,   _A,   _A,   _N),
    Action.USER_MANAGE:           (_N,   _N,   _N,   _N,   _A,   _N,   _N),
    # A system client reads as the staff account it is tied to: only the director, who manages accounts, ties one.
    Action.SMART_CLIENT_MANAGE:   (_N,   _N,   _N,   _N,   _A,   _N,   _N),
    # The coordinator receives referrals but sees no clinical content; the prescriber, who records the
    # evaluation, compares the bundle with it and chooses.
    Action.REFERRAL_UPLOAD:       (_A,   _A,   _N,   _N,   _N,   _N,   _N),
    Action.REFERRAL_REVIEW:       (_N,   _A,   _N,   _N,   _N,   _N,   _N),
    Action.PORTAL_USE:            (_N,   _N,   _N,   _N,   _N,   _N,   _O),
    # Controlled-substance ledger: licensed staff record; director and auditor read the books.
    Action.LEDGER_RECORD:         (_N,   _A,   _A,   _N,   _N,   _N,   _N),
    Action.LEDGER_VIEW:           (_N,   _A,   _A,   _N,   _A,   _A,   _N),
    # Reports and the reconciliation: the director and the auditor (issue: "reports by the director and auditor").
    Action.LEDGER_REPORT:         (_N,   _N,   _N,   _N,   _A,   _A,   _N),
    Action.LEDGER_SETUP:          (_N,   _N,   _N,   _N,   _A,   _N,   _N),
    # A count discrepancy is resolved by the director, who may adjust the books to the count.
    Action.LEDGER_INVESTIGATE:    (_N,   _N,   _N,   _N,   _A,   _N,   _N),
    # Questionnaires: the patient answers their own; staff enter paper forms or rate.
    Action.MEASURE_ANSWER:        (_N,   _N,   _N,   _N,   _N,   _N,   _O),
    Action.MEASURE_ENTER:         (_A,   _A,   _T,   _T,   _A,   _N,   _N),
    # Scores are clinical content: not for the coordinator.
    Action.MEASURE_VIEW:          (_N,   _A,   _T,   _T,   _A,   _A,   _O),
    Action.SAFETY_ACKNOWLEDGE:    (_N,   _A,   _T,   _T,   _A,   _N,   _N),
    # Inquiries: the coordinator (and director) work them; prescribers and the auditor read.
    Action.INQUIRY_MANAGE:        (_A,   _N,   _N,   _N,   _A,   _N,   _N),
    Action.INQUIRY_VIEW:          (_A,   _A,   _N,   _N,   _A,   _A,   _N),
    Action.APPOINTMENT_BOOK:      (_A,   _A,   _T,   _T,   _A,   _N,   _N),
    # Rooms, working hours, time off and closures: the coordinator runs the calendar, the director the clinic.
    Action.AVAILABILITY_MANAGE:   (_A,   _N,   _N,   _N,   _A,   _N,   _N),
    # Evaluation and eligibility: the prescriber records and decides; the care team, director and auditor read.
    Action.EVALUATION_RECORD:     (_N,   _A,   _N,   _N,   _N,   _N,   _N),
    Action.ELIGIBILITY_DECIDE:    (_N,   _A,   _N,   _N,   _N,   _N,   _N),
    Action.ELIGIBILITY_VIEW:      (_N,   _A,   _T,   _T,   _A,   _A,   _N),
    # Consent: the director publishes the texts; the patient signs their own (portal, or a clinic
    # tablet with a staff witness); the team records a withdrawal the patient asks for.
    Action.CONSENT_PUBLISH:       (_N,   _N,   _N,   _N,   _A,   _N,   _N),
    Action.CONSENT_VIEW:          (_A,   _A,   _T,   _T,   _A,   _A,   _O),
    Action.CONSENT_SIGN:          (_N,   _N,   _N,   _N,   _N,   _N,   _O),
    Action.CONSENT_WITNESS:       (_A,   _A,   _T,   _T,   _A,   _N,   _N),
    Action.CONSENT_WITHDRAW:      (_N,   _A,   _T,   _T,   _A,   _N,   _O),
    # The treatment plan is the prescriber's order; the patient sees their own plan and goals.
    Action.PLAN_WRITE:            (_N,   _A,   _N,   _N,   _N,   _N,   _N),
    Action.PLAN_VIEW:             (_N,   _A,   _T,   _T,   _A,   _A,   _O),
    # Confirming proposed dosing sessions on the calendar (consent and eligibility are checked).
    Action.DOSING_SCHEDULE:       (_N,   _A,   _T,   _N,   _A,   _N,   _N),
    # The per-session preparation checklist: the patient in the portal.
    Action.CHECKLIST_COMPLETE:    (_N,   _N,   _N,   _N,   _N,   _N,   _O),
    # Dosing sessions (pathway stage 5): the team's nurse runs the session; the team's prescriber orders the
    # dose and decides overrides (a hold, an unmet discharge criterion); both acknowledge alerts.
    Action.SESSION_VIEW:          (_N,   _A,   _T,   _T,   _A,   _A,   _N),
    Action.SESSION_RUN:           (_N,   _T,   _T,   _N,   _N,   _N,   _N),
    Action.DOSE_ORDER:            (_N,   _T,   _N,   _N,   _N,   _N,   _N),
    Action.ALERT_ACKNOWLEDGE:     (_N,   _T,   _T,   _N,   _N,   _N,   _N),
    Action.ADVERSE_EVENT_RECORD:  (_N,   _T,   _T,   _T,   _A,   _N,   _N),
    Action.ADVERSE_EVENT_REVIEW:  (_N,   _N,   _N,   _N,   _A,   _N,   _N),
    Action.REMS_SUBMIT:           (_N,   _T,   _T,   _N,   _A,   _N,   _N),
    # Therapy notes (preparation, in-session, integration): written by the team's therapist and
    # prescriber; read by the team, the director and the auditor. Process notes have their own rules.
    Action.NOTE_WRITE:            (_N,   _T,   _N,   _T,   _N,   _N,   _N),
    Action.NOTE_VIEW:             (_N,   _T,   _T,   _T,   _A,   _A,   _N),
    # Psychotherapy (issue 8): further rows go here.
    # Process (psychotherapy) notes, HIPAA 45 CFR 164.501: written by the team's therapist or prescriber; read
    # only by their author and by whom the author shares each one with (an object rule on top of this row),
    # never by the director, the auditor or the patient.
    Action.PROCESS_NOTE_WRITE:    (_N,   _T,   _N,   _T,   _N,   _N,   _N),
    Action.PROCESS_NOTE_VIEW:     (_N,   _A,   _A,   _A,   _N,   _N,   _N),
    # A supervisor co-signs a trainee's signed note; only the supervisor the author named (object rule).
    Action.NOTE_COSIGN:           (_N,   _A,   _N,   _A,   _N,   _N,   _N),
    # The patient's journal and reflections: written by the patient, read by the team only when shared.
    Action.REFLECTION_WRITE:      (_N,   _N,   _N,   _N,   _N,   _N,   _O),
    Action.REFLECTION_VIEW:       (_N,   _T,   _N,   _T,   _N,   _N,   _O),
    # Progress on the plan's goals, recorded at integration sessions (the patient reads it with the plan).
    Action.GOAL_PROGRESS:         (_N,   _T,   _N,   _T,   _N,   _N,   _N),
    # Secure messages: only the patient and their care team read and write a thread (the director, the auditor
    # and the coordinator are on no care team: they see that messages were read in the audit log, not what they
    # say). A staff-only thread is never shown to the patient (an object rule). The team triages: marks a thread
    # as needing a clinical response, or turns a message into a safety flag.
    Action.MESSAGE_VIEW:          (_N,   _T,   _T,   _T,   _N,   _N,   _O),
    Action.MESSAGE_SEND:          (_N,   _T,   _T,   _T,   _N,   _N,   _O),
    Action.MESSAGE_TRIAGE:        (_N,   _T,   _T,   _T,   _N,   _N,   _N),
    # Reminders: the patient answers their own bookings (confirm, ask for another time) and chooses how reminders
    # reach them and what they may say; staff see the answers on the calendar and in the inbox.
    Action.BOOKING_REPLY:         (_N,   _N,   _N,   _N,   _N,   _N,   _O),
    Action.REMINDER_PREFERENCE:   (_N,   _N,   _N,   _N,   _N,   _N,   _O),
    # Billing (issue 18). Coverage: the front desk records the card, the director and auditor read it. Payers and
    # the fee schedule: the director. Charge lines: clinicians see the lines their own signed records produced
    # (an object rule: the rendering provider), the director and auditor all of them.
    Action.COVERAGE_VIEW:         (_A,   _N,   _N,   _N,   _A,   _A,   _N),
    Action.COVERAGE_EDIT:         (_A,   _N,   _N,   _N,   _A,   _N,   _N),
    Action.BILLING_SETUP:         (_N,   _N,   _N,   _N,   _A,   _N,   _N),
    Action.CHARGE_VIEW:           (_N,   _T,   _T,   _T,   _A,   _A,   _N),
    Action.CHARGE_REVIEW:         (_N,   _N,   _N,   _N,   _N,   _N,   _N),
    # Prior authorisations: the coordinator (and biller) record the payer's letter; the team's prescriber, who
    # schedules, and the director and auditor read them. Billing reports: the director (and the biller).
    Action.AUTHORISATION_VIEW:    (_A,   _T,   _N,   _N,   _A,   _A,   _N),
    Action.AUTHORISATION_RECORD:  (_A,   _N,   _N,   _N,   _A,   _N,   _N),
    Action.BILLING_REPORT:        (_N,   _N,   _N,   _N,   _A,   _N,   _N),
    # Money: the biller and the director record it; they and the auditor read balances; the patient their own
    # (portal: balance and superbill). Clinicians see none of it.
    Action.MONEY_RECORD:          (_N,   _N,   _N,   _N,   _A,   _N,   _N),
    Action.MONEY_VIEW:            (_N,   _N,   _N,   _N,   _A,   _A,   _O),
    # Claims: the biller and the director make and post them; the auditor reads them. Clinicians see their lines
    # (CHARGE_VIEW), not the claims.
    Action.CLAIM_VIEW:            (_N,   _N,   _N,   _N,   _A,   _A,   _N),
    Action.CLAIM_MANAGE:          (_N,   _N,   _N,   _N,   _A,   _N,   _N),
    # Outcomes (issue 19): prompts go to the patient's care team (prescriber, therapist), who answer them; the
    # director sees every patient's; the dashboard is the director's, a prescriber's over their own patients.
    Action.OUTCOME_VIEW:          (_N,   _T,   _N,   _T,   _A,   _N,   _N),
    Action.OUTCOME_PROMPT_ACT:    (_N,   _T,   _N,   _T,   _N,   _N,   _N),
    Action.OUTCOME_COHORTS:       (_N,   _T,   _N,   _N,   _A,   _N,   _N),
    # The referrer's progress report is signed by a prescriber of the care team; the de-identified research
    # export (Safe Harbor) is the director's alone.
    Action.OUTCOME_REPORT_SIGN:   (_N,   _T,   _N,   _N,   _N,   _N,   _N),
    Action.OUTCOME_RESEARCH_EXPORT: (_N, _N,   _N,   _N,   _A,   _N,   _N),
}
# fmt: on

# The biller's column, apart so that a row added above needs no eighth value: a row not named here is "not
# allowed". The biller sees who the patient is (demographics), their coverage, the codes and the facts that justify
# them (never notes, journal text or scores), sets up payers and fees, and reviews charge lines.
_BILLER: dict[Action, Scope] = {
    Action.PATIENT_LIST: _A,
    Action.PATIENT_VIEW: _A,
    Action.COVERAGE_VIEW: _A,
    Action.COVERAGE_EDIT: _A,
    Action.BILLING_SETUP: _A,
    Action.CHARGE_VIEW: _A,
    Action.CHARGE_REVIEW: _A,
    Action.AUTHORISATION_VIEW: _A,
    Action.AUTHORISATION_RECORD: _A,
    Action.BILLING_REPORT: _A,
    Action.MONEY_RECORD: _A,
    Action.MONEY_VIEW: _A,
    Action.CLAIM_VIEW: _A,
    Action.CLAIM_MANAGE: _A,
}

MATRIX: dict[Action, dict[Role, Scope]] = {
    action: {**dict(zip(_COLUMNS, scopes, strict=True)), Role.BILLER: _BILLER.get(action, _N)}
    for action, scopes in _ROWS.items()
}


def scope_for(role: Role | str, action: Action) -> Scope:
    """Return how far `role` may perform `action` (Scope.NONE when not at all)."""
    return MATRIX[action].get(Role(role), Scope.NONE)


def may(role: Role | str, action: Action) -> bool:
    """Return whether `role` may perform `action` on at least some patients."""
    return scope_for(role, action) is not Scope.NONE
