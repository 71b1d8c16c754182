"""Scored instruments as data, and pure scoring: totals, severity bands, safety flags, response, remission.

Each instrument is defined once below from the domain notes (../shared/domain/instruments.md, outcomes.md,
codes.md). Plain Python, no Django: the portal, the API, the charts and the benchmarks all call these.
A rule the notes mark [policy] carries `policy=True` (a clinic default the settings layer may override);
a code or licence the notes mark [verify] or [unverified] says so in the data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from itertools import pairwise
from typing import Literal

# Flags a response can raise; the chart and home pages show them until a clinician acknowledges them.
SUICIDE_RISK = "suicide_risk"
SUICIDE_RISK_URGENT = "suicide_risk_urgent"
RISK_ITEM_MISSING = "risk_item_missing"
# The flags a clinician must acknowledge, most urgent first; a response raises one flag, its most urgent.
SAFETY_FLAGS_BY_URGENCY = (SUICIDE_RISK_URGENT, SUICIDE_RISK, RISK_ITEM_MISSING)
RISK_TAKING_REVIEW = "risk_taking_review"
DISSOCIATION_ATTENTION = "dissociation_attention"
SEDATION = "sedation"
SEDATION_EMERGENCY = "sedation_emergency"
NURSE_ATTENTION = "nurse_attention"

Respondent = Literal["self", "clinician", "observer"]
LoincStatus = Literal["verified", "confirmed", "verify"]


@dataclass(frozen=True)
class Option:
    """One answer choice and the value it scores."""

    value: int
    text: str
    loinc: str | None = None


@dataclass(frozen=True)
class Item:
    """One question: either a choice among `options` or a whole number from `minimum` to `maximum`."""

    id: str
    text: str
    options: tuple[Option, ...] = ()
    minimum: int | None = None
    maximum: int | None = None  # numeric items only; None = no upper limit
    anchors: tuple[str, str] | None = None  # numeric items: labels of the low and high ends
    loinc: str | None = None
    scored: bool = True
    required: bool = True
    asked_if: tuple[str, int] | None = None  # (item id, value): asked only after that answer (branching)
    text_is_label: bool = False  # True: `text` names the item; it is not the instrument's own wording
    label: str = ""  # a short name for staff tables and messages, where `text` is the published wording

    @property
    def short(self) -> str:
        """Return the item's short name for staff tables: its label, else its text."""
        return self.label or self.text

    @property
    def is_numeric(self) -> bool:
        return not self.options

    @cached_property
    def allowed(self) -> frozenset[int]:
        return frozenset(option.value for option in self.options)

    @cached_property
    def lowest(self) -> int:
        if self.options:
            return min(option.value for option in self.options)
        assert self.minimum is not None
        return self.minimum

    @cached_property
    def highest(self) -> int | None:
        if self.options:
            return max(option.value for option in self.options)
        return self.maximum

    def problem(self, value: object) -> str | None:
        """Return why `value` is not an allowed answer to this item, or None when it is."""
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{value!r} is not a whole number"
        if self.options:
            if value not in self.allowed:
                allowed = ", ".join(str(option.value) for option in self.options)
                return f"{value} is not one of the allowed answers {allowed}"
            return None
        if self.maximum is None:
            return f"{value} is below the lowest allowed value {self.lowest}" if value < self.lowest else None
        if not self.lowest <= value <= self.maximum:
            return f"{value} is outside the allowed range {self.lowest} to {self.maximum}"
        return None


@dataclass(frozen=True)
class Band:
    """A severity band: totals from `lower` to `upper` inclusive (`upper` None = no upper limit)."""

    lower: int
    upper: int | None
    label: str

    def contains(self, total: int) -> bool:
        return self.lower <= total and (self.upper is None or total <= self.upper)


@dataclass(frozen=True)
class SafetyRule:
    """Raise `flag` when an item's answer (or the total, when `item` is None) lies within the bounds."""

    flag: str
    action: str
    source: str
    item: str | None
    at_least: int | None = None
    at_most: int | None = None
    policy: bool = False

    def fires(self, value: int) -> bool:
        return (self.at_least is None or value >= self.at_least) and (self.at_most is None or value <= self.at_most)


@dataclass(frozen=True)
class TriageLevel:
    """A triage category: it applies when every (item, value) pair of any one alternative in `when` holds."""

    label: str
    when: tuple[tuple[tuple[str, int], ...], ...]
    flags: tuple[str, ...]
    action: str
    source: str
    policy: bool = False


@dataclass(frozen=True)
class Proration:
    """Score an incomplete response as mean x item count, rounded half up, when enough items are answered."""

    min_answered: int
    never_prorate: tuple[str, ...]
    source: str
    policy: bool = True


