"""Issue 19, Done when: the prescriber sees a non-response prompt and acts on it. The demo's non-responder (serial 13:
four IM doses, PHQ-9 19 → 17) has an open early non-response prompt on the prescriber's home and chart; the
prescriber opens it, reads the evidence, chooses to adjust the plan with a reason, and the prompt is cleared."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import axe_check, server_python, sign_in

pytestmark = pytest.mark.browser


def test_the_prescriber_sees_a_non_response_prompt_and_acts_on_it(
    new_context: Any, artifacts: Path, server_url: str
) -> None:
    page = new_context().new_page()
    sign_in(page, "prescriber")
    page.goto("/")
    prompts = page.get_by_role("region", name="Outcome prompts")
    link = prompts.get_by_role("link", name=re.compile("Early non-response on the"))
    expect(link).to_be_visible()
    link.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Early non-response")
    evidence = page.get_by_role("region", name="Evidence")
    expect(evidence).to_contain_text("19")
    expect(evidence).to_contain_text("17")
    expect(evidence).to_contain_text("under 25 %")
    axe_check(page, "outcome-prompt")
    page.get_by_role("button", name="Record and clear the prompt").click()  # nothing chosen: refused in place
    expect(page.locator(".field-error").first).to_be_visible()
    page.get_by_label("Adjust the plan (dose, route, frequency)").check()
    page.get_by_label("Why").fill("Raise to 0.75 mg/kg IM from the next session; PHQ-9 before each dose.")
    page.get_by_role("button", name="Record and clear the prompt").click()
    expect(page.get_by_text("Your answer is on the record; the prompt is cleared.")).to_be_visible()
    expect(page.get_by_text("Adjust the plan (dose, route, frequency)")).to_be_visible()
    page.screenshot(path=str(artifacts / "outcome-prompt-answered.png"), full_page=True)
    page.goto("/")
    expect(page.get_by_role("region", name="Outcome prompts")).to_contain_text("No open outcome prompts.")
    answered = server_python(
        "import json; from kapclinic.outcomes.models import PromptAction; "
        "a = PromptAction.objects.filter(choice='adjust_plan').select_related('by').get(); "
        "print(json.dumps([a.by.username, a.prompt.cleared_at is not None]))"
    )
    assert answered == ["prescriber", True]
