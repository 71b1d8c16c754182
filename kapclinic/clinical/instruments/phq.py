"""The PHQ family (Pfizer; Spitzer, Williams, Kroenke): PHQ-9 depression and GAD-7 anxiety."""

from __future__ import annotations

from collections.abc import Sequence

from kapclinic.clinical.instruments.scoring import (
    LABEL_NOTE,
    SUICIDE_RISK,
    SUICIDE_RISK_URGENT,
    Band,
    Instrument,
    Item,
    LoincCode,
    Option,
    Proration,
    ResponseRule,
    SafetyRule,
    ScreenRule,
    Threshold,
    Use,
)

# PHQ family answers and their LOINC answer codes (instruments.md, "LOINC answer list for the PHQ family").
_PHQ_OPTIONS = (
    Option(0, "Not at all", "LA6568-5"),
    Option(1, "Several days", "LA6569-3"),
    Option(2, "More than half the days", "LA6570-1"),
    Option(3, "Nearly every day", "LA6571-9"),
)


def _labelled(loincs: Sequence[str | None], labels: Sequence[str], options: tuple[Option, ...]) -> list[Item]:
    return [
        Item(str(n), label, options, loinc=loinc, text_is_label=True)
        for n, (label, loinc) in enumerate(zip(labels, loincs, strict=True), start=1)
    ]


# --- PHQ-9 ---------------------------------------------------------------------------------------------------

# The PHQ-9's published wording, free to reproduce ("No permission required to reproduce, translate, display or
# distribute": the Pfizer PHQ-9 form, Spitzer, Williams, Kroenke and colleagues; instruments.md PHQ-9 licence).
# Checked word for word against the form, the CDC's NHANES 2017-March 2020 depression-screener codebook (P_DPQ,
# DPQ010-DPQ100) and the HL7 US Core PHQ-9 example (LOINC 44249-1). Short labels are kept for staff tables.
PHQ9_SOURCE_OF_WORDING = (
    "PHQ-9 form (Pfizer; Spitzer, Williams, Kroenke): no permission required to reproduce; checked against CDC "
    "NHANES 2017-March 2020 codebook P_DPQ and HL7 US Core PHQ-9 example (LOINC 44249-1)"
)
_PHQ9_ITEMS = (
    # (LOINC, published wording, short label)
    ("44250-9", "Little interest or pleasure in doing things", "Interest or pleasure"),
    ("44255-8", "Feeling down, depressed, or hopeless", "Mood"),
    ("44259-0", "Trouble falling or staying asleep, or sleeping too much", "Sleep"),
    ("44254-1", "Feeling tired or having little energy", "Energy"),
    ("44251-7", "Poor appetite or overeating", "Appetite"),
    (
        "44258-2",
        "Feeling bad about yourself \u2014 or that you are a failure or have let yourself or your family down",
        "Self-worth",
    ),
    (
        "44252-5",
        "Trouble concentrating on things, such as reading the newspaper or watching television",
        "Concentration",
    ),
    (
        "44253-3",
        "Moving or speaking so slowly that other people could have noticed? Or the opposite \u2014 being so "
        "fidgety or restless that you have been moving around a lot more than usual",
        "Slowed or restless movement",
    ),
    (
        "44260-8",
        "Thoughts that you would be better off dead or of hurting yourself in some way",
        "Thoughts of self-harm",
    ),
)

