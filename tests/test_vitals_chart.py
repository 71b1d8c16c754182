"""The dosing session's vital signs chart: an accessible, deterministic SVG and its one-sentence summary.

Pure inputs (no models), so nothing here touches the database.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import pytest

from kapclinic.dosing.charts import ChartThreshold, VitalPoint, vitals_summary, vitals_svg

TZ = ZoneInfo("America/New_York")
START = datetime(2026, 9, 1, 13, 5, tzinfo=UTC)  # 09:05 in New York
SVG = "{http://www.w3.org/2000/svg}"

THRESHOLDS = (
    ChartThreshold("Systolic alert > 180", 180, "bp"),
    ChartThreshold("Diastolic alert > 110", 110, "diastolic"),
    ChartThreshold("Heart rate alert > 120", 120, "hr"),
    ChartThreshold("Heart rate low < 50", 50, "hr", direction="below"),
    ChartThreshold("SpO₂ alert < 92%", 92, "spo2"),
)


def _session(*systolics: int | None, every: int = 10) -> list[VitalPoint]:
    """One reading every `every` minutes from 09:05, diastolic 60% of systolic, steady heart rate and SpO₂."""
    return [
        VitalPoint(
            START + timedelta(minutes=every * n),
            systolic,
            None if systolic is None else round(systolic * 0.6),
            72 + n % 5,
            98 - n % 3,
        )
        for n, systolic in enumerate(systolics)
    ]


def _svg(points: list[VitalPoint], *, id_prefix: str = "vitals") -> str:
    return vitals_svg(points, THRESHOLDS, dose_at=START + timedelta(minutes=10), tz=TZ, id_prefix=id_prefix)


def _texts(svg: str) -> list[str]:
    root = ElementTree.fromstring(svg)  # noqa: S314  # our own output, parsed only to check it
    return ["".join(node.itertext()) for node in root.iter(f"{SVG}text")]


def test_svg_is_accessible_labelled_and_well_formed() -> None:
    svg = _svg(_session(130, 150, 186, 160, 140))
    root = ElementTree.fromstring(svg)  # noqa: S314  # our own output, parsed only to check it is well formed
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "vitals-title vitals-desc"
    assert [child.tag for child in root][:2] == [f"{SVG}title", f"{SVG}desc"]
    assert root.findtext(f"{SVG}title") == "Vital signs during the dosing session"
    assert (root.findtext(f"{SVG}desc") or "").startswith("5 readings from 09:05 to 09:45; highest blood pressure")
    assert (root.get("width"), root.get("height")) == ("720", "360")
    assert "<style" not in svg and "<?xml" not in svg and "<metadata" not in svg
    assert " style=" not in svg  # presentation attributes only: the page's CSP allows no inline style


def _group(root: ElementTree.Element, name: str) -> ElementTree.Element:
    found = root.find(f".//{SVG}g[@id='vitals-{name}']")
    assert found is not None, name
    return found


def test_one_marker_per_reading_with_its_words() -> None:
    points = _session(130, 150, None, 160)
    root = ElementTree.fromstring(_svg(points))  # noqa: S314  # our own output
    systolic = _group(root, "systolic").findall(f"{SVG}polygon")
    assert [marker.findtext(f"{SVG}title") for marker in systolic] == [
        "Systolic 130 mmHg at 09:05",
        "Systolic 150 mmHg at 09:15",
        "Systolic 160 mmHg at 09:35",  # the reading without a pressure is skipped, not drawn at zero
    ]
    heart = [marker.findtext(f"{SVG}title") for marker in _group(root, "heart-rate").findall(f"{SVG}circle")]
    assert heart == ["Heart rate 72 beats/min at 09:05", "Heart rate 73 beats/min at 09:15",
                     "Heart rate 74 beats/min at 09:25", "Heart rate 75 beats/min at 09:35"]  # fmt: skip
    spo2 = [marker.findtext(f"{SVG}title") for marker in _group(root, "spo2").findall(f"{SVG}rect")]
    assert spo2 == ["SpO₂ 98% at 09:05", "SpO₂ 97% at 09:15", "SpO₂ 96% at 09:25", "SpO₂ 98% at 09:35"]
    # Higher readings are drawn higher: 160 above 150 above 130.
    tips = [float((marker.get("points") or "").split(",")[1].split()[0]) for marker in systolic]
    assert tips[2] < tips[1] < tips[0]
    assert root.find(f".//{SVG}polygon[@id='vitals-bp-band']") is not None
    assert _group(root, "dose-1").find(f"{SVG}line") is not None and _group(root, "dose-2") is not None
    assert [_group(root, f"threshold-top-{n}") is not None for n in (1, 2, 3, 4)] == [True] * 4
    assert _group(root, "threshold-spo2-1") is not None


def test_every_text_is_escaped() -> None:
    hostile = ChartThreshold('<script>alert(1)</script> & "x" > 170', 170, "bp")
    svg = vitals_svg(_session(130, 150), [hostile], dose_at=None, tz=TZ)
    assert "<script" not in svg
    texts = " ".join(_texts(svg))  # parsed: still well formed
    assert "<script>alert(1)</script>" in texts  # as text, not markup


def test_threshold_labels_dose_and_clock_times_are_text() -> None:
    texts = _texts(_svg(_session(130, 150, 186, 160, 140)))
    for threshold in THRESHOLDS:
        assert threshold.label in texts
    assert "Dose 09:15" in texts  # 13:15 UTC, in the clinic's zone
    assert {"09:10", "09:20", "09:40"} <= set(texts)
    assert {"Systolic", "Diastolic", "Heart rate", "SpO₂", "SpO₂ %", "mmHg · beats/min"} <= set(texts)


def test_long_threshold_label_wraps_without_splitting_the_comparison() -> None:
    long = ChartThreshold("Heart rate critical > 130", 130, "hr")
    root = ElementTree.fromstring(vitals_svg(_session(130, 140), [long], dose_at=None, tz=TZ))  # noqa: S314
    lines = [line.text for line in root.iter(f"{SVG}tspan")]  # one text, a tspan a line
    assert lines == ["Heart rate critical", "> 130"]


def test_render_is_deterministic() -> None:
    points = _session(130, 150, 186, 160, 140)
    assert _svg(points) == _svg(points)
    assert _svg(points) == _svg(list(reversed(points)))  # readings are put in time order first
    assert _svg(points) != _svg(_session(130, 150, 187, 160, 140))


def test_two_charts_on_one_page_share_no_ids() -> None:
    first = _svg(_session(130, 150, 186), id_prefix="vitals-1")
    second = _svg(_session(130, 150, 186), id_prefix="vitals-2")
    ids = re.findall(r'\bid="([^"]+)"', first + second)
    assert ids and [name for name, count in Counter(ids).items() if count > 1] == []
    assert all(name.startswith("vitals-1-") for name in re.findall(r'\bid="([^"]+)"', first))
    assert 'id="vitals-1-systolic"' in first and 'id="vitals-2-spo2"' in second
    # Every internal reference, if any, points at an id in the same chart.
    refs = re.findall(r'(?:href="#|url\(#)([^")]+)', second)
    assert set(refs) <= set(re.findall(r'\bid="([^"]+)"', second))


@pytest.mark.parametrize("prefix", ["", "1vitals", 'x" onload="alert(1)', "a b"])
def test_id_prefix_must_be_a_plain_name(prefix: str) -> None:
    with pytest.raises(ValueError, match="id_prefix"):
        _svg(_session(130), id_prefix=prefix)


def test_no_readings_still_renders_with_title_and_desc() -> None:
    svg = vitals_svg([], THRESHOLDS, dose_at=None, tz=TZ)
    root = ElementTree.fromstring(svg)  # noqa: S314  # our own output
    assert root.findtext(f"{SVG}title") == "Vital signs during the dosing session"
    assert root.findtext(f"{SVG}desc") == "No readings yet."
    assert "No readings yet" in _texts(svg)
    assert "Systolic alert > 180" in _texts(svg)  # the lines are there before the first reading
    assert vitals_summary([], (), dose_at=START, tz=TZ) == "No readings yet; dose at 09:05."


def test_one_reading_renders_with_a_span_of_time_around_it() -> None:
    points = [VitalPoint(START, 142, 88, 76, 98)]
    svg = vitals_svg(points, THRESHOLDS, dose_at=None, tz=TZ)
    texts = _texts(svg)
    assert {"09:00", "09:05", "09:10"} <= set(texts)  # about ten minutes either side
    assert 'id="vitals-systolic"' in svg
    assert vitals_summary(points, THRESHOLDS, tz=TZ) == (
        "1 reading at 09:05; blood pressure 142/88, below the alert line of 180; heart rate 76, below the alert "
        "line of 120; SpO₂ 98%, above the alert line of 92."
    )


def test_summary_names_the_highest_pressure_and_the_line_it_crossed() -> None:
    points = _session(130, 150, 186, 160, 140, 135, 130, 128, 126, 125, 124, 122, every=11)
    points[3] = VitalPoint(points[3].at, 186, 104, 80, 97)  # a later equal systolic: the earliest is named
    summary = vitals_summary(points, THRESHOLDS, tz=TZ, dose_at=START + timedelta(minutes=10))
    assert summary.startswith(
        "12 readings from 09:05 to 11:06; highest blood pressure 186/112 at 09:27, above the alert line of 180; "
        "highest diastolic pressure 112 at 09:27, above the alert line of 110; "
    )
    assert summary.endswith("lowest SpO₂ 96% at 09:27, above the alert line of 92; dose at 09:15.")


def test_summary_says_when_the_highest_pressure_stayed_below_or_reached_the_line() -> None:
    assert "highest blood pressure 170/102 at 09:15, below the alert line of 180;" in vitals_summary(
        _session(130, 170, 150), THRESHOLDS, tz=TZ
    )
    assert "highest blood pressure 180/108 at 09:15, at the alert line of 180;" in vitals_summary(
        _session(130, 180, 150), THRESHOLDS, tz=TZ
    )
    # Without lines, the reading alone; and times in each reading's own zone when no tz is given.
    assert vitals_summary(_session(130, 170), ()) == (
        "2 readings from 13:05 to 13:15; highest blood pressure 170/102 at 13:15; highest heart rate 73 at 13:15; "
        "lowest SpO₂ 97% at 13:15."
    )


def test_summary_mentions_a_low_end_only_when_it_reaches_a_line() -> None:
    points = [
        VitalPoint(START, 120, 80, 70, 97),
        VitalPoint(START + timedelta(minutes=5), 118, 78, 46, 90),
    ]
    summary = vitals_summary(points, THRESHOLDS, tz=TZ)
    assert "lowest heart rate 46 at 09:10, below the alert line of 50" in summary
    assert "lowest SpO₂ 90% at 09:10, below the alert line of 92" in summary
    assert "lowest blood pressure" not in summary and "diastolic" not in summary


def test_none_values_are_skipped_per_series() -> None:
    points = [
        VitalPoint(START, 130, None, 72, None),
        VitalPoint(START + timedelta(minutes=5), None, None, None, None),
        VitalPoint(START + timedelta(minutes=10), 190, 100, None, None),
        VitalPoint(START + timedelta(minutes=15), None, 90, 80, None),
    ]
    svg = _svg(points)
    assert 'id="vitals-systolic"' in svg and 'id="vitals-heart-rate"' in svg
    assert 'id="vitals-spo2"' not in svg  # no SpO₂ at all: no line, and no legend entry
    assert "SpO₂" not in _texts(svg)
    summary = vitals_summary(points, THRESHOLDS, tz=TZ)
    assert summary == (
        "4 readings from 09:05 to 09:20; highest blood pressure 190/100 at 09:15, above the alert line of 180; "
        "highest heart rate 80 at 09:20, below the alert line of 120."
    )
    # The highest systolic without its diastolic is still named.
    assert "highest blood pressure 130 systolic at 09:05" in vitals_summary(points[:2], (), tz=TZ)


def test_thresholds_check_their_series_and_default_direction() -> None:
    with pytest.raises(ValueError, match="series"):
        ChartThreshold("Temperature > 38", 38, "temp")
    assert ChartThreshold("SpO₂ alert < 92%", 92, "spo2").upper is False  # SpO₂ lines are lower limits by default
    assert ChartThreshold("Systolic alert > 180", 180, "bp").upper is True
    assert ChartThreshold("Systolic low < 90", 90, "systolic", direction="below").upper is False


def test_a_three_hour_session_renders_quickly() -> None:
    points = [
        VitalPoint(START + timedelta(minutes=3 * n), 120 + n % 40, 80 + n % 15, 70 + n % 25, 95 + n % 5)
        for n in range(60)
    ]
    began = time.perf_counter()
    svg = _svg(points)
    assert time.perf_counter() - began < 0.5  # typically a few milliseconds (matplotlib took about 0.15 s)
    assert "60 readings from 09:05 to 12:02" in svg


def test_times_must_be_aware() -> None:
    naive = datetime(2026, 9, 1, 9, 5)  # noqa: DTZ001  # the mistake under test
    with pytest.raises(ValueError, match="aware"):
        VitalPoint(naive, 120, 80, 70, 98)
    with pytest.raises(ValueError, match="aware"):
        vitals_svg(_session(120), (), dose_at=naive, tz=TZ)
