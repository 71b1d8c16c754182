"""Draw a score trajectory as a server-side SVG, written directly as text, with a table as its text alternative.

The SVG is embedded inline in the chart page and in the referrer's PDF (WeasyPrint), so it is deterministic (the
same data, the same bytes), its element ids are prefixed per instrument (two charts on one page must not share
ids), it carries a <title> and <desc> for screen readers and a <title> on every score, and it has no style
attribute (presentation attributes only: the page's Content-Security-Policy allows no inline styles). Bands are
shaded and also labelled in words, and response and remission have their own marker shapes, so nothing relies on
colour alone.

No matplotlib (issue 15): writing the few shapes as text takes about a millisecond and no lock, so a chart is
simply written again on every request, and nothing is cached (a cache would save that millisecond and hold
10 kB a chart). Every text written goes through html.escape.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from html import escape

from kapclinic.clinical.instruments import Instrument
from kapclinic.clinical.outcomes import Trajectory, TrajectoryPoint
from kapclinic.clinical.wording import day_text, day_time_text
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

WIDTH_PX, HEIGHT_PX = 640, 280
# Margins in pixels: y tick labels and axis label on the left, band labels on the right, legend on top.
_LEFT, _RIGHT, _TOP, _BOTTOM = 50, 150, 34, 42
_PLOT_W = WIDTH_PX - _LEFT - _RIGHT
_PLOT_H = HEIGHT_PX - _TOP - _BOTTOM
_PLOT_RIGHT, _PLOT_BOTTOM = _LEFT + _PLOT_W, _TOP + _PLOT_H

# The clinic's palette (static/kapclinic/kapclinic.css): brand blue for the line, ok-green, warn-amber, muted.
_LINE = "#1d4e89"
_RESPONSE = "#8a5800"
_REMISSION = "#1e6b3a"
_DOSING = "#505a66"
# Light tints from least to most severe, dark enough text stays readable on each.
_SEVERITY_TINTS = ("#e3f1e6", "#eef3d8", "#fbf0cf", "#fbe0c8", "#f6d0cc")
_NEUTRAL_TINTS = ("#eef1f4", "#f8f9fa")

# Sizes in CSS pixels, as the matplotlib chart had them in points (x 4/3): 9.5 pt text, 8.5 pt small text.
_SMALL = 11.33
_DASHES = "5.87 4.4"  # matplotlib's (4, 3) dashes at 1.1 pt, scaled by the line width
_TICK = 4


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
    return _Chart(instrument, trajectory, doses, tz).svg()


class _Chart:
    """One chart being written: its scales, and the SVG elements in drawing order (the last on top)."""

    def __init__(self, instrument: Instrument, trajectory: Trajectory, doses: list[datetime], tz: tzinfo) -> None:
        self.instrument, self.trajectory, self.doses, self.tz = instrument, trajectory, doses, tz
        self.prefix = f"trajectory-{instrument.code}"
        self.points = trajectory.points
        self.low, self.high = _y_range(instrument, [point.total for point in self.points])
        self.start, self.end = _x_range([point.at for point in self.points] + doses, tz)
        self.parts: list[str] = []

    def x(self, moment: datetime) -> float:
        # By timestamp: datetimes sharing a tzinfo subtract by wall clock, which is an hour out across DST.
        span = self.end.timestamp() - self.start.timestamp()
        return _LEFT + (moment.timestamp() - self.start.timestamp()) / span * _PLOT_W

    def y(self, total: float) -> float:
        bottom, top = self.low - 0.5, self.high + 0.5
        return _TOP + (top - total) / (top - bottom) * _PLOT_H

    def svg(self) -> str:
        self._bands()
        self._axes()
        self._doses()
        self._totals()
        self._outcome_markers()
        self._legend()
        return svg_document(
            prefix=self.prefix,
            css_class="trajectory-chart",
            width=WIDTH_PX,
            height=HEIGHT_PX,
            title=f"{self.instrument.name} scores over time",
            description=trajectory_summary(self.instrument, self.trajectory, tz=self.tz),
            parts=self.parts,
        )

    def _bands(self) -> None:
        bands = self.instrument.bands
        if not bands:
            return
        instrument, low, high = self.instrument, self.low, self.high
        # Only an instrument with a response, remission or screening rule is "higher is worse"; for the others
        # (MOAA/S, RASS: both ends matter) a traffic-light scale would mislead, so their bands alternate in grey.
        graded = any((instrument.response_rule, instrument.remission, instrument.screen))
        shapes, captions = [], []
        for index, band in enumerate(bands):
            top = high if band.upper is None else band.upper
            if top < low or band.lower > high:
                continue
            if graded:
                tint = _SEVERITY_TINTS[round(index * (len(_SEVERITY_TINTS) - 1) / max(len(bands) - 1, 1))]
            else:
                tint = _NEUTRAL_TINTS[index % 2]
            upper_edge, lower_edge = self.y(min(top, high) + 0.5), self.y(max(band.lower, low) - 0.5)
            shapes.append(
                f'<rect x="{_LEFT}" y="{number(upper_edge)}" width="{_PLOT_W}" '
                f'height="{number(lower_edge - upper_edge)}" fill="{tint}"/>'
            )
            if index and band.lower > low:  # a white rule between two bands
                shapes.append(svg_line(_LEFT, lower_edge, _PLOT_RIGHT, lower_edge, stroke="white", stroke_width="1.33"))
            lines = _band_caption(band.label, band.lower, band.upper).split("\n")
            middle = (upper_edge + lower_edge) / 2
            first_baseline = middle + 0.35 * _SMALL - (len(lines) - 1) * _SMALL * 1.2 / 2
            spans = "".join(
                f'<tspan x="{number(_PLOT_RIGHT + 5)}" y="{number(first_baseline + n * _SMALL * 1.2)}">'
                f"{escape(line)}</tspan>"
                for n, line in enumerate(lines)
            )
            captions.append(f'<text font-size="{_SMALL}" fill="{INK}">{spans}</text>')
        self.parts.append(f'<g id="{escape(self.prefix)}-bands">{"".join(shapes + captions)}</g>\n')

    def _axes(self) -> None:
        parts = []
        # Scores: a tick every 1, 2, 5, 10, 20, 25, 50... points, the finest with at most six steps.
        step = next(n for n in (1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000) if (self.high - self.low) / n <= 6)
        for value in range(math.ceil(self.low / step) * step, self.high + 1, step):
            at = self.y(value)
            parts.append(svg_line(_LEFT - _TICK, at, _LEFT, at, stroke=MUTED, stroke_width="1.07"))
            parts.append(svg_text(_LEFT - _TICK - 4, at + 0.35 * TEXT_SIZE, str(value), anchor="end"))
        middle = _TOP + _PLOT_H / 2
        parts.append(
            svg_text(
                16,
                middle,
                f"{self.instrument.name} · Total score",
                anchor="middle",
                transform=f"rotate(-90 16 {number(middle)})",
            )
        )
        if self.points or self.doses:
            ticks, offset = date_ticks(self.start, self.end, self.tz)
            for tick in ticks:
                at = self.x(tick.at)
                parts.append(svg_line(at, _PLOT_BOTTOM, at, _PLOT_BOTTOM + _TICK, stroke=MUTED, stroke_width="1.07"))
                parts.append(svg_text(at, _PLOT_BOTTOM + _TICK + 4 + TEXT_SIZE * 0.8, tick.label, anchor="middle"))
            if offset:
                parts.append(svg_text(_PLOT_RIGHT, _PLOT_BOTTOM + _TICK + 8 + TEXT_SIZE * 1.8, offset, anchor="end"))
        else:
            parts.append(svg_text(_LEFT + _PLOT_W / 2, middle + 0.35 * TEXT_SIZE, "No scores yet", anchor="middle"))
        # The two spines, left and bottom (matplotlib's 0.8 pt), over the bands.
        parts.append(
            f'<path d="M{_LEFT} {_TOP}V{_PLOT_BOTTOM}H{_PLOT_RIGHT}" fill="none" stroke="{MUTED}" '
            'stroke-width="1.07" stroke-linecap="square"/>'
        )
        self.parts.append(f'<g id="{escape(self.prefix)}-axes">{"".join(parts)}</g>\n')

    def _doses(self) -> None:
        for n, moment in enumerate(self.doses, start=1):
            at = self.x(moment)
            local = moment.astimezone(self.tz)
            # A date is drawn at noon and named as a day; a datetime is named with its time.
            words = day_text(local) if local.time() == time(12) else day_time_text(local)
            self.parts.append(
                f'<g id="{escape(self.prefix)}-dose-{n}"><title>{escape(f"Dosing session, {words}")}</title>'
                + svg_line(at, _TOP, at, _PLOT_BOTTOM, stroke=_DOSING, stroke_width="1.47", stroke_dasharray=_DASHES)
                + "</g>\n"
            )

    def _totals(self) -> None:
        if not self.points:
            return
        where = [(self.x(point.at), self.y(point.total)) for point in self.points]
        line = " ".join(f"{number(x)},{number(y)}" for x, y in where)
        parts = [f'<polyline points="{line}" fill="none" stroke="{_LINE}" stroke-width="2.67"/>']
        for point, (x, y) in zip(self.points, where, strict=True):
            parts.append(
                f'<circle cx="{number(x)}" cy="{number(y)}" r="3.67" fill="{_LINE}">'
                f"<title>{escape(self._point_title(point))}</title></circle>"
            )
        self.parts.append(f'<g id="{escape(self.prefix)}-totals">{"".join(parts)}</g>\n')

    def _point_title(self, point: TrajectoryPoint) -> str:
        outcome = [words for words in (_response_words(point), _remission_words(point)) if "rule" not in words]
        return _point_words(point, self.tz) + (f": {', '.join(outcome)}" if outcome else "")

    def _outcome_markers(self) -> None:
        prefix = escape(self.prefix)
        responded = [point for point in self.points if point.response]
        if responded:
            squares = "".join(
                f'<rect x="{number(self.x(p.at) - 9.33)}" y="{number(self.y(p.total) - 9.33)}" width="18.67" '
                f'height="18.67" fill="none" stroke="{_RESPONSE}" stroke-width="2.4">'
                f"<title>{escape(self._point_title(p))}</title></rect>"
                for p in responded
            )
            self.parts.append(f'<g id="{prefix}-response">{squares}</g>\n')
        remitted = [point for point in self.points if point.remission]
        if remitted:
            stars = "".join(
                f'<polygon points="{_star(self.x(p.at), self.y(p.total), 10)}" fill="{_REMISSION}" stroke="white" '
                f'stroke-width="0.8"><title>{escape(self._point_title(p))}</title></polygon>'
                for p in remitted
            )
            self.parts.append(f'<g id="{prefix}-remission">{stars}</g>\n')
        if len(self.points) <= 12:
            # Each total written above its point, on a light backing that keeps it legible over a dosing line.
            labels = []
            for point in self.points:
                x = self.x(point.at)
                baseline = self.y(point.total) - (14.67 if point.response or point.remission else 10.67)
                width = text_width(str(point.total), _SMALL) + 2
                labels.append(
                    f'<rect x="{number(x - width / 2)}" y="{number(baseline - _SMALL * 0.86)}" '
                    f'width="{number(width)}" height="{number(_SMALL * 1.08)}" rx="1.5" fill="white" '
                    'fill-opacity="0.8"/>' + svg_text(x, baseline, str(point.total), anchor="middle", size=_SMALL)
                )
            self.parts.append(f'<g aria-hidden="true">{"".join(labels)}</g>\n')

    def _legend(self) -> None:
        x, middle = 44.0, 17.0
        items: list[tuple[str, str]] = [
            (
                svg_line(0, 0, 20, 0, stroke=_LINE, stroke_width="2.67")
                + f'<circle cx="10" cy="0" r="3.67" fill="{_LINE}"/>',
                "Total score",
            )
        ]
        if self.doses:
            items.append(
                (svg_line(0, 0, 20, 0, stroke=_DOSING, stroke_width="1.47", stroke_dasharray=_DASHES), "Dosing session")
            )
        if any(point.response for point in self.points):
            items.append(
                (
                    f'<rect x="4" y="-6" width="12" height="12" fill="none" stroke="{_RESPONSE}" stroke-width="2.13"/>',
                    _response_legend(self.instrument),
                )
            )
        if any(point.remission for point in self.points):
            items.append(
                (
                    f'<polygon points="{_star(10, 0, 7.33)}" fill="{_REMISSION}" stroke="white" stroke-width="0.8"/>',
                    _remission_legend(self.instrument),
                )
            )
        parts = []
        for handle, words in items:
            parts.append(f'<g transform="translate({number(x)} {number(middle)})">{handle}</g>')
            parts.append(svg_text(x + 28, middle + 0.35 * _SMALL, words, size=_SMALL))
            x += 28 + text_width(words, _SMALL) + 14
        self.parts.append(f'<g id="{escape(self.prefix)}-legend">{"".join(parts)}</g>\n')


def _star(x: float, y: float, radius: float) -> str:
    """The corners of a five-pointed star centred on (x, y), point up (matplotlib's "*": inner radius 0.382)."""
    corners = []
    for n in range(10):
        r = radius if n % 2 == 0 else radius * 0.381966
        angle = math.pi / 2 + n * math.pi / 5
        corners.append(f"{number(x + r * math.cos(angle))},{number(y - r * math.sin(angle))}")
    return " ".join(corners)


def _band_caption(label: str, lower: int, upper: int | None) -> str:
    # The chart shows the band's name and range; a long qualifier in brackets stays in the table.
    short = label.split(" (")[0]
    span = f"{lower}+" if upper is None else (str(lower) if upper == lower else f"{lower}\N{EN DASH}{upper}")
    return textwrap.fill(f"{short} ({span})", width=22)


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