PHQ9 = Instrument(
    code="phq9",
    name="PHQ-9",
    version="1",
    construct="Depression severity",
    respondent="self",
    recall_period="last 2 weeks",
    items=(
        *(
            Item(str(n), text, _PHQ_OPTIONS, loinc=loinc, label=label)
            for n, (loinc, text, label) in enumerate(_PHQ9_ITEMS, start=1)
        ),
        # Item 10 is recorded but not added (Kroenke 2001); "Extremely difficult" has no re-checked LOINC code.
        Item(
            "10",
            "If you checked off any problems, how difficult have these problems made it for you to do your work, "
            "take care of things at home, or get along with other people?",
            (
                Option(0, "Not difficult at all", "LA6572-7"),
                Option(1, "Somewhat difficult", "LA6573-5"),
                Option(2, "Very difficult", "LA6574-3"),
                Option(3, "Extremely difficult"),
            ),
            loinc="69722-7",
            scored=False,
            required=False,
            label="Functional difficulty",
        ),
    ),
    stem="Over the last 2 weeks, how often have you been bothered by any of the following problems?",
    source="Kroenke K, Spitzer RL, Williams JB. J Gen Intern Med 2001;16:606-613",
    licence='Copyright Pfizer; "no permission required to reproduce, translate, display or distribute".',
    bands=(
        Band(0, 4, "none/minimal"),
        Band(5, 9, "mild"),
        Band(10, 14, "moderate"),
        Band(15, 19, "moderately severe"),
        Band(20, 27, "severe"),
    ),
    safety_rules=(
        SafetyRule(
            SUICIDE_RISK,
            "Same-day suicide-risk follow-up (C-SSRS or clinician risk assessment) before any dosing.",
            "instruments.md PHQ-9 safety flag; Simon GE et al. Psychiatr Serv 2013 (item 9 predicts attempts)",
            item="9",
            at_least=1,
        ),
        SafetyRule(
            SUICIDE_RISK_URGENT,
            "Urgent escalation: item 9 answered 'more than half the days' or 'nearly every day'.",
            "instruments.md PHQ-9 [policy: escalation level]; Simon GE et al. Psychiatr Serv 2013 (high-risk group)",
            item="9",
            at_least=2,
            policy=True,
        ),
    ),
    # Item 9 is never imputed: a missing answer is a risk item missing, and a 0 does not rule out risk either
    # (sensitivity about 0.69, Uebelacker 2011).
    risk_items=("9",),
    proration=Proration(
        min_answered=8,
        never_prorate=("9",),
        source="instruments.md PHQ-9 'Missing items' [policy]: >= 8 of 9 answered, mean x 9, never item 9",
    ),
    missing_rule=(
        "Scored when at least 8 of items 1-9 are answered and item 9 is one of them: mean x 9, rounded half up "
        "[policy]. Item 9 is never prorated; when it is missing the response is not scored and raises "
        "risk_item_missing."
    ),
    response_rule=ResponseRule("outcomes.md Response: >= 50% reduction from baseline total", percent=50),
    remission=Threshold(4, "Kroenke 2001; CMS/NQF depression remission: total < 5"),
    mcid=Threshold(5, "Löwe B et al. Med Care 2004;42:1194-1201"),
    worsening=Threshold(5, "outcomes.md Worsening: increase >= 5 points from baseline", policy=True),
    loinc_panel=LoincCode("44249-1", "PHQ-9 quick depression assessment panel", "verified"),
    loinc_result=LoincCode("44261-6", "PHQ-9 total score", "verified"),
    wording_note="Item texts and the stem are the published PHQ-9 wording (" + PHQ9_SOURCE_OF_WORDING + "); "
    "answer texts are the LOINC answer list. Staff tables use the short labels.",
    uses=(Use.PRE_SCREEN, Use.PRE_SESSION, Use.FOLLOW_UP),
    chosen_by_default=(Use.PRE_SESSION, Use.FOLLOW_UP),
)

# --- GAD-7 ---------------------------------------------------------------------------------------------------

GAD7 = Instrument(
    code="gad7",
    name="GAD-7",
    version="1",
    construct="Anxiety severity",
    respondent="self",
    recall_period="last 2 weeks",
    items=tuple(
        _labelled(
            ("69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7"),
            (
                "Nervousness",
                "Uncontrollable worrying",
                "Worrying too much",
                "Trouble relaxing",
                "Restlessness",
                "Irritability",
                "Fear that something awful might happen",
            ),
            _PHQ_OPTIONS,
        )
    ),
    source="Spitzer RL, Kroenke K, Williams JB, Löwe B. Arch Intern Med 2006;166:1092-1097",
    licence="Copyright Pfizer; same free licence as the PHQ-9.",
    bands=(Band(0, 4, "minimal"), Band(5, 9, "mild"), Band(10, 14, "moderate"), Band(15, 21, "severe")),
    missing_rule=(
        "Not scored unless all 7 items are answered: the domain notes give no proration rule for the GAD-7, "
        "and borrowing the PHQ-9's would be a new clinical policy."
    ),
    response_rule=ResponseRule(
        "instruments.md GAD-7 [policy; convention borrowed from PHQ-9]: >= 50% reduction", percent=50, policy=True
    ),
    remission=Threshold(4, "instruments.md GAD-7 [policy; convention borrowed from PHQ-9]: total < 5", policy=True),
    mcid=Threshold(
        4, "Toussaint A et al. J Affect Disord 2020;265:395-401 [unverified exact value]", policy=False, verified=False
    ),
    # Issue 19 asks for "worse" on every outcome instrument; the notes give a number for the PHQ-9 only, so the
    # GAD-7's is the size of its meaningful change, in the other direction [policy].
    worsening=Threshold(4, "[policy] a rise of the GAD-7 meaningful change (4, Toussaint 2020)", policy=True),
    screen=ScreenRule("probable GAD", 10, "Spitzer 2006: >= 10 (sensitivity 89%, specificity 82%)"),
    loinc_panel=LoincCode("69737-5", "Generalized anxiety disorder 7 item (GAD-7)", "verified"),
    loinc_result=LoincCode("70274-6", "GAD-7 total score", "verified"),
    wording_note=LABEL_NOTE + " Answer texts are the LOINC answer list shared with the PHQ-9.",
    uses=(Use.PRE_SCREEN, Use.PRE_SESSION, Use.FOLLOW_UP),
    chosen_by_default=(Use.FOLLOW_UP,),
)