@dataclass(frozen=True)
class ResponseRule:
    """Response: a drop from baseline of at least `percent` per cent, or of at least `points`."""

    source: str
    percent: int | None = None
    points: int | None = None
    policy: bool = False


@dataclass(frozen=True)
class Threshold:
    """A documented cut-off in total-score points (remission, MCID, worsening)."""

    points: int
    source: str
    policy: bool = False
    verified: bool = True


@dataclass(frozen=True)
class ScreenRule:
    """A positive screen: total >= `cutoff` (`cutoff_female` where the source gives a separate one)."""

    label: str
    cutoff: int
    source: str
    cutoff_female: int | None = None
    policy: bool = False


@dataclass(frozen=True)
class Subscale:
    name: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class ClusterRule:
    """A diagnostic rule: items answered >= `endorsed_at` count, and each subscale needs its minimum count."""

    endorsed_at: int
    minimum: tuple[tuple[str, int], ...]
    source: str


@dataclass(frozen=True)
class LoincCode:
    code: str
    display: str
    status: LoincStatus  # "verify": found only in secondary sources (codes.md); check at loinc.org before use


@dataclass(frozen=True)
class Instrument:
    """One scored instrument, defined once: items, scoring, bands, safety rules, outcomes, codes, licence."""

    code: str
    name: str
    version: str
    construct: str
    respondent: Respondent
    recall_period: str
    items: tuple[Item, ...]
    source: str
    licence: str
    missing_rule: str  # how an incomplete response is handled, and why
    scoring: Literal["sum", "triage"] = "sum"
    bands: tuple[Band, ...] = ()
    safety_rules: tuple[SafetyRule, ...] = ()
    risk_items: tuple[str, ...] = ()  # an unanswered risk item raises RISK_ITEM_MISSING
    triage: tuple[TriageLevel, ...] = ()  # most severe first; the last level has no conditions
    proration: Proration | None = None
    response_rule: ResponseRule | None = None
    remission: Threshold | None = None  # remission: total <= points
    mcid: Threshold | None = None
    worsening: Threshold | None = None  # worsening: total rises by >= points from baseline
    screen: ScreenRule | None = None
    subscales: tuple[Subscale, ...] = ()
    cluster_rule: ClusterRule | None = None
    loinc_panel: LoincCode | None = None
    loinc_result: LoincCode | None = None  # the total score, or the C-SSRS risk level
    licence_note: str = ""
    wording_note: str = ""
    context_fields: tuple[str, ...] = ()  # what else a response must record (e.g. the craved substance)
    stem: str = ""  # the published instruction above the items, where the wording is free to reproduce

    def __post_init__(self) -> None:
        problems = _definition_problems(self)
        if problems:
            raise ValueError(f"{self.code}: " + "; ".join(problems))

    @cached_property
    def _index(self) -> dict[str, Item]:
        return {item.id: item for item in self.items}

    def item(self, item_id: str) -> Item:
        return self._index[item_id]

    def has_item(self, item_id: str) -> bool:
        return item_id in self._index

    @cached_property
    def scored_items(self) -> tuple[Item, ...]:
        return tuple(item for item in self.items if item.scored)

    @cached_property
    def min_total(self) -> int:
        return sum(item.lowest for item in self.scored_items)

    @cached_property
    def max_total(self) -> int | None:
        highest = [item.highest for item in self.scored_items]
        return None if any(h is None for h in highest) else sum(h for h in highest if h is not None)


@dataclass(frozen=True)
class ScoreResult:
    """What scoring one response gives: total (None when not scorable), severity label, flags, missing items."""

    instrument: str
    version: str
    total: int | None
    severity: str | None
    flags: tuple[str, ...]
    missing: tuple[str, ...]
    complete: bool
    prorated: bool = False
    subscales: tuple[tuple[str, int], ...] = ()


