"""End to end in Chromium: intake by the coordinator, the director's audit trail, each role's start page.

Screenshots go to test-artifacts/ (chart.png, chart-tablet.png, audit-log.png, home-<role>.png);
axe-core runs on the main pages and fails the test on serious or critical violations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from kapclinic.clinical.registry import SYNTHETIC_MRN_BASE, mrn_from_number
from tests.browser.conftest import TABLET, axe_check, sign_in

pytestmark = pytest.mark.browser

MRN_PATTERN = re.compile(r"K\d{8}")


@dataclass(frozen=True)
class NewPatient:
    given: str
    family: str
    birth_date: str  # YYYY-MM-DD, as a date input takes it
    phone: str
    email: str

    @property
    def banner_name(self) -> str:
        return f"{self.family.upper()}, {self.given}"

    @property
    def list_name(self) -> str:
        return f"{self.family}, {self.given}"


# Phones 555-0187/0188 are outside the demo's 555-0101..0124, so no duplicate warning is raised.
QUINCE = NewPatient("Quince", "Browsertest", "1987-06-21", "(212) 555-0187", "quince.browsertest@example.test")
SUMAC = NewPatient("Sumac", "Audittrail", "1979-11-02", "(212) 555-0188", "sumac.audittrail@example.test")


# Text in a card that reaches past the card's right edge (it is clipped or drawn over its neighbour).
_SPILLING_OUT_OF_CARDS = """() => [...document.querySelectorAll('.card')].flatMap(card => {
  const right = card.getBoundingClientRect().right + 0.5;
  return [...card.querySelectorAll('dt, dd, p, h2, td, th')]
    .filter(el => el.getBoundingClientRect().right > right)
    .map(el => el.textContent.trim().replace(/\\s+/g, ' ').slice(0, 60));
})"""


def open_demo_chart(page: Page, serial: int = 1) -> str:
    """Open the chart of a demo patient (every detail filled in) through the search; return its MRN."""
    mrn = mrn_from_number(SYNTHETIC_MRN_BASE + serial)
    page.goto(f"/patients/?q={mrn}")
    page.locator("#results tbody tr").filter(has_text=mrn).get_by_role("link").click()
    page.wait_for_url(re.compile(r"/patients/\d+/$"))
    expect(page.get_by_role("region", name="Patient")).to_contain_text(mrn)
    return mrn


def register_patient(page: Page, patient: NewPatient, *, check_a11y: bool = False) -> str:
    """Register `patient` through the form as the signed-in user; return the MRN shown on the chart."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Register patient").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Register a patient")
    if check_a11y:
        axe_check(page, "register")
    page.get_by_label("Given name").fill(patient.given)
    page.get_by_label("Family name").fill(patient.family)
    page.get_by_label("Date of birth").fill(patient.birth_date)
    page.get_by_label("Phone", exact=True).fill(patient.phone)
    page.get_by_label("Email", exact=True).fill(patient.email)
    page.get_by_role("button", name="Register patient").click()

    page.wait_for_url(re.compile(r"/patients/\d+/$"))
    banner = page.get_by_role("region", name="Patient")
    expect(banner.get_by_role("heading", level=1)).to_have_text(patient.banner_name)
    mrn = banner.locator("dt:text-is('MRN') + dd").inner_text().strip()
    assert MRN_PATTERN.fullmatch(mrn), f"banner MRN {mrn!r} is not K + 8 digits"
    expect(page.get_by_role("status")).to_contain_text(
        f"{patient.given} {patient.family} was registered with MRN {mrn}"
    )
    return mrn


