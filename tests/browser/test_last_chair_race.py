"""Issue 16, "Done when": a browser books a dosing session into the last free chair while a second browser tries
the same chair at the same moment. Exactly one wins; the other is told the chair is taken, with the next free
times, and its session stays proposed.

Two patients, each eligible, consented, with a signed IV plan whose first session is proposed at the same time ten
days ahead; two other patients' sessions already hold Chair 1 and Chair 2 then (tests/browser/worlds.py). The demo
prescriber and the demo nurse (both on the two patients' care team) each open one plan, choose Chair 3 and a
nurse; both Schedule buttons are pressed at the same instant (each page armed to click at one moment of the shared
clock), and the test checks that both requests were in flight together.

Screenshots: test-artifacts/race-winner.png and race-loser.png."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Request, expect

from tests.browser.conftest import axe_check, server_python, sign_in

pytestmark = pytest.mark.browser

ARM_AHEAD_MS = 1000
# Click the button at `at` (ms since the epoch); return how long until then.
CLICK_AT = "(button, at) => { const ms = at - Date.now(); setTimeout(() => button.click(), ms); return ms; }"
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
        expect(page.locator(".messages")).to_have_count(0)
        page.on("requestfinished", lambda r: posts.append(r) if r.method == "POST" else None)
    # Both buttons pressed at the same instant: each page is armed to click its Schedule button at one moment of the
    # shared clock, a little ahead. (Two Playwright clicks one after the other are ~100 ms apart, as long as a
    # request takes here: the first could be answered before the second was sent.)
    at = time.time() * 1000 + ARM_AHEAD_MS
    for page in pages:
        button = page.locator("tbody tr").first.get_by_role("button", name="Schedule")
        left = button.evaluate(CLICK_AT, at)
        assert left > 0, f"armed too late ({left:.0f} ms): raise ARM_AHEAD_MS"
    for page in pages:
        expect(page.locator(".messages")).to_be_visible()
        page.wait_for_load_state()

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
