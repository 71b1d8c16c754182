"""Scoring many responses at once (a day's, a cohort's): score() vectorised with numpy over an answer array.

`score_array(instrument, values, missing)` scores N responses to one instrument held as an integer array, one row
per response and one column per item in item order, with a boolean array of the same shape marking the unanswered
items (None: every item answered; what `values` holds where `missing` is True is ignored). It returns `BatchScores`,
arrays of what score() gives (total, prorated, severity band, flags, missing items, subscales); `result(i)` and
`results()` give the very `ScoreResult`s score() gives. `score_many(instrument, answers)` takes answer lists or
mappings as score() does and returns those results; `answer_array` makes the arrays from answer lists.

The same rules as score(), response by response (tests/test_scoring_batch.py compares every field): totals,
proration half up (the PHQ-9 with one of items 1-8 unanswered), severity bands, safety flags (an item's answer, the
total, or the partial sum where only answered items can reach an "at least" threshold), the risk item missing flag
and subscales. It takes total-scored instruments without branching, i.e. every shipped one but the C-SSRS screener
(its triage reasons over every way unanswered items could be answered; use score()). The batch is checked before
anything is scored: the first invalid response in order is refused with the ValueError score() raises for it, as a
`BatchAnswersError` that also gives its index. Plain Python and numpy, no Django.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from kapclinic.clinical.instruments.scoring import (
    RISK_ITEM_MISSING,
    Instrument,
    SafetyRule,
    ScoreResult,
    score,
    validated_answers,
)

IntArray = npt.NDArray[np.signedinteger[Any]]
BoolArray = npt.NDArray[np.bool_]

_SIGNED = (np.int8, np.int16, np.int32, np.int64)
_BAND_TABLE_LIMIT = 4096  # totals spanning at most this many values find their band by table lookup
_INT64_MAX = int(np.iinfo(np.int64).max)


class _TooLarge(ValueError):
    """Answers beyond what 64-bit sums hold (an unbounded count): score_many scores them one by one instead."""


class BatchAnswersError(ValueError):
    """A batch refused: the message is score()'s for the first invalid response; `index` is its position."""

    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.index = index


def _dtype_for(low: int, high: int) -> type[np.signedinteger[Any]]:
    """Return the smallest signed integer type holding `low` to `high`."""
    for dtype in _SIGNED:
        info = np.iinfo(dtype)
        if info.min <= low and high <= info.max:
            return dtype
    return np.int64


@dataclass(frozen=True)
class _Plan:
    """What the batch path needs of an instrument, worked out once."""

    width: int
    scored: tuple[int, ...]  # column positions
    required: tuple[int, ...]
    risk: tuple[int, ...]
    never_prorate: tuple[int, ...]
    weights: IntArray  # 1 for a scored column, 0 otherwise
    relevant: npt.NDArray[
        np.unsignedinteger[Any]
    ]  # 1 for a column whose absence changes the result (scored, required, risk, rule)
    lows: tuple[int, ...]
    highs: tuple[int | None, ...]
    contiguous: tuple[bool, ...]  # an item whose allowed answers are every whole number from lowest to highest
    dtype: type[np.signedinteger[Any]]  # holds every answer and every partial sum (int64 when unbounded)
    bounded: bool
    band_lookup: npt.NDArray[np.int8] | None  # the band of each total from min_total up, when few enough
    subscales_partition: bool  # every scored item in exactly one subscale: the total is the subscales' sum
    # Per item that safety rules read: its column, and the flag bits of each answer from its lowest up (None when
    # the answers are too many).
    item_flag_bits: tuple[tuple[int, npt.NDArray[np.uint8] | None], ...]