def _definition_problems(instrument: Instrument) -> list[str]:
    """Return what is inconsistent in an instrument's data, so a typo fails at import and not in clinic."""
    problems: list[str] = []
    ids = [item.id for item in instrument.items]
    known = set(ids)
    if len(known) != len(ids):
        problems.append("duplicate item ids")
    for item in instrument.items:
        values = [option.value for option in item.options]
        if len(set(values)) != len(values):
            problems.append(f"item {item.id} has duplicate option values")
        if not item.options and item.minimum is None:
            problems.append(f"item {item.id} has neither options nor a minimum")
        if item.asked_if is not None and item.asked_if[0] not in known:
            problems.append(f"item {item.id} branches on unknown item {item.asked_if[0]}")
    referenced = [rule.item for rule in instrument.safety_rules if rule.item is not None]
    referenced += list(instrument.risk_items)
    referenced += [item_id for level in instrument.triage for alt in level.when for item_id, _ in alt]
    referenced += [item_id for subscale in instrument.subscales for item_id in subscale.items]
    if instrument.proration is not None:
        referenced += list(instrument.proration.never_prorate)
    problems += [f"unknown item {item_id}" for item_id in referenced if item_id not in known]
    if instrument.cluster_rule is not None:
        names = {subscale.name for subscale in instrument.subscales}
        problems += [f"unknown subscale {name}" for name, _ in instrument.cluster_rule.minimum if name not in names]
    if instrument.scoring == "triage":
        if not instrument.triage or instrument.triage[-1].when:
            problems.append("triage needs levels, the last one unconditional")
    elif instrument.bands:
        bands = instrument.bands
        if bands[0].lower != instrument.min_total or bands[-1].upper != instrument.max_total:
            problems.append("bands do not cover the total range")
        for lower, upper in pairwise(bands):
            if lower.upper is None or upper.lower != lower.upper + 1:
                problems.append(f"bands {lower.label!r} and {upper.label!r} are not contiguous")
    return problems


# --- Answer lists shared by several instruments -------------------------------------------------------------

# PHQ family answers and their LOINC answer codes (instruments.md, "LOINC answer list for the PHQ family").
_PHQ_OPTIONS = (
    Option(0, "Not at all", "LA6568-5"),
    Option(1, "Several days", "LA6569-3"),
    Option(2, "More than half the days", "LA6570-1"),
    Option(3, "Nearly every day", "LA6571-9"),
)
# PCL-5 anchors (instruments.md, PCL-5 "Anchors"); CADSS uses its own five anchors (CADSS "Scale").
_PCL5_OPTIONS = (
    Option(0, "Not at all"),
    Option(1, "A little bit"),
    Option(2, "Moderately"),
    Option(3, "Quite a bit"),
    Option(4, "Extremely"),
)
_CADSS_OPTIONS = (
    Option(0, "Not at all"),
    Option(1, "Slightly"),
    Option(2, "Moderately"),
    Option(3, "Considerably"),
    Option(4, "Extremely"),
)
# C-SSRS screener answers: LA33-6 Yes / LA32-8 No (codes.md, confirmed).
_YES_NO = (Option(0, "No", "LA32-8"), Option(1, "Yes", "LA33-6"))

_LABEL_NOTE = (
    "Item texts are short neutral labels (text_is_label=True) because the domain notes do not give the wording; "
    "load the published wording before patients see the items."
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
    screen=ScreenRule("probable GAD", 10, "Spitzer 2006: >= 10 (sensitivity 89%, specificity 82%)"),
    loinc_panel=LoincCode("69737-5", "Generalized anxiety disorder 7 item (GAD-7)", "verified"),
    loinc_result=LoincCode("70274-6", "GAD-7 total score", "verified"),
    wording_note=_LABEL_NOTE + " Answer texts are the LOINC answer list shared with the PHQ-9.",
)

# --- PCL-5 ---------------------------------------------------------------------------------------------------

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
    wording_note=_LABEL_NOTE + " Item 16 uses the domain notes' wording; anchors are from the domain notes.",
)

# The past-week version for frequent monitoring: same items and rules, a different recall period to record.
PCL5_WEEK = replace(PCL5, code="pcl5_week", name="PCL-5 (past week)", recall_period="past week")

# --- C-SSRS screener -----------------------------------------------------------------------------------------

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
)

# --- AUDIT-C -------------------------------------------------------------------------------------------------

