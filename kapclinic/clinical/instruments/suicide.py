"""Suicide risk: the Columbia Suicide Severity Rating Scale screener (recent), scored by triage."""

from __future__ import annotations

from kapclinic.clinical.instruments.scoring import (
    SUICIDE_RISK,
    SUICIDE_RISK_URGENT,
    Instrument,
    Item,
    LoincCode,
    Option,
    TriageLevel,
    Use,
)

# C-SSRS screener answers: LA33-6 Yes / LA32-8 No (codes.md, confirmed).
_YES_NO = (Option(0, "No", "LA32-8"), Option(1, "Yes", "LA33-6"))

CSSRS_SCREEN = Instrument(
    code="cssrs_screen",
    name="C-SSRS Screener (recent)",
    version="1",
    construct="Suicidal ideation and behaviour",
    respondent="clinician",
    recall_period="ideation: past month; behaviour: lifetime and past 3 months",
    scoring="triage",
    items=(
        Item("1", "Wish to be dead (past month)", _YES_NO, loinc="93246-7", text_is_label=True),
        Item("2", "Non-specific active suicidal thoughts (past month)", _YES_NO, loinc="93247-5", text_is_label=True),
        Item("3", "Suicidal thoughts with method", _YES_NO, loinc="93248-3", asked_if=("2", 1), text_is_label=True),
        Item("4", "Some intent to act, no plan", _YES_NO, loinc="93249-1", asked_if=("2", 1), text_is_label=True),
        Item("5", "Intent with a specific plan", _YES_NO, loinc="93250-9", asked_if=("2", 1), text_is_label=True),
        Item(
            "6",
            "Suicidal behaviour, lifetime (preparatory acts, aborted, interrupted or actual attempt)",
            _YES_NO,
            loinc="93267-3",
            text_is_label=True,
        ),
        Item("6a", "Was that behaviour within the past 3 months?", _YES_NO, loinc="93269-9", asked_if=("6", 1)),
    ),
    source=(
        "Posner K et al. Am J Psychiatry 2011;168:1266-1277; Columbia Lighthouse Project triage and workflow "
        "guidelines (cssrs.columbia.edu)"
    ),
    licence="Copyright Research Foundation for Mental Hygiene; clinical and community use on paper is free.",
    licence_note=(
        "Electronic implementations are exclusively licensed to eResearch Technology/Clario (per-administration "
        "fees), while Columbia states providers may build the Columbia Protocol into their own EHR at no cost. "
        "Confirm with Columbia which case this product falls under before patients answer it electronically; "
        "the official item wording is not shipped (labels only). Free alternatives: NIMH ASQ [licence "
        "unverified] and PHQ-9 item 9 as a trigger."
    ),
    # Most severe first. A 'yes' is counted even on an item the branching would have skipped: a risk answer
    # is never thrown away (the portal enforces the branching).
    triage=(
        TriageLevel(
            "high risk",
            ((("4", 1),), (("5", 1),), (("6a", 1),)),
            (SUICIDE_RISK, SUICIDE_RISK_URGENT),
            "Do not dose; immediate clinician evaluation; do not leave the patient alone; emergency pathway.",
            "Columbia Lighthouse Project triage: yes to 4 or 5 (past month) or behaviour within 3 months",
        ),
        TriageLevel(
            "moderate risk",
            ((("3", 1),), (("6", 1), ("6a", 0))),
            (SUICIDE_RISK,),
            "Prescriber review before dosing; safety plan; document.",
            "instruments.md C-SSRS triage [unverified row wording; policy default]",
            policy=True,
        ),
        TriageLevel(
            "low risk",
            ((("1", 1),), (("2", 1),)),
            (SUICIDE_RISK,),
            "Clinician aware; safety plan review.",
            "instruments.md C-SSRS triage [unverified row wording; policy default]",
            policy=True,
        ),
        TriageLevel("negative", (), (), "Proceed.", "instruments.md C-SSRS triage: all no"),
    ),
    risk_items=("1", "2", "3", "4", "5", "6", "6a"),
    missing_rule=(
        "Every asked item is a risk item: an unanswered one raises risk_item_missing and leaves the triage open, "
        "unless the answers given already place the patient in the high-risk category. Items 3-5 count as asked "
        "only after a yes to item 2, and 6a only after a yes to item 6."
    ),
    loinc_panel=LoincCode("93373-9", "C-SSRS screener - recent", "confirmed"),
    loinc_result=LoincCode("93374-7", "Suicide risk level", "confirmed"),
    wording_note="Item texts are the domain notes' descriptions, not Columbia's wording (see licence_note).",
    uses=(Use.PRE_SESSION,),
)
