"""Trauma: the PTSD Checklist for DSM-5 (PCL-5), past month and past week."""

from __future__ import annotations

from dataclasses import replace

from kapclinic.clinical.instruments.scoring import (
    LABEL_NOTE,
    RISK_TAKING_REVIEW,
    ClusterRule,
    Instrument,
    Item,
    LoincCode,
    ResponseRule,
    SafetyRule,
    ScreenRule,
    Subscale,
    Threshold,
    Use,
    ordered_options,
)

# PCL-5 anchors (instruments.md, PCL-5 "Anchors").
_PCL5_OPTIONS = ordered_options("Not at all", "A little bit", "Moderately", "Quite a bit", "Extremely")

_PCL5_LABELS = (
    "Disturbing memories",
    "Disturbing dreams",
    "Reliving the event (flashbacks)",
    "Upset by reminders",
    "Physical reactions to reminders",
    "Avoiding memories, thoughts or feelings",
    "Avoiding external reminders",
    "Trouble remembering parts of the event",
    "Strong negative beliefs",
    "Blame",
    "Strong negative feelings",
    "Loss of interest in activities",
    "Feeling distant or cut off",
    "Trouble having positive feelings",
    "Irritability or angry outbursts",
    "Taking too many risks or doing things that could cause you harm",  # instruments.md, PCL-5 safety flag
    "Being superalert or watchful",
    "Feeling jumpy or easily startled",
    "Difficulty concentrating",
    "Trouble falling or staying asleep",
)
_PCL5_ITEMS = tuple(
    Item(str(n), label, _PCL5_OPTIONS, text_is_label=n != 16) for n, label in enumerate(_PCL5_LABELS, start=1)
)

PCL5 = Instrument(
    code="pcl5",
    name="PCL-5 (past month)",
    version="1",
    construct="PTSD symptoms (DSM-5)",
    respondent="self",
    recall_period="past month",
    items=_PCL5_ITEMS,
    source=(
        "Weathers FW et al. 2013 (National Center for PTSD); Blevins CA et al. J Trauma Stress 2015;28:489-498; "
        "Bovin MJ et al. Psychol Assess 2016;28:1379-1391"
    ),
    licence="Public domain (developed by US VA staff, not copyrighted).",
    # No bands: none are empirically derived (NCPTSD), so the total and clusters are shown instead.
    safety_rules=(
        SafetyRule(
            RISK_TAKING_REVIEW,
            "Optional clinician review: item 16 (taking too many risks) rated 'quite a bit' or more.",
            "instruments.md PCL-5 safety flag [policy]",
            item="16",
            at_least=3,
            policy=True,
        ),
    ),
    missing_rule=(
        "Not scored unless all 20 items are answered: the domain notes give no proration rule for the PCL-5."
    ),
    response_rule=ResponseRule("outcomes.md PTSD response: PCL-5 decrease >= 10 points (NCPTSD)", points=10),
    mcid=Threshold(10, "NCPTSD guidance: 10-20 points clinically meaningful; default 10", policy=True),
    # As the GAD-7: no published worsening rule in the notes, so a rise of the meaningful change [policy].
    worsening=Threshold(10, "[policy] a rise of the PCL-5 meaningful change (10, NCPTSD)", policy=True),
    screen=ScreenRule("provisional PTSD", 33, "NCPTSD: total >= 31-33; default 33", policy=True),
    subscales=(
        Subscale("B intrusion", ("1", "2", "3", "4", "5")),
        Subscale("C avoidance", ("6", "7")),
        Subscale("D negative cognition and mood", ("8", "9", "10", "11", "12", "13", "14")),
        Subscale("E arousal and reactivity", ("15", "16", "17", "18", "19", "20")),
    ),
    cluster_rule=ClusterRule(
        endorsed_at=2,
        minimum=(
            ("B intrusion", 1),
            ("C avoidance", 1),
            ("D negative cognition and mood", 2),
            ("E arousal and reactivity", 2),
        ),
        source="DSM-5 rule as given by NCPTSD: item >= 2 endorsed; >= 1 B, >= 1 C, >= 2 D, >= 2 E",
    ),
    loinc_panel=LoincCode("101697-1", "PTSD Checklist for DSM-5 (PCL-5)", "verify"),
    loinc_result=LoincCode("101698-9", "PTSD PCL-5 score [PCL-5]", "verify"),
    wording_note=LABEL_NOTE + " Item 16 uses the domain notes' wording; anchors are from the domain notes.",
    uses=(Use.PRE_SCREEN, Use.PRE_SESSION, Use.FOLLOW_UP),
)

# The past-week version for frequent monitoring: same items and rules, a different recall period to record.
PCL5_WEEK = replace(
    PCL5, code="pcl5_week", name="PCL-5 (past week)", recall_period="past week", uses=(Use.PRE_SESSION,)
)
