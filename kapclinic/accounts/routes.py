"""Which row of the role x action table guards each page route and API operation.

Plain Python with no Django import, beside `roles.py`, which stays the only place that says who may
do what. Every named page route (keyed by its URL name, e.g. "chart:patient") and every API
operation (keyed "METHOD /api/v1/path/{id}", as in the OpenAPI document) is here, either with the
`Action` the view or service checks, or with an explicit mark (public, any signed-in user, any staff
member) and the reason for it. tests/test_route_access.py fails for a route missing here and walks
every entry for every role, on a patient of the care team and on one outside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kapclinic.roles import Action, Role, Scope, scope_for


class Audience(StrEnum):
    """Who may open a route that no row of the table guards."""

    ROLE = "role"  # guarded by `RouteRule.action`
    PUBLIC = "public"  # anyone, signed in or not
    SIGNED_IN = "signed_in"  # any signed-in user, patients included
    STAFF = "staff"  # any signed-in staff member (every role but the patient)


@dataclass(frozen=True)
class RouteRule:
    """How a route is guarded.

    `action`: the row that the route (a page's GET, or the API operation) needs.
    `alternative`: a second row that also opens the route (staff enter a questionnaire, a patient answers it).
    `post`: the row a page's POST needs when it is not the same as reading the page.
    `narrowed_by`: a second row that also bounds the reach, for roles that have it at all (the record export
    holds the therapy notes: a role that reads notes exports only the records whose notes it may read).
    `lists`: for an open route that names patients, the row that bounds whose names it may show.
    `object_rule`: an object rule on top of the row (the author only, the named co-signer, ...): an
    allowed role may still be refused for a given object.
    """

    action: Action | None = None
    alternative: Action | None = None
    audience: Audience = Audience.ROLE
    reason: str = ""
    post: Action | None = None
    narrowed_by: Action | None = None
    lists: Action | None = None
    object_rule: str = ""

    def __post_init__(self) -> None:
        if (self.action is None) == (self.audience is Audience.ROLE):
            raise ValueError("A route is guarded by an action, or open to an audience with a reason; not both.")
        if self.audience is not Audience.ROLE and not self.reason.strip():
            raise ValueError("An open route needs a one-line reason.")

    def scope(self, role: Role | str, *, method: str = "GET") -> Scope:
        """How far `role` may use this route (Scope.ALL for an open route the role is in the audience of)."""
        action = self.post if method == "POST" and self.post is not None else self.action
        if action is not None:
            return self._wider(role, action)
        if self.audience is Audience.STAFF and Role(role) is Role.PATIENT:
            return Scope.NONE
        return Scope.ALL

    def may_name(self, role: Role | str) -> Scope:
        """How far the patients that an answer of this route names may reach for `role`."""
        if self.action is not None:
            return self._wider(role, self.action)
        if self.lists is not None:
            return scope_for(role, self.lists)
        return Scope.NONE

    def _wider(self, role: Role | str, action: Action) -> Scope:
        scopes = [scope_for(role, action)]
        if self.alternative is not None:
            scopes.append(scope_for(role, self.alternative))
        scope = max(scopes, key=_REACH.index)
        if self.narrowed_by is not None and scope_for(role, self.narrowed_by) is not Scope.NONE:
            scope = min(scope, scope_for(role, self.narrowed_by), key=_REACH.index)
        return scope


# From no reach to every patient: a role's wider scope of two rows.
_REACH = [Scope.NONE, Scope.OWN, Scope.TEAM, Scope.ALL]


def needs(
    action: Action,
    *,
    alternative: Action | None = None,
    post: Action | None = None,
    narrowed_by: Action | None = None,
    object_rule: str = "",
) -> RouteRule:
    return RouteRule(
        action=action, alternative=alternative, post=post, narrowed_by=narrowed_by, object_rule=object_rule
    )


def public(reason: str) -> RouteRule:
    return RouteRule(audience=Audience.PUBLIC, reason=reason)


def signed_in(reason: str, *, lists: Action | None = None) -> RouteRule:
    return RouteRule(audience=Audience.SIGNED_IN, reason=reason, lists=lists)


def staff(reason: str, *, lists: Action | None = None) -> RouteRule:
    return RouteRule(audience=Audience.STAFF, reason=reason, lists=lists)


A = Action
AUTHOR_ONLY = "only the note's author changes, signs or amends it (therapy/services.py)"
BULK_WHOLE = "only the director exports the whole clinic (fhir/bulk.py export_check)"
BULK_GROUP = "a Group is a clinician's caseload: the director's any, a clinician's own only (fhir/bulk.py)"
BULK_REQUESTER = "an export's status and files are its requester's only; anyone else gets 404 (fhir/bulk.py)"
SIGNED_PLANS = "a patient sees their plan once it is signed (plans/selectors.py)"
OWN_LINES = "a clinician sees only the lines their own signed records produced (billing/selectors.py)"

# The dosing session screen posts every step to one route, dosing:step; each step is its own entry.
SESSION_STEPS: dict[str, RouteRule] = {
    "check-in": needs(A.SESSION_RUN),
    "vitals": needs(A.SESSION_RUN),
    "override": needs(A.DOSE_ORDER),
    "order": needs(A.DOSE_ORDER),
    "administer": needs(A.SESSION_RUN),
    "advance": needs(A.SESSION_RUN),
    "event": needs(A.SESSION_RUN),
    "acknowledge": needs(A.ALERT_ACKNOWLEDGE),
    "discharge": needs(A.SESSION_RUN),
    "stop": needs(A.SESSION_RUN),
    "sign": needs(A.SESSION_RUN),
    "rems": needs(A.REMS_SUBMIT),
    "adverse-event": needs(A.ADVERSE_EVENT_RECORD),
    # REMS enrollment is the prescriber's (session_services.rems_enrollment_record checks DOSE_ORDER).
    "rems-enrollment": needs(A.DOSE_ORDER),
}

PAGE_RULES: dict[str, RouteRule] = {
    # Signing in and the user's own account.
    "accounts:login": public("the sign-in page"),
    "accounts:logout": public("signing out; without a session it only redirects"),
    "accounts:password_change": signed_in("a user changes their own password"),
    "accounts:mfa_verify": signed_in("the second sign-in step for the user's own two-factor device"),
    "accounts:mfa_setup": signed_in("a user enrols their own two-factor device"),
    "accounts:account": signed_in("the user's own account page and API tokens"),
    "accounts:keepalive": signed_in("'stay signed in' after the idle warning, for the user's own session"),
    "accounts:token_revoke": signed_in("a user revokes one of their own API tokens"),
    # A person's own calendar feed (issue 16, item 3): their own bookings only, whatever the role.
    "calendar_feed:page": signed_in("a user makes or replaces the address of their own calendar feed"),
    "calendar_feed:revoke": signed_in("a user ends the address of their own calendar feed"),
    "calendar_feed:feed": public(
        "a calendar app reads its owner's feed; the secret in the address is the sign-in (unknown: 404)"
    ),
    "accounts:user_list": needs(A.USER_LIST),
    "accounts:user_create": needs(A.USER_MANAGE),
    "accounts:user_password_reset": needs(A.USER_MANAGE),
    "accounts:user_set_active": needs(A.USER_MANAGE),
    "accounts:smart_clients": needs(A.SMART_CLIENT_MANAGE),
    "accounts:smart_client_revoke": needs(A.SMART_CLIENT_MANAGE),
    "home:home": signed_in("each role's start page; patients go to the portal", lists=A.PATIENT_LIST),
    "home:inbox": signed_in("each member of staff's own inbox (patients go to the portal)", lists=A.PATIENT_LIST),
    "healthz": public("the load balancer's health check, no data"),
    # The FHIR face (issue 17): the same rows as the pages; FHIR reads are audited reads (kapclinic/fhir/reads.py).
    "fhir:metadata": public("the FHIR CapabilityStatement: what the server supports, no data"),
    "fhir:smart_configuration": public("SMART discovery: where and how a system client gets a token, no data"),
    "fhir:smart_token": public(
        "a system client exchanges an assertion signed by its registered key for a token (SMART Backend Services)"
    ),
    "fhir:patient_search": needs(A.PATIENT_VIEW),  # a patient finds their own record only (fhir/reads.py)
    "fhir:patient": needs(A.PATIENT_VIEW),
    "fhir:practitioner_search": signed_in("staff names and licence numbers, no patient data"),
    "fhir:practitioner": signed_in("a staff member's name and licence number, no patient data"),
    "fhir:observation_search": needs(A.PATIENT_VIEW_CLINICAL),
    "fhir:observation": needs(A.PATIENT_VIEW_CLINICAL),
    "fhir:medication_administration_search": needs(A.PATIENT_VIEW_CLINICAL),
    "fhir:medication_administration": needs(A.PATIENT_VIEW_CLINICAL),
    "fhir:medication_request_search": needs(A.PATIENT_VIEW_CLINICAL),
    "fhir:medication_request": needs(A.PATIENT_VIEW_CLINICAL),
    "fhir:encounter_search": needs(A.PATIENT_VIEW_CLINICAL),
    "fhir:encounter": needs(A.PATIENT_VIEW_CLINICAL),
    "fhir:condition_search": needs(A.PATIENT_VIEW_CLINICAL),
    "fhir:condition": needs(A.PATIENT_VIEW_CLINICAL),
    "fhir:allergy_search": needs(A.PATIENT_VIEW_CLINICAL),
    "fhir:allergy": needs(A.PATIENT_VIEW_CLINICAL),
    "fhir:careplan_search": needs(A.PLAN_VIEW),
    "fhir:careplan": needs(A.PLAN_VIEW),
    "fhir:consent_search": needs(A.CONSENT_VIEW),
    "fhir:consent": needs(A.CONSENT_VIEW),
    "fhir:appointment_search": needs(A.PATIENT_VIEW),
    "fhir:appointment": needs(A.PATIENT_VIEW),
    # Issue 17, second part (kapclinic/fhir/record_views.py).
    "fhir:questionnaire_search": signed_in("the clinic's instruments (items and codes), no patient data"),
    "fhir:questionnaire": signed_in("one of the clinic's instruments (items and codes), no patient data"),
    "fhir:questionnaire_response_search": needs(A.MEASURE_VIEW),
    "fhir:questionnaire_response": needs(A.MEASURE_VIEW),
    "fhir:provenance_search": needs(A.PATIENT_VIEW_CLINICAL),
    "fhir:provenance": needs(A.PATIENT_VIEW_CLINICAL),
    "fhir:audit_event_search": needs(A.AUDIT_BROWSE),
    "fhir:audit_event": needs(A.AUDIT_BROWSE),
    # Bulk Data export (kapclinic/fhir/bulk.py): clinical records leave in bulk, so the clinical row, narrowed.
    "fhir:export": needs(A.PATIENT_VIEW_CLINICAL, object_rule=BULK_WHOLE),
    "fhir:patient_export": needs(A.PATIENT_VIEW_CLINICAL, object_rule=BULK_WHOLE),
    "fhir:group_export": needs(A.PATIENT_VIEW_CLINICAL, object_rule=BULK_GROUP),
    "fhir:group": needs(A.PATIENT_VIEW_CLINICAL, object_rule=BULK_GROUP),
    "fhir:export_status": needs(A.PATIENT_VIEW_CLINICAL, object_rule=BULK_REQUESTER),
    "fhir:export_file": needs(A.PATIENT_VIEW_CLINICAL, object_rule=BULK_REQUESTER),
    "readyz": public("readiness: the database and the task queue's age, no data"),
    "public_inquiry": public("the public inquiry form for people who are not yet patients"),
    "api:openapi-json": public("the OpenAPI document: the API's shape, no data"),
    "api:openapi-view": public("the API documentation page, no data"),
    "api:api-root": public("the API's root, no data"),
    # Patients: registry, chart, care team, emergency access.
    "patients:list": needs(A.PATIENT_LIST),
    "patients:register": needs(A.PATIENT_REGISTER),
    # The header's search box (issue 16, item 7): the list's row; Enter on an exact MRN redirects to the chart,
    # which asks PATIENT_VIEW itself.
    "patients:quick_search": needs(A.PATIENT_LIST),
    "patients:search_go": needs(A.PATIENT_LIST),
    "chart:patient": needs(A.PATIENT_VIEW),
    # The view asks PATIENT_EDIT of those who have it, else PATIENT_EDIT_CONTACT; this row is the wider.
    "patients:edit": needs(A.PATIENT_EDIT_CONTACT),
    "patients:emergency_access": needs(A.EMERGENCY_ACCESS),
    "chart:record": needs(A.PATIENT_VIEW_CLINICAL, narrowed_by=A.NOTE_VIEW),
    # Printed records (issue 16, item 8): each PDF asks what its page asks, and audits the print.
    "chart:summary_pdf": needs(A.PATIENT_VIEW_CLINICAL),
    "patients:portal_account": needs(A.PATIENT_EDIT),
    "patients:care_team": needs(A.CARE_TEAM_ASSIGN),
    # Consent at the clinic (a patient's consent pages are in the portal).
    "consent_patient:home": needs(A.CONSENT_VIEW),
    "consent_patient:sign": needs(A.CONSENT_WITNESS),
    "consent_patient:witness": needs(A.CONSENT_WITNESS),
    "consent_patient:withdraw": needs(A.CONSENT_WITHDRAW),
    "consent_patient:pdf": needs(A.CONSENT_VIEW),
    "consent:texts": needs(A.CONSENT_VIEW),
    "consent:publish": needs(A.CONSENT_PUBLISH),
    "consent:text": needs(A.CONSENT_VIEW),
    # Audit.
    "audit:log": needs(A.AUDIT_BROWSE),
    "audit:export": needs(A.AUDIT_BROWSE),
    "audit:emergency_review": needs(A.EMERGENCY_REVIEW),
    # The patient's portal: always the signed-in patient's own record; staff are sent to their home page.
    "portal:home": needs(A.PORTAL_USE),
    "portal:questionnaire": needs(A.MEASURE_ANSWER),
    "portal:questionnaire_draft": needs(A.MEASURE_ANSWER),
    "portal:response_done": needs(A.MEASURE_ANSWER),
    "portal:plan": needs(A.PLAN_VIEW),
    # The patient's own copy of their record: the page, and the FHIR Bundle and JSON it offers (issue 17, item 5).
    "portal:record": needs(A.PORTAL_USE),
    "portal:record_fhir": needs(A.PATIENT_VIEW_CLINICAL),
    "portal:record_json": needs(A.PATIENT_VIEW_CLINICAL),
    "consent_portal:home": needs(A.CONSENT_VIEW),
    "consent_portal:sign": needs(A.CONSENT_SIGN),
    "consent_portal:signature": needs(A.CONSENT_VIEW),
    "consent_portal:withdraw": needs(A.CONSENT_WITHDRAW),
    "consent_portal:pdf": needs(A.CONSENT_VIEW),
    "dosing_portal:checklist": needs(A.CHECKLIST_COMPLETE),
    "journal:home": needs(A.REFLECTION_WRITE),
    "journal:entry": needs(A.REFLECTION_WRITE),
    "journal:share": needs(A.REFLECTION_WRITE),
    "messaging_portal:home": needs(A.MESSAGE_VIEW, post=A.MESSAGE_SEND),
    "messaging_portal:thread": needs(A.MESSAGE_VIEW, post=A.MESSAGE_SEND),
    # Bookings and reminders (issue 16, item 4): the patient's own bookings, answers and reminder choice.
    "reminders_portal:bookings": needs(A.PORTAL_USE),
    "reminders_portal:confirm": needs(A.BOOKING_REPLY),
    "reminders_portal:reschedule": needs(A.BOOKING_REPLY),
    "reminders_portal:reminders": needs(A.PORTAL_USE, post=A.REMINDER_PREFERENCE),
    # Billing (issue 18): charge lines from signed records, payers and fees, a patient's coverage.
    "billing:charges": needs(A.CHARGE_VIEW, object_rule=OWN_LINES),
    "billing:propose": needs(A.CHARGE_REVIEW),
    "billing:charge": needs(A.CHARGE_VIEW, post=A.CHARGE_REVIEW, object_rule=OWN_LINES),
    "billing:setup": needs(A.BILLING_SETUP),
    "billing:coverages": needs(A.COVERAGE_VIEW, post=A.COVERAGE_EDIT),
    "billing:prior_authorisations": needs(A.AUTHORISATION_VIEW, post=A.AUTHORISATION_RECORD),
    "billing:reports": needs(A.BILLING_REPORT),
    "billing:account": needs(A.MONEY_VIEW, post=A.MONEY_RECORD),
    "billing:record": needs(A.MONEY_RECORD),
    "billing:statement": needs(A.MONEY_VIEW),
    "billing:superbill": needs(A.MONEY_VIEW),
    "billing:packages": needs(A.BILLING_SETUP),
    "billing_portal:home": needs(A.MONEY_VIEW),
    "billing_portal:superbill": needs(A.MONEY_VIEW),
    # Claims and remittances (issue 18 item 5).
    "billing:claims": needs(A.CLAIM_VIEW),
    "billing:claim_new": needs(A.CLAIM_MANAGE),
    "billing:claim": needs(A.CLAIM_VIEW, post=A.CLAIM_MANAGE),
    "billing:claim_file": needs(A.CLAIM_VIEW),
    "billing:remittances": needs(A.CLAIM_VIEW, post=A.CLAIM_MANAGE),
    # Controlled-substance ledger and its reports.
    "ledger:stock": needs(A.LEDGER_VIEW),
    "ledger:entries": needs(A.LEDGER_VIEW),
    "ledger:receive": needs(A.LEDGER_RECORD),
    "ledger:record": needs(A.LEDGER_RECORD),
    "ledger:transfer": needs(A.LEDGER_RECORD),
    "ledger:locations": needs(A.LEDGER_VIEW, post=A.LEDGER_SETUP),
    "ledger:products": needs(A.LEDGER_SETUP),
    "ledger:registration": needs(A.LEDGER_VIEW, post=A.LEDGER_SETUP),
    "ledger:counts": needs(A.LEDGER_VIEW),
    "ledger:count_new": needs(A.LEDGER_RECORD),
    "ledger:count": needs(A.LEDGER_VIEW),
    "ledger:investigation": needs(A.LEDGER_INVESTIGATE),
    "ledger:loss_report": needs(A.LEDGER_INVESTIGATE),
    "ledger_reports:index": needs(A.LEDGER_VIEW),
    "ledger_reports:dispensing_log": needs(A.LEDGER_REPORT),
    "ledger_reports:dispensing_log_csv": needs(A.LEDGER_REPORT),
    "ledger_reports:dispensing_log_pdf": needs(A.LEDGER_REPORT),
    "ledger_reports:inventory": needs(A.LEDGER_REPORT),
    "ledger_reports:inventory_csv": needs(A.LEDGER_REPORT),
    "ledger_reports:inventory_pdf": needs(A.LEDGER_REPORT),
    "ledger_reports:reconciliation": needs(A.LEDGER_REPORT),
    "ledger_reports:reconciliation_csv": needs(A.LEDGER_REPORT),
    "ledger_reports:reconciliation_pdf": needs(A.LEDGER_REPORT),
    # Questionnaires entered by staff, safety flags, schedules.
    "measures:paper_entry": needs(A.MEASURE_ENTER),
    "measures:schedule": needs(A.MEASURE_ENTER),
    "measures:safety_acknowledge": needs(A.SAFETY_ACKNOWLEDGE),
    # Intake: inquiries, evaluation and eligibility, appointments.
    "intake:list": needs(A.INQUIRY_VIEW),
    "intake:new": needs(A.INQUIRY_MANAGE),
    "intake:detail": needs(A.INQUIRY_VIEW, post=A.INQUIRY_MANAGE),
    "intake:status": needs(A.INQUIRY_MANAGE),
    "intake:icd10": staff("the ICD-10-CM code list for the diagnosis pickers: reference data, no patient data"),
    "intake:eligibility": needs(A.ELIGIBILITY_VIEW, post=A.EVALUATION_RECORD),
    # A referral's FHIR Bundle (issue 17 item 4): kept by whoever receives it; compared and chosen by the prescriber.
    "referrals:list": needs(A.REFERRAL_UPLOAD),
    "referrals:detail": needs(A.REFERRAL_REVIEW),
    "appointments:book": needs(A.APPOINTMENT_BOOK),
    "appointments:availability": needs(A.AVAILABILITY_MANAGE),
    # Lists names: a care-team role sees its own and its team's patients' appointments (calendar_week).
    "appointments:calendar": needs(A.APPOINTMENT_BOOK),
    "appointments:ics_mine": signed_in(
        "the signed-in user's own appointments as a calendar file", lists=A.APPOINTMENT_BOOK
    ),
    # A patient's appointment needs APPOINTMENT_BOOK; an inquirer's consultation, INQUIRY_VIEW.
    "appointments:detail": needs(A.APPOINTMENT_BOOK),
    "appointments:ics": needs(A.APPOINTMENT_BOOK),
    # Cancel, did not attend, move: the booking rule (appointments/services.py _may_change).
    "appointments:change": needs(A.APPOINTMENT_BOOK),
    # Treatment plans and dosing.
    "plans:list": needs(A.PLAN_VIEW),
    "plans:new": needs(A.PLAN_WRITE),
    "plans:detail": needs(A.PLAN_VIEW, object_rule=SIGNED_PLANS),
    "plans:pdf": needs(A.PLAN_VIEW, object_rule=SIGNED_PLANS),
    "plans:edit": needs(A.PLAN_WRITE),
    "plans:sign": needs(A.PLAN_WRITE),
    # The view checks PATIENT_VIEW_CLINICAL's scope and turns patients away: for staff that is SESSION_VIEW's row.
    "dosing:schedule_list": needs(A.SESSION_VIEW),
    "dosing:schedule": needs(A.DOSING_SCHEDULE),
    "dosing:board": needs(A.SESSION_VIEW),
    "dosing:my_alerts": signed_in(
        "the open alerts of the user's own patients, polled by the home page", lists=A.ALERT_ACKNOWLEDGE
    ),
    "dosing:adverse_review": needs(A.ADVERSE_EVENT_REVIEW),
    "dosing:session": needs(A.SESSION_VIEW),
    "dosing:rems_pdf": needs(A.SESSION_VIEW),
    "dosing:session_pdf": needs(A.SESSION_VIEW),
    "dosing:session_alerts": needs(A.SESSION_VIEW),
    # Psychotherapy notes (process notes follow PROCESS_NOTE_*; their rows match NOTE_WRITE's).
    "therapy:patient_notes": needs(A.NOTE_VIEW),
    "therapy:note_new": needs(A.NOTE_WRITE),
    "therapy:in_session_note": needs(A.NOTE_WRITE),
    "therapy:note": needs(A.NOTE_VIEW, post=A.NOTE_WRITE, object_rule=AUTHOR_ONLY),
    "therapy:note_pdf": needs(
        A.NOTE_VIEW, object_rule="a signed note only; a process note for its author only (therapy/selectors.py)"
    ),
    "therapy:note_autosave": needs(A.NOTE_WRITE, object_rule=AUTHOR_ONLY),
    "therapy:note_sign": needs(A.NOTE_WRITE, object_rule=AUTHOR_ONLY),
    "therapy:note_addendum": needs(A.NOTE_WRITE, object_rule=AUTHOR_ONLY),
    "therapy:note_cosign": needs(A.NOTE_COSIGN, object_rule="only the co-signer the author named"),
    "therapy:note_shares": needs(A.PROCESS_NOTE_WRITE, object_rule="only the author of a process note shares it"),
    "therapy:note_goal_progress": needs(A.GOAL_PROGRESS),
    "therapy:search": needs(A.NOTE_WRITE),
    # Secure messages (issue 16, item 6): the patient and their care team only.
    "messaging:inbox": needs(A.MESSAGE_VIEW, post=A.MESSAGE_SEND),
    "messaging:patient_threads": needs(A.MESSAGE_VIEW, post=A.MESSAGE_SEND),
    "messaging:thread": needs(A.MESSAGE_VIEW, post=A.MESSAGE_SEND),
    "messaging:needs_response": needs(A.MESSAGE_TRIAGE),
    "messaging:safety_flag": needs(A.MESSAGE_TRIAGE),
    # Outcomes (issue 19): prompts for the care team (and the director), answered by the care team.
    "outcomes:dashboard": needs(A.OUTCOME_COHORTS),
    "outcomes:dashboard_csv": needs(A.OUTCOME_COHORTS),
    "outcomes:research_csv": needs(A.OUTCOME_RESEARCH_EXPORT),
    "outcomes:completeness": needs(A.OUTCOME_COHORTS),
    "outcomes:overdue": needs(A.OUTCOME_COHORTS),
    "outcomes:prompts": needs(A.OUTCOME_VIEW),
    "outcomes:prompt": needs(A.OUTCOME_VIEW, post=A.OUTCOME_PROMPT_ACT),
    "outcomes:patient": needs(A.OUTCOME_VIEW),
    "outcomes:report": needs(A.OUTCOME_VIEW, post=A.OUTCOME_REPORT_SIGN),
    "outcomes:report_pdf": needs(A.OUTCOME_VIEW),
}
PAGE_RULES.update({f"dosing:step/{step}": rule for step, rule in SESSION_STEPS.items()})

API = "/api/v1"
API_RULES: dict[str, RouteRule] = {
    f"POST {API}/auth/token": public("exchanges a password (and one-time code) for a token; throttled"),
    f"DELETE {API}/auth/token": signed_in("revokes the token the request was sent with"),
    f"POST {API}/auth/tokens/{{token_id}}/revoke": signed_in("a user revokes one of their own API tokens"),
    f"GET {API}/smart-clients": needs(A.SMART_CLIENT_MANAGE),
    f"POST {API}/smart-clients": needs(A.SMART_CLIENT_MANAGE),
    f"POST {API}/smart-clients/{{smart_client_id}}/revoke": needs(A.SMART_CLIENT_MANAGE),
    f"GET {API}/patients": needs(A.PATIENT_LIST),
    f"GET {API}/search": needs(A.PATIENT_LIST),
    f"POST {API}/patients": needs(A.PATIENT_REGISTER),
    f"GET {API}/patients/{{patient_id}}": needs(A.PATIENT_VIEW),
    f"PATCH {API}/patients/{{patient_id}}": needs(A.PATIENT_EDIT_CONTACT),
    f"GET {API}/patients/{{patient_id}}/record": needs(A.PATIENT_VIEW_CLINICAL, narrowed_by=A.NOTE_VIEW),
    f"GET {API}/audit-events": needs(A.AUDIT_BROWSE),
    f"GET {API}/ledger/reports/dispensing-log": needs(A.LEDGER_REPORT),
    f"GET {API}/ledger/reports/inventory": needs(A.LEDGER_REPORT),
    f"GET {API}/ledger/entries": needs(A.LEDGER_VIEW),
    f"POST {API}/ledger/entries": needs(A.LEDGER_RECORD),
    f"POST {API}/ledger/lots": needs(A.LEDGER_RECORD),
    f"GET {API}/ledger/balances": needs(A.LEDGER_VIEW),
    f"GET {API}/ledger/reconciliation": needs(A.LEDGER_REPORT),
    f"GET {API}/ledger/counts": needs(A.LEDGER_VIEW),
    f"POST {API}/ledger/counts": needs(A.LEDGER_RECORD),
    f"POST {API}/ledger/investigations/{{investigation_id}}/resolve": needs(A.LEDGER_INVESTIGATE),
    f"GET {API}/ledger/clocks": needs(A.LEDGER_REPORT),
    f"POST {API}/ledger/losses/{{entry_id}}/reports": needs(A.LEDGER_INVESTIGATE),
    f"GET {API}/instruments": signed_in("the questionnaires the clinic ships: definitions, no patient data"),
    # Staff enter a response (MEASURE_ENTER); a patient answers their own (MEASURE_ANSWER).
    f"POST {API}/patients/{{patient_id}}/responses": needs(A.MEASURE_ENTER, alternative=A.MEASURE_ANSWER),
    f"GET {API}/patients/{{patient_id}}/responses": needs(A.MEASURE_VIEW),
    f"POST {API}/inquiries": needs(A.INQUIRY_MANAGE),
    f"GET {API}/inquiries": needs(A.INQUIRY_VIEW),
    f"PUT {API}/patients/{{patient_id}}/evaluation": needs(A.EVALUATION_RECORD),
    f"GET {API}/patients/{{patient_id}}/eligibility": needs(A.ELIGIBILITY_VIEW),
    f"POST {API}/patients/{{patient_id}}/eligibility-decisions": needs(A.ELIGIBILITY_DECIDE),
    f"POST {API}/patients/{{patient_id}}/referral-imports": needs(A.REFERRAL_UPLOAD),
    f"GET {API}/patients/{{patient_id}}/referral-imports": needs(A.REFERRAL_UPLOAD),
    f"GET {API}/referral-imports/{{referral_id}}": needs(A.REFERRAL_REVIEW),
    f"POST {API}/referral-imports/{{referral_id}}/choices": needs(A.REFERRAL_REVIEW),
    f"POST {API}/inquiries/{{inquiry_id}}/status": needs(A.INQUIRY_MANAGE),
    f"POST {API}/inquiries/{{inquiry_id}}/conversion": needs(A.INQUIRY_MANAGE),
    f"GET {API}/inbox": staff(
        "each member of staff's own inbox, from selectors that check their role and team", lists=A.PATIENT_LIST
    ),
    f"GET {API}/calendar-feed": signed_in("whether the caller has a calendar feed address (their own)"),
    f"POST {API}/calendar-feed": signed_in("the caller makes a new address for their own calendar feed"),
    f"DELETE {API}/calendar-feed": signed_in("the caller ends the address of their own calendar feed"),
    f"POST {API}/appointments": needs(A.APPOINTMENT_BOOK),
    f"POST {API}/appointments/{{appointment_id}}/outcome": needs(A.APPOINTMENT_BOOK),
    f"GET {API}/availability": needs(A.APPOINTMENT_BOOK),
    f"POST {API}/appointments/{{appointment_id}}/cancel": needs(A.APPOINTMENT_BOOK),
    f"POST {API}/appointments/{{appointment_id}}/no-show": needs(A.APPOINTMENT_BOOK),
    f"POST {API}/appointments/{{appointment_id}}/reschedule": needs(A.APPOINTMENT_BOOK),
    # The names for the same booking services (a dosing session is booked by scheduling it).
    f"GET {API}/calendar": needs(A.APPOINTMENT_BOOK),
    f"POST {API}/bookings": needs(A.APPOINTMENT_BOOK),
    f"POST {API}/bookings/{{appointment_id}}/cancel": needs(A.APPOINTMENT_BOOK),
    f"POST {API}/bookings/{{appointment_id}}/no-show": needs(A.APPOINTMENT_BOOK),
    f"POST {API}/bookings/{{appointment_id}}/reschedule": needs(A.APPOINTMENT_BOOK),
    f"GET {API}/consent-versions": signed_in("the published consent texts, read by patients before signing"),
    f"POST {API}/consent-versions": needs(A.CONSENT_PUBLISH),
    f"GET {API}/patients/{{patient_id}}/consents": needs(A.CONSENT_VIEW),
    # A portal signature needs CONSENT_SIGN (the patient); a clinic signature, CONSENT_WITNESS (staff).
    f"POST {API}/patients/{{patient_id}}/consents": needs(A.CONSENT_SIGN, alternative=A.CONSENT_WITNESS),
    f"POST {API}/consents/{{signature_id}}/witness": needs(A.CONSENT_WITNESS),
    f"POST {API}/consents/{{signature_id}}/withdrawal": needs(A.CONSENT_WITHDRAW),
    f"GET {API}/consents/{{signature_id}}/pdf": needs(A.CONSENT_VIEW),
    f"GET {API}/patients/{{patient_id}}/plans": needs(A.PLAN_VIEW),
    f"POST {API}/patients/{{patient_id}}/plans": needs(A.PLAN_WRITE),
    f"GET {API}/plans/{{plan_id}}": needs(A.PLAN_VIEW, object_rule=SIGNED_PLANS),
    f"PUT {API}/plans/{{plan_id}}": needs(A.PLAN_WRITE),
    f"POST {API}/plans/{{plan_id}}/sign": needs(A.PLAN_WRITE),
    f"POST {API}/dosing-sessions/{{session_id}}/schedule": needs(A.DOSING_SCHEDULE),
    f"PUT {API}/dosing-sessions/{{session_id}}/checklist": needs(A.CHECKLIST_COMPLETE),
    f"POST {API}/dosing-sessions/{{session_id}}/vitals": needs(A.SESSION_RUN),
    f"GET {API}/dosing-sessions": signed_in(
        "a day's sessions the caller may see (none for most roles)", lists=A.SESSION_VIEW
    ),
    f"POST {API}/alerts/{{alert_id}}/acknowledgement": needs(A.ALERT_ACKNOWLEDGE),
    f"POST {API}/patients/{{patient_id}}/adverse-events": needs(A.ADVERSE_EVENT_RECORD),
    f"POST {API}/adverse-events/{{event_id}}/review": needs(A.ADVERSE_EVENT_REVIEW),
    f"POST {API}/dosing-sessions/{{session_id}}/check-in": needs(A.SESSION_RUN),
    f"POST {API}/dosing-sessions/{{session_id}}/clearance-override": needs(A.DOSE_ORDER),
    f"POST {API}/dosing-sessions/{{session_id}}/orders": needs(A.DOSE_ORDER),
    f"POST {API}/dosing-sessions/{{session_id}}/administration": needs(A.SESSION_RUN),
    f"POST {API}/dosing-sessions/{{session_id}}/advance": needs(A.SESSION_RUN),
    f"POST {API}/dosing-sessions/{{session_id}}/events": needs(A.SESSION_RUN),
    f"POST {API}/dosing-sessions/{{session_id}}/discharge": needs(A.SESSION_RUN),
    f"POST {API}/dosing-sessions/{{session_id}}/stop": needs(A.SESSION_RUN),
    f"POST {API}/dosing-sessions/{{session_id}}/sign": needs(A.SESSION_RUN),
    f"POST {API}/patients/{{patient_id}}/rems-enrollments": needs(A.DOSE_ORDER),
    f"POST {API}/dosing-sessions/{{session_id}}/rems-submission": needs(A.REMS_SUBMIT),
    f"POST {API}/patients/{{patient_id}}/notes": needs(A.NOTE_WRITE),
    f"GET {API}/patients/{{patient_id}}/notes": needs(A.NOTE_VIEW),
    f"GET {API}/notes/search": needs(A.NOTE_WRITE),
    f"GET {API}/notes/{{note_id}}": needs(A.NOTE_VIEW),
    f"PATCH {API}/notes/{{note_id}}": needs(A.NOTE_WRITE, object_rule=AUTHOR_ONLY),
    f"POST {API}/notes/{{note_id}}/sign": needs(A.NOTE_WRITE, object_rule=AUTHOR_ONLY),
    f"POST {API}/notes/{{note_id}}/addenda": needs(A.NOTE_WRITE, object_rule=AUTHOR_ONLY),
    f"POST {API}/notes/{{note_id}}/cosign": needs(A.NOTE_COSIGN, object_rule="only the co-signer the author named"),
    f"POST {API}/notes/{{note_id}}/shares": needs(
        A.PROCESS_NOTE_WRITE, object_rule="only the author of a process note shares it"
    ),
    f"DELETE {API}/notes/{{note_id}}/shares/{{user_id}}": needs(
        A.PROCESS_NOTE_WRITE, object_rule="only the author of a process note shares it"
    ),
    f"GET {API}/patients/{{patient_id}}/reflections": needs(A.REFLECTION_VIEW),
    f"POST {API}/patients/{{patient_id}}/reflections": needs(A.REFLECTION_WRITE),
    f"POST {API}/reflections/{{reflection_id}}/share": needs(A.REFLECTION_WRITE),
    f"GET {API}/patients/{{patient_id}}/messages": needs(A.MESSAGE_VIEW),
    f"POST {API}/patients/{{patient_id}}/messages": needs(A.MESSAGE_SEND),
    f"GET {API}/patients/{{patient_id}}/messages/{{thread_id}}": needs(A.MESSAGE_VIEW),
    f"POST {API}/patients/{{patient_id}}/messages/{{thread_id}}/read": needs(A.MESSAGE_VIEW),
    f"POST {API}/patients/{{patient_id}}/messages/{{thread_id}}/needs-response": needs(A.MESSAGE_TRIAGE),
    f"POST {API}/patients/{{patient_id}}/messages/{{thread_id}}/{{message_id}}/safety-flag": needs(A.MESSAGE_TRIAGE),
    f"GET {API}/portal/bookings": needs(A.PORTAL_USE),
    f"POST {API}/portal/bookings/{{appointment_id}}/confirm": needs(A.BOOKING_REPLY),
    f"POST {API}/portal/bookings/{{appointment_id}}/reschedule-request": needs(A.BOOKING_REPLY),
    f"GET {API}/portal/reminder-preference": needs(A.PORTAL_USE),
    f"PUT {API}/portal/reminder-preference": needs(A.REMINDER_PREFERENCE),
    f"GET {API}/portal/reminders": needs(A.PORTAL_USE),
    f"GET {API}/patients/{{patient_id}}/goals": needs(A.PLAN_VIEW),
    f"GET {API}/patients/{{patient_id}}/coverages": needs(A.COVERAGE_VIEW),
    f"POST {API}/patients/{{patient_id}}/coverages": needs(A.COVERAGE_EDIT),
    f"GET {API}/patients/{{patient_id}}/prior-authorisations": needs(A.AUTHORISATION_VIEW),
    f"POST {API}/patients/{{patient_id}}/prior-authorisations": needs(A.AUTHORISATION_RECORD),
    f"GET {API}/payers": needs(A.BILLING_SETUP, alternative=A.COVERAGE_EDIT),
    f"POST {API}/payers": needs(A.BILLING_SETUP),
    f"GET {API}/fee-schedule": needs(A.BILLING_SETUP),
    f"POST {API}/fee-schedule": needs(A.BILLING_SETUP),
    f"GET {API}/charges": needs(A.CHARGE_VIEW, object_rule=OWN_LINES),
    f"POST {API}/charges/propose": needs(A.CHARGE_REVIEW),
    f"GET {API}/charges/{{line_id}}": needs(A.CHARGE_VIEW, object_rule=OWN_LINES),
    f"POST {API}/charges/{{line_id}}/approve": needs(A.CHARGE_REVIEW),
    f"POST {API}/charges/{{line_id}}/reject": needs(A.CHARGE_REVIEW),
    f"POST {API}/charges/{{line_id}}/correct": needs(A.CHARGE_REVIEW),
    f"POST {API}/payments": needs(A.MONEY_RECORD),
    f"GET {API}/patients/{{patient_id}}/balance": needs(A.MONEY_VIEW),
    f"GET {API}/patients/{{patient_id}}/superbill": needs(A.MONEY_VIEW),
    f"POST {API}/claims": needs(A.CLAIM_MANAGE),
    f"GET {API}/claims": needs(A.CLAIM_VIEW),
    f"GET {API}/claims/{{claim_id}}": needs(A.CLAIM_VIEW),
    f"GET {API}/claims/{{claim_id}}/837": needs(A.CLAIM_VIEW),
    f"POST {API}/claims/{{claim_id}}/mark": needs(A.CLAIM_MANAGE),
    f"POST {API}/claims/{{claim_id}}/resubmit": needs(A.CLAIM_MANAGE),
    # Posting also records money (money_entries_record checks money.record; every role with claim.manage has it).
    f"POST {API}/remittances": needs(A.CLAIM_MANAGE),
    f"POST {API}/patients/{{patient_id}}/goals/{{goal_index}}/progress": needs(A.GOAL_PROGRESS),
    f"GET {API}/patients/{{patient_id}}/outcome": needs(A.OUTCOME_VIEW),
    f"GET {API}/prompts/{{prompt_id}}": needs(A.OUTCOME_VIEW),
    f"POST {API}/prompts/{{prompt_id}}/action": needs(A.OUTCOME_PROMPT_ACT),
    f"GET {API}/outcomes/cohorts": needs(A.OUTCOME_COHORTS),
}

ROUTE_RULES: dict[str, RouteRule] = {**PAGE_RULES, **API_RULES}
