"""Draw a dosing session's vital signs as a server-side SVG time line (matplotlib), in the score chart's style.

Two panels share the clock-time axis: blood pressure and heart rate on top (both on one mmHg/beats-per-minute
scale, as on an anaesthesia record), SpO₂ below. Like kapclinic.measures.charts the SVG is deterministic (fixed
hash salt, no date in the metadata), its ids are prefixed (two charts on one page must not share ids), and it
carries a <title> and <desc> for screen readers. Nothing relies on colour alone: systolic ▼, diastolic ▲, heart
rate ● on a dotted line and SpO₂ ■ have their own shapes, threshold lines are dashed and labelled in words, and
the dose is a dash-dot line labelled "Dose".

Inputs are plain values (VitalPoint, ChartThreshold), so this module imports no Django model and its tests need
no database. The chart is drawn once per change of those inputs: the finished SVG is kept in
kapclinic.svgcharts.SVG_CACHE, so the session screen shown again without a new reading does not draw.
"""

from __future__ import annotations

import io
import math
import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Literal

import matplotlib
import numpy as np

# Agg: never a GUI backend on a server. pyplot is not used at all (a Figure per render keeps no global state).
matplotlib.use("Agg")

from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator, MultipleLocator, NullFormatter, NullLocator
from matplotlib.transforms import blended_transform_factory

# rcParams are process-wide: this chart and the score chart take the same lock, so that neither one's settings
# (and hash salt) can leak into the other's render when both are drawn at once on different threads. Only a
# drawing takes it: a chart already drawn for the same inputs comes from SVG_CACHE.
from kapclinic.svgcharts import INK, RENDER_LOCK, SVG_CACHE, chart_key, chart_style, inline_svg

WIDTH_PX, HEIGHT_PX = 720, 360
_PX_PER_INCH = 96  # CSS pixels; the SVG is written in points (72 per inch), so 720 px = 540 pt
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

_THRESHOLD_DASH = (0, (5, 3))
_DOSE_DASH = (0, (7, 2.5, 1.5, 2.5))
_HR_DOTS = (0, (1.2, 1.6))

_RC = chart_style("kapclinic-vitals")

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
    thresholds = tuple(thresholds)
    # Drawn once per change of the data: a session screen shown again with no new reading is a cache hit.
    key = chart_key("vitals", ordered, thresholds, dose_at, tz, id_prefix)
    return SVG_CACHE.get_or_draw(key, lambda: _render(ordered, thresholds, dose_at, tz, id_prefix))


def _render(
    ordered: list[VitalPoint],
    thresholds: tuple[ChartThreshold, ...],
    dose_at: datetime | None,
    tz: tzinfo,
    id_prefix: str,
) -> str:
    with RENDER_LOCK, matplotlib.rc_context(_RC):
        figure = _draw(ordered, thresholds, dose_at, tz)
        buffer = io.StringIO()
        # No metadata at all: the date would make every render differ, and the rest says nothing useful.
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    summary = vitals_summary(ordered, thresholds, tz=tz, dose_at=dose_at)
    return inline_svg(
        buffer.getvalue(),
        id_prefix=id_prefix,
        css_class="vitals-chart",
        width=WIDTH_PX,
        height=HEIGHT_PX,
        title="Vital signs during the dosing session",
        description=summary,
    )


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


