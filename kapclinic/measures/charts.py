"""Draw a score trajectory as a server-side SVG (matplotlib), with a table as its text alternative.

The SVG is embedded inline in the chart (and later in PDFs), so it is made deterministic (fixed hash salt, no
date in the metadata), its element ids are prefixed per instrument (two charts on one page must not share
ids), and it carries a <title> and <desc> for screen readers. Bands are shaded and also labelled in words,
and response and remission have their own marker shapes, so nothing relies on colour alone. A chart is drawn once
per change of its inputs (kapclinic.svgcharts.SVG_CACHE): the chart page opened again without a new score does
not draw.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

import matplotlib

# Agg: never a GUI backend on a server. pyplot is not used at all (a Figure per render keeps no global state).
matplotlib.use("Agg")

from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import NullFormatter, NullLocator

from kapclinic.clinical.instruments import Instrument
from kapclinic.clinical.outcomes import Trajectory, TrajectoryPoint
from kapclinic.clinical.wording import day_text
from kapclinic.svgcharts import INK, RENDER_LOCK, SVG_CACHE, chart_key, chart_style, inline_svg

WIDTH_PX, HEIGHT_PX = 640, 280
_PX_PER_INCH = 96  # CSS pixels; the SVG is written in points (72 per inch), so 640 px = 480 pt
# Margins in pixels: y tick labels and axis label on the left, band labels on the right, legend on top.
_LEFT, _RIGHT, _TOP, _BOTTOM = 50, 150, 34, 42

# The clinic's palette (static/kapclinic/kapclinic.css): brand blue for the line, ok-green, warn-amber, muted.
_LINE = "#1d4e89"
_RESPONSE = "#8a5800"
_REMISSION = "#1e6b3a"
_DOSING = "#505a66"
# Light tints from least to most severe, dark enough text stays readable on each.
_SEVERITY_TINTS = ("#e3f1e6", "#eef3d8", "#fbf0cf", "#fbe0c8", "#f6d0cc")
_NEUTRAL_TINTS = ("#eef1f4", "#f8f9fa")

_RC = chart_style("kapclinic-trajectory")


@dataclass(frozen=True)
class TrajectoryRow:
    """One line of the text alternative: local date and time, total, band, and the outcome in words."""

    at: datetime
    total: int
    band: str
    response: str
    remission: str


def trajectory_table(instrument: Instrument, trajectory: Trajectory, *, tz: tzinfo) -> list[TrajectoryRow]:
    """Return the rows of the chart's text alternative, oldest first, dates in the clinic's time zone `tz`."""
    return [
        TrajectoryRow(
            at=point.at.astimezone(tz),
            total=point.total,
            band=point.band or "no bands defined",
            response=_response_words(point),
            remission=_remission_words(point),
        )
        for point in trajectory.points
    ]


def trajectory_summary(instrument: Instrument, trajectory: Trajectory, *, tz: tzinfo) -> str:
    """Return one or two sentences that say what the chart shows (its <desc> and figure caption)."""
    points = trajectory.points
    if not points:
        return f"No {instrument.name} scores yet."
    first, last = points[0], points[-1]
    text = f"{len(points)} {instrument.name} score{'s' if len(points) != 1 else ''}"
    if len(points) == 1:
        text += f": {_point_words(first, tz)}."
    else:
        baseline = trajectory.baseline or first
        text += f" from {_day(first.at, tz)} to {_day(last.at, tz)}. Baseline {_point_words(baseline, tz)}; "
        text += f"latest {_point_words(last, tz)}."
    if trajectory.has_response_rule:
        reached = trajectory.first_response
        text += f" Response first met {_day(reached, tz)}." if reached else " Response not met."
    if trajectory.has_remission_rule:
        reached = trajectory.first_remission
        text += f" Remission first met {_day(reached, tz)}." if reached else " Remission not met."
    return text


def trajectory_svg(
    instrument: Instrument, trajectory: Trajectory, dosing_dates: Sequence[date] = (), *, tz: tzinfo
) -> str:
    """Return the trajectory chart as an SVG element to embed inline.

    `dosing_dates` are drawn as dashed vertical lines: a date at noon in `tz`, a datetime at its own time (so
    a pre-dose score taken that morning falls before the line). `tz` is the clinic's time zone for the x axis.
    """
    doses = [dose_moment(d, tz) for d in dosing_dates]
    # Drawn once per change of the data: the chart page opened again with no new score is a cache hit. Of the
    # instrument, what the drawing reads: its name and code (labels, ids), range, bands and outcome rules.
    key = chart_key(
        "trajectory",
        instrument.code,
        instrument.name,
        instrument.min_total,
        instrument.max_total,
        instrument.bands,
        instrument.response_rule,
        instrument.remission,
        instrument.screen,
        trajectory,
        doses,
        tz,
    )
    return SVG_CACHE.get_or_draw(key, lambda: _render(instrument, trajectory, doses, tz))


def _render(instrument: Instrument, trajectory: Trajectory, doses: list[datetime], tz: tzinfo) -> str:
    with RENDER_LOCK, matplotlib.rc_context(_RC):
        figure = _draw(instrument, trajectory, doses, tz)
        buffer = io.StringIO()
        # No metadata at all: the date would make every render differ, and the rest says nothing useful.
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    title = f"{instrument.name} scores over time"
    return inline_svg(
        buffer.getvalue(),
        id_prefix=f"trajectory-{instrument.code}",
        css_class="trajectory-chart",
        width=WIDTH_PX,
        height=HEIGHT_PX,
        title=title,
        description=trajectory_summary(instrument, trajectory, tz=tz),
    )


def _draw(instrument: Instrument, trajectory: Trajectory, doses: list[datetime], tz: tzinfo) -> Figure:
    figure = Figure(figsize=(WIDTH_PX / _PX_PER_INCH, HEIGHT_PX / _PX_PER_INCH), facecolor="white")
    ax = figure.add_axes(
        (
            _LEFT / WIDTH_PX,
            _BOTTOM / HEIGHT_PX,
            (WIDTH_PX - _LEFT - _RIGHT) / WIDTH_PX,
            (HEIGHT_PX - _TOP - _BOTTOM) / HEIGHT_PX,
        )
    )
    points = trajectory.points
    totals = [point.total for point in points]
    low, high = _y_range(instrument, totals)
    ax.set_ylim(low - 0.5, high + 0.5)
    _shade_bands(ax, instrument, low, high)

    when = [point.at for point in points]
    start, end = _x_range(when + doses, tz)
    ax.set_xlim(start, end)  # type: ignore[arg-type]  # matplotlib converts datetimes through its units registry
    locator = mdates.AutoDateLocator(tz=tz, minticks=3, maxticks=7)  # type: ignore[no-untyped-call]
    formatter = mdates.ConciseDateFormatter(  # type: ignore[no-untyped-call]
        locator,
        tz=tz,
        formats=["%Y", "%b", "%b %-d", "%H:%M", "%H:%M", "%S.%f"],
        zero_formats=["", "%Y", "%b %-d", "%b %-d", "%H:%M", "%H:%M"],
        offset_formats=["", "%Y", "%Y", "%b %-d %Y", "%b %-d %Y", "%b %-d %Y %H:%M"],
    )
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(formatter)
    if not when and not doses:
        ax.xaxis.set_major_locator(NullLocator())
        ax.xaxis.set_major_formatter(NullFormatter())
        ax.text(0.5, 0.5, "No scores yet", transform=ax.transAxes, ha="center", va="center", color=INK)
    ax.set_ylabel(f"{instrument.name} · Total score")
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(length=3)

    handles: list[Line2D | Patch] = []
    for n, moment in enumerate(doses, start=1):
        ax.axvline(moment, color=_DOSING, linestyle=(0, (4, 3)), linewidth=1.1, zorder=2, gid=f"dose-{n}")  # type: ignore[arg-type]
    if doses:
        handles.append(Line2D([], [], color=_DOSING, linestyle=(0, (4, 3)), linewidth=1.1, label="Dosing session"))

    line = ax.plot(when, totals, color=_LINE, linewidth=2, marker="o", markersize=5.5, zorder=4)  # type: ignore[arg-type]
    line[0].set_gid("totals")
    handles.insert(0, Line2D([], [], color=_LINE, linewidth=2, marker="o", markersize=5.5, label="Total score"))
    if len(points) <= 12:
        for point in points:
            ax.annotate(
                str(point.total),
                (point.at, point.total),
                xytext=(0, 11 if point.response or point.remission else 8),  # clear of the outcome marker
                textcoords="offset points",
                ha="center",
                fontsize=8.5,
                color=INK,
                zorder=6,
                # A light backing keeps the number legible where a dosing line or band edge crosses it.
                bbox={"boxstyle": "round,pad=0.12", "facecolor": "white", "edgecolor": "none", "alpha": 0.8},
            )

    responded = [point for point in points if point.response]
    if responded:
        ax.plot(
            [p.at for p in responded],  # type: ignore[arg-type]
            [p.total for p in responded],
            linestyle="none",
            marker="s",
            markersize=14,
            markerfacecolor="none",
            markeredgecolor=_RESPONSE,
            markeredgewidth=1.8,
            zorder=5,
            gid="response",
        )
        handles.append(_legend_marker("s", _RESPONSE, filled=False, label=_response_legend(instrument)))
    remitted = [point for point in points if point.remission]
    if remitted:
        ax.plot(
            [p.at for p in remitted],  # type: ignore[arg-type]
            [p.total for p in remitted],
            linestyle="none",
            marker="*",
            markersize=15,
            markerfacecolor=_REMISSION,
            markeredgecolor="white",
            markeredgewidth=0.6,
            zorder=6,
            gid="remission",
        )
        handles.append(_legend_marker("*", _REMISSION, filled=True, label=_remission_legend(instrument)))

    figure.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(_LEFT / WIDTH_PX - 0.01, 1.0),
        ncol=len(handles),
        frameon=False,
        fontsize=8.5,
        handlelength=1.8,
        columnspacing=1.2,
        borderaxespad=0.2,
    )
    return figure


def _shade_bands(ax: Axes, instrument: Instrument, low: int, high: int) -> None:
    bands = instrument.bands
    if not bands:
        return
    # Only an instrument with a response, remission or screening rule is "higher is worse"; for the others
    # (MOAA/S, RASS: both ends matter) a traffic-light scale would mislead, so their bands alternate in grey.
    graded = any((instrument.response_rule, instrument.remission, instrument.screen))
    for index, band in enumerate(bands):
        top = high if band.upper is None else band.upper
        if top < low or band.lower > high:
            continue
        if graded:
            tint = _SEVERITY_TINTS[round(index * (len(_SEVERITY_TINTS) - 1) / max(len(bands) - 1, 1))]
        else:
            tint = _NEUTRAL_TINTS[index % 2]
        ax.axhspan(band.lower - 0.5, top + 0.5, color=tint, linewidth=0, zorder=0)
        if index:
            ax.axhline(band.lower - 0.5, color="white", linewidth=1, zorder=1)
        middle = (max(band.lower, low) + min(top, high)) / 2
        ax.text(
            1.012,
            middle,
            _band_caption(band.label, band.lower, band.upper),
            transform=ax.get_yaxis_transform(),
            va="center",
            ha="left",
            fontsize=8.5,
            color=INK,
            linespacing=1.05,
        )


def _band_caption(label: str, lower: int, upper: int | None) -> str:
    # The chart shows the band's name and range; a long qualifier in brackets stays in the table.
    short = label.split(" (")[0]
    span = f"{lower}+" if upper is None else (str(lower) if upper == lower else f"{lower}\N{EN DASH}{upper}")
    return textwrap.fill(f"{short} ({span})", width=22)


def _legend_marker(marker: str, colour: str, *, filled: bool, label: str) -> Line2D:
    return Line2D(
        [],
        [],
        linestyle="none",
        marker=marker,
        markersize=11 if marker == "*" else 9,
        markerfacecolor=colour if filled else "none",
        markeredgecolor=colour if not filled else "white",
        markeredgewidth=1.6 if not filled else 0.6,
        label=label,
    )


def _response_legend(instrument: Instrument) -> str:
    rule = instrument.response_rule
    if rule is not None and rule.percent is not None:
        return f"Response (≥{rule.percent}% drop)"
    if rule is not None and rule.points is not None:
        return f"Response (≥{rule.points}-point drop)"
    return "Response"


def _remission_legend(instrument: Instrument) -> str:
    cut_off = instrument.remission
    return "Remission" if cut_off is None else f"Remission (≤{cut_off.points})"


def _y_range(instrument: Instrument, totals: list[int]) -> tuple[int, int]:
    low = instrument.min_total
    high = instrument.max_total
    if high is None:
        # No upper limit: show the data and the start of the last band, with room above the highest total.
        highest = max([*totals, *(band.lower for band in instrument.bands), low + 1])
        high = highest + max(2, highest // 10)
    return low, high


def _x_range(moments: list[datetime], tz: tzinfo) -> tuple[datetime, datetime]:
    if not moments:
        # Nothing to place: any fixed span will do (the axis shows no dates), and a fixed one keeps output stable.
        anchor = datetime.combine(date(2000, 1, 1), time(12), tzinfo=tz)
        return anchor - timedelta(days=7), anchor + timedelta(days=7)
    first, last = min(moments), max(moments)
    pad = max((last - first) * 0.07, timedelta(days=2))
    return first - pad, last + pad


def dose_moment(day: date, tz: tzinfo) -> datetime:
    """Return where a dosing session sits on the time axis: a datetime as it is, a date at noon in `tz`."""
    if isinstance(day, datetime):
        return day
    return datetime.combine(day, time(12), tzinfo=tz)


def _day(moment: datetime | None, tz: tzinfo) -> str:
    assert moment is not None
    return day_text(moment.astimezone(tz))


def _point_words(point: TrajectoryPoint, tz: tzinfo) -> str:
    band = f" ({point.band})" if point.band else ""
    return f"{point.total}{band} on {_day(point.at, tz)}"


def _response_words(point: TrajectoryPoint) -> str:
    if point.response is None:
        return "no response rule"
    if point.is_baseline:
        return "baseline"
    return "response" if point.response else "no response"


def _remission_words(point: TrajectoryPoint) -> str:
    if point.remission is None:
        return "no remission rule"
    return "remission" if point.remission else "not in remission"
