"""What an instrument is made of, and pure scoring: totals, severity bands, safety flags, response, remission.

The types (`Instrument`, `Item`, `Band`, `SafetyRule`...) and the machinery that scores a response against them;
the instruments themselves are data in the modules beside this one. Plain Python, no Django.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from itertools import pairwise
from typing import Literal, TypeVar

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


class Use(StrEnum):
    """When the clinic asks an instrument: a property of the instrument, which the apps and pages read."""

    # Sent to the portal after a consultation that proceeds to evaluation (../shared/design/pathway.md stage 1).
    PRE_SCREEN = "pre_screen"
    # Offered in the treatment plan, answered in the portal before each dosing session.
    PRE_SESSION = "pre_session"
    # Offered for the outcome schedule: baseline, end of course, 1, 3 and 6 months after (outcomes.md).
    FOLLOW_UP = "follow_up"
    # Scored on the session screen during dosing (sedation, dissociation: instruments.md).
    IN_SESSION = "in_session"


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
    uses: tuple[Use, ...] = ()
    # Of its uses, those where it is chosen unless someone unticks it; a plan follows up every course with the
    # instruments chosen by default for Use.FOLLOW_UP.
    chosen_by_default: tuple[Use, ...] = ()

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
    if not set(instrument.chosen_by_default) <= set(instrument.uses):
        problems.append("chosen by default for a use it does not have")
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


# --- Helpers for the definitions -----------------------------------------------------------------------------

# The wording note of instruments whose items are labels, not the published wording.
LABEL_NOTE = (
    "Item texts are short neutral labels (text_is_label=True) because the domain notes do not give the wording; "
    "load the published wording before patients see the items."
)


def ordered_options(*texts: str, start: int = 0) -> tuple[Option, ...]:
    """Return answer choices scored `start`, `start` + 1, ... in the order given (no LOINC answer codes)."""
    return tuple(Option(value, text) for value, text in enumerate(texts, start=start))


def one_band_per_value(*labels: str, start: int = 0) -> tuple[Band, ...]:
    """Return a band for each single value `start`, `start` + 1, ... (a one-item rating, each level named)."""
    return tuple(Band(value, value, label) for value, label in enumerate(labels, start=start))


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
    total: int | None = None
    prorated = False
    subscales: tuple[tuple[str, int], ...] = ()
    if instrument.scoring == "triage":
        severity, flags = _triage_outcome(instrument, values, _flags(instrument, values, None))
    else:
        total, prorated = _total(instrument, values)
        flags = _flags(instrument, values, total)
        band = band_for(instrument, total) if total is not None else None
        severity = band.label if band is not None else None
        if total is not None and not prorated:
            subscales = tuple((s.name, sum(values[i] or 0 for i in s.items)) for s in instrument.subscales)
    if any(item_id in missing for item_id in instrument.risk_items):
        flags.append(RISK_ITEM_MISSING)
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


def _total(instrument: Instrument, values: Mapping[str, int | None]) -> tuple[int | None, bool]:
    """Return the total (None when not scorable) and whether it is prorated from the answered items."""
    scored = instrument.scored_items
    answered = [value for item in scored if (value := values[item.id]) is not None]
    unanswered = {item.id for item in scored if values[item.id] is None}
    rule = instrument.proration
    if not unanswered:
        return sum(answered), False
    if rule is not None and len(answered) >= rule.min_answered and not unanswered & set(rule.never_prorate):
        return _round_half_up(sum(answered) * len(scored), len(answered)), True
    return None, False


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


def _triage_outcome(
    instrument: Instrument, values: Mapping[str, int | None], flags: list[str]
) -> tuple[str | None, list[str]]:
    """Return the triage category (None while unanswered items could change it) and the flags, added to `flags`."""
    # With items unanswered, report only what every possible completion agrees on: a category the missing answers
    # cannot change (a yes to item 4 is high risk whatever else is said), and the flags they cannot take away.
    levels = {_triage(instrument, completion) for completion in _completions(instrument, values)}
    severity = next(iter(levels)).label if len(levels) == 1 else None
    for level in instrument.triage:
        if all(flag in candidate.flags for candidate in levels for flag in level.flags):
            flags += [flag for flag in level.flags if flag not in flags]
    return severity, flags


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


_R = TypeVar("_R")


def _documented(instrument: Instrument, rule: _R | None, what: str, *totals: int) -> _R:
    """Return the instrument's documented rule for `what`, after checking the totals it is applied to."""
    if rule is None:
        raise ValueError(f"{instrument.name} has no documented {what}.")
    for total in totals:
        _check_total(instrument, total)
    return rule


def response(baseline: int, current: int, instrument: Instrument) -> bool:
    """Return whether the drop from `baseline` to `current` meets the instrument's response definition."""
    rule = _documented(instrument, instrument.response_rule, "response definition", baseline, current)
    drop = baseline - current
    if rule.percent is not None:
        # A zero baseline leaves nothing to halve: no percentage response can be shown.
        return baseline > 0 and drop * 100 >= rule.percent * baseline
    assert rule.points is not None
    return drop >= rule.points


def remission(current: int, instrument: Instrument) -> bool:
    """Return whether `current` is in remission (total at or below the instrument's remission cut-off)."""
    return current <= _documented(instrument, instrument.remission, "remission definition", current).points


def meaningful_improvement(baseline: int, current: int, instrument: Instrument) -> bool:
    """Return whether the total dropped by at least the instrument's minimal clinically important difference."""
    what = "minimal clinically important difference"
    return baseline - current >= _documented(instrument, instrument.mcid, what, baseline, current).points


def worsened(baseline: int, current: int, instrument: Instrument) -> bool:
    """Return whether the total rose from baseline by at least the instrument's worsening threshold."""
    threshold = _documented(instrument, instrument.worsening, "worsening definition", baseline, current)
    return current - baseline >= threshold.points


def screen_positive(instrument: Instrument, total: int, sex_at_birth: str | None = None) -> bool:
    """Return whether `total` is a positive screen; with no sex recorded the lower (more sensitive) cut-off applies."""
    rule = _documented(instrument, instrument.screen, "screening cut-off", total)
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
