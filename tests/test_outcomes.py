"""Score trajectories: pure functions, no database.

Worked examples use the PHQ-9 (response >= 50% drop, remission total < 5: outcomes.md section 2), the PCL-5
(response = a 10-point drop, no remission rule) and the craving scale (neither rule).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kapclinic.clinical.instruments import CRAVING_VAS, CSSRS_SCREEN, GAD7, PCL5, PHQ9
from kapclinic.clinical.outcomes import trajectory

START = datetime(2026, 9, 1, 14, 0, tzinfo=UTC)


def weekly(*totals: int) -> list[tuple[datetime, int]]:
    return [(START + timedelta(weeks=n), total) for n, total in enumerate(totals)]


def test_phq9_series_marks_bands_response_and_remission() -> None:
    result = trajectory(PHQ9, weekly(20, 16, 11, 8, 4))
    assert [p.band for p in result.points] == ["severe", "moderately severe", "moderate", "mild", "none/minimal"]
    # 20 -> 11 is a 45% drop (no response); 20 -> 8 is 60% (response); only 4 is below 5.
    assert [p.response for p in result.points] == [False, False, False, True, True]
    assert [p.remission for p in result.points] == [False, False, False, False, True]
    assert [p.is_baseline for p in result.points] == [True, False, False, False, False]
    assert result.first_response == START + timedelta(weeks=3)
    assert result.first_remission == START + timedelta(weeks=4)
    assert result.baseline is not None and result.baseline.total == 20
    assert result.instrument == "phq9" and result.has_response_rule and result.has_remission_rule


def test_exactly_half_is_a_response_and_five_is_not_remission() -> None:
    result = trajectory(PHQ9, weekly(10, 5, 6))
    assert [p.response for p in result.points] == [False, True, False]
    assert [p.remission for p in result.points] == [False, False, False]
    assert result.first_response == START + timedelta(weeks=1)
    assert result.first_remission is None


def test_points_are_sorted_by_time_and_the_earliest_is_the_baseline() -> None:
    late, early = START + timedelta(days=10), START
    result = trajectory(GAD7, [(late, 6), (early, 14)])
    assert [p.total for p in result.points] == [14, 6]
    assert result.points[0].is_baseline and result.points[1].response


def test_first_dose_moves_the_baseline_to_the_last_score_before_it() -> None:
    # Screen 12 at intake, baseline 20 the day before the first dose: 9 is a response against 20, not 12.
    series = weekly(12, 20, 9)
    result = trajectory(PHQ9, series, first_dose=START + timedelta(weeks=1, days=1))
    assert [p.is_baseline for p in result.points] == [False, True, False]
    assert [p.response for p in result.points] == [False, False, True]


def test_first_dose_before_every_score_falls_back_to_the_first() -> None:
    result = trajectory(PHQ9, weekly(20, 9), first_dose=START - timedelta(days=1))
    assert result.points[0].is_baseline and result.points[1].response


def test_points_rule_for_pcl5_and_no_remission_rule() -> None:
    result = trajectory(PCL5, weekly(50, 41, 40))
    assert [p.response for p in result.points] == [False, False, True]
    assert [p.remission for p in result.points] == [None, None, None]
    assert [p.band for p in result.points] == [None, None, None]  # the PCL-5 has no bands (NCPTSD)
    assert result.first_remission is None and not result.has_remission_rule


def test_instrument_without_rules_marks_neither() -> None:
    result = trajectory(CRAVING_VAS, weekly(90, 10))
    assert [(p.response, p.remission) for p in result.points] == [(None, None), (None, None)]
    assert result.first_response is None and result.first_remission is None


def test_empty_series() -> None:
    result = trajectory(PHQ9, [])
    assert result.points == () and result.baseline is None and result.first_response is None


def test_total_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="PHQ-9 total 28 is outside 0 to 27"):
        trajectory(PHQ9, weekly(20, 28))


def test_triage_instrument_has_no_trajectory() -> None:
    with pytest.raises(ValueError, match="has no total score"):
        trajectory(CSSRS_SCREEN, weekly(1))


totals = st.lists(st.integers(min_value=0, max_value=27), min_size=1, max_size=12)


@given(totals)
def test_response_is_never_marked_at_the_baseline(series: list[int]) -> None:
    result = trajectory(PHQ9, weekly(*series))
    assert result.points[0].is_baseline and result.points[0].response is False
    assert sum(p.is_baseline for p in result.points) == 1


@given(totals)
def test_remission_iff_total_at_or_below_cut_off(series: list[int]) -> None:
    assert PHQ9.remission is not None
    result = trajectory(PHQ9, weekly(*series))
    assert [p.remission for p in result.points] == [t <= PHQ9.remission.points for t in series]


@given(totals)
def test_first_dates_are_those_of_the_first_marked_points(series: list[int]) -> None:
    result = trajectory(PHQ9, weekly(*series))
    responded = [p.at for p in result.points if p.response]
    remitted = [p.at for p in result.points if p.remission]
    assert result.first_response == (responded[0] if responded else None)
    assert result.first_remission == (remitted[0] if remitted else None)
    # Response means at least halving the baseline, so it is never marked on a zero baseline.
    if series[0] == 0:
        assert result.first_response is None
