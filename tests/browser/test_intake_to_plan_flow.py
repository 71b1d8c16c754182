"""Issue 5, "done when", in Chromium: the whole path from a public inquiry to a signed plan with proposed sessions,
walked by the people who do it, each in their own browser context:

1. anonymous: the public inquiry form, then the thank-you;
2. coordinator: finds the inquiry, books the free consultation, converts the inquiry to a patient, records the
   consultation's outcome (proceed: the pre-screen questionnaires go to the portal), assigns the care team and
   opens the portal login (a one-time temporary password);
3. prescriber: the evaluation (ICD-10 picker, vitals, medications, two prior trials), the findings with their
   sources, the decision "Eligible";
4. patient: first sign-in, a new password, then the consent signed in the portal;
5. prescriber: the treatment plan, signed, with its 6 proposed sessions; the first one scheduled;
6. therapist: a signed preparation note;
7. patient: the preparation checklist for the first session, complete;
8. nurse: the dosing schedule shows the session with its checklist complete.

Screenshots: test-artifacts/walk-*.png. axe-core runs on the inquiry form, the eligibility page, the plan form,
the portal consent and the checklist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests.browser.conftest import axe_check, sign_in

pytestmark = pytest.mark.browser

GIVEN, FAMILY = "Juniper", "Walkthroughdemo"
FULL_NAME = f"{GIVEN} {FAMILY}"
STAFF_NAME = f"{FAMILY.upper()}, {GIVEN}"  # how staff lists and headings name a patient or an inquirer
BANNER_NAME = f"{FAMILY.upper()}, {GIVEN}"
# 555-0193 is outside the demo's 555-0101..0124 and the other browser tests' numbers: no duplicate warning.
PHONE = "(212) 555-0193"
EMAIL = "juniper.walkthroughdemo@example.test"
BIRTH_DATE = "1986-03-14"
NEW_PASSWORD = "quiet-harbour-lanterns-42"  # the synthetic patient's own new password
GOALS = ("Get out of bed before nine without dreading the day", "Enjoy cooking for my sister again")
SESSIONS = 6


@dataclass(frozen=True)
class PortalLogin:
    username: str
    temporary_password: str


def clinic_now() -> datetime:
    """Now in the clinic's time zone: the server reads date and time inputs in it."""
    return datetime.now(ZoneInfo(settings.TIME_ZONE))


def flash(page: Page) -> Locator:
    """The page's messages (Django messages, role=status)."""
    return page.locator(".messages")