AUDITC = Instrument(
    code="auditc",
    name="AUDIT-C",
    version="1",
    construct="Alcohol consumption risk",
    respondent="self",
    recall_period="past year",
    items=(
        Item(
            "1",
            "How often do you have a drink containing alcohol?",
            (
                Option(0, "Never"),
                Option(1, "Monthly or less"),
                Option(2, "2 to 4 times a month"),
                Option(3, "2 to 3 times a week"),
                Option(4, "4 or more times a week"),
            ),
            loinc="68518-0",
        ),
        Item(
            "2",
            # LOINC 68519-8's wording, as in the HL7 US Core AUDIT-C example (AUDIT-C-item-example-68519-8).
            "How many standard drinks containing alcohol do you have on a typical day?",
            (
                Option(0, "1 or 2"),
                Option(1, "3 or 4"),
                Option(2, "5 or 6"),
                Option(3, "7 to 9"),
                Option(4, "10 or more"),
            ),
            loinc="68519-8",
        ),
        Item(
            "3",
            "How often do you have six or more drinks on one occasion?",
            (
                Option(0, "Never"),
                Option(1, "Less than monthly"),
                Option(2, "Monthly"),
                Option(3, "Weekly"),
                Option(4, "Daily or almost daily"),
            ),
            loinc="68520-6",
        ),
    ),
    source="Bush K et al. Arch Intern Med 1998;158:1789-1795; Bradley KA et al. Alcohol Clin Exp Res 2007;31:1208-1217",
    licence="Public domain (the first 3 items of the WHO AUDIT).",
    # Bands restate the screening cut-offs (>= 3 women, >= 4 men; 7-12 high likelihood of AUD, Bradley 2007).
    bands=(
        Band(0, 2, "negative screen"),
        Band(3, 3, "positive screen for women (cut-off 3), negative for men (cut-off 4)"),
        Band(4, 6, "positive screen"),
        Band(7, 12, "high likelihood of alcohol use disorder"),
    ),
    missing_rule="Not scored unless all 3 items are answered: the domain notes give no proration rule.",
    screen=ScreenRule("positive alcohol screen", 4, "Bradley 2007: >= 4 men, >= 3 women", cutoff_female=3),
    loinc_panel=LoincCode("72109-2", "Alcohol Use Disorder Identification Test - Consumption [AUDIT-C]", "verified"),
    # Never 75624-7: that is the full 10-item AUDIT total (codes.md).
    loinc_result=LoincCode("75626-2", "Total score [AUDIT-C]", "confirmed"),
    wording_note=(
        "Item texts are LOINC's (68518-0, 68519-8, 68520-6; HL7 US Core AUDIT-C examples). Answer texts are the "
        "WHO AUDIT categories (public domain) and are not given in the domain notes: check them against the WHO "
        "AUDIT manual."
    ),
)

# --- Drug use: single-item screen (free alternative to the non-commercial DAST-10) ---------------------------

DRUG_SINGLE = Instrument(
    code="drug_single",
    name="Single-question drug screen",
    version="1",
    construct="Drug use (illegal drugs or non-medical use of prescription medication)",
    respondent="self",
    recall_period="past year",
    items=(
        Item(
            "1",
            "How many times in the past year have you used an illegal drug or used a prescription medication for "
            "non-medical reasons?",
            minimum=0,
        ),
    ),
    source="Smith PC et al. Arch Intern Med 2010;170:1155-1160",
    licence="Published single question; NIDA materials are US-government work.",
    licence_note="[unverified licence statement; not searched 2026-11-24] (instruments.md).",
    bands=(Band(0, 0, "negative"), Band(1, None, "positive")),
    missing_rule="A single item: unanswered means not scored.",
    screen=ScreenRule("positive drug screen", 1, "Smith 2010: >= 1 time = positive"),
    wording_note="Item text as given in the domain notes; the answer is a count of times.",
)

# --- Craving VAS ---------------------------------------------------------------------------------------------

CRAVING_VAS = Instrument(
    code="craving_vas",
    name="Craving VAS",
    version="1",
    construct="Momentary craving for the target substance",
    respondent="self",
    recall_period="right now (or a stated window)",
    items=(
        Item(
            "1",
            "Craving right now",
            minimum=0,
            maximum=100,
            anchors=("No craving at all", "Strongest craving I have ever had"),
            text_is_label=True,
        ),
    ),
    source="Generic 100 mm visual analogue scale (instruments.md, Craving VAS)",
    licence="No licence (generic method).",
    # No bands, response or MCID: none is validated for KAP, so change is reported descriptively.
    missing_rule="A single item: unanswered means not scored.",
    context_fields=("substance", "window"),
    wording_note="The item text is a label; the anchors are the domain notes' wording. Store integer mm.",
)

# --- In-session dissociation ---------------------------------------------------------------------------------

DISSOCIATION_NRS = Instrument(
    code="dissociation_nrs",
    name="Dissociation rating (0-10)",
    version="1",
    construct="State dissociation during dosing",
    respondent="self",
    recall_period="right now",
    items=(Item("1", "How disconnected or unreal do you feel right now?", minimum=0, maximum=10),),
    source="instruments.md CADSS section: free fallback single 0-10 rating [policy, unvalidated]",
    licence="No licence (generic numeric rating).",
    licence_note="Unvalidated [policy]: a free fallback while CADSS permission is not confirmed.",
    missing_rule="A single item: unanswered means not scored.",
    wording_note="Item text as given in the domain notes; they give no end-point labels.",
)