def _draw(
    points: list[VitalPoint], thresholds: Sequence[ChartThreshold], dose_at: datetime | None, tz: tzinfo
) -> Figure:
    figure = Figure(figsize=(WIDTH_PX / _PX_PER_INCH, HEIGHT_PX / _PX_PER_INCH), facecolor="white")
    top = figure.add_axes(_box(_BOTTOM + _SPO2_H + _GAP, _BP_H))
    bottom = figure.add_axes(_box(_BOTTOM, _SPO2_H), sharex=top)

    moments = [point.at for point in points] + ([dose_at] if dose_at is not None else [])
    start, end = _x_range(moments, tz)
    bottom.set_xlim(start, end)  # type: ignore[arg-type]  # matplotlib converts datetimes through its units registry

    bp_lines = [t for t in thresholds if t.series != "spo2"]
    spo2_lines = [t for t in thresholds if t.series == "spo2"]
    # Without readings, a usual span (40 to 180) keeps the panel from fitting the threshold lines alone.
    top_values = [v for p in points for v in (p.systolic, p.diastolic, p.heart_rate) if v is not None] or [40, 180]
    top.set_ylim(*_top_range(top_values + [t.value for t in bp_lines]))
    bottom.set_ylim(*_spo2_range([p.spo2 for p in points if p.spo2 is not None] + [t.value for t in spo2_lines]))
    top.yaxis.set_major_locator(MultipleLocator(20 if top.get_ylim()[1] - top.get_ylim()[0] <= 160 else 40))
    bottom.yaxis.set_major_locator(MaxNLocator(nbins=3, steps=[1, 2, 5, 10], integer=True))

    for ax in (top, bottom):
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(length=3)
        ax.grid(True, color=_GRID, linewidth=0.7, zorder=0)
        ax.set_axisbelow(True)
    top.tick_params(labelbottom=False)
    top.set_ylabel("mmHg · beats/min")
    bottom.set_ylabel("SpO₂ %")

    if points or dose_at is not None:
        bottom.xaxis.set_major_locator(_time_locator(end - start, tz))
        bottom.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=tz))  # type: ignore[no-untyped-call]
    else:
        bottom.xaxis.set_major_locator(NullLocator())
        bottom.xaxis.set_major_formatter(NullFormatter())
    if not points:
        top.text(
            0.5,
            0.5,
            "No readings yet",
            transform=top.transAxes,
            ha="center",
            va="center",
            color=INK,
            fontsize=11,
            zorder=6,
            bbox={"boxstyle": "round,pad=0.4", "facecolor": "white", "edgecolor": "none"},
        )

    _threshold_lines(top, bp_lines, "threshold-top")
    _threshold_lines(bottom, spo2_lines, "threshold-spo2")
    if dose_at is not None:
        _dose_line(top, bottom, dose_at, tz, start, end)

    handles = _plot_series(top, bottom, points)
    if handles:
        figure.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(_LEFT / WIDTH_PX - 0.01, 1.0),
            ncol=len(handles),
            frameon=False,
            fontsize=8.5,
            handlelength=2.2,
            columnspacing=1.4,
            borderaxespad=0.2,
        )
    return figure


def _box(bottom_px: int, height_px: int) -> tuple[float, float, float, float]:
    return (_LEFT / WIDTH_PX, bottom_px / HEIGHT_PX, _PLOT_W / WIDTH_PX, height_px / HEIGHT_PX)


def _plot_series(top: Axes, bottom: Axes, points: list[VitalPoint]) -> list[Line2D]:
    # Markers shrink a little for a long session, so 60 readings over three hours stay apart.
    size = 6.0 if len(points) <= 24 else 4.5
    handles: list[Line2D] = []

    _pressure_band(top, points)
    series: list[tuple[Axes, str, str, Callable[[VitalPoint], int | None], dict[str, Any]]] = [
        (top, "systolic", "Systolic", lambda p: p.systolic, {"color": _BP, "marker": "v", "linestyle": "-"}),
        (top, "diastolic", "Diastolic", lambda p: p.diastolic, {"color": _BP, "marker": "^", "linestyle": "-"}),
        (
            top,
            "heart-rate",
            "Heart rate",
            lambda p: p.heart_rate,
            {"color": _HR, "marker": "o", "linestyle": _HR_DOTS, "markersize": size - 0.5},
        ),
        (
            bottom,
            "spo2",
            "SpO₂",
            lambda p: p.spo2,
            {"color": _SPO2, "marker": "s", "linestyle": "-", "markersize": size - 1},
        ),
    ]
    for ax, gid, label, value, style in series:
        taken = [(p.at, v) for p in points if (v := value(p)) is not None]
        if not taken:
            continue
        options: dict[str, Any] = {
            "linewidth": 1.6,
            "markersize": size,
            "markeredgecolor": "white",
            "markeredgewidth": 0.5,
        } | style
        line = ax.plot([t for t, _ in taken], [v for _, v in taken], zorder=4, **options)  # type: ignore[arg-type]
        line[0].set_gid(gid)
        handles.append(Line2D([], [], label=label, **options))
    return handles