def search_and_open(page: Page, patient: NewPatient) -> None:
    """On the patient list, type into the live search and open the chart from the result row."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Patients")
    # A marker on window survives an htmx swap but not a full page load.
    page.evaluate("window.__noReload = true")
    page.locator("main").get_by_role("searchbox").press_sequentially(patient.family, delay=30)
    row_link = page.locator("#results").get_by_role("link", name=patient.list_name)
    expect(row_link).to_be_visible()
    expect(page.locator("#results .result-count")).to_contain_text(f"matching “{patient.family}”")
    assert page.evaluate("window.__noReload === true"), "the search reloaded the page instead of using htmx"
    expect(page).to_have_url(re.compile(rf"/patients/\?q={patient.family}$"))  # hx-push-url
    row_link.click()
    page.wait_for_url(re.compile(r"/patients/\d+/$"))
    expect(page.get_by_role("region", name="Patient").get_by_role("heading", level=1)).to_have_text(patient.banner_name)


def test_coordinator_registers_finds_and_opens_a_patient(page: Page, artifacts: Path) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    axe_check(page, "login")
    sign_in(page, "coordinator")
    expect(page.get_by_role("heading", level=1)).to_have_text("Intake")

    mrn = register_patient(page, QUINCE, check_a11y=True)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    axe_check(page, "patient-list")
    search_and_open(page, QUINCE)
    banner = page.get_by_role("region", name="Patient")
    expect(banner).to_contain_text(mrn)
    details = page.locator("section.card", has=page.get_by_role("heading", name="Details")).locator(".facts")
    expect(details).to_contain_text(QUINCE.phone)
    expect(details).to_contain_text(QUINCE.email)
    axe_check(page, "chart")
    page.screenshot(path=str(artifacts / "chart.png"), full_page=True)


def test_director_sees_the_coordinators_events_in_the_audit_log(new_context: Any, artifacts: Path) -> None:
    coordinator = new_context().new_page()
    sign_in(coordinator, "coordinator")
    mrn = register_patient(coordinator, SUMAC)
    search_and_open(coordinator, SUMAC)  # a patient.view by the coordinator

    director = new_context().new_page()
    sign_in(director, "director")
    expect(director.get_by_role("heading", level=1)).to_have_text("Clinic director")
    director.goto(f"/audit/?patient={mrn}")
    expect(director.get_by_role("heading", level=1)).to_have_text("Audit log")
    expect(director.get_by_label("Patient (name, MRN or id)")).to_have_value(mrn)

    rows = director.locator("table.table--dense tbody tr")
    expect(rows.first).to_be_visible()
    for row_text in rows.all_inner_texts():
        assert mrn in row_text, f"an audit row for another patient is shown: {row_text!r}"
    for action in ("patient.register", "patient.view"):
        row = rows.filter(has=director.locator(f'td[title="{action}"]'))  # the action in words, its code as a title
        coordinator_row = row.filter(has_text="coordinator")
        expect(coordinator_row.first).to_be_visible()
        expect(coordinator_row.first).to_contain_text("Allowed")
    axe_check(director, "audit-log")
    director.screenshot(path=str(artifacts / "audit-log.png"), full_page=True)


ROLES = ("coordinator", "prescriber", "nurse", "therapist", "director", "auditor", "patient")


def test_each_role_has_its_own_home_page(new_context: Any, artifacts: Path) -> None:
    headings: dict[str, str] = {}
    for role in ROLES:
        page = new_context().new_page()
        sign_in(page, role)
        page.goto("/")
        heading = page.get_by_role("heading", level=1)
        expect(heading).to_be_visible()
        headings[role] = heading.inner_text().strip()
        if role == "patient":
            expect(page).to_have_url(re.compile(r"/portal/$"))
            assert headings[role].startswith("Hello, ")
        else:
            expect(page).not_to_have_url(re.compile(r"/portal/"))
        page.screenshot(path=str(artifacts / f"home-{role}.png"), full_page=True)
    assert len(set(headings.values())) == len(ROLES), f"two roles share a home page heading: {headings}"


def test_chart_on_a_tablet(new_context: Any, artifacts: Path) -> None:
    page = new_context(viewport=TABLET).new_page()
    sign_in(page, "coordinator")
    open_demo_chart(page)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the chart scrolls sideways by {overflow}px at {TABLET['width']}px wide"
    assert page.evaluate(_SPILLING_OUT_OF_CARDS) == []
    axe_check(page, "chart-tablet")
    page.screenshot(path=str(artifacts / "chart-tablet.png"), full_page=True)


def test_chart_details_stay_inside_their_cards_on_desktop(page: Page) -> None:
    sign_in(page, "coordinator")
    open_demo_chart(page)
    assert page.evaluate(_SPILLING_OUT_OF_CARDS) == []
