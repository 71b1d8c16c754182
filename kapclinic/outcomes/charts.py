"""The dashboard's chart (issue 19 item 3): each cohort's response and remission among completers, with the 95 %
Wilson interval as a whisker, written as SVG text like the chart's trajectories (kapclinic/svgcharts.py: no
matplotlib, no lock, no cache: a few shapes a cohort, well under a millisecond); <title> and <desc> say it in words,
each marker has its own <title>, and the cohort table beside it is the full text alternative.

Response and remission have their own marker shapes (circle, square) and the legend says which, so nothing relies
on colour alone.
"""

from __future__ import annotations

from html import escape

from kapclinic.outcomes.cohorts import CohortFigures, Rate
from kapclinic.svgcharts import MUTED, number, svg_document, svg_line, svg_text, text_width

WIDTH_PX = 640
ROW_PX, BASE_PX = 26, 70
# Margins in pixels: cohort names on the left, the legend on top, the share axis and its label below.
_LEFT, _RIGHT, _TOP, _BOTTOM = 192, 26, 34, 42
_PLOT_W = WIDTH_PX - _LEFT - _RIGHT
_RESPONSE = "#1d4e89"
_REMISSION = "#1e6b3a"
_GRID = "#d9dee3"
_SMALL = 11.33
_MARKER = 3.7  # half a marker's width in pixels (matplotlib's 5.5 pt marker before)


def _short(label: str) -> str:
    """A cohort's label short enough for the axis ("Intravenous infusion (racemic ketamine)" -> "Intravenous
    infusion"); the table beside the chart gives it whole."""
    label = label.split(" (")[0]
    return label if len(label) <= 30 else label[:29] + "…"


def _words(rate: Rate) -> str:
    if rate.of == 0 or rate.share is None or rate.interval is None:
        return "not evaluable (no completers)"
    low, high = rate.interval
    return f"{rate.count} of {rate.of}, {rate.share * 100:.0f} % (95 % CI {low * 100:.0f} to {high * 100:.0f})"


def cohort_summary(groups: list[CohortFigures], instrument_name: str) -> str:
    """What the chart shows, in words (its <desc>)."""
    parts = [
        f"{g.label}: response {_words(g.response_completers)}; "
        + (f"remission {_words(g.remission_completers)}" if g.remission_defined else "remission not defined")
        for g in groups
    ]
    return f"{instrument_name}, completers, by cohort. " + ". ".join(parts) + "."


def cohort_rates_svg(groups: list[CohortFigures], instrument_name: str) -> str:
    """The chart as an inline SVG element ("" with no cohort)."""
    if not groups:
        return ""
    height = BASE_PX + ROW_PX * len(groups)
    plot_bottom = height - _BOTTOM
    row_h = (plot_bottom - _TOP) / len(groups)  # each cohort a row, the first at the top

    def x(share: float) -> float:
        return _LEFT + share * _PLOT_W

    parts: list[str] = []
    for tenth in range(0, 11, 2):
        at = x(tenth / 10)
        parts.append(svg_line(at, _TOP, at, plot_bottom, stroke=_GRID, stroke_width="0.8"))
        parts.append(svg_line(at, plot_bottom, at, plot_bottom + 4, stroke=MUTED, stroke_width="1.07"))
        parts.append(svg_text(at, plot_bottom + 17, f"{tenth * 10} %", anchor="middle"))
    parts.append(svg_line(_LEFT, _TOP, _LEFT, plot_bottom, stroke=MUTED, stroke_width="1.07"))
    parts.append(svg_line(_LEFT, plot_bottom, _LEFT + _PLOT_W, plot_bottom, stroke=MUTED, stroke_width="1.07"))
    parts.append(
        svg_text(
            _LEFT + _PLOT_W / 2, height - 6, f"{instrument_name}, completers: share with 95 % interval", anchor="middle"
        )
    )
    for n, group in enumerate(groups):
        middle = _TOP + (n + 0.5) * row_h
        parts.append(svg_line(_LEFT - 4, middle, _LEFT, middle, stroke=MUTED, stroke_width="1.07"))
        parts.append(svg_text(_LEFT - 8, middle + 4.5, _short(group.label), anchor="end"))
        for kind, rate, offset, colour in (
            ("Response", group.response_completers, -0.14, _RESPONSE),
            ("Remission", group.remission_completers, 0.14, _REMISSION),
        ):
            if rate.share is None or rate.interval is None or (kind == "Remission" and not group.remission_defined):
                continue
            y = middle + offset * row_h
            low, high = rate.interval
            marker = _marker(kind, x(rate.share), y, colour)
            words = f"{group.label}: {kind.lower()} {_words(rate)}"
            parts.append(
                f"<g><title>{escape(words)}</title>"
                + svg_line(x(low), y, x(high), y, stroke=colour, stroke_width="1.87")
                + marker
                + "</g>"
            )
    parts.append(_legend(any(g.remission_defined for g in groups)))
    return svg_document(
        prefix="cohort-rates",
        css_class="cohort-chart",
        width=WIDTH_PX,
        height=height,
        title=f"Response and remission by cohort ({instrument_name}, completers)",
        description=cohort_summary(groups, instrument_name),
        parts=parts,
    )


def _marker(kind: str, x: float, y: float, colour: str) -> str:
    if kind == "Response":
        return f'<circle cx="{number(x)}" cy="{number(y)}" r="{number(_MARKER)}" fill="{colour}"/>'
    side = _MARKER * 1.8
    corner = f'x="{number(x - side / 2)}" y="{number(y - side / 2)}"'
    return f'<rect {corner} width="{number(side)}" height="{number(side)}" fill="{colour}"/>'


def _legend(remission: bool) -> str:
    parts, x = [], float(_LEFT)
    for kind, colour in (("Response", _RESPONSE), ("Remission", _REMISSION)):
        if kind == "Remission" and not remission:
            continue
        parts.append(svg_line(x, 17, x + 24, 17, stroke=colour, stroke_width="1.87"))
        parts.append(_marker(kind, x + 12, 17, colour))
        parts.append(svg_text(x + 30, 21, kind, size=_SMALL))
        x += 30 + text_width(kind, _SMALL) + 16
    return f'<g id="cohort-rates-legend">{"".join(parts)}</g>'