def sideways_scroll(page: Page) -> int:
    """How far the page scrolls sideways (px); 0 when everything fits the window."""
    return int(page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"))


def new_page(new_context: Any) -> Page:
    context: BrowserContext = new_context()
    return context.new_page()


# 1. Anonymous ------------------------------------------------------------------------------------------------------


def send_public_inquiry(page: Page, artifacts: Path) -> None:
    page.goto("/inquire/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Ask about ketamine-assisted therapy")
    axe_check(page, "walk-public-inquiry")
    page.get_by_label("Given name").fill(GIVEN)
    page.get_by_label("Family name").fill(FAMILY)
    page.get_by_label("Phone", exact=True).fill(PHONE)
    page.get_by_label("Email", exact=True).fill(EMAIL)
    page.get_by_label(re.compile(r"^What brings")).fill(
        "Depression for three years; two antidepressants did not help. I read about ketamine."
    )
    page.get_by_label("The clinic may contact me by phone or email").check()
    page.screenshot(path=str(artifacts / "walk-1-inquiry-form.png"), full_page=True)
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you")
    expect(page.get_by_text("An intake coordinator will contact you within two working days.")).to_be_visible()
    page.screenshot(path=str(artifacts / "walk-1-inquiry-thanks.png"), full_page=True)


# 2. Coordinator ----------------------------------------------------------------------------------------------------


def open_inquiry(page: Page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Inquiries").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Inquiries")
    page.get_by_label("Name, email or phone").fill(FAMILY)
    page.get_by_role("button", name="Filter").click()
    row = page.locator("table tbody tr").filter(has_text=BANNER_NAME)
    expect(row).to_have_count(1)
    row.get_by_role("link", name=BANNER_NAME).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Inquiry: {FULL_NAME}")


def book_consultation(page: Page, starts: datetime) -> None:
    """From the inquiry: the free consultation by video with the prescriber.

    Booked before the conversion: "Book the free consultation" is offered only on an inquiry not yet converted,
    and neither the converted inquiry nor the patient's chart links to the booking page.
    """
    page.get_by_role("link", name="Book the free consultation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Book an appointment for {FULL_NAME}")
    expect(page.get_by_label("Kind")).to_have_value("consultation")
    page.get_by_label("With").select_option(label="Demo Prescriber (Prescriber)")
    page.get_by_label("Starts").fill(starts.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Length (minutes)").fill("30")
    page.get_by_label("Video", exact=True).check()
    page.get_by_label("Video link").fill("https://video.example.test/juniper-consult")
    page.get_by_role("button", name="Book").click()
    expect(flash(page)).to_contain_text("The appointment was booked.")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Free consultation: {STAFF_NAME}")
    expect(page.locator(".facts")).to_contain_text("Demo Prescriber")


def convert_to_patient(page: Page) -> int:
    """Back on the inquiry: register the inquirer as a patient; return the patient's id."""
    page.get_by_role("link", name=f"inquiry from {FULL_NAME}").click()
    expect(page.locator(".facts")).to_contain_text("Consultation booked")
    convert = page.locator("section.card", has=page.get_by_role("heading", name="Convert to a patient"))
    convert.get_by_label("Date of birth").fill(BIRTH_DATE)
    convert.get_by_role("button", name="Register as patient").click()
    page.wait_for_url(re.compile(r"/patients/\d+/$"))
    banner = page.get_by_role("region", name="Patient", exact=True)
    expect(banner.get_by_role("heading", level=1)).to_have_text(BANNER_NAME)
    expect(flash(page)).to_contain_text(re.compile(rf"{FULL_NAME} was registered with MRN K\d{{8}}"))
    match = re.search(r"/patients/(\d+)/$", page.url)
    assert match
    return int(match.group(1))


def record_consultation_outcome(page: Page) -> None:
    """From the coordinator's home (consultations today and tomorrow): proceed to evaluation."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Home").click()
    consultations = page.get_by_role("region", name="Consultations today and tomorrow")
    consultations.get_by_role("link", name=re.compile(STAFF_NAME)).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Free consultation: {STAFF_NAME}")
    outcome = page.locator("section.card", has=page.get_by_role("heading", name="Outcome of the consultation"))
    outcome.get_by_label("Proceed to evaluation").check()
    expect(outcome.get_by_label("Send the pre-screen questionnaires to the patient's portal")).to_be_checked()
    outcome.get_by_role("button", name="Record outcome").click()
    expect(flash(page)).to_contain_text("The consultation's outcome was recorded.")
    expect(page.locator(".facts")).to_contain_text("Done: Proceed to evaluation")


def assign_care_team(page: Page, patient_id: int) -> None:
    """On the chart's "Care team" card: one form per role (prescriber, nurse, therapist)."""
    page.goto(f"/patients/{patient_id}/")
    members = {"prescriber": "Demo Prescriber", "nurse": "Demo Nurse", "therapist": "Demo Therapist"}
    for role, member in members.items():
        team = page.get_by_role("region", name="Care team")
        form = team.locator("form").filter(has=page.locator(f"#team-{role}"))
        form.get_by_label(role.capitalize(), exact=True).select_option(label=member)
        form.get_by_role("button", name="Assign").click()
        expect(flash(page)).to_contain_text("The care team was updated.")
    team = page.get_by_role("region", name="Care team")
    for role, member in members.items():
        expect(team.locator(f"#team-{role} option:checked")).to_have_text(member)
    expect(team).not_to_contain_text("not assigned")


def open_portal_login(page: Page, artifacts: Path) -> PortalLogin:
    portal = page.get_by_role("region", name="Portal login")
    expect(portal.get_by_label("Username for the patient")).to_have_value(EMAIL)
    portal.get_by_role("button", name="Open portal login").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Portal login opened")
    username = page.locator("#portal-username-value").inner_text().strip()
    temporary = page.locator("#portal-temporary-password").inner_text().strip()
    assert username == EMAIL
    assert len(temporary) >= 8, f"temporary password {temporary!r} looks too short"
    page.screenshot(path=str(artifacts / "walk-2-portal-login-opened.png"), full_page=True)
    return PortalLogin(username, temporary)


# 3. Prescriber: evaluation and eligibility -------------------------------------------------------------------------


def add_diagnosis_with_picker(page: Page, code: str) -> None:
    search = page.get_by_label("Find an ICD-10-CM code to add to the diagnoses")
    search.press_sequentially(code[:3], delay=40)
    # htmx fills the datalist; choosing an option puts its value (the code) into the box.
    expect(page.locator(f"#icd10-options option[value='{code}']")).to_be_attached(timeout=15_000)
    search.fill(code)
    page.get_by_role("button", name="Add to diagnoses").click()
    expect(page.get_by_label("Diagnoses (ICD-10-CM codes, one per line)")).to_have_value(code)
    expect(search).to_have_value("")


def fill_trial(page: Page, number: int, drug: str, dose: str, weeks: str, response: str) -> None:
    page.get_by_label(f"Drug, trial {number}", exact=True).fill(drug)
    page.get_by_label(f"Dose, trial {number}", exact=True).fill(dose)
    page.get_by_label(f"Weeks, trial {number}", exact=True).fill(weeks)
    page.get_by_label(f"Response, trial {number}", exact=True).select_option(label=response)
    page.get_by_label(f"Adequate dose?, trial {number}", exact=True).select_option(label="Yes")
    page.get_by_label(f"Current episode?, trial {number}", exact=True).select_option(label="Yes")


def evaluate_and_decide(page: Page, patient_id: int, artifacts: Path, problems: list[str]) -> None:
    page.goto(f"/patients/{patient_id}/")
    page.get_by_role("link", name="Open the evaluation and eligibility screen").click()
    expect(page).to_have_url(re.compile(rf"/intake/patients/{patient_id}/eligibility/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Evaluation and eligibility")
    expect(page.get_by_role("region", name="Decision")).to_contain_text("No decision yet.")

    add_diagnosis_with_picker(page, "F33.1")
    page.get_by_label("Pregnancy", exact=True).select_option("not_pregnant")
    page.get_by_label("Breastfeeding", exact=True).select_option(label="No")
    page.get_by_label(re.compile(r"^Weight \(kg\)")).fill("64")
    page.get_by_label(re.compile(r"^Height \(cm\)")).fill("168")
    page.get_by_label(re.compile(r"^Systolic blood pressure")).fill("118")
    page.get_by_label(re.compile(r"^Diastolic blood pressure")).fill("76")
    page.get_by_label(re.compile(r"^Heart rate")).fill("68")
    page.get_by_label("Medications (one per line)").fill("sertraline 150 mg daily")
    page.get_by_label("No known drug allergies").check()
    page.get_by_label("Psychosis", exact=True).select_option("none")
    page.get_by_label("Mood", exact=True).select_option("none")
    page.get_by_label("Ketamine misuse", exact=True).select_option("none")
    page.get_by_label("Uncontrolled hypertension", exact=True).select_option(label="No")
    page.get_by_label("Aneurysmal vascular disease", exact=True).select_option(label="No")
    fill_trial(page, 1, "sertraline", "150 mg/day", "10", "No response")
    fill_trial(page, 2, "bupropion", "300 mg/day", "8", "Partial response")
    page.get_by_role("button", name="Save evaluation").click()

    expect(flash(page)).to_contain_text("The evaluation was saved; the findings below are up to date.")
    expect(page.get_by_label("Diagnoses (ICD-10-CM codes, one per line)")).to_have_value("F33.1")
    expect(page.get_by_label("Drug, trial 2", exact=True)).to_have_value("bupropion")
    expect(page.locator("#trials-hint")).to_contain_text("treatment-resistant")
    # Nothing in the evaluation contraindicates; the findings left name missing information, each with its source.
    expect(page.get_by_role("heading", name="✕ Absolute contraindications (0)")).to_be_visible()
    expect(page.get_by_role("heading", name="⚠ Relative contraindications and precautions (0)")).to_be_visible()
    missing = page.get_by_role("region", name=re.compile(r"^\? Missing information"))
    expect(missing.locator(".finding").first).to_contain_text("Source:")
    expect(missing).not_to_contain_text("Aneurysmal vascular disease")  # answered "No"
    axe_check(page, "walk-eligibility")
    if (overflow := sideways_scroll(page)) > 0:
        problems.append(f"the eligibility page scrolls sideways by {overflow}px at 1280px wide ({page.url})")
    page.screenshot(path=str(artifacts / "walk-3-eligibility-findings.png"), full_page=True)

    decision = page.get_by_role("region", name="Decision")
    decision.get_by_label("Eligible", exact=True).check()
    decision.get_by_role("button", name="Record decision").click()
    expect(flash(page)).to_contain_text("The eligibility decision was recorded.")
    expect(page.get_by_role("region", name="Decision")).to_contain_text("Current: Eligible by Demo Prescriber")


# 4. Patient: first sign-in and consent -----------------------------------------------------------------------------


def first_sign_in(page: Page, login: PortalLogin, artifacts: Path) -> None:
    sign_in(page, login.username, login.temporary_password)
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    page.screenshot(path=str(artifacts / "walk-4-portal-new-password.png"), full_page=True)
    page.get_by_label(re.compile(r"^(Old|Temporary|Current) password")).fill(login.temporary_password)
    page.get_by_label(re.compile(r"^New password\W*$")).fill(NEW_PASSWORD)
    page.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page).to_have_url(re.compile(r"/portal/$"))
    expect(flash(page)).to_contain_text("Your password was changed.")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Hello, {GIVEN}")
    # The consultation's outcome sent the pre-screen questionnaires.
    expect(page.get_by_role("region", name="Due now")).to_contain_text("Pre-screen")


def sign_consent(page: Page, artifacts: Path) -> None:
    page.get_by_role("link", name="Read, sign or download your consent").click()
    expect(page).to_have_url(re.compile(r"/portal/consent/$"))
    page.get_by_role("link", name="Read and sign the consent").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Read and sign your consent")
    axe_check(page, "walk-portal-consent")
    risks = page.locator("#consent-risks input[type=checkbox]")
    assert risks.count() >= 1, "the consent shows no key risks to tick"
    for box in risks.all():
        box.check()
    page.get_by_label("Type your full legal name to sign").fill(FULL_NAME)
    page.screenshot(path=str(artifacts / "walk-4-portal-consent-signing.png"), full_page=True)
    page.get_by_role("button", name="Sign the consent").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("What you signed")
    expect(flash(page)).to_contain_text("Thank you: your consent is signed.")
    expect(page.locator(".facts").first).to_contain_text(FULL_NAME)
    expect(page.get_by_role("region", name="Key risks you ticked")).not_to_contain_text("not ticked")
    page.screenshot(path=str(artifacts / "walk-4-portal-consent-signed.png"), full_page=True)


# 5. Prescriber: the treatment plan ---------------------------------------------------------------------------------


def write_and_sign_plan(
    page: Page, patient_id: int, first_session: datetime, artifacts: Path, problems: list[str]
) -> None:
    page.goto(f"/patients/{patient_id}/plans/new/")
    expect(page.get_by_role("heading", level=1)).to_have_text("New treatment plan")
    code = page.get_by_label("Indication (ICD-10-CM)")
    code.fill("")
    code.press_sequentially("F33.1", delay=40)
    expect(page.locator("#icd10-options option[value='F33.1']")).to_be_attached(timeout=15_000)
    page.get_by_label(re.compile(r"^Indication\W*$")).fill("Major depressive disorder, recurrent, moderate")
    page.get_by_label("Route").select_option("iv")
    page.get_by_label("Starting dose").fill("0.5")
    page.get_by_label("Frequency").select_option(label="Twice weekly (e.g. Monday and Thursday)")
    page.get_by_label("Session count").fill(str(SESSIONS))
    page.get_by_label("First session on").fill(first_session.strftime("%Y-%m-%d"))
    page.get_by_label("Session time").fill(first_session.strftime("%H:%M"))
    page.get_by_label("Therapist").select_option(label="Demo Therapist")
    page.get_by_label("Goals, in the patient's words (one per line)").fill("\n".join(GOALS))
    axe_check(page, "walk-plan-form")
    page.screenshot(path=str(artifacts / "walk-5-plan-form.png"), full_page=True)
    if (overflow := sideways_scroll(page)) > 0:
        problems.append(f"the plan form scrolls sideways by {overflow}px at 1280px wide ({page.url})")
    page.get_by_role("button", name="Save draft").click()

    expect(flash(page)).to_contain_text("The draft plan was saved.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Draft")
    plan = page.get_by_role("region", name=re.compile("Major depressive disorder"))
    expect(plan).to_contain_text("(F33.1)")
    expect(plan).to_contain_text("0.5 mg/kg")
    expect(plan).to_contain_text(f"“{GOALS[0]}”")
    sign = page.locator("form.card--confirm")
    expect(sign.locator("ol li")).to_have_count(SESSIONS)
    sign.get_by_label("I have reviewed this plan and sign it as the prescriber.").check()
    sign.get_by_role("button", name="Sign plan").click()

    expect(flash(page)).to_contain_text("The plan is signed; its dosing sessions are proposed on the calendar.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Signed")
    sessions = page.get_by_role("region", name="Dosing sessions")
    expect(sessions.locator(".error-summary")).to_have_count(0)  # consent, eligibility, signed plan: no blocker
    rows = sessions.locator("tbody tr")
    expect(rows).to_have_count(SESSIONS)
    for row in rows.all():
        expect(row).to_contain_text("Proposed")
    expect(rows.first).to_contain_text(first_session.strftime("%a, %b %-d, %Y, %H:%M"))

    first = rows.first
    first.get_by_label("Chair or room for session 1").select_option(label="Chair 3")
    first.get_by_label("Nurse for session 1").select_option(label="Demo Nurse")
    first.get_by_role("button", name="Schedule").click()
    expect(flash(page)).to_contain_text("Session 1 is scheduled; the checklist is now in the patient's portal.")
    first = page.get_by_role("region", name="Dosing sessions").locator("tbody tr").first
    expect(first).to_contain_text("Scheduled")
    expect(first).to_contain_text("Chair 3 · Demo Nurse")
    expect(first).to_contain_text("not started")
    expect(page.get_by_role("region", name="Dosing sessions").locator("tbody tr").nth(1)).to_contain_text("Proposed")
    page.screenshot(path=str(artifacts / "walk-5-plan-signed-sessions.png"), full_page=True)


# 6. Therapist: the preparation note --------------------------------------------------------------------------------


def write_preparation_note(page: Page, patient_id: int) -> None:
    page.goto(f"/patients/{patient_id}/notes/")
    expect(page.get_by_role("heading", name="Therapy notes")).to_be_visible()
    expect(page.get_by_role("region", name="Patient", exact=True)).to_contain_text(BANNER_NAME)
    page.get_by_role("button", name="New preparation session").click()
    expect(page.get_by_role("group", name="Preparation session")).to_be_visible()
    page.get_by_label("Intentions").fill("To feel less stuck; to find the part of me that likes mornings.")
    page.get_by_label("Expectations discussed").fill("Dissociation, time distortion, nausea; it passes in an hour.")
    page.get_by_label("Safety plan").fill("Stop word 'pause'; hand raised for support; sister on call.")
    page.get_by_label("Support at home").fill("Her sister drives her home and stays the evening.")
    page.get_by_role("button", name="Sign note").click()
    expect(page.get_by_text("The note is signed.")).to_be_visible()
    expect(page.get_by_text("✓ Signed by Demo Therapist")).to_be_visible()
    expect(page.get_by_text("Stop word 'pause'")).to_be_visible()


# 7. Patient: the preparation checklist -----------------------------------------------------------------------------


def complete_checklist(page: Page, last_ate: datetime, artifacts: Path) -> None:
    sessions = page.get_by_role("region", name="Your upcoming sessions")
    expect(sessions).to_contain_text("· Chair 3")
    sessions.get_by_role("link", name="Complete the checklist before session 1").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Before your session")
    axe_check(page, "walk-portal-checklist")
    page.get_by_label("When did you last eat?").fill(last_ate.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("I have held my medications as my prescriber instructed").check()
    page.get_by_label("Who is driving you home?").fill("Rowan Walkthroughdemo (sister)")
    page.get_by_label("Their phone number").fill("(212) 555-0194")
    page.get_by_label("I will not drive or operate machinery until the next day, after sleep").check()
    page.screenshot(path=str(artifacts / "walk-7-portal-checklist.png"), full_page=True)
    page.get_by_role("button", name="Save my checklist").click()
    expect(page).to_have_url(re.compile(r"/portal/$"))
    expect(flash(page)).to_contain_text("Thank you: your checklist is saved.")
    sessions = page.get_by_role("region", name="Your upcoming sessions")
    expect(sessions.get_by_role("link", name="Review the checklist before session 1")).to_be_visible()
    expect(sessions.locator(".badge")).to_have_text("complete")
    page.screenshot(path=str(artifacts / "walk-7-portal-home-checklist-complete.png"), full_page=True)


# 8. Nurse: the dosing schedule -------------------------------------------------------------------------------------


def nurse_sees_the_session(page: Page, first_session: datetime, artifacts: Path) -> None:
    page.goto("/dosing/schedule/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Dosing schedule")
    # The proposed sessions of the coming days are listed too; the first one is the scheduled one.
    rows = page.locator("tbody tr").filter(has_text=BANNER_NAME)
    expect(rows.first).to_be_visible()
    row = rows.filter(has_text=f"1 of {SESSIONS}")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(first_session.strftime("%a, %b %-d, %Y, %H:%M"))
    expect(row).to_contain_text("Scheduled")
    expect(row.locator(".badge--ok")).to_have_text("complete")
    expect(row).to_contain_text("Chair 3")
    expect(row).to_contain_text("Demo Nurse / Demo Therapist")
    page.screenshot(path=str(artifacts / "walk-8-dosing-schedule.png"), full_page=True)


def test_from_public_inquiry_to_signed_plan_with_sessions(new_context: Any, artifacts: Path) -> None:
    now = clinic_now()
    tomorrow = (now + timedelta(days=1)).replace(second=0, microsecond=0)
    consultation = tomorrow.replace(hour=15, minute=0)
    # The first dosing session is tomorrow (not a few days ahead): the checklist refuses a "last ate" time more
    # than two days before the session, and it cannot be in the future either. With the session tomorrow at
    # 11:00, "three hours ago" is always accepted, whatever the time of day the test runs.
    first_session = tomorrow.replace(hour=11, minute=0)
    last_ate = now - timedelta(hours=3)
    # Layout problems do not stop the walk: they are collected and reported at the end.
    problems: list[str] = []

    send_public_inquiry(new_page(new_context), artifacts)

    coordinator = new_page(new_context)
    sign_in(coordinator, "coordinator")
    open_inquiry(coordinator)
    book_consultation(coordinator, consultation)
    patient_id = convert_to_patient(coordinator)
    record_consultation_outcome(coordinator)
    assign_care_team(coordinator, patient_id)
    login = open_portal_login(coordinator, artifacts)

    prescriber = new_page(new_context)
    sign_in(prescriber, "prescriber")
    evaluate_and_decide(prescriber, patient_id, artifacts, problems)

    patient = new_page(new_context)
    first_sign_in(patient, login, artifacts)
    sign_consent(patient, artifacts)

    write_and_sign_plan(prescriber, patient_id, first_session, artifacts, problems)

    therapist = new_page(new_context)
    sign_in(therapist, "therapist")
    write_preparation_note(therapist, patient_id)

    patient_again = new_page(new_context)
    sign_in(patient_again, login.username, NEW_PASSWORD)
    expect(patient_again).to_have_url(re.compile(r"/portal/$"))
    complete_checklist(patient_again, last_ate, artifacts)

    nurse = new_page(new_context)
    sign_in(nurse, "nurse")
    nurse_sees_the_session(nurse, first_session, artifacts)

    assert problems == [], "; ".join(problems)