CADSS6 = Instrument(
    code="cadss6",
    name="CADSS-6",
    version="1",
    construct="State dissociation during dosing (tolerability, not efficacy)",
    respondent="clinician",
    recall_period="right now / this session",
    items=tuple(
        Item(n, f"CADSS item {n}", _CADSS_OPTIONS, text_is_label=True) for n in ("1", "2", "6", "7", "15", "22")
    ),
    source=(
        "Bremner JD et al. J Trauma Stress 1998;11:125-136 (CADSS); Rodrigues NB et al. J Affect Disord "
        "2021;282:160-164 (CADSS-6, validated only retrospectively)"
    ),
    licence="Author permission (J. Douglas Bremner).",
    licence_note=(
        "[unverified: no licence terms found in the author's instructions or papers]. Item wording is not shipped; "
        "the clinician administers the permitted form and enters the six scores. Free fallback: dissociation_nrs."
    ),
    # No severity bands: no clinical threshold exists for the CADSS-6 (the CADSS > 4 trial definition is
    # unverified and belongs to the full scale).
    safety_rules=(
        SafetyRule(
            DISSOCIATION_ATTENTION,
            "Nurse/therapist attention (also for patient distress at any score).",
            "instruments.md CADSS [policy]: flag CADSS-6 >= 12",
            item=None,
            at_least=12,
            policy=True,
        ),
    ),
    missing_rule=(
        "Not scored unless all 6 items are answered (no proration rule documented); the >= 12 flag still fires "
        "when the answered items alone reach 12."
    ),
    wording_note="Item texts are CADSS item numbers only (licence unverified); anchors are from the domain notes.",
)

# --- Sedation ------------------------------------------------------------------------------------------------

MOAAS = Instrument(
    code="moaas",
    name="MOAA/S (0-5)",
    version="1",
    construct="Sedation depth",
    respondent="observer",
    recall_period="now",
    items=(
        Item(
            "1",
            "Responsiveness",
            (
                Option(0, "No response to painful trapezius squeeze"),
                Option(1, "Responds only after painful trapezius squeeze"),
                Option(2, "Responds only after mild prodding or shaking"),
                Option(3, "Responds only when name called loudly and/or repeatedly"),
                Option(4, "Lethargic response to name in normal tone"),
                Option(5, "Responds readily to name in normal tone (alert)"),
            ),
            text_is_label=True,
        ),
    ),
    source=(
        "Chernik DA et al. J Clin Psychopharmacol 1990;10:244-251 (OAA/S); 0-5 MOAA/S table as in "
        "BMC Anesthesiol 2022 (s12871-022-01788-1)"
    ),
    licence="Free to use (published scale).",
    licence_note="Published variants differ at the bottom and a 0-6 version exists: this is the 0-5 table.",
    bands=(
        Band(0, 0, "no response to pain"),
        Band(1, 1, "responds to pain"),
        Band(2, 2, "responds to prodding"),
        Band(3, 3, "responds to loud voice"),
        Band(4, 4, "lethargic"),
        Band(5, 5, "alert"),
    ),
    safety_rules=(
        SafetyRule(
            SEDATION,
            "Sedated: record as an adverse event; nurse at bedside.",
            "instruments.md MOAA/S [policy]: <= 3",
            item="1",
            at_most=3,
            policy=True,
        ),
        SafetyRule(
            SEDATION_EMERGENCY,
            "Emergency: airway, SpO2, call the prescriber.",
            "instruments.md MOAA/S [policy]: <= 1",
            item="1",
            at_most=1,
            policy=True,
        ),
    ),
    missing_rule="A single rating: unrated means not scored.",
    wording_note="Level texts are the domain notes' table; the item text is a label.",
)

RASS = Instrument(
    code="rass",
    name="RASS",
    version="1",
    construct="Agitation and sedation",
    respondent="observer",
    recall_period="now",
    items=(
        Item(
            "1",
            "Agitation or sedation level",
            (
                Option(-5, "Unarousable"),
                Option(-4, "Deep sedation: no response to voice, movement to physical stimulus"),
                Option(-3, "Moderate sedation: movement or eye opening to voice, no eye contact"),
                Option(-2, "Light sedation: eye contact to voice under 10 seconds"),
                Option(-1, "Drowsy: sustained awakening, eye contact to voice over 10 seconds"),
                Option(0, "Alert and calm"),
                Option(1, "Restless"),
                Option(2, "Agitated: frequent non-purposeful movement"),
                Option(3, "Very agitated"),
                Option(4, "Combative"),
            ),
            text_is_label=True,
        ),
    ),
    source="Sessler CN et al. Am J Respir Crit Care Med 2002;166:1338-1344",
    licence="Free to use (published scale).",
    bands=(
        Band(-5, -5, "unarousable"),
        Band(-4, -4, "deep sedation"),
        Band(-3, -3, "moderate sedation"),
        Band(-2, -2, "light sedation"),
        Band(-1, -1, "drowsy"),
        Band(0, 0, "alert and calm"),
        Band(1, 1, "restless"),
        Band(2, 2, "agitated"),
        Band(3, 3, "very agitated"),
        Band(4, 4, "combative"),
    ),
    safety_rules=(
        SafetyRule(
            NURSE_ATTENTION,
            "Nurse attention.",
            "instruments.md RASS [policy]: <= -2",
            item="1",
            at_most=-2,
            policy=True,
        ),
        SafetyRule(
            NURSE_ATTENTION,
            "Nurse attention.",
            "instruments.md RASS [policy]: >= +2",
            item="1",
            at_least=2,
            policy=True,
        ),
        SafetyRule(
            SEDATION_EMERGENCY,
            "Emergency: airway, SpO2, call the prescriber.",
            "instruments.md RASS [policy]: <= -4",
            item="1",
            at_most=-4,
            policy=True,
        ),
    ),
    missing_rule="A single rating: unrated means not scored.",
    wording_note="Level texts paraphrase the domain notes (Sessler 2002); the item text is a label.",
)

