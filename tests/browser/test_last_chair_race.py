"""Issue 16, "Done when": a browser books a dosing session into the last free chair while a second browser tries
the same chair at the same moment. Exactly one wins; the other is told the chair is taken, with the next free
times, and its session stays proposed.

Two patients, each eligible, consented, with a signed IV plan whose first session is proposed at the same time ten
days ahead; two other patients' sessions already hold Chair 1 and Chair 2 then (tests/browser/worlds.py). The demo
prescriber and the demo nurse (both on the two patients' care team) each open one plan, choose Chair 3 and a
nurse, and press Schedule within a few milliseconds of each other: both requests are in flight together.

Screenshots: test-artifacts/race-winner.png and race-loser.png."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Request, expect

from tests.browser.conftest import axe_check, server_python, sign_in

pytestmark = pytest.mark.browser

WON = "Session 1 is scheduled; the checklist is now in the patient's portal."


def ready_to_schedule(page: Page, plan_id: int, nurse: str, chair: str) -> None:
    """Open the plan, choose the chair and the nurse for session 1; leave the Schedule button unpressed."""
    page.goto(f"/plans/{plan_id}/")
    sessions = page.get_by_role("region", name="Dosing sessions")
    expect(sessions.locator(".error-summary")).to_have_count(0)  # consented, eligible, signed: nothing blocks
    first = sessions.locator("tbody tr").first
    expect(first).to_contain_text("Proposed")
    first.get_by_label("Chair or room for session 1").select_option(label=chair)
    first.get_by_label("Nurse for session 1").select_option(label=nurse)
    first.get_by_role("button", name="Schedule").hover()


def test_two_browsers_race_for_the_last_free_chair(new_context: Any, server_url: str, artifacts: Path) -> None:
    world = server_python("from tests.browser.worlds import last_chair_race; last_chair_race()")
    chair: str = world["chair"]

    pages: list[Page] = []
    for username, plan_id, nurse in zip(
        ("prescriber", "nurse"), world["plans"], ("Demo Nurse", "Demo Nurse-Two"), strict=True
    ):
        page = new_context().new_page()
        sign_in(page, username)
        ready_to_schedule(page, plan_id, nurse, chair)
        pages.append(page)
    axe_check(pages[0], "race-plan-before")
    pages[0].screenshot(path=str(artifacts / "race-before.png"), full_page=True)

    posts: list[Request] = []
    for page in pages:
        page.on("requestfinished", lambda r: posts.append(r) if r.method == "POST" else None)
    # Both clicks go out before either answer is awaited.
    for page in pages:
        page.locator("tbody tr").first.get_by_role("button", name="Schedule").click(no_wait_after=True)
    for page in pages:
        page.wait_for_url("**/plans/*/")
        page.wait_for_load_state()
        expect(page.locator(".messages")).to_be_visible()

    # The two POSTs were in flight together: each was sent before the other's answer began.
    assert len(posts) == 2, [r.url for r in posts]
    spans = [(r.timing["startTime"], r.timing["startTime"] + r.timing["responseStart"]) for r in posts]
    assert spans[0][0] < spans[1][1] and spans[1][0] < spans[0][1], f"the two requests did not overlap: {spans}"

    flashes = [page.locator(".messages").inner_text() for page in pages]
    winners = [n for n, text in enumerate(flashes) if WON in text]
    assert len(winners) == 1, f"expected exactly one winner, the pages said: {flashes}"
    winner, loser = pages[winners[0]], pages[1 - winners[0]]
    winner_session, loser_session = (world["sessions"][winners[0]], world["sessions"][1 - winners[0]])

    expect(winner.locator(".messages")).to_contain_text(WON)
    won_row = winner.get_by_role("region", name="Dosing sessions").locator("tbody tr").first
    expect(won_row).to_contain_text("Scheduled")
    expect(won_row).to_contain_text(chair)

    refusal = loser.locator(".messages")
    expect(refusal).to_contain_text(f"{chair} is booked at 10:00 on")
    expect(refusal).to_contain_text("Next free:")
    expect(refusal).not_to_contain_text(WON)
    lost_row = loser.get_by_role("region", name="Dosing sessions").locator("tbody tr").first
    expect(lost_row).to_contain_text("Proposed")
    expect(lost_row.get_by_role("button", name="Schedule")).to_be_visible()  # still there to try another chair
    axe_check(loser, "race-loser")

    winner.screenshot(path=str(artifacts / "race-winner.png"), full_page=True)
    loser.screenshot(path=str(artifacts / "race-loser.png"), full_page=True)

    outcome = server_python(
        "from tests.browser.worlds import last_chair_outcome; "
        f"last_chair_outcome({json.dumps(world['sessions'])}, {json.dumps(world['starts'])})"
    )
    assert len(outcome["bookings"]) == 1, f"{chair} at {world['starts']}: {outcome['bookings']}"
    won, lost = outcome["sessions"][str(winner_session)], outcome["sessions"][str(loser_session)]
    assert outcome["bookings"][0]["id"] == won["booking"] and outcome["bookings"][0]["patient"] == won["patient"]
    assert (won["state"], won["room"]) == ("scheduled", chair)
    assert (lost["state"], lost["booking"], lost["room"]) == ("proposed", None, "")
