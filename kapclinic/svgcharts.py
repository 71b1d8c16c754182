"""What the server-side charts share: for those drawn with matplotlib (the outcomes dashboard's cohort figures) the
cache of finished charts, one render lock, and the SVG clean-up that makes matplotlib's output safe to inline in a
page and readable by screen readers; for those written as SVG text (score trajectories, session vitals) number,
text-width and date-tick helpers.

A matplotlib chart is drawn once per change of its data: the finished SVG is kept in SVG_CACHE under a digest of
exactly the inputs that drive the drawing (chart_key), so a page shown again with the same data costs a dictionary
look-up and waits on no lock. Only a miss draws with matplotlib, under RENDER_LOCK. A chart written as text takes
about a millisecond, no lock and no cache (issue 15: "no process-wide lock on a request path").
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from html import escape
from typing import TYPE_CHECKING, Any

from kapclinic.clinical.wording import day_text

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

# matplotlib's rcParams are process-wide; renders are serialised so one request's settings never leak into another.
# Only drawing takes it, so only a cache miss (SvgCache.get_or_draw): a chart already drawn is returned without it.
RENDER_LOCK = threading.Lock()

# Part of every cache key: raise it when a change to the drawing code changes what the same data looks like, so
# that no chart drawn by the old code is served (the cache is per process, so a restart also clears it).
CHART_VERSION = 1


def chart_key(kind: str, *inputs: object) -> str:
    """Return the cache key of a chart: a digest of its kind, CHART_VERSION and every input that drives the drawing.

    The inputs are taken by their repr, which for the values the charts take (frozen dataclasses, datetimes,
    dates, ZoneInfo, numbers, strings, tuples and lists of them) states their whole value; an input whose repr
    says less would have to be turned into one that says all first.
    """
    text = repr((CHART_VERSION, kind, inputs))
    return hashlib.sha256(text.encode()).hexdigest()


class SvgCache:
    """The last `maxsize` charts drawn in this process, by chart_key; the least recently used one goes first.

    No lock: each step is one operation on an OrderedDict, which the GIL makes atomic, so a hit waits on nothing
    and readers never see a half-made entry. Two requests that miss on the same key at once both draw (one after
    the other: drawing takes RENDER_LOCK) and store the same bytes.
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[str, str] = OrderedDict()

    def get_or_draw(self, key: str, draw: Callable[[], str]) -> str:
        """Return the chart stored under `key`, else `draw()` it, store it and return it."""
        svg = self._entries.get(key)
        if svg is not None:
            # Evicted by another thread since the look-up: still the right chart to return.
            with contextlib.suppress(KeyError):
                self._entries.move_to_end(key)
            return svg
        svg = draw()  # takes RENDER_LOCK itself, for its matplotlib part only
        self._entries[key] = svg
        while len(self._entries) > self.maxsize:
            try:
                self._entries.popitem(last=False)
            except KeyError:  # another thread emptied it meanwhile
                break
        return svg

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries


# A cohort chart is some tens of kB: at most a few MB per process, and the dashboard shows few. An older one is simply
# drawn again.
SVG_CACHE = SvgCache(maxsize=160)

# The clinic's palette (static/kapclinic/kapclinic.css): body ink and muted axes.
INK = "#1b1f24"
MUTED = "#505a66"


def chart_style(salt: str) -> dict[RcKeyType, Any]:
    """The matplotlib settings every chart shares; `salt` fixes its ids, so the same data gives the same bytes."""
    return {
        "svg.fonttype": "none",  # text stays text: selectable, searchable, read by screen readers, small
        "svg.hashsalt": salt,
        "font.family": "sans-serif",
        "font.sans-serif": ["DejaVu Sans", "Verdana", "Arial"],
        "font.size": 9.5,  # points in the SVG's own units: about 12.7 CSS px at the native size
        "axes.edgecolor": MUTED,
        "axes.labelcolor": INK,
        "xtick.color": MUTED,
        "ytick.color": MUTED,
        "xtick.labelcolor": INK,
        "ytick.labelcolor": INK,
    }


_ID = re.compile(r'\bid="([^"]+)"')