# --- Registry ------------------------------------------------------------------------------------------------

INSTRUMENTS: dict[str, Instrument] = {
    instrument.code: instrument
    for instrument in (
        PHQ9,
        GAD7,
        PCL5,
        PCL5_WEEK,
        CSSRS_SCREEN,
        AUDITC,
        DRUG_SINGLE,
        CRAVING_VAS,
        DISSOCIATION_NRS,
        CADSS6,
        MOAAS,
        RASS,
    )
}

# Instruments the domain notes describe but that are deliberately not shipped, and why.
NOT_SHIPPED: dict[str, str] = {
    "DAST-10": "Licence allows non-commercial use only (Skinner 1982/CAMH); drug_single is the free alternative.",
    "CADSS (full)": "Licence unverified and the item count differs between versions (19/23/28); CADSS-6 is scored.",
    "QIDS-SR16": "Commercial/software licence terms unverified; the PHQ-9 is the free alternative.",
    "MADRS": "Licence unverified (notes: research use only); the PHQ-9 is the free alternative.",
    "PACS": "Licence unverified; the craving VAS is the generic alternative.",
    "ASQ": "Licence unverified and items/acuity rules not in the domain notes.",
    "TAPS": "Licence unverified and items/scoring not in the domain notes.",
    "C-SSRS since last visit": "Its triage rule is not in the domain notes (the recent screener's uses 3 months).",
    "Modified Aldrete / PADSS": "Details unverified in the domain notes.",
}


def get_instrument(code: str, version: str | None = None) -> Instrument:
    """Return the instrument with `code` (and `version`, when given), or raise ValueError naming what exists."""
    instrument = INSTRUMENTS.get(code)
    if instrument is None:
        raise ValueError(f"Unknown instrument {code!r}; known: {', '.join(sorted(INSTRUMENTS))}.")
    if version is not None and version != instrument.version:
        raise ValueError(
            f"{instrument.name} version {version!r} no longer exists; the current version is {instrument.version!r}."
        )
    return instrument


# --- Scoring -------------------------------------------------------------------------------------------------


def validated_answers(
    instrument: Instrument, answers: Sequence[object] | Mapping[str, object]
) -> dict[str, int | None]:
    """Return answers keyed by item id (None = unanswered), or raise ValueError naming the offending item.

    A list is in item order, with None for an unanswered item; trailing unscored optional items (PHQ-9 item 10)
    may be left off. A mapping is keyed by item id; absent ids are unanswered.
    """
    items = instrument.items
    if isinstance(answers, Mapping):
        unknown = [key for key in answers if not instrument.has_item(key)]
        if unknown:
            raise ValueError(f"{instrument.name} has no item {unknown[0]!r}.")
        given: dict[str, object] = {item.id: answers.get(item.id) for item in items}
    elif isinstance(answers, str | bytes) or not isinstance(answers, Sequence):
        raise ValueError(f"{instrument.name} answers must be a list in item order or a mapping of item ids.")
    else:
        shortest = len(items)
        while shortest > 0 and not items[shortest - 1].required and not items[shortest - 1].scored:
            shortest -= 1
        if not shortest <= len(answers) <= len(items):
            expected = str(len(items)) if shortest == len(items) else f"{shortest} or {len(items)}"
            raise ValueError(f"{instrument.name} expects {expected} answers, got {len(answers)}.")
        given = {item.id: (answers[n] if n < len(answers) else None) for n, item in enumerate(items)}
    checked: dict[str, int | None] = {}
    for item in items:
        value = given[item.id]
        if value is None:
            checked[item.id] = None
            continue
        problem = item.problem(value)
        if problem is not None:
            raise ValueError(f"{instrument.name} item {item.id} ({item.short}): {problem}.")
        assert isinstance(value, int)
        checked[item.id] = value
    return checked


