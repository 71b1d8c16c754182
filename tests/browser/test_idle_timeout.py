"""In Chromium: a nurse's board refreshing itself does not keep the session open; the page warns two minutes
before the idle time-out, "Stay signed in" keeps it, and after the time-out the screen goes to the sign-in page
saying why. The browser's clock is fast-forwarded (Playwright's clock), so the test takes seconds, not minutes.

Screenshot: test-artifacts/idle-warning.png.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import TABLET, sign_in

pytestmark = pytest.mark.browser


def test_the_board_warns_then_signs_out_an_idle_nurse(new_context: Any, artifacts: Path) -> None:
    page: Page = new_context(TABLET).new_page()
    page.clock.install()
    sign_in(page, "nurse")
    page.goto("/dosing/today/")
    warning = page.get_by_role("alertdialog")
    expect(warning).to_be_hidden()

    # 12 minutes of nobody at the screen (the board keeps polling): the warning comes.
    page.clock.fast_forward("12:30")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("You will be signed out in")
    expect(page.get_by_role("button", name="Stay signed in")).to_be_focused()
    page.screenshot(path=str(artifacts / "idle-warning.png"))

    # The nurse is here: one tap keeps the session, and the warning goes.
    page.get_by_role("button", name="Stay signed in").click()
    expect(warning).to_be_hidden()

    # Then the nurse walks away: after the time-out the board gives way to the sign-in page, which says why.
    page.clock.fast_forward("15:00")
    # Polled rather than awaited as one navigation: a board poll that fires in the same instant can start (and
    # abort) a navigation of its own on a busy machine; where the page ends up is what counts.
    expect(page).to_have_url(re.compile(r"/accounts/login/\?idle=1"), timeout=20_000)
    expect(page.get_by_role("status")).to_contain_text("signed out after 15 minutes without activity")
    # The session really ended: the board asks for a sign-in.
    page.goto("/dosing/today/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
