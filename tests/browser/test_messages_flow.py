"""The patient writes to their care team on a phone (told that messages are not for emergencies); the therapist
finds it in their inbox, answers it and turns a worrying message into a safety flag."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import axe_check, sign_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def test_a_patient_writes_on_a_phone_and_the_therapist_answers_and_flags(new_context: Any, artifacts: Path) -> None:
    phone = new_context(viewport=PHONE).new_page()
    sign_in(phone, "patient")
    phone.get_by_role("link", name="Open my messages").click()
    expect(phone).to_have_url(re.compile(r"/portal/messages/$"))
    notice = phone.get_by_role("complementary", name="Messages are not for emergencies")
    expect(notice).to_contain_text("988")
    expect(phone.get_by_role("link", name="Call 988")).to_have_attribute("href", "tel:988")
    # Nothing staff-only is listed; the demo's conversation with the therapist is.
    expect(phone.get_by_role("link", name="Dreams since the last session (synthetic demo)")).to_be_visible()
    expect(phone.get_by_text("Tired at check-in")).to_have_count(0)
    phone.get_by_role("button", name="Send").click()  # empty: refused next to the field
    expect(phone.get_by_text("Write a message before sending.").first).to_be_visible()
    phone.get_by_label("What is it about?").fill("Hard week")
    phone.get_by_label("Your message").fill("<b>Rough</b> week; some days I wonder what the point is.")
    axe_check(phone, "portal-messages-phone")
    phone.get_by_role("button", name="Send").click()
    expect(phone.get_by_text("<b>Rough</b> week", exact=False)).to_be_visible()  # shown as typed, not as markup
    phone.screenshot(path=str(artifacts / "portal-message-phone.png"), full_page=True)

    desk = new_context().new_page()
    sign_in(desk, "therapist")
    desk.get_by_role("navigation", name="Main").get_by_role(
        "link", name=re.compile(r"^Messages\b")
    ).click()  # "Messages: 2 unread"
    desk.get_by_role("link", name="Hard week").click()
    desk.get_by_role("button", name="Mark as needing a clinical response").click()
    expect(desk.get_by_text("Needs a clinical response").first).to_be_visible()
    desk.get_by_text("Raise a safety flag from this message").click()
    desk.get_by_label("Why does this message need a safety flag?").fill("Hopelessness in a message; call today.")
    desk.get_by_role("button", name=re.compile("^Raise safety flag")).click()
    expect(desk.get_by_text("Safety flag raised").first).to_be_visible()
    axe_check(desk, "staff-message-thread")
    desk.get_by_label("Your message").fill("Thank you for telling me. I will call you this afternoon.")
    desk.get_by_role("button", name="Send").click()
    expect(desk.get_by_text("Needs a clinical response")).to_have_count(0)
    desk.screenshot(path=str(artifacts / "staff-message-thread.png"), full_page=True)
