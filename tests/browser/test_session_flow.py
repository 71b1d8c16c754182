"""A dosing session in Chromium, on the demo clinic (issue 7's "done when"):

the nurse (on a tablet) checks the patient in, enters pre-dose vitals, and gives the dose the prescriber ordered
from the ledger with a witnessed waste; a hypertensive reading then appears on the prescriber's home page in a
second browser without a reload, and the prescriber acknowledges it with the action taken; the nurse moves the
session through monitoring and recovery, cannot discharge before the observation time, the prescriber
overrides with a reason, and the nurse signs the record.

Screenshots: test-artifacts/session-check-in-tablet.png, session-order.png, session-alert-prescriber-home.png,
session-monitoring-tablet.png, session-discharged.png.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from kapclinic.clinical.registry import SYNTHETIC_MRN_BASE, mrn_from_number
from kapclinic.demo.synthetic import DEMO_PASSWORD
from tests.browser.conftest import TABLET, axe_check, sign_in

pytestmark = pytest.mark.browser

# Demo patient 9 has an IV session scheduled later today (kapclinic/demo/dosing.py).
MRN = mrn_from_number(SYNTHETIC_MRN_BASE + 9)


def vitals(page: Page, systolic: int, diastolic: int, heart_rate: int, spo2: int) -> None:
    form = page.locator("form.vitals-form")
    form.get_by_label("Systolic").fill(str(systolic))
    form.get_by_label("Diastolic").fill(str(diastolic))
    form.get_by_label("Heart rate").fill(str(heart_rate))
    form.get_by_label("SpO₂ %").fill(str(spo2))
    form.get_by_role("button", name="Save reading").click()


def test_nurse_runs_a_session_while_the_prescriber_sees_the_alert_live(new_context: Any, artifacts: Path) -> None:
    nurse = new_context(viewport=TABLET).new_page()
    prescriber = new_context().new_page()
    sign_in(nurse, "nurse")
    sign_in(prescriber, "prescriber")

    # The nurse opens today's board on the tablet and the patient's session.
    nurse.get_by_role("link", name="Today's sessions").first.click()
    row = nurse.locator("#board-rows tr").filter(has_text=MRN)
    expect(row).to_contain_text("Scheduled")
    row.get_by_role("link").first.click()
    expect(nurse.get_by_role("heading", name="Check-in")).to_be_visible()
    nurse.get_by_label("Identity confirmed with two identifiers (name and date of birth)").check()
    nurse.get_by_label("If not complete: what is missing and how it was resolved").fill(
        "Ride home confirmed with the patient's brother by phone."
    )
    pregnancy = nurse.get_by_label("Pregnancy test", exact=False)
    if "required" in (nurse.locator("label[for=pregnancy_test]").inner_text()):
        pregnancy.select_option("negative")
    nurse.get_by_label("Today's weight (kg)").fill("91")
    nurse.screenshot(path=str(artifacts / "session-check-in-tablet.png"), full_page=True)
    axe_check(nurse, "session-check-in")
    nurse.get_by_role("button", name="Check in").click()
    expect(nurse.get_by_text("Checked in. Enter the pre-dose vitals.")).to_be_visible()

    vitals(nurse, 126, 80, 72, 98)
    expect(nurse.get_by_role("heading", name="Pre-dose clearance: CLEAR")).to_be_visible()
    session_url = nurse.url.split("#")[0]

    # The prescriber calculates the dose from the plan and today's weight, sees the working, and signs the order.
    prescriber.goto(session_url)
    prescriber.get_by_label("Product").select_option(label="Ketalar (ketamine HCl) injection 10 mg/mL (20 mL vial)")
    prescriber.get_by_role("button", name="Calculate").click()
    working = prescriber.locator("ol.working")
    expect(working).to_contain_text("91")
    expect(working).to_contain_text("mg/kg")
    prescriber.screenshot(path=str(artifacts / "session-order.png"), full_page=True)
    prescriber.get_by_role("button", name="Sign the dose order").click()
    expect(prescriber.get_by_text("Dose order signed.")).to_be_visible()

    # The prescriber goes to their home page and stays there (no reload from now on).
    prescriber.goto("/")
    expect(prescriber.get_by_role("heading", name="Prescriber")).to_be_visible()
    prescriber.wait_for_timeout(500)
    assert "Systolic BP 188" not in prescriber.content()

    # The nurse gives the dose: drawn a little more than ordered; the rest is wasted with the witness.
    nurse.reload()
    given = nurse.get_by_label("Given (mL)").input_value()
    nurse.get_by_label("Drawn (mL)").fill(f"{float(given) + 0.2:.2f}")
    nurse.get_by_label("Infusion rate (mL/h)").fill("60")
    nurse.get_by_label("Witness username").fill("prescriber")
    nurse.get_by_label("Witness password").fill(DEMO_PASSWORD)
    nurse.get_by_role("button", name="Record administration").click()
    expect(nurse.get_by_text("Administration recorded; the ledger entries are written.")).to_be_visible()
    expect(nurse.get_by_role("heading", name="Administered")).to_be_visible()

    # A hypertensive reading during the infusion.
    vitals(nurse, 188, 106, 98, 97)
    expect(nurse.locator("#alerts")).to_contain_text("Systolic BP 188")

    # ... appears on the prescriber's home page by itself (htmx polling), without a reload.
    alert = prescriber.locator("#my-alerts").filter(has_text="Systolic BP 188")
    expect(alert).to_be_visible(timeout=20_000)
    prescriber.screenshot(path=str(artifacts / "session-alert-prescriber-home.png"), full_page=True)
    alert.get_by_role("link", name="Open the session to acknowledge").first.click()
    alert_box = prescriber.locator("#alerts .alert").filter(has_text="Systolic BP 188")
    alert_box.get_by_label("Action taken").fill("Rechecked in 5 min: 172/98, asymptomatic; infusion slowed.")
    alert_box.get_by_role("button", name="Acknowledge").click()
    expect(prescriber.locator("#alerts")).not_to_contain_text("to acknowledge", timeout=10_000)

    # The nurse's panel clears by itself too; then monitoring, recovery and discharge.
    expect(nurse.locator("#alerts")).not_to_contain_text("to acknowledge", timeout=20_000)
    nurse.reload()
    # Ended minutes after it started, the 40-minute infusion was a bolus: the reason is asked and kept.
    nurse.get_by_label("Why it ended early (needed when it ran far shorter than planned)").fill(
        "Walk-through: the infusion is ended at once."
    )
    nurse.get_by_role("button", name="Infusion ended: start post-infusion monitoring").click()
    vitals(nurse, 142, 88, 80, 98)
    nurse.get_by_role("button", name="Move to recovery").click()
    expect(nurse.get_by_role("heading", name="Discharge")).to_be_visible()
    nurse.screenshot(path=str(artifacts / "session-monitoring-tablet.png"), full_page=True)
    axe_check(nurse, "session-monitoring")

    def discharge_form(page: Page) -> None:
        page.get_by_label("MOAA/S now (5 = responds readily to name)").fill("5")
        page.get_by_label("Alert and oriented").check()
        page.get_by_label("Walks steadily without help").check()
        page.get_by_label("Nausea controlled").check()
        page.get_by_label("Responsible adult present; told not to drive until tomorrow").check()
        exit_check = page.get_by_role("group", name="Exit suicide check: any new suicidal ideation?")
        exit_check.get_by_label("No", exact=True).check()
        page.get_by_label("Who is driving the patient home").fill("Brother (synthetic)")

    discharge_form(nurse)
    nurse.get_by_role("button", name="Discharge").click()
    # The observation time after the infusion is not met: only the prescriber may override.
    expect(nurse.get_by_text("Only the prescriber can override")).to_be_visible()

    prescriber.goto(session_url)
    discharge_form(prescriber)
    prescriber.get_by_label("Prescriber's reason to discharge with a criterion unmet (only if needed)").fill(
        "Demo walk-through: stable vitals, alert and walking; brother present."
    )
    prescriber.get_by_role("button", name="Discharge").click()
    expect(prescriber.get_by_text("Patient discharged.")).to_be_visible()

    nurse.goto(session_url)
    nurse.get_by_label("I have reviewed this session record; after signing it cannot be changed.").check()
    nurse.get_by_role("button", name="Sign the session record").click()
    expect(nurse.get_by_text("Session record signed.")).to_be_visible()
    expect(nurse.locator("h1")).to_contain_text("Signed")
    nurse.screenshot(path=str(artifacts / "session-discharged.png"), full_page=True)
