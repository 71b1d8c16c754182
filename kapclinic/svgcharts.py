"""What the server-side charts share (score trajectories, session vitals, the outcomes dashboard's cohorts): the
<svg> element with its <title> and <desc>, lines and texts, numbers, text widths and date ticks.

Every chart is written as SVG text directly, with no matplotlib, no lock and no cache (issue 15: "no process-wide
lock on a request path"): a chart takes a millisecond or a few, so it is simply written again on every request.
Every text and attribute value goes through html.escape, and no element has a style attribute (the pages'
Content-Security-Policy allows no inline styles: presentation attributes only). The same data gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from html import escape

from kapclinic.clinical.wording import day_text

# The clinic's palette (static/kapclinic/kapclinic.css): body ink and muted axes.
INK = "#1b1f24"
MUTED = "#505a66"


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


def svg_document(
    *, prefix: str, css_class: str, width: int, height: int, title: str, description: str, parts: list[str]
) -> str:
    """A chart's <svg> element to inline in a page or a PDF: named for screen readers by its <title> and <desc>
    (ids under `prefix`, so two charts on a page never share one), a white ground,
    then `parts` in drawing order (the last on top)."""
    prefix = escape(prefix)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="{prefix}-title {prefix}-desc" '
        f'class="{css_class}" font-family="{FONT_FAMILY}" font-size="{TEXT_SIZE}" '
        'stroke-linejoin="round" stroke-linecap="butt">'
        f'<title id="{prefix}-title">{escape(title)}</title><desc id="{prefix}-desc">{escape(description)}</desc>\n'
        f'<rect width="{width}" height="{height}" fill="white"/>\n' + "".join(parts) + "</svg>\n"
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
