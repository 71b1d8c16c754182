"""The batch scoring path gives what score() gives, response by response, and refuses what it refuses.

Pure functions, no database: score_many (answer lists) and score_array (an answer array and a missing mask) are
compared field by field with score() over generated valid responses, with unanswered items where the instrument
allows them, and over invalid batches, whose first invalid response must be refused with score()'s message.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kapclinic.clinical.instruments import (
    CSSRS_SCREEN,
    DRUG_SINGLE,
    INSTRUMENTS,
    PHQ9,
    RASS,
    Band,
    BatchAnswersError,
    Instrument,
    Item,
    Option,
    SafetyRule,
    ScoreResult,
    Subscale,
    answer_array,
    score,
    score_array,
    score_many,
)
from kapclinic.clinical.instruments.scoring import ordered_options

SUMMED = [instrument for instrument in INSTRUMENTS.values() if instrument.scoring == "sum"]

Answers = list[int | None]


def _fields(result: ScoreResult) -> dict[str, object]:
    return dataclasses.asdict(result)


def assert_same(batch: list[ScoreResult], answers: list[Answers]) -> None:
    assert len(batch) == len(answers)
    for got, given_answers in zip(batch, answers, strict=True):
        expected = score(_instrument_of(got), given_answers)
        assert _fields(got) == _fields(expected), given_answers


def _instrument_of(result: ScoreResult) -> Instrument:
    return INSTRUMENTS_AND_ODD[result.instrument]


# Not shipped: what no shipped instrument has, for the batch path's other branches: answers that skip values, an
# unbounded item that can be negative, rules on it, on the total (at most), two rules raising one flag, a rule
# with both bounds, proration with an optional scored item, subscales on items that are not adjacent.
ODD = Instrument(
    code="odd",
    name="Odd",
    version="1",
    construct="test",
    respondent="self",
    recall_period="now",
    items=(
        Item("a", "A", (Option(0, "x"), Option(2, "y"), Option(5, "z"))),
        Item("b", "B", minimum=-3),
        Item("c", "C", minimum=1, maximum=9, required=False),
        Item("d", "D", ordered_options("p", "q", "r")),
        Item("e", "E", ordered_options("n", "m"), scored=False, required=False),
    ),
    source="test",
    licence="test",
    missing_rule="test",
    bands=(Band(-2, 4, "low"), Band(5, None, "high")),
    safety_rules=(
        SafetyRule("f1", "act", "test", item="b", at_least=1000),
        SafetyRule("f2", "act", "test", item=None, at_most=3),
        SafetyRule("f1", "act", "test", item="a", at_most=0),
        SafetyRule("f3", "act", "test", item="d", at_least=1, at_most=1),
    ),
    risk_items=("d",),
    # No proration here: prorating a negative item can take the total below the lowest possible sum, which
    # score() refuses (hypothesis found -4 against -2); proration is covered by the PHQ-9 property below.
    subscales=(Subscale("ac", ("a", "c")), Subscale("bd", ("b", "d"))),
)
INSTRUMENTS_AND_ODD = {**INSTRUMENTS, "odd": ODD}


@functools.cache  # built once per instrument: hypothesis validates a new strategy on every draw
def response(code: str) -> st.SearchStrategy[Answers]:
    """One valid answer list in item order, any item possibly unanswered; a trailing optional item may be left off."""
    instrument = INSTRUMENTS_AND_ODD[code]
    per_item: list[st.SearchStrategy[int | None]] = []
    for item in instrument.items:
        if item.options:
            values: st.SearchStrategy[int | None] = st.sampled_from([option.value for option in item.options])
        else:
            if item.highest is not None:
                values = st.integers(item.lowest, item.highest)
            else:  # around the odd instrument's rule at 1000, and far beyond
                values = st.integers(item.lowest, item.lowest + 1100) | st.integers(item.lowest, item.lowest + 10**6)
        per_item.append(st.one_of(values, values, values, st.none()))  # mostly answered
    full = st.tuples(*per_item).map(list)
    if instrument.items[-1].required or instrument.items[-1].scored:
        return full
    return st.one_of(full, full.map(lambda answers: answers[:-1]))


@functools.cache
def phq9_prorated() -> st.SearchStrategy[Answers]:
    """A PHQ-9 with one of items 1-8 unanswered (prorated), item 10 answered, None or left off."""
    items = st.lists(st.sampled_from([0, 1, 2, 3]), min_size=9, max_size=9)
    item10 = st.sampled_from([[0], [1], [2], [3], [None], []])

    def build(values: list[int], gap: int, tail: list[int | None]) -> Answers:
        answers: Answers = list(values)
        answers[gap] = None
        return answers + tail

    return st.builds(build, items, st.integers(0, 7), item10)


@pytest.mark.parametrize("instrument", [*SUMMED, ODD], ids=lambda i: i.code)
@settings(max_examples=60)
@given(data=st.data())
def test_property_batch_is_score_response_by_response(instrument: Instrument, data: st.DataObject) -> None:
    answers = data.draw(st.lists(response(instrument.code), max_size=40))
    results = score_many(instrument, answers)
    assert_same(results, answers)
    # The array path, with anything at all where an item is unanswered, gives the same.
    values, missing = answer_array(instrument, answers)
    filler = data.draw(st.integers(-(2**7), 2**7 - 1))
    values = np.where(missing, np.array(filler, dtype=values.dtype), values) if len(values) else values
    scored = score_array(instrument, values, missing)
    assert scored.results() == results
    assert [scored.result(i) for i in range(len(scored))] == results
    # And through a plain int64 array.
    assert score_array(instrument, values.astype(np.int64), missing).results() == results


@settings(max_examples=100)
@given(answers=st.lists(st.one_of(phq9_prorated(), response("phq9")), min_size=1, max_size=40))
def test_property_phq9_batch_prorates_and_flags_as_score(answers: list[Answers]) -> None:
    results = score_many(PHQ9, answers)
    assert_same(results, answers)
    assert any(r.prorated for r in results) or not any(
        sum(a is None for a in row[:8]) == 1 and row[8] is not None for row in answers
    )


def test_arrays_hold_what_the_results_say() -> None:
    answers: list[Answers] = [
        [0] * 9,
        [3, 3, 3, 3, 3, 3, 3, 3, 3, 3],
        [1, None, 1, 1, 1, 1, 1, 1, 2],  # prorated: 9 x 9 / 8 = 10.125 -> 10, item 9 flags
        [1, 1, 1, 1, 1, 1, 1, 1, None],  # item 9 missing: not scored, risk item missing
        [None, None, 1, 1, 1, 1, 1, 1, 0],  # two missing: not scored
    ]
    batch = score_array(PHQ9, *answer_array(PHQ9, answers))
    assert batch.has_total.tolist() == [True, True, True, False, False]
    assert batch.total[batch.has_total].tolist() == [0, 27, 10]
    assert batch.prorated.tolist() == [False, False, True, False, False]
    assert [PHQ9.bands[b].label if b >= 0 else None for b in batch.band.tolist()] == [
        "none/minimal",
        "severe",
        "moderate",
        None,
        None,
    ]
    assert [batch.flag_table[c] for c in batch.flag_code.tolist()] == [
        (),
        ("suicide_risk", "suicide_risk_urgent"),
        ("suicide_risk", "suicide_risk_urgent"),
        ("risk_item_missing",),
        (),
    ]
    assert batch.complete.tolist() == [True, True, False, False, False]
    assert batch.missing_rows.tolist() == [2, 3, 4]
    assert_same(batch.results(), answers)


def test_rass_flags_keep_the_order_score_gives() -> None:
    answers: list[Answers] = [[value] for value in range(-5, 5)]
    answers.append([None])
    assert_same(score_many(RASS, answers), answers)


def test_empty_batch() -> None:
    assert score_many(PHQ9, []) == []
    assert len(score_array(PHQ9, np.zeros((0, 10), dtype=np.int8))) == 0


def test_cssrs_triage_is_scored_one_by_one_by_score_many() -> None:
    answers: list[Answers] = [[0] * 7, [1, 1, None, None, None, 0, None], [1, 1, 0, 1, 0, 0, None]]
    assert score_many(CSSRS_SCREEN, answers) == [score(CSSRS_SCREEN, a) for a in answers]
    with pytest.raises(ValueError, match="gives a triage category"):
        score_array(CSSRS_SCREEN, np.zeros((1, 7), dtype=np.int8))


def test_drug_counts_beyond_64_bits_are_scored_one_by_one() -> None:
    answers: list[Answers] = [[3], [2**70]]
    assert score_many(DRUG_SINGLE, answers) == [score(DRUG_SINGLE, a) for a in answers]


def test_mappings_are_taken_as_score_takes_them() -> None:
    answers: list[Sequence[object] | Mapping[str, object]] = [{str(n): 1 for n in range(1, 10)}, [1] * 9, {"9": 2}]
    assert score_many(PHQ9, answers) == [score(PHQ9, a) for a in answers]


# --- Refusals ------------------------------------------------------------------------------------------------

BAD_PHQ9: list[object] = [
    [0] * 8,
    [0] * 11,
    [0] * 8 + [4],
    [0] * 8 + [-1],
    [0, 0, "2", 0, 0, 0, 0, 0, 0],
    [True] + [0] * 8,
    [0] * 9 + [4],
    [0] * 8 + [1.0],
    [0] * 8 + [[1]],
    [0] * 8 + [300],
    [0] * 8 + [2**70],
    {"9": 0, "11": 1},
    {"9": 9},
    "000000000",
    None,
]


def _refused(instrument: Instrument, answers: object) -> bool:
    try:
        score(instrument, answers)  # type: ignore[arg-type]
    except ValueError:
        return True
    return False


def _refusal(instrument: Instrument, answers: object) -> str:
    with pytest.raises(ValueError) as refused:
        score(instrument, answers)  # type: ignore[arg-type]
    return str(refused.value)


@pytest.mark.parametrize("bad", BAD_PHQ9, ids=repr)
@pytest.mark.parametrize("at", [0, 2])
def test_an_invalid_response_is_refused_with_scores_message(bad: object, at: int) -> None:
    answers: list[object] = [[1] * 9, [0] * 9 + [1]]
    answers.insert(at, bad)
    with pytest.raises(BatchAnswersError) as refused:
        score_many(PHQ9, answers)  # type: ignore[arg-type]
    assert str(refused.value) == _refusal(PHQ9, bad)
    assert refused.value.index == at


@settings(max_examples=60)
@given(
    good=st.lists(response("phq9"), max_size=10),
    bad=st.lists(st.sampled_from(BAD_PHQ9), min_size=1, max_size=3),
    data=st.data(),
)
def test_property_the_first_invalid_response_is_the_one_refused(
    good: list[Answers], bad: list[object], data: st.DataObject
) -> None:
    answers: list[object] = list(good)
    for one in bad:
        answers.insert(data.draw(st.integers(0, len(answers))), one)
    first = next(n for n, a in enumerate(answers) if _refused(PHQ9, a))
    with pytest.raises(BatchAnswersError) as refused:
        score_many(PHQ9, answers)  # type: ignore[arg-type]
    assert (refused.value.index, str(refused.value)) == (first, _refusal(PHQ9, answers[first]))


def test_array_refusals() -> None:
    values = np.zeros((3, 10), dtype=np.int8)
    values[1, 8] = 4
    values[2, 3] = 5
    with pytest.raises(BatchAnswersError) as refused:
        score_array(PHQ9, values)
    assert refused.value.index == 1
    assert str(refused.value) == _refusal(PHQ9, [0] * 8 + [4, 0])
    # Out of range where the mask says unanswered: ignored.
    missing = np.zeros(values.shape, dtype=bool)
    missing[1, 8] = missing[2, 3] = True
    assert score_array(PHQ9, values, missing).results() == score_many(
        PHQ9, [[0] * 10, [0] * 8 + [None, 0], [0, 0, 0, None] + [0] * 6]
    )
    with pytest.raises(BatchAnswersError, match=r"PHQ-9 item 1 \(Interest or pleasure\): True is not a whole number"):
        score_array(PHQ9, np.ones((2, 10), dtype=bool))
    with pytest.raises(BatchAnswersError, match=r"1\.5 is not a whole number"):
        score_array(PHQ9, np.full((2, 10), 1.5))
    with pytest.raises(ValueError, match="must be an integer array"):
        score_array(PHQ9, np.zeros((2, 10), dtype=object))
    with pytest.raises(ValueError, match="one column per item"):
        score_array(PHQ9, np.zeros((2, 9), dtype=np.int8))
    with pytest.raises(ValueError, match="mask"):
        score_array(PHQ9, np.zeros((2, 10), dtype=np.int8), np.zeros((2, 10), dtype=np.int8))
