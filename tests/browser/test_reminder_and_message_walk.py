"""Issue 16, "Done when": a patient on a phone reads a reminder in the portal and sends a message; the therapist
answers it from the inbox; the patient reads the answer.

The demo's second portal patient ("patient2") has a preparation session with the demo therapist in the coming days
and was sent its reminder (kapclinic/demo/reminders.py). On a Pixel 7 (Playwright's descriptor): the portal home,
My appointments, Reminders (the reminder names one of the bookings listed), then Messages (told they are not for
emergencies, with the crisis line) and a new message to the care team. The therapist, at a desk: the inbox lists
the conversation under "Messages waiting on you", one link to the thread, an answer; the inbox item is then gone
(derived from the record). Back on the phone, the answer is marked new in the list and reads in the thread.

axe-core on every page; no page scrolls sideways on the phone. Screenshots: test-artifacts/phone-*.png and
inbox-*.png."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import axe_check, sign_in

pytestmark = pytest.mark.browser

# Playwright's devices["Pixel 7"] (its descriptor; the session's browser fixture holds no Playwright instance).
PIXEL_7: dict[str, Any] = {
    "viewport": {"width": 412, "height": 839},
    "screen": {"width": 412, "height": 915},
    "device_scale_factor": 2.625,
    "is_mobile": True,
    "has_touch": True,
    "user_agent": (
        "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Mobile Safari/537.36"
    ),
}
SUBJECT = "Ride home after my session"
QUESTION = "My sister can drive me home but only after 4 pm. Is that late enough? (synthetic)"
ANSWER = "Yes: 4 pm is fine. We will call her when you are ready to go home. (synthetic)"


def phone_page_checked(phone: Page, label: str, artifacts: Path) -> None:
    """axe-core, no sideways scroll, and a screenshot of the page as the phone shows it."""
    axe_check(phone, f"phone-{label}")
    overflow = phone.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{phone.url} scrolls sideways by {overflow}px on a 412px-wide phone"
    phone.screenshot(path=str(artifacts / f"phone-{label}.png"), full_page=True)


def read_a_reminder(phone: Page, artifacts: Path) -> None:
    phone_page_checked(phone, "portal-home", artifacts)
    bookings = phone.get_by_role("region", name="Appointments and reminders")
    bookings.get_by_role("link", name="My appointments").tap()
    expect(phone).to_have_url(re.compile(r"/portal/bookings/$"))
    expect(phone.get_by_role("heading", level=1)).to_have_text("My appointments")
    headings = phone.locator("section.card h2")
    expect(headings.first).to_be_visible()
    booked = [text.strip() for text in headings.all_inner_texts()]  # e.g. "Tue, Dec 8, 2026, 10:00"
    expect(phone.get_by_role("button", name="I will be there").first).to_be_visible()
    phone_page_checked(phone, "portal-bookings", artifacts)

    phone.locator("p.lead").get_by_role("link", name="Reminders").tap()
    expect(phone).to_have_url(re.compile(r"/portal/bookings/reminders/$"))
    expect(phone.get_by_role("heading", level=1)).to_have_text("Reminders")
    sent = phone.get_by_role("region", name="Reminders sent to you")
    reminder = sent.locator("li").first
    expect(reminder).to_contain_text("Reminder: your")
    expect(reminder).to_contain_text("sign in to your page at the clinic (Appointments)")
    text = reminder.inner_text()
    match = re.search(r"on (\w{3}, \w{3} \d{1,2}, \d{4}) at (\d{2}:\d{2})\.", text)
    assert match, f"the reminder names no day and time: {text!r}"
    assert f"{match.group(1)}, {match.group(2)}" in booked, f"the reminder is for none of {booked}: {text!r}"
    # Only where and when: nothing clinical in a reminder.
    for word in ("ketamine", "dose", "F33", "depress"):
        assert word not in text.lower(), f"the reminder says {word!r}: {text!r}"
    phone_page_checked(phone, "portal-reminders", artifacts)


def write_to_the_care_team(phone: Page, artifacts: Path) -> None:
    phone.goto("/portal/")
    phone.get_by_role("link", name="Open my messages").tap()
    expect(phone).to_have_url(re.compile(r"/portal/messages/$"))
    notice = phone.get_by_role("complementary", name="Messages are not for emergencies")
    expect(notice).to_contain_text("988")
    expect(notice.get_by_role("link", name="Call 988")).to_have_attribute("href", "tel:988")
    expect(notice.get_by_role("link", name="Call 911")).to_have_attribute("href", "tel:911")
    phone.get_by_label("What is it about?").fill(SUBJECT)
    phone.get_by_label("Your message").fill(QUESTION)
    phone_page_checked(phone, "portal-messages-writing", artifacts)
    phone.get_by_role("button", name="Send").tap()
    expect(phone.get_by_text(QUESTION)).to_be_visible()
    expect(phone.get_by_role("complementary", name="Messages are not for emergencies")).to_be_visible()
    phone_page_checked(phone, "portal-message-sent", artifacts)


def answer_from_the_inbox(desk: Page, artifacts: Path) -> None:
    desk.get_by_role("navigation", name="Main").get_by_role("link", name="Inbox").click()
    expect(desk).to_have_url(re.compile(r"/inbox/$"))
    waiting = desk.get_by_role("region", name=re.compile(r"^Messages waiting on you"))
    item = waiting.get_by_role("link", name=SUBJECT)
    expect(item).to_have_count(1)
    axe_check(desk, "inbox-therapist")
    desk.screenshot(path=str(artifacts / "inbox-therapist.png"), full_page=True)
    item.click()
    expect(desk.get_by_role("heading", level=1)).to_have_text(SUBJECT)  # the thread, not the banner's name
    expect(desk.get_by_text(QUESTION)).to_be_visible()
    axe_check(desk, "inbox-thread")
    desk.get_by_label("Your message").fill(ANSWER)
    desk.get_by_role("button", name="Send").click()
    expect(desk.get_by_text(ANSWER)).to_be_visible()
    desk.screenshot(path=str(artifacts / "inbox-thread-answered.png"), full_page=True)
    # Read and answered: the inbox no longer lists it.
    desk.get_by_role("navigation", name="Main").get_by_role("link", name="Inbox").click()
    waiting = desk.get_by_role("region", name=re.compile(r"^Messages waiting on you"))
    expect(waiting.get_by_role("link", name=SUBJECT)).to_have_count(0)


def read_the_answer(phone: Page, artifacts: Path) -> None:
    phone.goto("/portal/messages/")
    conversation = phone.locator("li").filter(has=phone.get_by_role("link", name=SUBJECT))
    expect(conversation).to_contain_text("2 messages")
    expect(conversation).to_contain_text("1 new")
    phone_page_checked(phone, "portal-messages-answered", artifacts)
    conversation.get_by_role("link", name=SUBJECT).tap()
    answer = phone.locator(".message").filter(has_text=ANSWER)
    expect(answer).to_contain_text("Demo Therapist")
    expect(answer).to_contain_text("New")
    phone_page_checked(phone, "portal-thread-answer", artifacts)


def test_a_patient_on_a_phone_reads_a_reminder_and_writes_and_the_therapist_answers_from_the_inbox(
    new_context: Any, artifacts: Path
) -> None:
    viewport = PIXEL_7["viewport"]
    phone = new_context(viewport, **{k: v for k, v in PIXEL_7.items() if k != "viewport"}).new_page()
    sign_in(phone, "patient2")
    expect(phone).to_have_url(re.compile(r"/portal/$"))
    read_a_reminder(phone, artifacts)
    write_to_the_care_team(phone, artifacts)

    desk = new_context().new_page()
    sign_in(desk, "therapist")
    answer_from_the_inbox(desk, artifacts)

    read_the_answer(phone, artifacts)
