"""A course's outcome, early non-response, relapse, durability and Wilson intervals: pure rules, no database.

Worked examples by hand from the definitions in ../shared/domain/outcomes.md sections 1-2 (PHQ-9 response is a
>= 50 % drop, remission a total < 5, worsening +5; PCL-5 response a 10-point drop, no remission rule).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kapclinic.clinical.instruments import CRAVING_VAS, GAD7, PCL5, PHQ9
from kapclinic.clinical.outcomes import (
    course_outcome,
    days_to_first_response,
    days_to_response,
    durability,
    early_non_response,
    relapse,
    trajectory,
    wilson_interval,
)

FIRST = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def day(n: int) -> datetime:
    return FIRST + timedelta(days=n)


# Six doses over 3 weeks (days 0, 3, 7, 10, 14, 17): the last on day 17.
DOSES = [day(n) for n in (0, 3, 7, 10, 14, 17)]
LAST = DOSES[-1]


def test_a_responder_in_remission() -> None:
    outcome = course_outcome(PHQ9, [(day(-3), 20), (day(7), 12), (day(19), 4)], first_dose=FIRST, last_dose=LAST)
    assert outcome.baseline == (day(-3), 20) and outcome.end == (day(19), 4)
    assert outcome.response and outcome.remission and outcome.meaningful_improvement
    assert outcome.partial_response is False and outcome.worsened is False
    assert outcome.complete and outcome.missing == ()


def test_partial_response_is_25_to_49_percent() -> None:
    # 20 -> 15 is 25 %: partial; 20 -> 16 is 20 %: not.
    partial = course_outcome(PHQ9, [(day(-1), 20), (day(18), 15)], first_dose=FIRST, last_dose=LAST)
    assert partial.partial_response is True and partial.response is False
    none = course_outcome(PHQ9, [(day(-1), 20), (day(18), 16)], first_dose=FIRST, last_dose=LAST)
    assert none.partial_response is False


def test_worse_is_a_rise_of_five_on_the_phq9() -> None:
    outcome = course_outcome(PHQ9, [(day(-1), 8), (day(18), 13)], first_dose=FIRST, last_dose=LAST)
    assert outcome.worsened is True and outcome.response is False and outcome.remission is False
    assert course_outcome(GAD7, [(day(-1), 8), (day(18), 12)], first_dose=FIRST, last_dose=LAST).worsened is True
    assert course_outcome(PCL5, [(day(-1), 30), (day(18), 39)], first_dose=FIRST, last_dose=LAST).worsened is False


def test_missing_scores_are_said_not_imputed() -> None:
    # The baseline was 15 days before the first dose (outside 14), and nothing after the last dose within 7 days.
    outcome = course_outcome(PHQ9, [(day(-15), 20), (day(10), 5), (day(25), 3)], first_dose=FIRST, last_dose=LAST)
    assert outcome.baseline is None and outcome.end is None and not outcome.complete
    assert outcome.response is None and outcome.remission is None and outcome.worsened is None
    assert outcome.missing == (
        "No PHQ-9 in the 14 days before the first dose.",
        "No PHQ-9 in the 7 days after the last dose.",
    )


def test_end_of_course_is_the_first_score_after_the_last_dose() -> None:
    points = [(day(-1), 20), (LAST, 11), (day(18), 9), (day(23), 3)]
    outcome = course_outcome(PHQ9, points, first_dose=FIRST, last_dose=LAST)
    # The pre-session score at the last dose is before it ends; day 23 is within 7 days but later than day 18.
    assert outcome.end == (day(18), 9) and outcome.response is True and outcome.remission is False


def test_an_instrument_without_a_rule_answers_none_for_it() -> None:
    outcome = course_outcome(PCL5, [(day(-1), 50), (day(18), 35)], first_dose=FIRST, last_dose=LAST)
    assert outcome.response is True and outcome.remission is None and outcome.partial_response is None
    assert (
        course_outcome(CRAVING_VAS, [(day(-1), 80), (day(18), 20)], first_dose=FIRST, last_dose=LAST).response is None
    )


def test_a_course_cannot_end_before_it_begins() -> None:
    with pytest.raises(ValueError, match="last dose cannot come before the first"):
        course_outcome(PHQ9, [], first_dose=LAST, last_dose=FIRST)


def test_early_non_response_fires_under_25_percent_after_four_doses() -> None:
    finding = early_non_response(PHQ9, [(day(-2), 20), (day(5), 19), (day(11), 16)], DOSES)
    assert finding.fires is True
    assert finding.reason == "PHQ-9 20 → 16 after 4 doses: 20 % improvement (under 25 %)."
    assert finding.evidence == ((day(-2), 20), (day(11), 16)) and "Sanacora 2017" in finding.source


def test_early_non_response_holds_at_25_percent_and_waits_for_the_induction() -> None:
    assert early_non_response(PHQ9, [(day(-2), 20), (day(11), 15)], DOSES).fires is False
    too_early = early_non_response(PHQ9, [(day(-2), 20), (day(5), 20)], DOSES[:3])
    assert too_early.fires is None and too_early.reason == "3 of 4 induction doses given: too early to judge."
    no_score = early_non_response(PHQ9, [(day(-2), 20), (day(5), 20)], DOSES)
    assert no_score.fires is None and "No PHQ-9 since dose 4" in no_score.reason
    no_baseline = early_non_response(PHQ9, [(day(11), 20)], DOSES)
    assert no_baseline.fires is None and no_baseline.reason == "No baseline PHQ-9 before the first dose."


def test_relapse_needs_two_lost_assessments_in_a_row_after_a_response() -> None:
    points = [(day(-1), 20), (day(10), 8), (day(40), 12), (day(50), 9), (day(60), 11), (day(70), 14)]
    finding = relapse(PHQ9, points, first_dose=FIRST)
    # 12 then 9 (responding again) breaks the run; 11 and 14 are two in a row.
    assert finding.fires is True
    assert finding.evidence == ((day(-1), 20), (day(10), 8), (day(60), 11), (day(70), 14))
    assert finding.reason == "Responded (PHQ-9 20 → 8), then 11, 14 on 2 assessments in a row."


def test_no_relapse_without_a_response_or_while_it_holds() -> None:
    assert relapse(PHQ9, [(day(-1), 20), (day(10), 15), (day(20), 18)], first_dose=FIRST).fires is False
    holds = relapse(PHQ9, [(day(-1), 20), (day(10), 8), (day(40), 12)], first_dose=FIRST)
    assert holds.fires is False and holds.reason == "The response holds."
    assert relapse(CRAVING_VAS, [(day(-1), 80)], first_dose=FIRST).fires is None
    assert relapse(PHQ9, [(day(10), 8)], first_dose=FIRST).fires is None


def test_durability_windows_and_missing_follow_ups() -> None:
    end = LAST
    points = [(day(-1), 20), (end + timedelta(days=33), 8), (end + timedelta(days=95), 14)]
    now = end + timedelta(days=200)
    one, three, six = durability(PHQ9, points, first_dose=FIRST, course_end=end, now=now)
    assert (one.months, one.status, one.score) == (1, "responding", (end + timedelta(days=33), 8))
    assert (three.status, three.score) == ("not responding", (end + timedelta(days=95), 14))
    # Six months after 19 March is 19 September; 200 days later is still inside its +/- 30-day window.
    assert six.status == "not yet due" and six.score is None
    later = durability(PHQ9, points, first_dose=FIRST, course_end=end, now=end + timedelta(days=260))
    assert later[2].status == "missing"


def test_durability_without_a_baseline_cannot_tell() -> None:
    points = [(LAST + timedelta(days=30), 5)]
    result = durability(PHQ9, points, first_dose=FIRST, course_end=LAST, now=LAST + timedelta(days=31))
    assert result[0].status == "cannot tell" and result[1].status == "not yet due"


def test_days_to_response() -> None:
    path = trajectory(PHQ9, [(day(-1), 20), (day(7), 12), (day(10), 9)], first_dose=FIRST)
    assert days_to_response(path, FIRST) == 10
    assert days_to_response(trajectory(PHQ9, [(day(-1), 20), (day(7), 12)], first_dose=FIRST), FIRST) is None


def test_wilson_interval_worked_examples() -> None:
    # Brown, Cai and DasGupta 2001 / any Wilson calculator: 8 of 10 -> 0.490 to 0.943; 0 of 10 -> 0 to 0.278.
    low, high = wilson_interval(8, 10) or (0, 0)
    assert (round(low, 3), round(high, 3)) == (0.49, 0.943)
    low, high = wilson_interval(0, 10) or (1, 1)
    assert (low, round(high, 3)) == (0.0, 0.278)
    assert wilson_interval(0, 0) is None
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


@given(st.integers(min_value=1, max_value=5000), st.data())
def test_wilson_interval_holds_the_observed_share(total: int, data: st.DataObject) -> None:
    successes = data.draw(st.integers(min_value=0, max_value=total))
    interval = wilson_interval(successes, total)
    assert interval is not None
    low, high = interval
    assert 0.0 <= low <= successes / total <= high <= 1.0


# --- Worsening during the course and loss of response at a follow-up (issue 19 item 2 prompts) ---------------


def test_worsening_fires_on_a_rise_of_five_phq9_points_since_baseline() -> None:
    from kapclinic.clinical.outcomes import worsening

    worse = worsening(PHQ9, [(day(-2), 12), (day(4), 14), (day(8), 17)], first_dose=FIRST)
    assert worse.fires is True and worse.evidence == ((day(-2), 12), (day(8), 17))
    assert worsening(PHQ9, [(day(-2), 12), (day(8), 16)], first_dose=FIRST).fires is False


def test_worsening_cannot_tell_without_a_baseline_or_a_later_score() -> None:
    from kapclinic.clinical.outcomes import worsening

    assert worsening(PHQ9, [(day(-20), 12), (day(8), 20)], first_dose=FIRST).fires is None
    no_later = worsening(PHQ9, [(day(-2), 12)], first_dose=FIRST)
    assert no_later.fires is None and "since the first dose" in no_later.reason
    assert worsening(CRAVING_VAS, [(day(-2), 12), (day(8), 90)], first_dose=FIRST).fires is None


def test_response_lost_at_the_first_follow_up_measured_not_responding() -> None:
    from kapclinic.clinical.outcomes import response_lost_at_follow_up

    # Responds at the end (20 → 8, day 19); 11 at one month (target day 17 + 31 = day 48): above the half of 20.
    points = [(day(-3), 20), (day(19), 8), (day(48), 11)]
    lost = response_lost_at_follow_up(PHQ9, points, first_dose=FIRST, last_dose=LAST, now=day(60))
    assert lost.fires is True and lost.evidence[-1] == (day(48), 11) and "1-month" in lost.reason
    holds = response_lost_at_follow_up(
        PHQ9, [(day(-3), 20), (day(19), 8), (day(48), 9)], first_dose=FIRST, last_dose=LAST, now=day(60)
    )
    assert holds.fires is False


def test_response_lost_is_not_judged_without_an_end_of_course_response() -> None:
    from kapclinic.clinical.outcomes import response_lost_at_follow_up

    missing = response_lost_at_follow_up(
        PHQ9, [(day(-3), 20), (day(48), 18)], first_dose=FIRST, last_dose=LAST, now=day(60)
    )
    assert missing.fires is None and "7 days after the last dose" in missing.reason
    never = response_lost_at_follow_up(
        PHQ9, [(day(-3), 20), (day(19), 15), (day(48), 18)], first_dose=FIRST, last_dose=LAST, now=day(60)
    )
    assert never.fires is False


@given(
    st.lists(st.tuples(st.integers(min_value=-30, max_value=120), st.integers(min_value=0, max_value=27)), max_size=12),
    st.sampled_from([PHQ9, GAD7, PCL5]),
)
def test_days_to_first_response_is_the_trajectorys(scores: list[tuple[int, int]], instrument: object) -> None:
    """The cohorts' fast path gives what the trajectory gives, for any scores (ties in time included)."""
    assert isinstance(instrument, type(PHQ9))
    top = 21 if instrument is GAD7 else 27
    points = [(day(offset), min(total, top)) for offset, total in scores]
    expected = days_to_response(trajectory(instrument, points, first_dose=FIRST), FIRST) if points else None
    assert days_to_first_response(instrument, points, FIRST) == expected