def _plan(instrument: Instrument) -> _Plan:
    cached = _PLANS.get(id(instrument))
    if cached is not None and cached[0] is instrument:
        return cached[1]
    if instrument.scoring != "sum":
        raise ValueError(f"{instrument.name} gives a triage category, not a total: score each response with score().")
    if any(item.asked_if is not None for item in instrument.items):
        raise ValueError(f"{instrument.name} has branching items: score each response with score().")
    items = instrument.items
    position = {item.id: n for n, item in enumerate(items)}
    rule_items = {position[rule.item] for rule in instrument.safety_rules if rule.item is not None}
    scored = tuple(n for n, item in enumerate(items) if item.scored)
    required = tuple(n for n, item in enumerate(items) if item.required)
    risk = tuple(position[item_id] for item_id in instrument.risk_items)
    relevant = set(scored) | set(required) | set(risk) | rule_items
    lows = tuple(item.lowest for item in items)
    highs = tuple(item.highest for item in items)
    bounded = all(high is not None for high in highs)
    if len(instrument.safety_rules) > 7:
        raise ValueError(f"{instrument.name} has more safety rules than the batch path holds: use score().")
    if bounded:
        # Every answer, sum of answers (subscales too), threshold and band edge fits.
        edges = [t for rule in instrument.safety_rules for t in (rule.at_least, rule.at_most) if t is not None]
        low = min(sum(min(lo, 0) for lo in lows), *edges, 0)
        high = max(sum(max(h or 0, 0) for h in highs), *edges, 0)
        dtype = _dtype_for(low, high)
    else:
        dtype = np.int64
    plan = _Plan(
        width=len(items),
        scored=scored,
        required=required,
        risk=risk,
        never_prorate=tuple(position[i] for i in instrument.proration.never_prorate) if instrument.proration else (),
        weights=np.array([1 if n in scored else 0 for n in range(len(items))], dtype=dtype),
        relevant=np.array(
            [1 if n in relevant else 0 for n in range(len(items))], dtype=np.uint8 if len(items) < 256 else np.uint16
        ),
        lows=lows,
        highs=highs,
        contiguous=tuple(
            not item.options or len(item.options) == item.highest - item.lowest + 1  # type: ignore[operator]
            for item in items
        ),
        dtype=dtype,
        bounded=bounded,
        band_lookup=_band_lookup(instrument),
        item_flag_bits=tuple((n, _item_flag_bits(instrument, n)) for n in sorted(rule_items)),
        subscales_partition=bool(instrument.subscales)
        and sorted(position[i] for subscale in instrument.subscales for i in subscale.items) == list(scored),
    )
    _PLANS[id(instrument)] = (instrument, plan)
    return plan


_PLANS: dict[int, tuple[Instrument, _Plan]] = {}


def _band_lookup(instrument: Instrument) -> npt.NDArray[np.int8] | None:
    """Return the band index of every total from the lowest up."""
    low, top = instrument.min_total, instrument.max_total
    if not instrument.bands or top is None or top - low >= _BAND_TABLE_LIMIT:
        return None
    bands = instrument.bands
    return np.array([next(n for n, band in enumerate(bands) if band.contains(t)) for t in range(low, top + 1)], np.int8)


def _lookup(table: npt.NDArray[Any], values: IntArray, low: int) -> npt.NDArray[Any]:
    """Return table[value - low] for each value; values outside the table read an end (they are ignored)."""
    if low != 0:
        if len(table) - 1 > np.iinfo(values.dtype).max:
            values = values.astype(np.int64)
        values = values - low  # exact for the values the table holds; others wrap, and are clipped
    return table.take(values, mode="clip")


def _item_flag_bits(instrument: Instrument, column: int) -> npt.NDArray[np.uint8] | None:
    item = instrument.items[column]
    low, top = item.lowest, item.highest
    if top is None or top - low >= _BAND_TABLE_LIMIT:
        return None
    bits = [
        sum(1 << r for r, rule in enumerate(instrument.safety_rules) if rule.item == item.id and rule.fires(value))
        for value in range(low, top + 1)
    ]
    return np.array(bits, dtype=np.uint8)