def inline_svg(
    svg: str, *, id_prefix: str, css_class: str, width: int, height: int, title: str, description: str
) -> str:
    """Return `svg` ready to inline in HTML: no XML prologue or global style, ids prefixed, title and desc."""
    body = svg[svg.index("<svg") :]
    # matplotlib's <style> sets stroke joins for "*": inline in HTML that selector would reach the whole page.
    body = re.sub(r"\s*<style[^>]*>.*?</style>", "", body, count=1, flags=re.DOTALL)
    body = re.sub(r"\s*<defs>\s*</defs>", "", body, count=1)
    ids = set(_ID.findall(body))
    prefix = f"{id_prefix}-"

    def rename(match: re.Match[str]) -> str:
        name = match.group(2)
        return f"{match.group(1)}{prefix}{name}{match.group(3)}" if name in ids else match.group(0)

    body = re.sub(r'(\bid="|href="#|url\(#)([^")]+)([")])', rename, body)
    title_id, desc_id = f"{prefix}title", f"{prefix}desc"
    opening_end = body.index(">") + 1
    opening = body[:opening_end]
    opening = re.sub(r'width="[^"]+"', f'width="{width}"', opening, count=1)
    opening = re.sub(r'height="[^"]+"', f'height="{height}"', opening, count=1)
    opening = opening.replace(
        "<svg ",
        f'<svg role="img" aria-labelledby="{title_id} {desc_id}" class="{css_class}" '
        'stroke-linejoin="round" stroke-linecap="butt" ',
        1,
    )
    heading = f'<title id="{title_id}">{escape(title)}</title><desc id="{desc_id}">{escape(description)}</desc>'
    return _styles_as_attributes(opening + heading + body[opening_end:].strip() + "\n")


# SVG presentation attributes (SVG 1.1, 6.4): the same properties as attributes, which a Content-Security-Policy
# without 'unsafe-inline' for styles still applies (an inline style="" attribute it would ignore).
PRESENTATION_ATTRIBUTES = frozenset(
    {
        "clip-rule", "color", "fill", "fill-opacity", "fill-rule", "font-family", "font-size", "font-style",
        "font-weight", "opacity", "stroke", "stroke-dasharray", "stroke-dashoffset", "stroke-linecap",
        "stroke-linejoin", "stroke-miterlimit", "stroke-opacity", "stroke-width", "text-anchor",
        "dominant-baseline", "visibility", "display",
    }
)  # fmt: skip
_STYLE_ATTRIBUTE = re.compile(r'\sstyle="([^"]*)"')


def _styles_as_attributes(svg: str) -> str:
    """Turn matplotlib's style="" attributes into presentation attributes (same look, allowed by the CSP)."""

    def attributes(match: re.Match[str]) -> str:
        pairs = []
        for declaration in match.group(1).split(";"):
            name, _, value = declaration.partition(":")
            name, value = name.strip(), value.strip()
            if not name:
                continue
            if name not in PRESENTATION_ATTRIBUTES:
                raise ValueError(f"Chart style {name!r} has no SVG presentation attribute")
            pairs.append(f' {name}="{escape(value, quote=True)}"')
        return "".join(pairs)

    return _STYLE_ATTRIBUTE.sub(attributes, svg)


# Charts written as SVG text directly (no matplotlib, no lock): score trajectories, session vitals. What they share
# follows.

# The fonts the charts name; DejaVu Sans is what matplotlib drew with, Verdana has near the same widths.
FONT_FAMILY = "DejaVu Sans, Verdana, Arial, sans-serif"


# The charts' text size in pixels (matplotlib's 9.5 pt at 96 dpi, as they were drawn before).
TEXT_SIZE = 12.67


def svg_attributes(attributes: dict[str, str]) -> str:
    """Presentation attributes as SVG text (stroke_width -> stroke-width), each value escaped."""
    return "".join(f' {name.replace("_", "-")}="{escape(value)}"' for name, value in attributes.items())


def svg_line(x1: float, y1: float, x2: float, y2: float, **attributes: str) -> str:
    return (
        f'<line x1="{number(x1)}" y1="{number(y1)}" x2="{number(x2)}" y2="{number(y2)}"{svg_attributes(attributes)}/>'
    )


def svg_text(x: float, y: float, words: str, *, anchor: str = "start", size: float = TEXT_SIZE, **extra: str) -> str:
    """A text in the charts' ink, escaped; the anchor and size named only when not the default."""
    anchor_attribute = "" if anchor == "start" else f' text-anchor="{anchor}"'
    size_attribute = "" if size == TEXT_SIZE else f' font-size="{size}"'
    return (
        f'<text x="{number(x)}" y="{number(y)}"{anchor_attribute}{size_attribute} fill="{INK}"{svg_attributes(extra)}>'
        f"{escape(words)}</text>"
    )


def number(value: float) -> str:
    """Return a coordinate as SVG text: two decimals at most, no trailing zeros (the same value, the same bytes)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def text_width(text: str, size: float) -> float:
    """Return about how wide `text` is at font size `size`, in the same units, erring wide.

    The widths are DejaVu Sans's in em (its advance widths over 2048 units), by class of character: a chart only
    needs them to lay out a legend, and the browser may pick Verdana (as wide) or Arial (narrower) instead.
    """
    em = 0.0
    for char in text:
        if char in " .,:;'|!":
            em += 0.32
        elif char in "ijlft()[]-/rI":
            em += 0.4
        elif char in "mwMW%@\N{GREATER-THAN OR EQUAL TO}\N{LESS-THAN OR EQUAL TO}\N{EN DASH}\N{EM DASH}":
            em += 0.96
        elif char.isupper():
            em += 0.74
        else:
            em += 0.64  # digits and the other lower-case letters
    return em * size


@dataclass(frozen=True)
class DateTick:
    """One tick of a time axis: where (an aware datetime) and its words in the clinic's time zone."""

    at: datetime
    label: str