def _asked(item: Item, values: Mapping[str, int | None]) -> bool:
    """Return whether the branching asked `item` (an item after an unanswered branch point was not asked)."""
    return item.asked_if is None or values[item.asked_if[0]] == item.asked_if[1]


def _round_half_up(numerator: int, denominator: int) -> int:
    # Half up rather than Python's round-half-even: a prorated 4.5 reads as 5 (the higher band), never lower.
    return (2 * numerator + denominator) // (2 * denominator)


def band_for(instrument: Instrument, total: int) -> Band | None:
    """Return the severity band holding `total` (None when the instrument has no bands)."""
    _check_total(instrument, total)
    for band in instrument.bands:
        if band.contains(total):
            return band
    return None


def _check_total(instrument: Instrument, total: int) -> None:
    top = instrument.max_total
    if instrument.scoring != "sum":
        raise ValueError(f"{instrument.name} has no total score (it gives a triage category).")
    if total < instrument.min_total or (top is not None and total > top):
        upper = "" if top is None else f" to {top}"
        raise ValueError(f"{instrument.name} total {total} is outside {instrument.min_total}{upper}.")


def _flags(instrument: Instrument, values: Mapping[str, int | None], total: int | None) -> list[str]:
    flags: list[str] = []
    for rule in instrument.safety_rules:
        value: int | None
        if rule.item is not None:
            value = values[rule.item]
        elif total is not None:
            value = total
        elif rule.at_most is None and all(item.lowest >= 0 for item in instrument.scored_items):
            # Unanswered items can only add to a partial sum, so a reached "at least" threshold already holds.
            value = sum(values[item.id] or 0 for item in instrument.scored_items)
        else:
            value = None
        if value is not None and rule.fires(value) and rule.flag not in flags:
            flags.append(rule.flag)
    return flags


def score(instrument: Instrument, answers: Sequence[object] | Mapping[str, object]) -> ScoreResult:
    """Score one response: total, severity label, safety flags, and which required items are missing."""
    values = validated_answers(instrument, answers)
    missing = tuple(
        item.id for item in instrument.items if item.required and values[item.id] is None and _asked(item, values)
    )
    if instrument.scoring == "triage":
        return _triage_result(instrument, values, missing, _flags(instrument, values, None))

    scored = instrument.scored_items
    answered = [value for item in scored if (value := values[item.id]) is not None]
    unanswered = {item.id for item in scored if values[item.id] is None}
    total: int | None = None
    prorated = False
    rule = instrument.proration
    if not unanswered:
        total = sum(answered)
    elif rule is not None and len(answered) >= rule.min_answered and not unanswered & set(rule.never_prorate):
        total = _round_half_up(sum(answered) * len(scored), len(answered))
        prorated = True
    flags = _flags(instrument, values, total)
    if any(item_id in missing for item_id in instrument.risk_items):
        flags.append(RISK_ITEM_MISSING)
    severity = None
    if total is not None:
        band = band_for(instrument, total)
        severity = band.label if band is not None else None
    subscales: tuple[tuple[str, int], ...] = ()
    if total is not None and not prorated:
        subscales = tuple((s.name, sum(values[i] or 0 for i in s.items)) for s in instrument.subscales)
    return ScoreResult(
        instrument=instrument.code,
        version=instrument.version,
        total=total,
        severity=severity,
        flags=tuple(flags),
        missing=missing,
        complete=not missing,
        prorated=prorated,
        subscales=subscales,
    )


def _completions(instrument: Instrument, values: Mapping[str, int | None]) -> list[dict[str, int | None]]:
    """Return every way the unanswered asked items could be answered, following the branching."""
    # Items are in order, so a branch point is settled before the items it gates are reached.
    partials: list[dict[str, int | None]] = [dict(values)]
    for item in instrument.items:
        grown: list[dict[str, int | None]] = []
        for partial in partials:
            if partial[item.id] is None and item.required and _asked(item, partial):
                grown += [{**partial, item.id: option.value} for option in item.options]
            else:
                grown.append(partial)
        partials = grown
    return partials


def _triage(instrument: Instrument, values: Mapping[str, int | None]) -> TriageLevel:
    for level in instrument.triage[:-1]:
        if any(all(values[i] == v for i, v in alternative) for alternative in level.when):
            return level
    return instrument.triage[-1]