@dataclass(frozen=True, eq=False)
class BatchScores:
    """The scores of N responses to one instrument, as arrays (row i is response i).

    `total` is meaningful where `has_total` (0 elsewhere); `band` indexes `instrument.bands` (-1: no severity);
    `flag_code` indexes `flag_table`, the flags tuple score() gives; `complete` is False where a required item is
    unanswered, and `missing_rows`/`missing_items` say which (row numbers ascending, one bool row per such response
    over the required items); `subscales` holds the subscale sums (columns in `instrument.subscales` order), which
    score() reports only for a total that is not prorated.
    """

    instrument: Instrument
    total: IntArray
    has_total: BoolArray
    prorated: BoolArray
    band: npt.NDArray[np.int8]
    flag_code: npt.NDArray[np.uint8]
    flag_table: tuple[tuple[str, ...], ...]
    complete: BoolArray
    missing_rows: npt.NDArray[np.intp]
    missing_items: BoolArray
    subscales: IntArray | None
    _required_ids: tuple[str, ...] = field(repr=False, default=())

    def __len__(self) -> int:
        return len(self.total)

    def result(self, index: int) -> ScoreResult:
        """Return what score() gives for response `index`."""
        if not 0 <= index < len(self):
            raise IndexError(index)
        at = int(np.searchsorted(self.missing_rows, index))
        absent: tuple[str, ...] = ()
        if at < len(self.missing_rows) and self.missing_rows[at] == index:
            absent = tuple(
                i for i, gone in zip(self._required_ids, self.missing_items[at].tolist(), strict=True) if gone
            )
        return self._build(
            int(self.total[index]),
            bool(self.has_total[index]),
            bool(self.prorated[index]),
            int(self.band[index]),
            int(self.flag_code[index]),
            absent,
            None if self.subscales is None else self.subscales[index].tolist(),
        )

    def results(self) -> list[ScoreResult]:
        """Return what score() gives for every response, in order."""
        absent: dict[int, tuple[str, ...]] = {
            row: tuple(i for i, gone in zip(self._required_ids, flags, strict=True) if gone)
            for row, flags in zip(self.missing_rows.tolist(), self.missing_items.tolist(), strict=True)
        }
        subscales = self.subscales.tolist() if self.subscales is not None else [None] * len(self)
        return [
            self._build(total, has_total, prorated, band, code, absent.get(row, ()), sub)
            for row, (total, has_total, prorated, band, code, sub) in enumerate(
                zip(
                    self.total.tolist(),
                    self.has_total.tolist(),
                    self.prorated.tolist(),
                    self.band.tolist(),
                    self.flag_code.tolist(),
                    subscales,
                    strict=True,
                )
            )
        ]

    def _build(
        self,
        total: int,
        has_total: bool,
        prorated: bool,
        band: int,
        code: int,
        absent: tuple[str, ...],
        sub: list[int] | None,
    ) -> ScoreResult:
        instrument = self.instrument
        return ScoreResult(
            instrument=instrument.code,
            version=instrument.version,
            total=total if has_total else None,
            severity=instrument.bands[band].label if band >= 0 else None,
            flags=self.flag_table[code],
            missing=absent,
            complete=not absent,
            prorated=prorated,
            subscales=(
                tuple(zip((s.name for s in instrument.subscales), sub, strict=True))
                if sub is not None and has_total and not prorated
                else ()
            ),
        )


def _flag_table(instrument: Instrument) -> tuple[tuple[str, ...], ...]:
    """Return the flags tuple for every code: bit r set = safety rule r fired; the top bit = a risk item missing."""
    rules = instrument.safety_rules
    table = []
    for code in range(1 << (len(rules) + 1)):
        flags: list[str] = []
        for r, rule in enumerate(rules):  # in rule order, each flag once: as _flags() does
            if code >> r & 1 and rule.flag not in flags:
                flags.append(rule.flag)
        if code >> len(rules) & 1:
            flags.append(RISK_ITEM_MISSING)
        table.append(tuple(flags))
    return tuple(table)


_FLAG_TABLES: dict[int, tuple[Instrument, tuple[tuple[str, ...], ...]]] = {}


