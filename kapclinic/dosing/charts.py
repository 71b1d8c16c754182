"""Draw a dosing session's vital signs as a server-side SVG time line, written directly as text, in the score chart's
style.

Two panels share the clock-time axis: blood pressure and heart rate on top (both on one mmHg/beats-per-minute
scale, as on an anaesthesia record), SpO₂ below. Like kapclinic.measures.charts the SVG is deterministic (the same
data, the same bytes), its ids are prefixed (two charts on one page must not share ids), it carries a <title> and
<desc> for screen readers and a <title> on every reading, and it has no style attribute (presentation attributes
only, for the page's Content-Security-Policy). Nothing relies on colour alone: systolic ▼, diastolic ▲, heart
rate ● on a dotted line and SpO₂ ■ have their own shapes, threshold lines are dashed and labelled in words, and
the dose is a dash-dot line labelled "Dose".

Inputs are plain values (VitalPoint, ChartThreshold), so this module imports no Django model and its tests need
no database. No matplotlib (issue 15): a three-hour session's chart is written in a few milliseconds without a
lock, so it is written again on every request and not cached. Every text written goes through html.escape.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from html import escape
from itertools import pairwise
from typing import Literal

from kapclinic.svgcharts import (
    INK,
    MUTED,
    TEXT_SIZE,
    date_ticks,
    number,
    svg_document,
    svg_line,
    svg_text,
    text_width,
)

WIDTH_PX, HEIGHT_PX = 720, 360
# Margins in pixels: y tick labels and axis label on the left, threshold labels on the right, legend on top,
# clock times at the bottom; _GAP separates the two panels, which split the rest 2:1.
_LEFT, _RIGHT, _TOP, _BOTTOM, _GAP = 56, 146, 34, 30, 16
_PLOT_W = WIDTH_PX - _LEFT - _RIGHT
_PLOT_H = HEIGHT_PX - _TOP - _BOTTOM - _GAP
_BP_H = round(_PLOT_H * 0.66)
_SPO2_H = _PLOT_H - _BP_H

# The clinic's palette (static/kapclinic/kapclinic.css): brand blue, error red, ok green, warn amber, muted.
_BP = "#1d4e89"
_BP_BAND = "#e4ecf6"
_HR = "#b3261e"
_SPO2 = "#1e6b3a"
_THRESHOLD = "#a86b00"
_DOSE = "#505a66"
_GRID = "#e3e7ec"

# Sizes in CSS pixels, as the matplotlib chart had them in points (x 4/3). Dashes are matplotlib's, scaled by the
# line width: (5, 3) at 1.1 pt, (7, 2.5, 1.5, 2.5) at 1.3 pt, dots (1.2, 1.6) at 1.6 pt.
_SMALL = 11.33
_THRESHOLD_DASH = "7.33 4.4"
_DOSE_DASH = "12.13 4.33 2.6 4.33"
_HR_DOTS = "2.56 3.41"
_LINE_WIDTH = "2.13"
_TICK = 4
_SPO2_TOP = _TOP + _BP_H + _GAP  # the SpO₂ panel's top edge
_PLOT_RIGHT = _LEFT + _PLOT_W

Series = Literal["bp", "systolic", "diastolic", "hr", "spo2"]
_SERIES: frozenset[str] = frozenset(("bp", "systolic", "diastolic", "hr", "spo2"))
_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


@dataclass(frozen=True)
class VitalPoint:
    """One set of readings at an aware moment; a None is a value not taken, and is skipped for its series."""

    at: datetime
    systolic: int | None
    diastolic: int | None
    heart_rate: int | None
    spo2: int | None

    def __post_init__(self) -> None:
        if self.at.utcoffset() is None:
            raise ValueError("VitalPoint.at must be an aware datetime.")


@dataclass(frozen=True)
class ChartThreshold:
    """A horizontal line drawn dashed and labelled in words at the right edge, e.g. "Systolic alert > 180".

    `series` places the line: "bp", "systolic", "diastolic" and "hr" on the top panel, "spo2" on the bottom.
    For the summary sentence a "bp" line is read as a systolic line; give a diastolic line as "diastolic".
    `direction` says which side of the line is out of range: "above" for an upper limit, "below" for a lower
    one; None means "below" for SpO₂ and "above" for everything else.
    """

    label: str
    value: float
    series: str
    direction: Literal["above", "below"] | None = None
    # How the summary names the line: "above the alert line of 180", "above the pre-dose hold line of 160".
    line_name: str = "alert line"

    def __post_init__(self) -> None:
        if self.series not in _SERIES:
            raise ValueError(f"Unknown threshold series {self.series!r}; expected one of {sorted(_SERIES)}.")

    @property
    def upper(self) -> bool:
        """True for an upper limit (readings above it are out of range), False for a lower one."""
        if self.direction is None:
            return self.series != "spo2"
        return self.direction == "above"


def vitals_svg(
    points: Sequence[VitalPoint],
    thresholds: Sequence[ChartThreshold] = (),
    *,
    dose_at: datetime | None,
    tz: tzinfo,
    id_prefix: str = "vitals",
) -> str:
    """Return the session's vital signs chart as an SVG element to embed inline.

    `points` in any order (they are sorted by time); `tz` is the clinic's time zone for the clock times;
    `id_prefix` starts every element id (letters, digits, "-" and "_"), so give each chart on a page its own.
    """
    if not _PREFIX.fullmatch(id_prefix):
        raise ValueError(f"id_prefix must be a letter followed by letters, digits, '-' or '_': {id_prefix!r}")
    if dose_at is not None and dose_at.utcoffset() is None:
        raise ValueError("dose_at must be an aware datetime.")
    ordered = sorted(points, key=lambda point: point.at)
    return _Chart(ordered, tuple(thresholds), dose_at, tz, id_prefix).svg()


def vitals_summary(
    points: Sequence[VitalPoint],
    thresholds: Sequence[ChartThreshold] = (),
    *,
    tz: tzinfo | None = None,
    dose_at: datetime | None = None,
) -> str:
    """Return one sentence saying what the chart shows (its <desc>), for screen readers.

    For example "12 readings from 09:05 to 11:10; highest blood pressure 186/104 at 09:45, above the alert line
    of 180; highest heart rate 96 at 09:50; lowest SpO₂ 95% at 10:05; dose at 09:15." Times are clock times in
    `tz` (by default, in each reading's own time zone).
    """
    ordered = sorted(points, key=lambda point: point.at)

    def clock(moment: datetime) -> str:
        return (moment.astimezone(tz) if tz is not None else moment).strftime("%H:%M")

    dose = f"dose at {clock(dose_at)}" if dose_at is not None else ""
    if not ordered:
        return "No readings yet" + (f"; {dose}." if dose else ".")
    single = len(ordered) == 1
    if single:
        parts = [f"1 reading at {clock(ordered[0].at)}"]
    else:
        parts = [f"{len(ordered)} readings from {clock(ordered[0].at)} to {clock(ordered[-1].at)}"]

    for measure in _MEASURES:
        taken = [(reading, point) for point in ordered if (reading := measure.value(point)) is not None]
        if not taken:
            continue
        # max/min keep the first of equal readings: the earliest time is the one named.
        high, high_at = max(taken, key=lambda pair: pair[0])
        low, low_at = min(taken, key=lambda pair: pair[0])
        up = _relation(
            high, [(t.value, t.line_name) for t in thresholds if t.series in measure.series and t.upper], upper=True
        )
        down = _relation(
            low, [(t.value, t.line_name) for t in thresholds if t.series in measure.series and not t.upper], upper=False
        )
        if single:
            # One reading: say it once, against the line it reached, else against the line that matters most.
            relation = next((r for r in (up, down) if r and r[1]), None)
            if relation is None and measure.primary is not None:
                relation = up if measure.primary == "high" else down
            if measure.primary is not None or relation is not None:
                words = f"{measure.name} {measure.shown(high_at)}"
                parts.append(words + (f", {relation[0]}" if relation else ""))
            continue
        for reading_at, relation, is_primary, which in (
            (high_at, up, measure.primary == "high", "highest"),
            (low_at, down, measure.primary == "low", "lowest"),
        ):
            reached = relation is not None and relation[1]
            if is_primary or reached:
                words = f"{which} {measure.name} {measure.shown(reading_at)} at {clock(reading_at.at)}"
                parts.append(words + (f", {relation[0]}" if relation else ""))
    if dose:
        parts.append(dose)
    return "; ".join(parts) + "."


@dataclass(frozen=True)
class _Measure:
    """How the summary speaks of one measure: its name, how a reading is shown, which lines apply."""

    name: str
    value: Callable[[VitalPoint], int | None]
    shown: Callable[[VitalPoint], str]
    series: tuple[str, ...]
    primary: Literal["high", "low"] | None  # the end always mentioned; the other only when it reaches a line


def _pressure(point: VitalPoint) -> str:
    return f"{point.systolic}/{point.diastolic}" if point.diastolic is not None else f"{point.systolic} systolic"


_MEASURES = (
    _Measure("blood pressure", lambda p: p.systolic, _pressure, ("bp", "systolic"), "high"),
    _Measure("diastolic pressure", lambda p: p.diastolic, lambda p: str(p.diastolic), ("diastolic",), None),
    _Measure("heart rate", lambda p: p.heart_rate, lambda p: str(p.heart_rate), ("hr",), "high"),
    _Measure("SpO₂", lambda p: p.spo2, lambda p: f"{p.spo2}%", ("spo2",), "low"),
)


def _relation(reading: int, limits: list[tuple[float, str]], *, upper: bool) -> tuple[str, bool] | None:
    """Say where `reading` lies against the furthest line it reached (True), else the nearest one it has not."""
    if not limits:
        return None
    reached = [limit for limit in limits if (reading >= limit[0] if upper else reading <= limit[0])]
    if reached:
        value, name = max(reached) if upper else min(reached)
        side = "at" if reading == value else ("above" if upper else "below")
        return f"{side} the {name} of {_number(value)}", True
    value, name = min(limits) if upper else max(limits)
    return f"{'below' if upper else 'above'} the {name} of {_number(value)}", False


def _number(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class _Panel:
    """One panel: its top edge and height in pixels and the values at its bottom and top edge."""

    top: float
    height: float
    low: float
    high: float

    @property
    def bottom(self) -> float:
        return self.top + self.height

    def y(self, value: float) -> float:
        return self.top + (self.high - value) / (self.high - self.low) * self.height


@dataclass(frozen=True)
class _Series:
    """How one measure is drawn: its id, legend words, value, colour, marker shape and unit for the point titles."""

    gid: str
    label: str
    value: Callable[[VitalPoint], int | None]
    colour: str
    marker: Literal["down", "up", "circle", "square"]
    unit: str
    on_top: bool
    dashes: str | None = None


_SERIES_DRAWN = (
    _Series("systolic", "Systolic", lambda p: p.systolic, _BP, "down", " mmHg", on_top=True),
    _Series("diastolic", "Diastolic", lambda p: p.diastolic, _BP, "up", " mmHg", on_top=True),
    _Series("heart-rate", "Heart rate", lambda p: p.heart_rate, _HR, "circle", " beats/min", True, _HR_DOTS),
    _Series("spo2", "SpO₂", lambda p: p.spo2, _SPO2, "square", "%", on_top=False),
)


class _Chart:
    """One chart being written: its two panels, time scale and SVG elements in drawing order (the last on top)."""

    def __init__(
        self,
        points: list[VitalPoint],
        thresholds: tuple[ChartThreshold, ...],
        dose_at: datetime | None,
        tz: tzinfo,
        prefix: str,
    ) -> None:
        self.points, self.thresholds, self.dose_at, self.tz, self.prefix = points, thresholds, dose_at, tz, prefix
        moments = [point.at for point in points] + ([dose_at] if dose_at is not None else [])
        self.start, self.end = _x_range(moments, tz)
        self.bp_lines = [t for t in thresholds if t.series != "spo2"]
        self.spo2_lines = [t for t in thresholds if t.series == "spo2"]
        # Without readings, a usual span (40 to 180) keeps the panel from fitting the threshold lines alone.
        top_values = [v for p in points for v in (p.systolic, p.diastolic, p.heart_rate) if v is not None] or [40, 180]
        low, high = _top_range(top_values + [t.value for t in self.bp_lines])
        self.top = _Panel(_TOP, _BP_H, low, high)
        low, high = _spo2_range([p.spo2 for p in points if p.spo2 is not None] + [t.value for t in self.spo2_lines])
        self.bottom = _Panel(_SPO2_TOP, _SPO2_H, low, high)
        # Markers shrink a little for a long session, so 60 readings over three hours stay apart (matplotlib's 6 and
        # 4.5 pt).
        self.size = 8.0 if len(points) <= 24 else 6.0
        self.parts: list[str] = []

    def x(self, moment: datetime) -> float:
        # By timestamp: datetimes sharing a tzinfo subtract by wall clock, which is an hour out across DST.
        span = self.end.timestamp() - self.start.timestamp()
        return _LEFT + (moment.timestamp() - self.start.timestamp()) / span * _PLOT_W

    def svg(self) -> str:
        ticks = _time_ticks(self.start, self.end, self.tz) if self.points or self.dose_at is not None else []
        self._grid_and_axes(ticks)
        self._pressure_band()
        self._threshold_lines(self.top, self.bp_lines, "threshold-top")
        self._threshold_lines(self.bottom, self.spo2_lines, "threshold-spo2")
        if self.dose_at is not None:
            self._dosesvg_line(self.dose_at)
        drawn = self._series()
        if not self.points:
            self._no_readings()
        self._legend(drawn)
        summary = vitals_summary(self.points, self.thresholds, tz=self.tz, dose_at=self.dose_at)
        return svg_document(
            prefix=self.prefix,  # checked by vitals_svg: letters, digits, "-" and "_" only
            css_class="vitals-chart",
            width=WIDTH_PX,
            height=HEIGHT_PX,
            title="Vital signs during the dosing session",
            description=summary,
            parts=self.parts,
        )

    def _grid_and_axes(self, ticks: list[tuple[datetime, str]]) -> None:
        grid, axes = [], []
        top_step = 20 if self.top.high - self.top.low <= 160 else 40
        # SpO₂: at most three steps of 1, 2, 5 or 10 points (matplotlib's MaxNLocator(nbins=3)).
        spo2_step = next(n for n in (1, 2, 5, 10, 20, 50) if (self.bottom.high - self.bottom.low) / n <= 3)
        for panel, step, label in ((self.top, top_step, "mmHg · beats/min"), (self.bottom, spo2_step, "SpO₂ %")):
            value = math.ceil(panel.low / step) * step
            while value <= panel.high:
                at = panel.y(value)
                grid.append(svg_line(_LEFT, at, _PLOT_RIGHT, at, stroke=_GRID, stroke_width="0.93"))
                axes.append(svg_line(_LEFT - _TICK, at, _LEFT, at, stroke=MUTED, stroke_width="1.07"))
                axes.append(svg_text(_LEFT - _TICK - 4, at + 0.35 * TEXT_SIZE, f"{value:g}", anchor="end"))
                value += step
            middle = panel.top + panel.height / 2
            axes.append(svg_text(18, middle, label, anchor="middle", transform=f"rotate(-90 18 {number(middle)})"))
            for moment, words in ticks:
                at = self.x(moment)
                grid.append(svg_line(at, panel.top, at, panel.bottom, stroke=_GRID, stroke_width="0.93"))
                axes.append(svg_line(at, panel.bottom, at, panel.bottom + _TICK, stroke=MUTED, stroke_width="1.07"))
                if panel is self.bottom:  # clock times under the lower panel only
                    axes.append(svg_text(at, panel.bottom + _TICK + 4 + TEXT_SIZE * 0.8, words, anchor="middle"))
            axes.append(
                f'<path d="M{_LEFT} {number(panel.top)}V{number(panel.bottom)}H{_PLOT_RIGHT}" fill="none" '
                f'stroke="{MUTED}" stroke-width="1.07" stroke-linecap="square"/>'
            )
        self.parts.append(f'<g id="{self.prefix}-grid">{"".join(grid)}</g>\n')
        self.parts.append(f'<g id="{self.prefix}-axes">{"".join(axes)}</g>\n')

    def _pressure_band(self) -> None:
        """Shade between the systolic and diastolic lines, following each line as drawn across a skipped value."""
        highs = [(p.at.timestamp(), p.systolic) for p in self.points if p.systolic is not None]
        lows = [(p.at.timestamp(), p.diastolic) for p in self.points if p.diastolic is not None]
        if len(highs) < 2 or len(lows) < 2:
            return
        first, last = max(highs[0][0], lows[0][0]), min(highs[-1][0], lows[-1][0])
        stamps = sorted({t for t, _ in highs + lows if first <= t <= last})
        if len(stamps) < 2:
            return
        start, span = self.start.timestamp(), self.end.timestamp() - self.start.timestamp()

        def corner(stamp: float, value: float) -> str:
            return f"{number(_LEFT + (stamp - start) / span * _PLOT_W)},{number(self.top.y(value))}"

        upper = [corner(t, _interpolate(t, highs)) for t in stamps]
        lower = [corner(t, _interpolate(t, lows)) for t in reversed(stamps)]
        self.parts.append(
            f'<polygon id="{self.prefix}-bp-band" points="{" ".join(upper + lower)}" fill="{_BP_BAND}"/>\n'
        )

    def _threshold_lines(self, panel: _Panel, thresholds: Sequence[ChartThreshold], gid: str) -> None:
        """Draw each threshold dashed across `panel`, labelled at the right edge; labels are spread so none overlap."""
        if not thresholds:
            return
        ordered = sorted(thresholds, key=lambda t: (t.value, t.label))
        parts = []
        for n, threshold in enumerate(ordered, start=1):
            at = panel.y(threshold.value)
            parts.append(
                f'<g id="{self.prefix}-{gid}-{n}">'
                + svg_line(
                    _LEFT, at, _PLOT_RIGHT, at, stroke=_THRESHOLD, stroke_width="1.47", stroke_dasharray=_THRESHOLD_DASH
                )
                + "</g>"
            )
        captions = [_caption(t.label).split("\n") for t in ordered]
        line_px = 12.5  # 8.5 pt text with some leading, in CSS pixels
        heights = [len(lines) * line_px for lines in captions]
        wanted = [panel.bottom - panel.y(t.value) for t in ordered]  # pixels above the panel's bottom
        placed = _spread(wanted, heights, panel.height)
        for threshold, lines, want, y_px in zip(ordered, captions, wanted, placed, strict=True):
            centre = panel.bottom - y_px
            if abs(y_px - want) > 1:
                # A leader from the line's end to its label, where the label had to move to make room.
                parts.append(
                    svg_line(_PLOT_RIGHT, panel.y(threshold.value), _PLOT_RIGHT + 6.2, centre, stroke=_THRESHOLD,
                          stroke_width="1.07")
                )  # fmt: skip
            first = centre + 0.35 * _SMALL - (len(lines) - 1) * line_px / 2
            spans = "".join(
                f'<tspan x="{number(_PLOT_RIGHT + 8.3)}" y="{number(first + n * line_px)}">{escape(line)}</tspan>'
                for n, line in enumerate(lines)
            )
            parts.append(f'<text font-size="{_SMALL}" fill="{INK}">{spans}</text>')
        self.parts.append("".join(parts) + "\n")

    def _dosesvg_line(self, dose_at: datetime) -> None:
        at = self.x(dose_at)
        for n, panel in enumerate((self.top, self.bottom), start=1):
            self.parts.append(
                f'<g id="{self.prefix}-dose-{n}">'
                + svg_line(
                    at, panel.top, at, panel.bottom, stroke=_DOSE, stroke_width="1.73", stroke_dasharray=_DOSE_DASH
                )
                + "</g>"
            )
        # The label sits inside the top panel next to the line, on the side with more room.
        words = f"Dose {dose_at.astimezone(self.tz):%H:%M}"
        right = (at - _LEFT) / _PLOT_W < 0.8
        width = text_width(words, _SMALL)
        x = at + 5.33 if right else at - 5.33
        left_edge = x if right else x - width
        baseline = _TOP + 4 + _SMALL * 0.8
        self.parts.append(
            f'<rect x="{number(left_edge - 2)}" y="{number(baseline - _SMALL * 0.86)}" width="{number(width + 4)}" '
            f'height="{number(_SMALL * 1.1)}" rx="1.5" fill="white" fill-opacity="0.85"/>'
            + svg_text(x, baseline, words, anchor="start" if right else "end", size=_SMALL)
            + "\n"
        )

    def _series(self) -> list[_Series]:
        drawn = []
        for series in _SERIES_DRAWN:
            panel = self.top if series.on_top else self.bottom
            taken = [(p.at, v) for p in self.points if (v := series.value(p)) is not None]
            if not taken:
                continue
            drawn.append(series)
            where = [(self.x(at), panel.y(value)) for at, value in taken]
            dashes = f' stroke-dasharray="{series.dashes}"' if series.dashes else ""
            parts = [
                f'<polyline points="{" ".join(f"{number(x)},{number(y)}" for x, y in where)}" fill="none" '
                f'stroke="{series.colour}" stroke-width="{_LINE_WIDTH}"{dashes}/>'
            ]
            size = self.size - {"down": 0, "up": 0, "circle": 0.67, "square": 1.33}[series.marker]
            for (at, value), (x, y) in zip(taken, where, strict=True):
                title = f"{series.label} {value}{series.unit} at {at.astimezone(self.tz):%H:%M}"
                parts.append(_marker(series.marker, x, y, size, series.colour, escape(title)))
            self.parts.append(f'<g id="{self.prefix}-{series.gid}">{"".join(parts)}</g>\n')
        return drawn

    def _no_readings(self) -> None:
        words = "No readings yet"
        size = 14.67  # matplotlib's 11 pt
        width = text_width(words, size)
        x, middle = _LEFT + _PLOT_W / 2, self.top.top + self.top.height / 2
        self.parts.append(
            f'<rect x="{number(x - width / 2 - 6)}" y="{number(middle - size * 0.9)}" width="{number(width + 12)}" '
            f'height="{number(size * 1.8)}" rx="4" fill="white"/>'
            + svg_text(x, middle + 0.35 * size, words, anchor="middle", size=size)
            + "\n"
        )

    def _legend(self, drawn: list[_Series]) -> None:
        if not drawn:
            return
        x, middle = 49.0, 17.0
        parts = []
        for series in drawn:
            dashes = f' stroke-dasharray="{series.dashes}"' if series.dashes else ""
            handle = (
                f'<line x1="0" y1="0" x2="25" y2="0" stroke="{series.colour}" stroke-width="{_LINE_WIDTH}"{dashes}/>'
                + _marker(series.marker, 12.5, 0, 8.0, series.colour, None)
            )
            parts.append(f'<g transform="translate({number(x)} {number(middle)})">{handle}</g>')
            parts.append(svg_text(x + 34, middle + 0.35 * _SMALL, series.label, size=_SMALL))
            x += 34 + text_width(series.label, _SMALL) + 16
        self.parts.append(f'<g id="{self.prefix}-legend">{"".join(parts)}</g>\n')


def _interpolate(stamp: float, known: list[tuple[float, int]]) -> float:
    """The value of the line through `known` (time-ordered) at `stamp`, as drawn: straight between two readings."""
    for (t0, v0), (t1, v1) in pairwise(known):
        if t0 <= stamp <= t1:
            return v0 if t1 == t0 else v0 + (v1 - v0) * (stamp - t0) / (t1 - t0)
    return known[0][1] if stamp < known[0][0] else known[-1][1]


def _marker(shape: str, x: float, y: float, size: float, colour: str, title: str | None) -> str:
    """A marker of `size` pixels (across) centred on (x, y), edged in white; `title` already escaped, or None."""
    r = size / 2
    edge = f'fill="{colour}" stroke="white" stroke-width="0.67"'
    inner = f"<title>{title}</title>" if title else ""
    if shape == "circle":
        return f'<circle cx="{number(x)}" cy="{number(y)}" r="{number(r)}" {edge}>{inner}</circle>'
    if shape == "square":
        return (
            f'<rect x="{number(x - r)}" y="{number(y - r)}" width="{number(size)}" height="{number(size)}" {edge}>'
            f"{inner}</rect>"
        )
    tip = 1 if shape == "down" else -1  # ▼ points down (the top of the pressure), ▲ up
    corners = (
        f"{number(x)},{number(y + tip * r)} {number(x - r)},{number(y - tip * r)} {number(x + r)},{number(y - tip * r)}"
    )
    return f'<polygon points="{corners}" {edge}>{inner}</polygon>'


def _caption(label: str) -> str:
    """Wrap a threshold label to fit the right margin, never splitting a comparison from its number ("> 180")."""
    words = label.split(" ")
    glued: list[str] = []
    for word in words:
        if glued and glued[-1] in _COMPARISONS:
            glued[-1] += "\0" + word  # textwrap does not break at a NUL; it becomes a space again below
        else:
            glued.append(word)
    return textwrap.fill(" ".join(glued), width=23).replace("\0", " ")


_COMPARISONS = frozenset(("<", ">", "≤", "≥", "<=", ">=", "="))


def _spread(wanted: list[float], heights: list[float], limit: float) -> list[float]:
    """Return label centres (pixels above the axes' bottom, ascending) moved as little as possible to not overlap."""
    placed = list(wanted)
    for i in range(1, len(placed)):  # push up
        placed[i] = max(placed[i], placed[i - 1] + (heights[i - 1] + heights[i]) / 2)
    overflow_top = limit + 6 - (placed[-1] + heights[-1] / 2)  # may run a little past the axes' top
    if overflow_top < 0:
        placed[-1] += overflow_top
        for i in range(len(placed) - 2, -1, -1):  # push back down
            placed[i] = min(placed[i], placed[i + 1] - (heights[i] + heights[i + 1]) / 2)
    return placed


def _top_range(values: Sequence[float]) -> tuple[float, float]:
    low = max(0, math.floor((min(values) - 8) / 20) * 20)
    high = math.ceil((max(values) + 8) / 20) * 20
    return low, max(high, low + 80)


def _spo2_range(values: list[float]) -> tuple[float, float]:
    # Up to 100% and a little over, so a marker at 100 is not cut in half by the frame.
    if not values:
        return 88, 101
    low = min(90, math.floor((min(values) - 2) / 2) * 2)
    return max(0, low), max(101, max(values) + 1)


def _x_range(moments: list[datetime], tz: tzinfo) -> tuple[datetime, datetime]:
    if not moments:
        # Nothing to place: any fixed span will do (the axis shows no times), and a fixed one keeps output stable.
        anchor = datetime.combine(date(2000, 1, 1), time(9), tzinfo=tz)
        return anchor, anchor + timedelta(hours=1)
    first, last = min(moments), max(moments)
    pad = max((last - first) * 0.04, timedelta(minutes=3))
    if last - first < timedelta(minutes=20):  # one reading, or a few close together: at least 20 minutes shown
        middle = first + (last - first) / 2
        return middle - timedelta(minutes=10) - pad, middle + timedelta(minutes=10) + pad
    return first - pad, last + pad


def _time_ticks(start: datetime, end: datetime, tz: tzinfo) -> list[tuple[datetime, str]]:
    """Ticks on round clock times in `tz`, at most about eight of them, each with its "HH:MM"."""
    minutes = (end.timestamp() - start.timestamp()) / 60
    # Steps that divide the hour, or the day: every tick falls on a round time (matplotlib's MinuteLocator and
    # HourLocator, as the chart had them).
    step = next((n for n in (5, 10, 15, 20, 30, 60, 120, 180, 240, 360, 720) if minutes / n <= 8), None)
    if step is None:  # a session over days: the date axis of the score chart
        return [(tick.at, tick.label) for tick in date_ticks(start, end, tz, most=8)[0]]
    local = start.astimezone(tz)
    if step < 60:
        moment = local.replace(minute=local.minute - local.minute % step, second=0, microsecond=0)
    else:
        hours = step // 60
        moment = local.replace(hour=local.hour - local.hour % hours, minute=0, second=0, microsecond=0)
    ticks = []
    # Wall-clock steps, compared by timestamp (datetimes sharing a tzinfo compare by wall clock across DST).
    while moment.timestamp() <= end.timestamp():
        if moment.timestamp() >= start.timestamp():
            ticks.append((moment, f"{moment:%H:%M}"))
        moment += timedelta(minutes=step)
    return ticks