def _triage_result(
    instrument: Instrument, values: Mapping[str, int | None], missing: tuple[str, ...], flags: list[str]
) -> ScoreResult:
    # With items unanswered, report only what every possible completion agrees on: a category the missing answers
    # cannot change (a yes to item 4 is high risk whatever else is said), and the flags they cannot take away.
    levels = {_triage(instrument, completion) for completion in _completions(instrument, values)}
    severity = next(iter(levels)).label if len(levels) == 1 else None
    for level in instrument.triage:
        if all(flag in candidate.flags for candidate in levels for flag in level.flags):
            flags += [flag for flag in level.flags if flag not in flags]
    if any(item_id in missing for item_id in instrument.risk_items):
        flags.append(RISK_ITEM_MISSING)
    return ScoreResult(
        instrument=instrument.code,
        version=instrument.version,
        total=None,
        severity=severity,
        flags=tuple(flags),
        missing=missing,
        complete=not missing,
    )


def triage_level(instrument: Instrument, label: str) -> TriageLevel:
    """Return the triage level called `label` (for its action text and source)."""
    for level in instrument.triage:
        if level.label == label:
            return level
    raise ValueError(f"{instrument.name} has no triage level {label!r}.")


def safety_items(instrument: Instrument) -> frozenset[str]:
    """Return the ids of the items that a response's flags can depend on."""
    ids = set(instrument.risk_items)
    for rule in instrument.safety_rules:
        ids |= {rule.item} if rule.item is not None else {item.id for item in instrument.scored_items}
    ids |= {item_id for level in instrument.triage for alt in level.when for item_id, _ in alt}
    ids |= {item.asked_if[0] for item in instrument.items if item.asked_if is not None and item.id in ids}
    return frozenset(ids)


# --- Outcomes ------------------------------------------------------------------------------------------------


def response(baseline: int, current: int, instrument: Instrument) -> bool:
    """Return whether the drop from `baseline` to `current` meets the instrument's response definition."""
    rule = instrument.response_rule
    if rule is None:
        raise ValueError(f"{instrument.name} has no documented response definition.")
    _check_total(instrument, baseline)
    _check_total(instrument, current)
    drop = baseline - current
    if rule.percent is not None:
        # A zero baseline leaves nothing to halve: no percentage response can be shown.
        return baseline > 0 and drop * 100 >= rule.percent * baseline
    assert rule.points is not None
    return drop >= rule.points


def remission(current: int, instrument: Instrument) -> bool:
    """Return whether `current` is in remission (total at or below the instrument's remission cut-off)."""
    if instrument.remission is None:
        raise ValueError(f"{instrument.name} has no documented remission definition.")
    _check_total(instrument, current)
    return current <= instrument.remission.points


def meaningful_improvement(baseline: int, current: int, instrument: Instrument) -> bool:
    """Return whether the total dropped by at least the instrument's minimal clinically important difference."""
    if instrument.mcid is None:
        raise ValueError(f"{instrument.name} has no documented minimal clinically important difference.")
    _check_total(instrument, baseline)
    _check_total(instrument, current)
    return baseline - current >= instrument.mcid.points


def worsened(baseline: int, current: int, instrument: Instrument) -> bool:
    """Return whether the total rose from baseline by at least the instrument's worsening threshold."""
    if instrument.worsening is None:
        raise ValueError(f"{instrument.name} has no documented worsening definition.")
    _check_total(instrument, baseline)
    _check_total(instrument, current)
    return current - baseline >= instrument.worsening.points


def screen_positive(instrument: Instrument, total: int, sex_at_birth: str | None = None) -> bool:
    """Return whether `total` is a positive screen; with no sex recorded the lower (more sensitive) cut-off applies."""
    rule = instrument.screen
    if rule is None:
        raise ValueError(f"{instrument.name} has no documented screening cut-off.")
    _check_total(instrument, total)
    cutoff = rule.cutoff
    if rule.cutoff_female is not None and sex_at_birth != "male":
        # Bradley 2007 gives cut-offs for women and men only; anyone else gets the lower one so no screen is missed.
        cutoff = rule.cutoff_female if sex_at_birth == "female" else min(rule.cutoff, rule.cutoff_female)
    return total >= cutoff


def meets_cluster_rule(instrument: Instrument, answers: Sequence[object] | Mapping[str, object]) -> bool | None:
    """Return whether a response meets the instrument's diagnostic cluster rule (None when items are missing)."""
    rule = instrument.cluster_rule
    if rule is None:
        raise ValueError(f"{instrument.name} has no cluster rule.")
    values = validated_answers(instrument, answers)
    if any(values[item.id] is None for item in instrument.scored_items):
        return None
    subscales = {subscale.name: subscale.items for subscale in instrument.subscales}
    return all(
        sum(1 for item_id in subscales[name] if (values[item_id] or 0) >= rule.endorsed_at) >= needed
        for name, needed in rule.minimum
    )