def _flags_for(instrument: Instrument) -> tuple[tuple[str, ...], ...]:
    cached = _FLAG_TABLES.get(id(instrument))
    if cached is None or cached[0] is not instrument:
        cached = (instrument, _flag_table(instrument))
        _FLAG_TABLES[id(instrument)] = cached
    return cached[1]


def _refuse_row(instrument: Instrument, values: npt.NDArray[Any], missing: BoolArray | None, index: int) -> None:
    """Raise score()'s error for response `index` as a BatchAnswersError (it must be invalid)."""
    row = values[index].tolist()
    if missing is not None:
        row = [None if gone else value for value, gone in zip(row, missing[index].tolist(), strict=True)]
    try:
        validated_answers(instrument, row)
    except ValueError as exc:
        raise BatchAnswersError(str(exc), index) from None
    raise AssertionError(f"response {index} was thought invalid but is not")  # pragma: no cover


def _checked(instrument: Instrument, plan: _Plan, values: object, missing: object) -> tuple[IntArray, BoolArray | None]:
    """Return the answers as integers and the mask (None when nothing relevant is missing), or refuse the batch."""
    if not isinstance(values, np.ndarray) or values.ndim != 2 or values.shape[1] != plan.width:
        raise ValueError(
            f"{instrument.name} batch answers must be a 2-D array with one column per item ({plan.width})."
        )
    if missing is not None:
        if not isinstance(missing, np.ndarray) or missing.dtype != np.bool_ or missing.shape != values.shape:
            raise ValueError(f"{instrument.name} batch missing-answer mask must be a bool array shaped as the answers.")
        if not missing.any():
            missing = None
    mask: BoolArray | None = missing
    if values.dtype.kind == "O":
        raise ValueError(f"{instrument.name} batch answers must be an integer array: answer_array() makes one.")
    if values.dtype.kind not in "iu":
        # Not whole numbers (bool, float, object...): score()'s message for the first response with an answer.
        answered = np.ones(values.shape, dtype=bool) if mask is None else ~mask
        rows = np.flatnonzero(answered.any(axis=1))
        if len(rows):
            _refuse_row(instrument, values, mask, int(rows[0]))
        values = np.zeros(values.shape, dtype=plan.dtype)
    elif values.dtype.kind == "u":
        if values.dtype.itemsize == 8 and len(values) and values.max() > _INT64_MAX:
            raise ValueError(f"{instrument.name} batch answers do not fit 64-bit integers.")
        values = values.astype(_SIGNED[min(_SIGNED.index(np.dtype(f"i{values.dtype.itemsize}").type) + 1, 3)])
    ints = cast("IntArray", values)
    if len(ints) == 0:
        return ints, mask
    # Fast check: every answer (and filler) within the range every item allows; else column by column.
    low, high = int(ints.min()), int(ints.max())
    fits = all(plan.contiguous) and all(
        lo <= low and (hi is None or high <= hi) for lo, hi in zip(plan.lows, plan.highs, strict=True)
    )
    if not fits:
        bad = np.zeros(len(ints), dtype=bool)
        for n, item in enumerate(instrument.items):
            column = ints[:, n]
            top = plan.highs[n]
            if plan.contiguous[n]:
                wrong = column < plan.lows[n]
                if top is not None:
                    wrong |= column > top
            else:
                wrong = ~np.isin(column, sorted(item.allowed))
            if mask is not None:
                wrong &= ~mask[:, n]
            bad |= wrong
        if bad.any():
            _refuse_row(instrument, ints, mask, int(np.argmax(bad)))
    if not plan.bounded:
        # Sums (and a prorated 2 x sum x items) must not overflow 64 bits.
        scored = len(plan.scored) or 1
        if max(abs(low), abs(high)) > _INT64_MAX // (4 * scored * scored + 4):
            raise _TooLarge(f"{instrument.name} answers too large to score in a batch: score each with score().")
    return ints, mask