def _pressure_band(ax: Axes, points: list[VitalPoint]) -> None:
    """Shade between the systolic and diastolic lines, following each line as drawn across a skipped value."""
    highs = [(p.at.timestamp(), p.systolic) for p in points if p.systolic is not None]
    lows = [(p.at.timestamp(), p.diastolic) for p in points if p.diastolic is not None]
    if len(highs) < 2 or len(lows) < 2:
        return
    first, last = max(highs[0][0], lows[0][0]), min(highs[-1][0], lows[-1][0])
    stamps = sorted({t for t, _ in highs + lows if first <= t <= last})
    if len(stamps) < 2:
        return
    ax.fill_between(
        [datetime.fromtimestamp(t, tz=UTC) for t in stamps],  # type: ignore[arg-type]
        np.interp(stamps, [t for t, _ in lows], [v for _, v in lows]),
        np.interp(stamps, [t for t, _ in highs], [v for _, v in highs]),
        color=_BP_BAND,
        linewidth=0,
        zorder=1,
        gid="bp-band",
    )


def _threshold_lines(ax: Axes, thresholds: Sequence[ChartThreshold], gid: str) -> None:
    """Draw each threshold dashed across `ax`, labelled at the right edge; labels are spread so none overlap."""
    if not thresholds:
        return
    low, high = ax.get_ylim()
    height_px = ax.get_position().height * HEIGHT_PX
    ordered = sorted(thresholds, key=lambda t: (t.value, t.label))
    for n, threshold in enumerate(ordered, start=1):
        ax.axhline(
            threshold.value, color=_THRESHOLD, linestyle=_THRESHOLD_DASH, linewidth=1.1, zorder=2, gid=f"{gid}-{n}"
        )
    captions = [_caption(t.label) for t in ordered]
    line_px = 12.5  # 8.5 pt text with some leading, in CSS pixels
    heights = [(caption.count("\n") + 1) * line_px for caption in captions]
    wanted = [(t.value - low) / (high - low) * height_px for t in ordered]
    placed = _spread(wanted, heights, height_px)
    blend = blended_transform_factory(ax.transAxes, ax.transData)
    for threshold, caption, want, y_px in zip(ordered, captions, wanted, placed, strict=True):
        y = low + y_px / height_px * (high - low)
        if abs(y_px - want) > 1:
            # A leader from the line's end to its label, where the label had to move to make room.
            ax.plot([1.0, 1.012], [threshold.value, y], transform=blend, color=_THRESHOLD, linewidth=0.8, clip_on=False)
        ax.text(1.016, y, caption, transform=blend, va="center", ha="left", fontsize=8.5, color=INK, linespacing=1.05)


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


def _dose_line(top: Axes, bottom: Axes, dose_at: datetime, tz: tzinfo, start: datetime, end: datetime) -> None:
    for n, ax in enumerate((top, bottom), start=1):
        ax.axvline(dose_at, color=_DOSE, linestyle=_DOSE_DASH, linewidth=1.3, zorder=3, gid=f"dose-{n}")  # type: ignore[arg-type]
    # The label sits inside the top panel next to the line, on the side with more room.
    right = (dose_at - start) / (end - start) < 0.8
    top.annotate(
        f"Dose {dose_at.astimezone(tz):%H:%M}",
        (dose_at, 1.0),
        xycoords=("data", "axes fraction"),
        xytext=(4 if right else -4, -3),
        textcoords="offset points",
        ha="left" if right else "right",
        va="top",
        fontsize=8.5,
        color=INK,
        zorder=6,
        bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85},
    )


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


def _time_locator(span: timedelta, tz: tzinfo) -> mdates.DateLocator:
    """Ticks on round clock times, at most about eight of them."""
    minutes = span.total_seconds() / 60
    for step in (5, 10, 15, 20, 30):
        if minutes / step <= 8:
            return mdates.MinuteLocator(byminute=range(0, 60, step), tz=tz)  # type: ignore[no-untyped-call]
    for hours in (1, 2, 3, 4, 6, 12):
        if minutes / (hours * 60) <= 8:
            return mdates.HourLocator(byhour=range(0, 24, hours), tz=tz)  # type: ignore[no-untyped-call]
    return mdates.AutoDateLocator(tz=tz, maxticks=8)  # type: ignore[no-untyped-call]
