"""The patient answers a PHQ-9 on a phone, one question per screen; a suicide-risk answer shows crisis
resources at once, and the prescriber's home page shows the flag."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import axe_check, sign_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
# PHQ-9 answers by item: item 9 ("thoughts that you would be better off dead...") above 0.
ANSWERS = [
    "Several days",
    "Several days",
    "Not at all",
    "Several days",
    "Not at all",
    "Not at all",
    "Not at all",
    "Not at all",
    "Several days",
]


def test_phq9_on_a_phone_with_crisis_resources_and_a_flag_for_the_prescriber(new_context: Any, artifacts: Path) -> None:
    phone = new_context(viewport=PHONE).new_page()
    sign_in(phone, "patient2")
    expect(phone).to_have_url(re.compile(r"/portal/$"))
    phone.get_by_role("link", name="Answer: PHQ-9").click()
    progress = phone.locator("[data-progress]")
    expect(progress).to_have_text("Question 1 of 10")
    for number, answer in enumerate(ANSWERS, start=1):
        expect(progress).to_have_text(f"Question {number} of 10")
        question = phone.locator("[data-question]:visible")
        expect(question).to_have_count(1)  # one item per screen
        question.get_by_label(answer, exact=True).check()
    expect(progress).to_have_text("Question 10 of 10")
    phone.locator("[data-question]:visible").get_by_label("Somewhat difficult", exact=True).check()
    axe_check(phone, "portal-phq9-phone")
    phone.screenshot(path=str(artifacts / "portal-phq9-phone.png"), full_page=True)
    phone.get_by_role("button", name="Submit answers").click()
    crisis = phone.get_by_role("alert")
    expect(crisis).to_contain_text("988")
    expect(phone.get_by_role("link", name="Call 988")).to_have_attribute("href", "tel:988")
    axe_check(phone, "portal-crisis-phone")
    phone.screenshot(path=str(artifacts / "portal-crisis-phone.png"), full_page=True)

    desk = new_context().new_page()
    sign_in(desk, "prescriber")
    flags = desk.get_by_role("region", name="Safety flags")
    expect(flags).to_contain_text("Safety flag: Suicide risk")
    desk.screenshot(path=str(artifacts / "prescriber-safety-flag.png"), full_page=True)
    flags.get_by_label("Action taken").first.fill("Called the patient; safety plan reviewed")
    flags.get_by_role("button", name="Acknowledge").first.click()
    expect(desk.get_by_text("The safety flag was acknowledged.")).to_be_visible()


def test_portal_home_and_own_plan_on_a_phone(new_context: Any, artifacts: Path) -> None:
    """Issue 13, defect 8: the demo patient is in session 1 today; one button per questionnaire due; the plan link
    opens the patient's own plain plan page; the scores table scrolls by keyboard (no axe violation at all)."""
    phone = new_context(viewport=PHONE).new_page()
    sign_in(phone, "patient")
    expect(phone.get_by_role("region", name="Today")).to_contain_text("Session 1")
    expect(phone.get_by_role("region", name="Your upcoming sessions")).not_to_contain_text("No sessions booked yet")
    due = phone.get_by_role("region", name="Due now")
    expect(due.get_by_role("link", name="Answer: PHQ-9")).to_have_count(1)
    expect(due).not_to_contain_text("after the course")  # the follow-up waits for the course's end
    scroller = phone.get_by_role("region", name="Table of your answers")
    expect(scroller).to_have_attribute("tabindex", "0")
    violations = axe_check(phone, "portal-home-phone")
    assert violations == [], [v["id"] for v in violations]
    phone.screenshot(path=str(artifacts / "portal-home-phone.png"), full_page=True)
    phone.get_by_role("link", name="Your treatment plan and goals").click()
    expect(phone).to_have_url(re.compile(r"/portal/plan/$"))
    expect(phone.get_by_role("heading", level=1)).to_have_text("Your treatment plan")
    expect(phone.get_by_role("region", name="Your goals")).to_be_visible()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the plan page scrolls sideways ({width}px)"
    assert axe_check(phone, "portal-plan-phone") == []
    phone.screenshot(path=str(artifacts / "portal-plan-phone.png"), full_page=True)
