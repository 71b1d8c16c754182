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
    # The demo's few hundred past courses leave other open prompts, newer ones on the home: this test follows
    # serial 13's on her chart.
    prompt_id, patient_id = server_python(
        "import json; from kapclinic.clinical.registry import SYNTHETIC_MRN_BASE, mrn_from_number; "
        "from kapclinic.outcomes.models import OutcomePrompt; "
        "p = OutcomePrompt.objects.get(patient__mrn=mrn_from_number(SYNTHETIC_MRN_BASE + 13), "
        "rule='early_non_response', cleared_at__isnull=True); print(json.dumps([p.pk, p.patient_id]))"
    )
    page = new_context().new_page()
    sign_in(page, "prescriber")
    page.goto(f"/patients/{patient_id}/")  # the home shows the newest few; the chart shows this patient's
    prompts = page.get_by_role("region", name="Outcome prompts")
    link = prompts.locator(f'a[href="/outcomes/prompts/{prompt_id}/"]')
    expect(link).to_contain_text(re.compile("Early non-response on the"))
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
    expect(
        page.get_by_role("region", name="Outcome prompts").locator(f'a[href="/outcomes/prompts/{prompt_id}/"]')
    ).to_have_count(0)
    answered = server_python(
        "import json; from kapclinic.outcomes.models import PromptAction; "
        f"a = PromptAction.objects.select_related('by', 'prompt').get(prompt_id={prompt_id}); "
        "print(json.dumps([a.by.username, a.prompt.cleared_at is not None]))"
    )
    assert answered == ["prescriber", True]
