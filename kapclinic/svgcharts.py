"""What every server-side chart (score trajectories, session vitals) shares: one render lock and the SVG clean-up
that makes matplotlib's output safe to inline in a page and readable by screen readers."""

from __future__ import annotations

import re
import threading
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

# matplotlib's rcParams are process-wide; renders are serialised so one request's settings never leak into another.
RENDER_LOCK = threading.Lock()

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
