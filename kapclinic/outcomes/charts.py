"""The dashboard's chart (issue 19 item 3): each cohort's response and remission among completers, with the 95 %
Wilson interval as a whisker, drawn server-side as the chart's trajectories are (kapclinic/svgcharts.py: cached by
its data, inline SVG with <title> and <desc>); the cohort table beside it is the full text alternative.

Response and remission have their own marker shapes (circle, square) and the legend says which, so nothing relies
on colour alone.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from kapclinic.outcomes.cohorts import CohortFigures, Rate
from kapclinic.svgcharts import INK, RENDER_LOCK, SVG_CACHE, chart_key, chart_style, inline_svg

WIDTH_PX = 640
ROW_PX, BASE_PX = 26, 70
_PX_PER_INCH = 96
_RESPONSE = "#1d4e89"
_REMISSION = "#1e6b3a"
_RC = chart_style("kapclinic-cohorts")


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
    """The chart as an inline SVG element ("" with no cohort): drawn once per change of the figures it shows."""
    if not groups:
        return ""
    data = tuple(
        (
            g.label,
            g.response_completers.count,
            g.response_completers.of,
            g.remission_completers.count,
            g.remission_defined,
        )
        for g in groups
    )
    key = chart_key("cohort-rates", instrument_name, data)
    return SVG_CACHE.get_or_draw(key, lambda: _render(groups, instrument_name))


def _render(groups: list[CohortFigures], instrument_name: str) -> str:
    height = BASE_PX + ROW_PX * len(groups)
    with RENDER_LOCK, matplotlib.rc_context(_RC):
        figure = Figure(figsize=(WIDTH_PX / _PX_PER_INCH, height / _PX_PER_INCH), facecolor="white")
        ax = figure.add_axes((0.3, 42 / height, 0.66, 1 - 76 / height))
        rows = list(range(len(groups)))[::-1]
        for y, group in zip(rows, groups, strict=True):
            for rate, offset, colour, marker in (
                (group.response_completers, 0.14, _RESPONSE, "o"),
                (group.remission_completers, -0.14, _REMISSION, "s"),
            ):
                if rate.share is None or rate.interval is None or (marker == "s" and not group.remission_defined):
                    continue
                low, high = rate.interval
                ax.plot([low, high], [y + offset, y + offset], color=colour, linewidth=1.4)
                ax.plot([rate.share], [y + offset], marker=marker, color=colour, markersize=5.5, linestyle="none")
        ax.set_yticks(rows, [_short(g.label) for g in groups], color=INK)
        ax.set_ylim(-0.6, len(groups) - 0.4)
        ax.set_xlim(0, 1)
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.grid(axis="x", color="#d9dee3", linewidth=0.6)
        ax.set_axisbelow(True)
        ax.set_xlabel(f"{instrument_name}, completers: share with 95 % interval")
        ax.plot([], [], marker="o", color=_RESPONSE, label="Response")
        if any(g.remission_defined for g in groups):
            ax.plot([], [], marker="s", color=_REMISSION, label="Remission")
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncols=2, frameon=False, fontsize=8.5)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    return inline_svg(
        buffer.getvalue(),
        id_prefix="cohort-rates",
        css_class="cohort-chart",
        width=WIDTH_PX,
        height=height,
        title=f"Response and remission by cohort ({instrument_name}, completers)",
        description=cohort_summary(groups, instrument_name),
    )
