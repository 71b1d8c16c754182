"""CSV downloads that a spreadsheet cannot turn into formulas (CSV/formula injection)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from decimal import Decimal

# A text cell starting with one of these runs as a formula when the file is opened in a spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """Return `value` as a cell; text that would start a formula gets a leading apostrophe.

    Numbers stay numbers: -39.000 mg is a quantity, not a formula, and must still add up in a spreadsheet.
    """
    if value is None:
        return ""
    if isinstance(value, Decimal) and value.is_finite():
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(header: Iterable[str], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """Yield the header and each row as CSV lines, every cell made safe; for a StreamingHttpResponse."""
    writer = csv.writer(_Echo())
    yield writer.writerow([csv_cell(h) for h in header])
    for row in rows:
        yield writer.writerow([csv_cell(v) for v in row])