# Tick steps from the finest to the coarsest, as matplotlib's AutoDateLocator picks them: days fall on the same
# days of every month (1, 8, 15, 22, 29 for a week), months on the same months of every year.
_STEPS: tuple[tuple[str, int], ...] = (
    *(("hour", n) for n in (1, 2, 3, 4, 6, 12)),
    *(("day", n) for n in (1, 2, 3, 4, 7, 14)),
    *(("month", n) for n in (1, 2, 3, 4, 6)),
    *(("year", n) for n in (1, 2, 5, 10, 20, 50, 100)),
)


_UNIT_HOURS = {"hour": 1, "day": 24, "month": 24 * 28, "year": 24 * 365}

# Ticks on the same days of every month, as matplotlib's: 1, 8, 15, 22 for a week, 1 and 15 for a fortnight, and
# for shorter steps every step-th day from the 1st but none closer than half a step to the next month's 1st (no
# "Aug 31" crowding "Sep 1").
_MONTH_DAYS = {7: (1, 8, 15, 22), 14: (1, 15)}


def date_ticks(start: datetime, end: datetime, tz: tzinfo, *, most: int = 7) -> tuple[list[DateTick], str]:
    """Return the ticks between `start` and `end` in time zone `tz`, at most `most`, and the axis's offset words.

    The finest step that gives no more than `most` ticks wins. Labels are short ("Sep 8", "Oct", "14:00"); the
    offset says what they leave out (the year, or the day of clock times), as matplotlib's ConciseDateFormatter.
    """
    first, last = start.astimezone(tz), end.astimezone(tz)
    hours = (last.timestamp() - first.timestamp()) / 3600
    for unit, step in _STEPS:
        # A step that would give twice too many ticks even at its widest spacing is not tried (a month is 28 days).
        if hours / (_UNIT_HOURS[unit] * step) > 2 * most:
            continue
        moments = _moments(unit, step, first, last, tz, most)
        if moments is not None:
            break
    else:  # pragma: no cover - a century per tick covers any span a chart is given
        return [], ""
    ticks = [DateTick(moment, _tick_label(unit, moment)) for moment in moments]
    years = sorted({moment.year for moment in moments} or {first.year})
    year_words = str(years[0]) if len(years) == 1 else f"{years[0]}\N{EN DASH}{years[-1]}"
    if unit == "hour":
        offset = day_text(moments[0] if moments else first)
    elif unit == "year":
        offset = ""
    else:
        offset = year_words
    return ticks, offset


def _moments(unit: str, step: int, first: datetime, last: datetime, tz: tzinfo, most: int) -> list[datetime] | None:
    """The local wall-clock moments of one step between first and last, or None when there are more than `most`."""
    found: list[datetime] = []
    if unit == "hour":
        day = first.date()
        while day <= last.date():
            found.extend(datetime.combine(day, time(hour), tzinfo=tz) for hour in range(0, 24, step))
            day += timedelta(days=1)
    elif unit == "day":
        day = first.date()
        while day <= last.date():
            if day.day in _MONTH_DAYS.get(step, ()) or (
                step < 7 and (day.day - 1) % step == 0 and day.day + step / 2 <= 31
            ):
                found.append(datetime.combine(day, time(0), tzinfo=tz))
            day += timedelta(days=1)
    elif unit == "month":
        year, month = first.year, first.month
        while (year, month) <= (last.year, last.month):
            if (month - 1) % step == 0:
                found.append(datetime(year, month, 1, tzinfo=tz))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    else:
        found.extend(
            datetime(year, 1, 1, tzinfo=tz) for year in range(first.year - first.year % step, last.year + 1, step)
        )
    # Compared by timestamp: two datetimes with the same tzinfo would be compared by wall clock, across a DST change.
    low, high = first.timestamp(), last.timestamp()
    inside = [moment for moment in found if low <= moment.timestamp() <= high]
    return inside if len(inside) <= most else None


def _tick_label(unit: str, moment: datetime) -> str:
    if unit == "hour":
        return f"{moment:%b} {moment.day}" if moment.hour == 0 else f"{moment:%H:%M}"
    if unit == "day":
        return f"{moment:%b} {moment.day}"
    if unit == "month":
        return str(moment.year) if moment.month == 1 else f"{moment:%b}"
    return str(moment.year)
