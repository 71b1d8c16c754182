"""Psychotherapy end to end in Chromium, on the demo clinic:

1. the demo patient writes a post-session reflection in the portal journal on a phone and shares it;
2. the therapist writes an integration note beside that shared reflection (autosaved, kept across a
   reload), signs it, and adds an addendum that shows beneath it;
3. the therapist's private process note is closed to a colleague off the team (therapist2) and to the
   team's own prescriber.

Screenshots: test-artifacts/portal-journal-phone.png, therapy-integration-note.png,
therapy-note-signed.png, therapy-process-note-refused.png.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from kapclinic.clinical.registry import SYNTHETIC_MRN_BASE, mrn_from_number
from tests.browser.conftest import axe_check, sign_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
REFLECTION = "Walking home I noticed the trees again. I want to keep the slow mornings."
PROCESS_TEXT = "I noticed I wanted to rescue her"


def open_notes(page: Page) -> None:
    """Open the therapy notes of demo patient 1 (Aspen Example, portal login "patient") through the search."""
    mrn = mrn_from_number(SYNTHETIC_MRN_BASE + 1)
    page.goto(f"/patients/?q={mrn}")
    page.locator("#results tbody tr").filter(has_text=mrn).get_by_role("link").first.click()
    expect(page.locator(".patient-banner")).to_contain_text(mrn)
    page.goto(page.url.rstrip("/") + "/notes/")
    expect(page.get_by_role("heading", name="Therapy notes")).to_be_visible()


def test_journal_on_a_phone_then_an_integration_note_beside_it_signed_and_amended(
    new_context: Any, artifacts: Path
) -> None:
    phone = new_context(viewport=PHONE).new_page()
    sign_in(phone, "patient")
    phone.get_by_role("link", name="Open my journal").click()
    expect(phone.get_by_role("heading", name="Journal and reflections")).to_be_visible()
    phone.get_by_label("Reflection after a session").check()
    phone.get_by_label("A question to start from (optional)").select_option(label="What stood out for you?")
    phone.get_by_label("Your entry").fill(REFLECTION)
    phone.get_by_label("Share this with my therapist").check()
    phone.get_by_role("button", name="Save entry").click()
    expect(phone.get_by_text("Saved and shared with your therapist.")).to_be_visible()
    entry = phone.locator(".journal-entry").filter(has_text=REFLECTION)
    expect(entry).to_contain_text("Shared with your therapist")
    expect(phone.locator(".journal-entry").filter(has_text="Bad night")).to_contain_text("Only you can read this")
    # Phone-sized: nothing wider than the screen.
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    axe_check(phone, "portal-journal-phone")
    phone.screenshot(path=str(artifacts / "portal-journal-phone.png"), full_page=True)

    desk = new_context().new_page()
    sign_in(desk, "therapist")
    open_notes(desk)
    desk.get_by_role("button", name="New integration session").click()
    expect(desk.get_by_role("heading", name="Integration session")).to_be_visible()
    beside = desk.get_by_role("region", name="Shared by the patient")
    expect(beside).to_contain_text(REFLECTION)
    expect(beside).to_contain_text("warm kitchen")  # the demo's earlier shared reflection
    expect(beside).not_to_contain_text("Bad night")  # the private journal entry
    desk.get_by_label("What the patient reported").fill("Trees again on the walk home; slow mornings matter.")
    desk.get_by_label("Coping strategies agreed").fill("Five minutes of sketching before messages.")
    expect(desk.locator("#autosave-status")).to_contain_text("Draft saved", timeout=10_000)
    desk.reload()  # nothing typed is lost
    expect(desk.get_by_label("What the patient reported")).to_have_value(
        "Trees again on the walk home; slow mornings matter."
    )
    axe_check(desk, "therapy-integration-note")
    desk.screenshot(path=str(artifacts / "therapy-integration-note.png"), full_page=True)
    # Typed less than a second before signing: the pending draft save must neither be lost nor make the
    # author's own signature fail as "changed in another window".
    desk.get_by_label("Risk assessment").fill("No suicidal ideation; safety plan reviewed.")
    desk.get_by_role("button", name="Sign note").click()
    expect(desk.get_by_text("The note is signed.")).to_be_visible()
    expect(desk.get_by_text("✓ Signed by Demo Therapist")).to_be_visible()
    expect(desk.get_by_text("No suicidal ideation; safety plan reviewed.")).to_be_visible()
    expect(desk.get_by_role("button", name="Sign note")).to_have_count(0)

    desk.get_by_role("button", name="Add addendum").click()  # no reason: refused, nothing added
    expect(desk.locator(".error-summary")).to_contain_text("Say why the note is being amended.")
    desk.get_by_label("Why is the note being amended?").fill("Information received after signing")
    desk.get_by_label("Addendum", exact=True).fill("She emailed: two more slow mornings this week.")
    desk.get_by_role("button", name="Add addendum").click()
    addenda = desk.get_by_role("region", name="Addenda")
    expect(addenda).to_contain_text("Addendum by Demo Therapist")
    expect(addenda).to_contain_text("Reason: Information received after signing")
    expect(addenda).to_contain_text("two more slow mornings")
    axe_check(desk, "therapy-note-signed")
    desk.screenshot(path=str(artifacts / "therapy-note-signed.png"), full_page=True)


def test_a_colleague_cannot_see_the_process_note(new_context: Any, artifacts: Path) -> None:
    author = new_context().new_page()
    sign_in(author, "therapist")
    # The demo's integration draft was started four days ago: past the three-day limit, flagged at home.
    expect(author.get_by_role("region", name="Notes to sign")).to_contain_text("⚠ unsigned for 4")
    director = new_context().new_page()
    sign_in(director, "director")
    expect(director.get_by_role("region", name="Unsigned therapy notes")).to_contain_text("Demo Therapist")
    open_notes(author)
    row = author.locator("tbody tr").filter(has_text="Psychotherapy process note (private)")
    expect(row).to_have_count(1)
    href = row.get_by_role("link").get_attribute("href")
    assert href and re.fullmatch(r"/notes/\d+/", href)
    author.screenshot(path=str(artifacts / "therapy-notes-list.png"), full_page=True)
    axe_check(author, "therapy-notes-list")
    author.goto(href)
    expect(author.get_by_text(PROCESS_TEXT)).to_be_visible()
    expect(author.get_by_role("region", name="Who can read this process note")).to_contain_text("Nobody else")

    colleague = new_context().new_page()
    sign_in(colleague, "therapist2")
    colleague.goto(href)
    expect(colleague.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(colleague.get_by_text("only its author and the colleagues they share it with")).to_be_visible()
    expect(colleague.get_by_text(PROCESS_TEXT)).to_have_count(0)
    axe_check(colleague, "therapy-process-note-refused")
    colleague.screenshot(path=str(artifacts / "therapy-process-note-refused.png"), full_page=True)

    # The team's prescriber reads the signed integration notes, but neither sees nor opens the process note.
    prescriber = new_context().new_page()
    sign_in(prescriber, "prescriber")
    open_notes(prescriber)
    expect(prescriber.locator("tbody tr").filter(has_text="Integration session").first).to_be_visible()
    expect(prescriber.locator("tbody tr").filter(has_text="Psychotherapy process note")).to_have_count(0)
    prescriber.goto(href)
    expect(prescriber.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(prescriber.get_by_text(PROCESS_TEXT)).to_have_count(0)