def score_array(instrument: Instrument, values: npt.NDArray[Any], missing: BoolArray | None = None) -> BatchScores:
    """Score N responses held as an (N x items) integer array and an optional missing-answer mask.

    What `values` holds where `missing` is True is ignored. Refuses what score() refuses, for the first invalid
    response, with score()'s message (a BatchAnswersError giving its index); refuses a triage or branching
    instrument, an array that is not of numbers (an object array: answer_array() makes the integer one), and
    unbounded answers (the drug count) beyond what 64-bit sums hold (score_many scores those with score()).
    """
    plan = _plan(instrument)
    ints, mask = _checked(instrument, plan, values, missing)
    count = len(ints)
    dtype = np.promote_types(ints.dtype, plan.dtype)
    if ints.dtype != dtype:
        ints = ints.astype(dtype)
    # Rows where something that counts is unanswered: only they need more than the sum.
    rows = np.zeros(0, dtype=np.intp) if mask is None else np.flatnonzero(mask.view(np.uint8) @ plan.relevant)
    # Partial sums of the answered scored items (= the total where all are answered), and of each subscale.
    subscale_columns = _subscale_columns(instrument, ints) if instrument.subscales else []
    if subscale_columns and plan.subscales_partition:
        sums: IntArray = subscale_columns[0].copy()
        for column in subscale_columns[1:]:
            sums += column
    elif len(plan.scored) == 1:
        sums = ints[:, plan.scored[0]].copy()
    else:
        sums = ints @ plan.weights.astype(dtype)
    subscales = np.stack(subscale_columns, axis=1) if subscale_columns else None
    has_total = np.ones(count, dtype=bool)
    prorated = np.zeros(count, dtype=bool)
    complete = np.ones(count, dtype=bool)
    risk_missing = np.zeros(count, dtype=bool)
    missing_items = np.zeros((0, len(plan.required)), dtype=bool)
    if len(rows):
        assert mask is not None
        sub_mask = mask[rows]
        answered_values = np.where(sub_mask, 0, ints[rows])
        sub_sums = answered_values @ plan.weights.astype(dtype)
        sums[rows] = sub_sums
        if subscales is not None:
            subscales[rows] = answered_values @ _subscale_weights(instrument, ints)
        unanswered = sub_mask[:, list(plan.scored)].sum(axis=1)
        answered = len(plan.scored) - unanswered
        total = sub_sums.astype(np.int64)
        rule = instrument.proration
        if rule is not None:
            can = (unanswered > 0) & (answered >= rule.min_answered)
            if plan.never_prorate:
                can &= ~sub_mask[:, list(plan.never_prorate)].any(axis=1)
            share = np.where(can, answered, 1)
            total = np.where(can, (2 * total * len(plan.scored) + share) // (2 * share), total)
            prorated[rows] = can
            valid = (unanswered == 0) | can
        else:
            valid = unanswered == 0
        has_total[rows] = valid
        required_gone = sub_mask[:, list(plan.required)]
        gone_any = required_gone.any(axis=1)
        complete[rows] = ~gone_any
        missing_rows = rows[gone_any]
        missing_items = required_gone[gone_any]
        if plan.risk:
            risk_missing[rows] = sub_mask[:, list(plan.risk)].any(axis=1)
        totals = sums.copy()
        totals[rows] = np.where(valid, total, 0).astype(dtype)
    else:
        missing_rows = rows
        totals = sums
    flag_code = _flag_codes(instrument, plan, ints, mask, rows, totals, has_total, sums, risk_missing)
    return BatchScores(
        instrument=instrument,
        total=totals,
        has_total=has_total,
        prorated=prorated,
        band=_bands(instrument, plan, totals, has_total, rows),
        flag_code=flag_code,
        flag_table=_flags_for(instrument),
        complete=complete,
        missing_rows=missing_rows,
        missing_items=missing_items,
        subscales=subscales,
        _required_ids=tuple(instrument.items[n].id for n in plan.required),
    )


def _bands(
    instrument: Instrument, plan: _Plan, totals: IntArray, has_total: BoolArray, rows: npt.NDArray[np.intp]
) -> npt.NDArray[np.int8]:
    bands = instrument.bands
    if not bands:
        return np.full(len(totals), -1, dtype=np.int8)
    if plan.band_lookup is not None:
        band = _lookup(plan.band_lookup, totals, instrument.min_total)
    else:
        band = np.zeros(len(totals), dtype=np.int8)
        for edge in bands[1:]:
            band += totals >= edge.lower
    if len(rows):
        band[rows] = np.where(has_total[rows], band[rows], -1)
    return band


def _fires(rule: SafetyRule, value: IntArray) -> BoolArray:
    if rule.at_least is not None and rule.at_most is not None:
        return (value >= rule.at_least) & (value <= rule.at_most)
    if rule.at_least is not None:
        return value >= rule.at_least
    if rule.at_most is not None:
        return value <= rule.at_most
    return np.ones(len(value), dtype=bool)


def _flag_codes(
    instrument: Instrument,
    plan: _Plan,
    ints: IntArray,
    mask: BoolArray | None,
    rows: npt.NDArray[np.intp],
    totals: IntArray,
    has_total: BoolArray,
    sums: IntArray,
    risk_missing: BoolArray,
) -> npt.NDArray[np.uint8]:
    """Return each response's flag code (see _flag_table), rule by rule as _flags() reads them.

    The rules on an item are read together, from a table of the bits each answer sets. Every rule is first read
    as if everything were answered; then the rows with something unanswered (`rows`:
    every row where a rule's item, or a scored item, is unanswered) are read again as _flags() reads them."""
    rules = instrument.safety_rules
    code = np.zeros(len(ints), dtype=np.uint8)
    partial_sum_ok = all(item.lowest >= 0 for item in instrument.scored_items)
    position = {item.id: n for n, item in enumerate(instrument.items)}
    for n, table in plan.item_flag_bits:
        if table is not None:  # every rule on this item at once: the bits of each answer
            bits = _lookup(table, ints[:, n], plan.lows[n])
        else:
            bits = np.zeros(len(ints), dtype=np.uint8)
            for r, rule in enumerate(rules):
                if rule.item is not None and position[rule.item] == n:
                    bits |= _fires(rule, ints[:, n]).view(np.uint8) << r
        if len(rows):
            assert mask is not None
            bits[rows] = np.where(mask[rows, n], 0, bits[rows])  # an unanswered item fires nothing
        code |= bits
    for r, rule in enumerate(rules):
        if rule.item is not None:
            continue
        fired = _fires(rule, totals)
        if len(rows):
            if rule.at_most is None and partial_sum_ok:
                # No total: the partial sum, which unanswered items can only add to.
                value = np.where(has_total[rows], totals[rows], sums[rows])
                fired[rows] = _fires(rule, value)
            else:
                fired[rows] &= has_total[rows]
        code |= fired.view(np.uint8) << r
    if len(rows):
        code[rows] |= risk_missing[rows].view(np.uint8) << len(rules)
    return code


def _subscale_columns(instrument: Instrument, ints: IntArray) -> list[IntArray]:
    """Return each subscale's sum over every row, as if everything were answered."""
    position = {item.id: n for n, item in enumerate(instrument.items)}
    columns = []
    for subscale in instrument.subscales:
        at = sorted(position[item_id] for item_id in subscale.items)
        if at == list(range(at[0], at[0] + len(at))):  # adjacent items: a slice, numpy's fast row sum
            columns.append(ints[:, at[0] : at[-1] + 1] @ np.ones(len(at), dtype=ints.dtype))
        else:
            weights = np.zeros(ints.shape[1], dtype=ints.dtype)
            for n in at:
                weights[n] += 1
            columns.append(ints @ weights)
    return columns


def _subscale_weights(instrument: Instrument, ints: IntArray) -> IntArray:
    position = {item.id: n for n, item in enumerate(instrument.items)}
    weights = np.zeros((ints.shape[1], len(instrument.subscales)), dtype=ints.dtype)
    for s, subscale in enumerate(instrument.subscales):
        for item_id in subscale.items:
            weights[position[item_id], s] += 1
    return weights


def answer_array(
    instrument: Instrument, answers: Sequence[Sequence[object] | Mapping[str, object]]
) -> tuple[IntArray, BoolArray]:
    """Return answer lists (or mappings, as score() takes them) as an (N x items) integer array and missing mask.

    Unanswered items hold 0. Refuses the first invalid response with score()'s message, as a BatchAnswersError.
    """
    plan = _plan(instrument)
    width = plan.width
    shortest = width
    while shortest > 0 and not instrument.items[shortest - 1].required and not instrument.items[shortest - 1].scored:
        shortest -= 1
    rows: list[list[object]] = []
    for index, row in enumerate(answers):
        if isinstance(row, Mapping):
            try:
                checked = validated_answers(instrument, row)
            except ValueError:
                _first_refusal(instrument, answers, index)
                raise
            rows.append([checked[item.id] for item in instrument.items])
        elif isinstance(row, str | bytes) or not isinstance(row, Sequence) or not shortest <= len(row) <= width:
            _first_refusal(instrument, answers, index)
        else:
            rows.append([*row, *([None] * (width - len(row)))])
    if not rows:
        return np.zeros((0, width), dtype=plan.dtype), np.zeros((0, width), dtype=bool)
    table = np.empty((len(rows), width), dtype=object)
    try:
        table[:] = rows
    except ValueError:  # an answer that is itself a list: score()'s message for the first invalid response
        _first_refusal(instrument, answers, len(answers) - 1)
    missing: BoolArray = np.equal(table, None)  # type: ignore[call-overload]
    if not {type(value) for value in table.ravel().tolist()} <= {int, type(None)}:
        # A bool, a string, a float...: score()'s message for the first invalid response, in order.
        _first_refusal(instrument, answers, len(answers) - 1, required=False)
        table = np.array([[None if v is None else int(v) for v in row] for row in rows], dtype=object)  # type: ignore[call-overload]
    table[missing] = 0
    try:
        values: IntArray = table.astype(plan.dtype)
    except OverflowError:
        # Beyond the instrument's range or 64 bits: score()'s message for the first invalid response; else too large.
        _first_refusal(instrument, answers, len(answers) - 1, required=False)
        raise _TooLarge(f"{instrument.name} answers too large to score in a batch: score each with score().") from None
    return values, missing


def _first_refusal(
    instrument: Instrument,
    answers: Sequence[Sequence[object] | Mapping[str, object]],
    upto: int,
    *,
    required: bool = True,
) -> None:
    """Check responses 0 to `upto` in order as score() does and raise for the first refused one (which, when
    `required`, must be one of them)."""
    for index in range(upto + 1):
        try:
            validated_answers(instrument, answers[index])
        except ValueError as exc:
            raise BatchAnswersError(str(exc), index) from None
    if required:
        raise AssertionError(f"response {upto} was thought invalid but is not")  # pragma: no cover


def score_many(instrument: Instrument, answers: Sequence[Sequence[object] | Mapping[str, object]]) -> list[ScoreResult]:
    """Return what score() gives for each response, scored together: identical results, in order.

    A triage or branching instrument (the C-SSRS screener) is scored response by response with score(); answers
    too large for 64-bit sums are too. Refuses the first invalid response with score()'s message (BatchAnswersError).
    """
    try:
        _plan(instrument)
    except ValueError:  # a triage or branching instrument
        return _one_by_one(instrument, answers)
    try:
        values, missing = answer_array(instrument, answers)
        return score_array(instrument, values, missing).results()
    except _TooLarge:
        return _one_by_one(instrument, answers)


def _one_by_one(
    instrument: Instrument, answers: Sequence[Sequence[object] | Mapping[str, object]]
) -> list[ScoreResult]:
    results = []
    for index, row in enumerate(answers):
        try:
            results.append(score(instrument, row))
        except ValueError as exc:
            raise BatchAnswersError(str(exc), index) from None
    return results
