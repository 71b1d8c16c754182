"""Instruments and scoring: pure functions, no database.

Expected bands, cut-offs and codes are typed in here from ../shared/domain/instruments.md, outcomes.md and
codes.md rather than read back from the data, so a slip in either shows up as a failure.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kapclinic.clinical.instruments import (
    AUDITC,
    CADSS6,
    CRAVING_VAS,
    CSSRS_SCREEN,
    DISSOCIATION_NRS,
    DRUG_SINGLE,
    GAD7,
    INSTRUMENTS,
    MOAAS,
    NOT_SHIPPED,
    PCL5,
    PCL5_WEEK,
    PHQ9,
    RASS,
    Instrument,
    band_for,
    get_instrument,
    meaningful_improvement,
    meets_cluster_rule,
    remission,
    response,
    safety_items,
    score,
    screen_positive,
    triage_level,
    validated_answers,
    worsened,
)

# The past-week PCL-5 shares the past-month items and rules (checked below), so properties skip it.
DISTINCT = [instrument for instrument in INSTRUMENTS.values() if instrument is not PCL5_WEEK]
SUMMED = [instrument for instrument in DISTINCT if instrument.scoring == "sum"]


def answers_for_total(instrument: Instrument, total: int) -> dict[str, int]:
    """Return a complete response whose scored items add up to `total` (filling items in order)."""
    answers = {item.id: item.lowest for item in instrument.items if item.required}
    remaining = total - instrument.min_total
    for item in instrument.scored_items:
        room = remaining if item.highest is None else min(remaining, item.highest - item.lowest)
        answers[item.id] += room
        remaining -= room
    assert remaining == 0, f"{instrument.code} cannot reach {total}"
    return answers


def answer_values(instrument: Instrument, *, allow_missing: bool) -> st.SearchStrategy[dict[str, int | None]]:
    """Return a strategy for valid answers to every item, optionally leaving some unanswered."""
    return _answer_values(instrument.code, allow_missing)


@functools.cache  # built once per instrument: hypothesis validates a new strategy on every draw
def _answer_values(code: str, allow_missing: bool) -> st.SearchStrategy[dict[str, int | None]]:
    instrument = INSTRUMENTS[code]
    per_item: dict[str, st.SearchStrategy[int | None]] = {}
    for item in instrument.items:
        if item.options:
            values: st.SearchStrategy[int | None] = st.sampled_from([option.value for option in item.options])
        else:
            top = item.highest if item.highest is not None else item.lowest + 1000
            values = st.integers(item.lowest, top)
        if allow_missing or not item.required:
            values = st.none() | values
        per_item[item.id] = values
    return st.fixed_dictionaries(per_item)


# --- Registry and data -------------------------------------------------------------------------------------


def test_registry_holds_every_required_instrument() -> None:
    assert set(INSTRUMENTS) == {
        "phq9",
        "gad7",
        "pcl5",
        "pcl5_week",
        "cssrs_screen",
        "auditc",
        "drug_single",
        "craving_vas",
        "dissociation_nrs",
        "cadss6",
        "moaas",
        "rass",
    }
    assert all(code == instrument.code for code, instrument in INSTRUMENTS.items())
    assert get_instrument("phq9") is PHQ9
    assert get_instrument("phq9", "1") is PHQ9


def test_get_instrument_errors_name_what_exists() -> None:
    with pytest.raises(ValueError, match="Unknown instrument 'phq-9'; known: auditc"):
        get_instrument("phq-9")
    with pytest.raises(ValueError, match="PHQ-9 version '0' no longer exists"):
        get_instrument("phq9", "0")


def test_instruments_whose_licence_forbids_free_use_are_not_shipped() -> None:
    # DAST-10 is non-commercial only (Skinner 1982 / CAMH); the free single-question screen replaces it.
    assert "DAST-10" in NOT_SHIPPED
    assert not any("dast" in code for code in INSTRUMENTS)
    for name in ("QIDS-SR16", "MADRS", "CADSS (full)"):
        assert name in NOT_SHIPPED


def test_unverified_licences_ship_no_item_wording() -> None:
    # CADSS-6: licence unverified, so items are numbered labels only; C-SSRS: electronic use licensed.
    assert all(item.text == f"CADSS item {item.id}" and item.text_is_label for item in CADSS6.items)
    assert "[unverified" in CADSS6.licence_note
    assert "Clario" in CSSRS_SCREEN.licence_note
    assert "[unverified" in DRUG_SINGLE.licence_note


# PHQ-9 wording: the Pfizer form ("No permission required to reproduce, translate, display or distribute"),
# the same words in the CDC NHANES 2017-March 2020 codebook P_DPQ (DPQ010-DPQ090) and the HL7 US Core example.
PUBLISHED_PHQ9 = {
    "1": "Little interest or pleasure in doing things",
    "2": "Feeling down, depressed, or hopeless",
    "3": "Trouble falling or staying asleep, or sleeping too much",
    "4": "Feeling tired or having little energy",
    "5": "Poor appetite or overeating",
    "6": "Feeling bad about yourself \u2014 or that you are a failure or have let yourself or your family down",
    "7": "Trouble concentrating on things, such as reading the newspaper or watching television",
    "8": "Moving or speaking so slowly that other people could have noticed? Or the opposite \u2014 being so fidgety "
    "or restless that you have been moving around a lot more than usual",
    "9": "Thoughts that you would be better off dead or of hurting yourself in some way",
    "10": "If you checked off any problems, how difficult have these problems made it for you to do your work, "
    "take care of things at home, or get along with other people?",
}


def test_phq9_items_carry_the_published_wording_and_keep_short_labels() -> None:
    # Issue 13 rule 7: item 9 lacked "in some way"; items 1-8 and 10 were labels, not the instrument's words.
    assert {item.id: item.text for item in PHQ9.items} == PUBLISHED_PHQ9
    assert not any(item.text_is_label for item in PHQ9.items)
    assert PHQ9.stem == "Over the last 2 weeks, how often have you been bothered by any of the following problems?"
    assert PHQ9.item("9").short == "Thoughts of self-harm"
    assert PHQ9.item("1").short == "Interest or pleasure"
    assert PHQ9.item("10").short == "Functional difficulty"


def test_auditc_item2_is_loinc_68519_8_wording() -> None:
    # HL7 US Core example Observation AUDIT-C-item-example-68519-8: the item's LOINC display.
    item = AUDITC.item("2")
    assert item.loinc == "68519-8"
    assert item.text == "How many standard drinks containing alcohol do you have on a typical day?"


def test_phq9_and_gad7_loinc_codes_match_codes_md() -> None:
    assert (PHQ9.loinc_panel and PHQ9.loinc_panel.code) == "44249-1"
    assert (PHQ9.loinc_result and PHQ9.loinc_result.code) == "44261-6"
    assert [item.loinc for item in PHQ9.items] == [
        "44250-9",
        "44255-8",
        "44259-0",
        "44254-1",
        "44251-7",
        "44258-2",
        "44252-5",
        "44253-3",
        "44260-8",
        "69722-7",
    ]
    assert [option.loinc for option in PHQ9.item("9").options] == ["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"]
    assert (GAD7.loinc_panel and GAD7.loinc_panel.code) == "69737-5"
    assert (GAD7.loinc_result and GAD7.loinc_result.code) == "70274-6"
    assert [item.loinc for item in GAD7.items] == [
        "69725-0",
        "68509-9",
        "69733-4",
        "69734-2",
        "69735-9",
        "69689-8",
        "69736-7",
    ]


def test_other_loinc_codes_and_their_status() -> None:
    # AUDIT-C total is 75626-2; 75624-7 is the full AUDIT and must never appear.
    assert AUDITC.loinc_result is not None and AUDITC.loinc_result.code == "75626-2"
    assert "75624-7" not in repr(AUDITC)
    assert [item.loinc for item in AUDITC.items] == ["68518-0", "68519-8", "68520-6"]
    assert PCL5.loinc_panel is not None and PCL5.loinc_panel.code == "101697-1"
    assert PCL5.loinc_panel.status == "verify" and PCL5.loinc_result is not None
    assert PCL5.loinc_result.status == "verify"
    assert CSSRS_SCREEN.loinc_panel is not None and CSSRS_SCREEN.loinc_panel.code == "93373-9"
    assert CSSRS_SCREEN.loinc_result is not None and CSSRS_SCREEN.loinc_result.code == "93374-7"
    assert [item.loinc for item in CSSRS_SCREEN.items] == [
        "93246-7",
        "93247-5",
        "93248-3",
        "93249-1",
        "93250-9",
        "93267-3",
        "93269-9",
    ]
    for instrument in (CRAVING_VAS, DISSOCIATION_NRS, CADSS6, MOAAS, RASS, DRUG_SINGLE):
        assert instrument.loinc_panel is None and instrument.loinc_result is None


@pytest.mark.parametrize(
    ("instrument", "items", "low", "high"),
    [
        (PHQ9, 10, 0, 27),
        (GAD7, 7, 0, 21),
        (PCL5, 20, 0, 80),
        (PCL5_WEEK, 20, 0, 80),
        (AUDITC, 3, 0, 12),
        (CADSS6, 6, 0, 24),
        (CRAVING_VAS, 1, 0, 100),
        (DISSOCIATION_NRS, 1, 0, 10),
        (MOAAS, 1, 0, 5),
        (RASS, 1, -5, 4),
        (DRUG_SINGLE, 1, 0, None),
    ],
    ids=lambda value: value.code if isinstance(value, Instrument) else str(value),
)
def test_item_counts_and_total_ranges(instrument: Instrument, items: int, low: int, high: int | None) -> None:
    assert len(instrument.items) == items
    assert (instrument.min_total, instrument.max_total) == (low, high)


def test_pcl5_versions_differ_only_in_recall() -> None:
    assert PCL5.recall_period == "past month" and PCL5_WEEK.recall_period == "past week"
    assert PCL5.items == PCL5_WEEK.items and PCL5.safety_rules == PCL5_WEEK.safety_rules


def test_definition_problems_fail_at_import() -> None:
    from dataclasses import replace

    from kapclinic.clinical.instruments import Band

    with pytest.raises(ValueError, match="bands 'a' and 'b' are not contiguous"):
        replace(GAD7, bands=(Band(0, 4, "a"), Band(6, 21, "b")))
    with pytest.raises(ValueError, match="unknown item 11"):
        replace(PHQ9, risk_items=("11",))


# --- Band edges ----------------------------------------------------------------------------------------------

EXPECTED_BANDS: dict[str, list[tuple[int, int | None, str]]] = {
    # Kroenke 2001
    "phq9": [
        (0, 4, "none/minimal"),
        (5, 9, "mild"),
        (10, 14, "moderate"),
        (15, 19, "moderately severe"),
        (20, 27, "severe"),
    ],
    # Spitzer 2006
    "gad7": [(0, 4, "minimal"), (5, 9, "mild"), (10, 14, "moderate"), (15, 21, "severe")],
    # Bradley 2007 cut-offs (>= 3 women, >= 4 men) and 7-12 high likelihood of AUD
    "auditc": [
        (0, 2, "negative screen"),
        (3, 3, "positive screen for women (cut-off 3), negative for men (cut-off 4)"),
        (4, 6, "positive screen"),
        (7, 12, "high likelihood of alcohol use disorder"),
    ],
    # Smith 2010: >= 1 = positive
    "drug_single": [(0, 0, "negative"), (1, None, "positive")],
    "moaas": [
        (0, 0, "no response to pain"),
        (1, 1, "responds to pain"),
        (2, 2, "responds to prodding"),
        (3, 3, "responds to loud voice"),
        (4, 4, "lethargic"),
        (5, 5, "alert"),
    ],
    "rass": [
        (-5, -5, "unarousable"),
        (-4, -4, "deep sedation"),
        (-3, -3, "moderate sedation"),
        (-2, -2, "light sedation"),
        (-1, -1, "drowsy"),
        (0, 0, "alert and calm"),
        (1, 1, "restless"),
        (2, 2, "agitated"),
        (3, 3, "very agitated"),
        (4, 4, "combative"),
    ],
}
# No bands: PCL-5 (none empirically derived, NCPTSD), CADSS-6 (no clinical threshold), craving VAS and the
# dissociation rating (change reported descriptively).
UNBANDED = ["pcl5", "pcl5_week", "cadss6", "craving_vas", "dissociation_nrs"]

BAND_EDGES = [
    (code, edge, label)
    for code, bands in EXPECTED_BANDS.items()
    for lower, upper, label in bands
    for edge in sorted({lower, upper if upper is not None else lower + 10_000})
]


def test_band_tables_match_the_domain_notes() -> None:
    for code, bands in EXPECTED_BANDS.items():
        assert [(b.lower, b.upper, b.label) for b in INSTRUMENTS[code].bands] == bands
    for code in UNBANDED:
        assert INSTRUMENTS[code].bands == ()


@pytest.mark.parametrize(("code", "total", "label"), BAND_EDGES)
def test_every_band_edge(code: str, total: int, label: str) -> None:
    instrument = INSTRUMENTS[code]
    result = score(instrument, answers_for_total(instrument, total))
    assert (result.total, result.severity) == (total, label)
    band = band_for(instrument, total)
    assert band is not None and band.label == label


@pytest.mark.parametrize("code", UNBANDED)
def test_unbanded_instruments_give_no_severity(code: str) -> None:
    instrument = INSTRUMENTS[code]
    assert instrument.max_total is not None
    for total in (instrument.min_total, instrument.max_total):
        result = score(instrument, answers_for_total(instrument, total))
        assert result.total == total and result.severity is None


@pytest.mark.parametrize("instrument", [i for i in SUMMED if i.max_total is not None], ids=lambda i: i.code)
def test_band_for_rejects_totals_out_of_range(instrument: Instrument) -> None:
    assert instrument.max_total is not None
    for total in (instrument.min_total - 1, instrument.max_total + 1):
        with pytest.raises(ValueError, match=f"total {total} is outside"):
            band_for(instrument, total)


# --- Worked examples -----------------------------------------------------------------------------------------


def test_phq9_worked_example_sums_items_1_to_9_only() -> None:
    result = score(PHQ9, [3, 3, 2, 2, 1, 1, 1, 1, 0, 3])
    assert (result.total, result.severity, result.flags, result.complete) == (14, "moderate", (), True)
    # Item 10 (difficulty) is optional: 9 answers or an unanswered item 10 score the same.
    assert score(PHQ9, [3, 3, 2, 2, 1, 1, 1, 1, 0]) == result
    assert score(PHQ9, [3, 3, 2, 2, 1, 1, 1, 1, 0, None]) == result


@pytest.mark.parametrize(
    ("item9", "flags"),
    [
        (0, ()),
        (1, ("suicide_risk",)),
        (2, ("suicide_risk", "suicide_risk_urgent")),
        (3, ("suicide_risk", "suicide_risk_urgent")),
    ],
)
def test_phq9_item9_flags(item9: int, flags: tuple[str, ...]) -> None:
    # Item 9 > 0: same-day risk follow-up; 2-3: urgent [policy] (Simon 2013). Even a total of 1 flags.
    result = score(PHQ9, [0] * 8 + [item9])
    assert result.flags == flags
    assert result.total == item9


def test_phq9_high_total_without_item9_raises_no_flag() -> None:
    assert score(PHQ9, [3] * 8 + [0]).flags == ()


def test_phq9_prorates_one_missing_item_half_up() -> None:
    # [policy] >= 8 of 9 answered: mean x 9, rounded. 12 over 8 items -> 13.5 -> 14 (moderate, not mild).
    result = score(PHQ9, [None, 2, 2, 2, 2, 1, 1, 1, 1])
    assert (result.total, result.severity, result.prorated) == (14, "moderate", True)
    assert (result.missing, result.complete, result.flags) == (("1",), False, ("suicide_risk",))
    # 4 over 8 items -> 4.5 -> 5: the higher band.
    assert score(PHQ9, [1, 1, 1, 1, 0, 0, 0, None, 0]).total == 5


def test_phq9_never_prorates_item9() -> None:
    result = score(PHQ9, [3, 3, 3, 3, 3, 3, 3, 3, None])
    assert (result.total, result.severity) == (None, None)
    assert result.flags == ("risk_item_missing",)
    assert result.missing == ("9",) and not result.complete


def test_phq9_two_missing_items_are_not_scored() -> None:
    result = score(PHQ9, [None, None, 1, 1, 1, 1, 1, 1, 0])
    assert (result.total, result.severity, result.prorated, result.missing) == (None, None, False, ("1", "2"))
    assert result.flags == ()


@pytest.mark.parametrize("instrument", [GAD7, PCL5, AUDITC, CADSS6], ids=lambda i: i.code)
def test_no_proration_without_a_documented_rule(instrument: Instrument) -> None:
    answers: list[int | None] = [1] * len(instrument.items)
    answers[0] = None
    result = score(instrument, answers)
    assert (result.total, result.severity, result.complete, result.missing) == (None, None, False, ("1",))


def test_gad7_worked_example_and_screen() -> None:
    result = score(GAD7, [2, 2, 1, 1, 2, 1, 1])
    assert (result.total, result.severity, result.flags) == (10, "moderate", ())
    assert screen_positive(GAD7, 10) and not screen_positive(GAD7, 9)  # >= 10 probable GAD (Spitzer 2006)


def test_pcl5_clusters_cut_off_and_dsm5_rule() -> None:
    # Endorsed (>= 2): B1, C6, D8 D9, E15 E17 -> meets the DSM-5 rule with a total of only 12.
    answers: list[int | None] = [2, 0, 0, 0, 0, 2, 0, 2, 2, 0, 0, 0, 0, 0, 2, 0, 2, 0, 0, 0]
    result = score(PCL5, answers)
    assert result.total == 12 and result.severity is None
    assert dict(result.subscales) == {
        "B intrusion": 2,
        "C avoidance": 2,
        "D negative cognition and mood": 4,
        "E arousal and reactivity": 4,
    }
    assert meets_cluster_rule(PCL5, answers) is True
    assert not screen_positive(PCL5, result.total)
    # One D item short of the rule.
    answers[8] = 1
    assert meets_cluster_rule(PCL5, answers) is False
    # Total cut-off 33 (NCPTSD default, configurable).
    assert screen_positive(PCL5, 33) and not screen_positive(PCL5, 32)
    answers[8] = None
    assert meets_cluster_rule(PCL5, answers) is None


@pytest.mark.parametrize(
    ("item16", "flags"), [(0, ()), (2, ()), (3, ("risk_taking_review",)), (4, ("risk_taking_review",))]
)
def test_pcl5_item16_review_flag(item16: int, flags: tuple[str, ...]) -> None:
    answers = [4] * 20
    answers[15] = item16
    assert score(PCL5, answers).flags == flags


@pytest.mark.parametrize(
    ("answers", "severity", "flags"),
    [
        # Columbia high risk: yes to 4 or 5 (past month), or behaviour within the past 3 months.
        ([1, 1, 0, 1, 0, 0, None], "high risk", ("suicide_risk", "suicide_risk_urgent")),
        ([0, 1, 0, 0, 1, 0, None], "high risk", ("suicide_risk", "suicide_risk_urgent")),
        ([0, 0, None, None, None, 1, 1], "high risk", ("suicide_risk", "suicide_risk_urgent")),
        # Moderate [policy]: yes to 3, or behaviour more than 3 months ago.
        ([1, 1, 1, 0, 0, 0, None], "moderate risk", ("suicide_risk",)),
        ([0, 0, None, None, None, 1, 0], "moderate risk", ("suicide_risk",)),
        # Low [policy]: yes to 1 and/or 2 only.
        ([1, 0, None, None, None, 0, None], "low risk", ("suicide_risk",)),
        ([1, 1, 0, 0, 0, 0, None], "low risk", ("suicide_risk",)),
        ([0, 1, 0, 0, 0, 0, None], "low risk", ("suicide_risk",)),
        # Negative: all no.
        ([0, 0, None, None, None, 0, None], "negative", ()),
    ],
)
def test_cssrs_triage_table(answers: list[int | None], severity: str, flags: tuple[str, ...]) -> None:
    result = score(CSSRS_SCREEN, answers)
    assert (result.total, result.severity, result.flags, result.complete) == (None, severity, flags, True)


def test_cssrs_branching_decides_what_is_missing() -> None:
    # A yes to 2 makes 3-5 required; a yes to 6 makes 6a required.
    result = score(CSSRS_SCREEN, {"1": 0, "2": 1, "6": 0})
    assert result.missing == ("3", "4", "5") and result.severity is None
    assert result.flags == ("suicide_risk", "risk_item_missing")
    assert score(CSSRS_SCREEN, {"1": 0, "2": 0, "6": 1}).missing == ("6a",)


def test_cssrs_incomplete_keeps_what_the_answers_settle() -> None:
    # A yes to 4 is high risk whatever the unanswered items say.
    high = score(CSSRS_SCREEN, {"1": 1, "2": 1, "4": 1})
    assert high.severity == "high risk" and high.missing == ("3", "5", "6")
    assert high.flags == ("suicide_risk", "suicide_risk_urgent", "risk_item_missing")
    # Lifetime behaviour with 6a unanswered is moderate or high: a suicide risk, the category still open.
    open_ = score(CSSRS_SCREEN, [0, 0, None, None, None, 1, None])
    assert open_.severity is None and open_.flags == ("suicide_risk", "risk_item_missing")
    # Nothing answered: nothing settled, and the risk items are missing.
    empty = score(CSSRS_SCREEN, {})
    assert (empty.severity, empty.flags, empty.missing) == (None, ("risk_item_missing",), ("1", "2", "6"))


def test_cssrs_yes_on_a_skipped_item_is_not_thrown_away() -> None:
    assert score(CSSRS_SCREEN, [0, 0, 0, 1, 0, 0, None]).severity == "high risk"


def test_cssrs_triage_actions() -> None:
    assert triage_level(CSSRS_SCREEN, "high risk").action.startswith("Do not dose")
    assert triage_level(CSSRS_SCREEN, "moderate risk").policy
    with pytest.raises(ValueError, match="no triage level 'severe'"):
        triage_level(CSSRS_SCREEN, "severe")


@pytest.mark.parametrize(
    ("total", "sex", "positive"),
    [
        (2, "female", False),
        (3, "female", True),
        (3, "male", False),
        (4, "male", True),
        (3, None, True),  # no sex recorded: the lower cut-off, so no positive screen is missed
        (3, "unknown", True),
        (3, "intersex", True),
    ],
)
def test_auditc_screen_by_sex(total: int, sex: str | None, positive: bool) -> None:
    assert screen_positive(AUDITC, total, sex) is positive


def test_auditc_worked_example() -> None:
    # Monthly or less (1), 3 or 4 drinks (1), less than monthly six or more (1) = 3.
    result = score(AUDITC, [1, 1, 1])
    assert result.total == 3 and result.severity is not None
    assert result.severity.startswith("positive screen for women")
    assert score(AUDITC, [4, 4, 4]).severity == "high likelihood of alcohol use disorder"


def test_drug_single_counts_times() -> None:
    assert score(DRUG_SINGLE, [0]).severity == "negative"
    assert score(DRUG_SINGLE, [1]).severity == "positive"
    assert score(DRUG_SINGLE, [52]).total == 52
    assert screen_positive(DRUG_SINGLE, 1) and not screen_positive(DRUG_SINGLE, 0)
    with pytest.raises(ValueError, match="below the lowest allowed value 0"):
        score(DRUG_SINGLE, [-1])


def test_craving_vas_is_whole_millimetres() -> None:
    result = score(CRAVING_VAS, [63])
    assert (result.total, result.severity, result.flags) == (63, None, ())
    assert CRAVING_VAS.context_fields == ("substance", "window")
    with pytest.raises(ValueError, match=r"item 1 \(Craving right now\): 101 is outside the allowed range 0 to 100"):
        score(CRAVING_VAS, [101])
    with pytest.raises(ValueError, match=r"63\.5 is not a whole number"):
        score(CRAVING_VAS, [63.5])


@pytest.mark.parametrize(
    ("total", "flags"),
    [(0, ()), (11, ()), (12, ("dissociation_attention",)), (24, ("dissociation_attention",))],
)
def test_cadss6_attention_flag(total: int, flags: tuple[str, ...]) -> None:
    assert score(CADSS6, answers_for_total(CADSS6, total)).flags == flags


def test_cadss6_flag_fires_on_answered_items_alone() -> None:
    # Unanswered items can only add: 4 + 4 + 4 already reaches 12.
    result = score(CADSS6, [4, 4, 4, None, None, None])
    assert result.total is None and result.flags == ("dissociation_attention",)
    assert score(CADSS6, [4, 4, 3, None, None, None]).flags == ()


@pytest.mark.parametrize(
    ("level", "flags"),
    [
        (5, ()),
        (4, ()),
        (3, ("sedation",)),
        (2, ("sedation",)),
        (1, ("sedation", "sedation_emergency")),
        (0, ("sedation", "sedation_emergency")),
    ],
)
def test_moaas_flags(level: int, flags: tuple[str, ...]) -> None:
    assert score(MOAAS, [level]).flags == flags


@pytest.mark.parametrize(
    ("level", "flags"),
    [
        (4, ("nurse_attention",)),
        (2, ("nurse_attention",)),
        (1, ()),
        (0, ()),
        (-1, ()),
        (-2, ("nurse_attention",)),
        (-3, ("nurse_attention",)),
        (-4, ("nurse_attention", "sedation_emergency")),
        (-5, ("nurse_attention", "sedation_emergency")),
    ],
)
def test_rass_flags(level: int, flags: tuple[str, ...]) -> None:
    assert score(RASS, [level]).flags == flags


# --- Response, remission, MCID --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("baseline", "current", "expected"),
    [(20, 10, True), (20, 11, False), (21, 10, True), (21, 11, False), (1, 0, True), (0, 0, False), (10, 12, False)],
)
def test_phq9_response_is_a_50_percent_drop(baseline: int, current: int, expected: bool) -> None:
    assert response(baseline, current, PHQ9) is expected
    assert response(baseline, current, GAD7) is expected


def test_pcl5_response_is_a_10_point_drop() -> None:
    assert response(50, 40, PCL5) and not response(50, 41, PCL5)
    assert response(12, 2, PCL5_WEEK)


@pytest.mark.parametrize(("total", "expected"), [(0, True), (4, True), (5, False), (27, False)])
def test_phq9_remission_below_5(total: int, expected: bool) -> None:
    assert remission(total, PHQ9) is expected


def test_gad7_remission_is_a_policy_default() -> None:
    assert remission(4, GAD7) and not remission(5, GAD7)
    assert GAD7.remission is not None and GAD7.remission.policy


def test_meaningful_change_and_worsening() -> None:
    assert meaningful_improvement(15, 10, PHQ9) and not meaningful_improvement(15, 11, PHQ9)  # Löwe 2004: 5
    assert meaningful_improvement(10, 6, GAD7) and not meaningful_improvement(10, 7, GAD7)  # 4 [unverified]
    assert GAD7.mcid is not None and not GAD7.mcid.verified
    assert meaningful_improvement(40, 30, PCL5) and not meaningful_improvement(40, 31, PCL5)  # NCPTSD 10
    assert worsened(8, 13, PHQ9) and not worsened(8, 12, PHQ9)  # outcomes.md [policy] +5


def test_outcomes_undefined_for_an_instrument_raise() -> None:
    with pytest.raises(ValueError, match="AUDIT-C has no documented response definition"):
        response(8, 2, AUDITC)
    with pytest.raises(ValueError, match="PCL-5 \\(past month\\) has no documented remission definition"):
        remission(10, PCL5)
    with pytest.raises(ValueError, match="RASS has no documented minimal clinically important difference"):
        meaningful_improvement(0, 0, RASS)
    with pytest.raises(ValueError, match="C-SSRS Screener \\(recent\\) has no total score"):
        band_for(CSSRS_SCREEN, 1)
    with pytest.raises(ValueError, match="PHQ-9 total 28 is outside 0 to 27"):
        response(28, 0, PHQ9)
    with pytest.raises(ValueError, match="MOAA/S \\(0-5\\) has no documented screening cut-off"):
        screen_positive(MOAAS, 3)


# --- Validation ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ([0] * 8, "PHQ-9 expects 9 or 10 answers, got 8"),
        ([0] * 11, "PHQ-9 expects 9 or 10 answers, got 11"),
        (
            [0] * 8 + [4],
            r"PHQ-9 item 9 \(Thoughts of self-harm\): "
            r"4 is not one of the allowed answers 0, 1, 2, 3",
        ),
        ([0] * 8 + [-1], "PHQ-9 item 9 .*: -1 is not one of the allowed answers"),
        ([0, 0, "2", 0, 0, 0, 0, 0, 0], r"PHQ-9 item 3 \(Sleep\): '2' is not a whole number"),
        ([True] + [0] * 8, r"PHQ-9 item 1 \(Interest or pleasure\): True is not a whole number"),
        ([0] * 9 + [4], r"PHQ-9 item 10 \(Functional difficulty\): 4 is not one of the allowed answers"),
        ({"9": 0, "11": 1}, "PHQ-9 has no item '11'"),
        ("000000000", "PHQ-9 answers must be a list in item order or a mapping of item ids"),
    ],
)
def test_bad_answers_name_the_item(answers: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        score(PHQ9, answers)  # type: ignore[arg-type]


def test_gad7_count_message_has_one_number() -> None:
    with pytest.raises(ValueError, match="GAD-7 expects 7 answers, got 8"):
        score(GAD7, [0] * 8)


def test_mapping_and_list_answers_agree() -> None:
    assert score(PHQ9, {str(n): 1 for n in range(1, 10)}) == score(PHQ9, [1] * 9)
    assert validated_answers(CSSRS_SCREEN, {"1": 1})["6a"] is None


# --- Properties over answer combinations ----------------------------------------------------------------------


def _scored_sum(instrument: Instrument, answers: Mapping[str, int | None]) -> int:
    return sum(answers[item.id] or 0 for item in instrument.scored_items)


@pytest.mark.parametrize("instrument", SUMMED, ids=lambda i: i.code)
@given(data=st.data())
def test_property_complete_total_is_the_item_sum_and_in_range(instrument: Instrument, data: st.DataObject) -> None:
    answers = data.draw(answer_values(instrument, allow_missing=False))
    result = score(instrument, answers)
    assert result.complete and result.missing == () and not result.prorated
    assert result.total == _scored_sum(instrument, answers)
    assert result.total >= instrument.min_total
    assert instrument.max_total is None or result.total <= instrument.max_total
    band = band_for(instrument, result.total)
    assert result.severity == (band.label if band is not None else None)


@pytest.mark.parametrize("instrument", DISTINCT, ids=lambda i: i.code)
@given(data=st.data())
def test_property_any_answers_give_a_consistent_result(instrument: Instrument, data: st.DataObject) -> None:
    answers = data.draw(answer_values(instrument, allow_missing=True))
    result = score(instrument, answers)
    assert result.complete == (result.missing == ())
    assert set(result.missing) <= {item.id for item in instrument.items if item.required}
    assert ("risk_item_missing" in result.flags) == any(i in instrument.risk_items for i in result.missing)
    assert len(set(result.flags)) == len(result.flags)
    if instrument.scoring == "triage":
        assert result.total is None
        assert result.severity in {None, *(level.label for level in instrument.triage)}
        return
    if result.total is None:
        assert result.severity is None and not result.complete
        return
    assert result.total >= instrument.min_total
    assert instrument.max_total is None or result.total <= instrument.max_total
    if not result.prorated:
        assert result.complete and result.total == _scored_sum(instrument, answers)
    else:
        # Only the PHQ-9 prorates, and never over a missing item 9.
        assert instrument is PHQ9 and answers["9"] is not None and len(result.missing) == 1


@pytest.mark.parametrize("instrument", DISTINCT, ids=lambda i: i.code)
@given(data=st.data())
def test_property_flags_depend_only_on_the_safety_items(instrument: Instrument, data: st.DataObject) -> None:
    first = data.draw(answer_values(instrument, allow_missing=True))
    second = data.draw(answer_values(instrument, allow_missing=True))
    keep = safety_items(instrument)
    mixed = {item_id: (first[item_id] if item_id in keep else value) for item_id, value in second.items()}
    assert score(instrument, first).flags == score(instrument, mixed).flags


def test_safety_items_are_the_documented_ones() -> None:
    assert safety_items(PHQ9) == {"9"}
    assert safety_items(GAD7) == frozenset()
    assert safety_items(PCL5) == {"16"}
    assert safety_items(CADSS6) == {"1", "2", "6", "7", "15", "22"}  # the flag reads the total
    assert safety_items(CSSRS_SCREEN) == {"1", "2", "3", "4", "5", "6", "6a"}


@pytest.mark.parametrize("instrument", [i for i in SUMMED if i.bands], ids=lambda i: i.code)
@given(data=st.data())
def test_property_severity_band_is_monotonic_in_total(instrument: Instrument, data: st.DataObject) -> None:
    top = instrument.max_total if instrument.max_total is not None else instrument.min_total + 1000
    low = data.draw(st.integers(instrument.min_total, top))
    high = data.draw(st.integers(low, top))
    bands = list(instrument.bands)
    low_band, high_band = band_for(instrument, low), band_for(instrument, high)
    assert low_band is not None and high_band is not None
    assert bands.index(low_band) <= bands.index(high_band)


@given(data=st.data())
def test_property_cssrs_a_yes_never_lowers_the_triage(data: st.DataObject) -> None:
    # Every item answered, so the branching never hides a change.
    answers = data.draw(st.lists(st.sampled_from([0, 1]), min_size=7, max_size=7))
    unanswered_no = [n for n, value in enumerate(answers) if value == 0]
    if not unanswered_no:
        return
    flip = data.draw(st.sampled_from(unanswered_no))
    labels = [level.label for level in CSSRS_SCREEN.triage]  # most severe first
    before = score(CSSRS_SCREEN, answers).severity
    answers[flip] = 1
    after = score(CSSRS_SCREEN, answers).severity
    assert before is not None and after is not None
    # Item 6a turning yes moves behaviour into the past 3 months: still never lower.
    assert labels.index(after) <= labels.index(before)


@given(data=st.data())
def test_property_cssrs_incomplete_result_holds_for_every_completion(data: st.DataObject) -> None:
    partial = data.draw(answer_values(CSSRS_SCREEN, allow_missing=True))
    completed = dict(partial)
    for item in CSSRS_SCREEN.items:  # in order, so a branch point is answered before the items it gates
        gate = item.asked_if
        if completed[item.id] is None and (gate is None or completed[gate[0]] == gate[1]):
            completed[item.id] = data.draw(st.sampled_from([0, 1]))
    before, after = score(CSSRS_SCREEN, partial), score(CSSRS_SCREEN, completed)
    assert after.complete and after.severity is not None
    assert before.severity in {None, after.severity}
    assert set(before.flags) - {"risk_item_missing"} <= set(after.flags)


@given(st.lists(st.sampled_from([0, 1, 2, 3]), min_size=9, max_size=9), st.integers(0, 7))
def test_property_phq9_prorated_total_rounds_half_up(values: list[int], gap: int) -> None:
    answers: list[int | None] = list(values)
    answers[gap] = None
    result = score(PHQ9, answers)
    answered = [v for v in answers if v is not None]
    exact = sum(answered) * 9 / 8
    assert result.prorated and result.total is not None
    assert result.total - 0.5 <= exact < result.total + 0.5
    assert result.flags == score(PHQ9, values).flags  # item 9 answered: the same flags
