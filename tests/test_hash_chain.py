"""The hash chain's pure part (kapclinic/hashchain.py): canonical content, links, checkpoints, the first break."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kapclinic.hashchain import (
    BreakKind,
    ChainError,
    ChainRow,
    Checkpoint,
    canonical,
    chain_links,
    chain_verify,
    checkpoint_parse,
    genesis,
)

KEY = b"test checkpoint key"
WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def build(contents: list[bytes], chain: str = "audit", first_id: int = 1) -> list[ChainRow]:
    links = chain_links(chain, None, contents)
    return [
        ChainRow(first_id + n, previous, row_hash, content)
        for n, (content, (previous, row_hash)) in enumerate(zip(contents, links, strict=True))
    ]


def checkpoint_at(rows: list[ChainRow], index: int, chain: str = "audit") -> Checkpoint:
    return Checkpoint(chain, rows[index].id, rows[index].row_hash, index + 1, WHEN).signed(KEY)


contents_st = st.lists(st.binary(min_size=0, max_size=12), min_size=1, max_size=12)


def test_canonical_content_is_stable_across_key_order_decimal_and_time_zone() -> None:
    new_york = timezone(timedelta(hours=-5))
    one = canonical({"b": Decimal("5.000"), "a": WHEN, "d": {"y": 1, "x": [1, "é"]}})
    two = canonical({"d": {"x": [1, "é"], "y": 1}, "a": WHEN.astimezone(new_york), "b": Decimal("5.000")})
    assert one == two
    assert one == '{"a":"2026-03-01T12:00:00.000000Z","b":"5.000","d":{"x":[1,"é"],"y":1}}'.encode()


@pytest.mark.parametrize(
    "value", [WHEN.replace(tzinfo=None), Decimal("NaN"), float("inf"), object()], ids=["naive", "nan", "inf", "object"]
)
def test_values_without_a_canonical_form_are_refused(value: object) -> None:
    with pytest.raises(ChainError):
        canonical({"v": value})


def test_chains_start_apart() -> None:
    # A row cannot be moved from the audit log to the ledger: the first links differ.
    assert genesis("audit") != genesis("ledger")
    assert build([b"x"], "audit")[0].row_hash != build([b"x"], "ledger")[0].row_hash


@given(contents_st)
def test_an_untouched_chain_verifies(contents: list[bytes]) -> None:
    rows = build(contents)
    report = chain_verify("audit", rows, [checkpoint_at(rows, len(rows) - 1)], KEY)
    assert report.intact and report.rows == len(rows) and report.last_hash == rows[-1].row_hash


@given(contents_st, st.data())
def test_any_changed_content_is_found_at_its_row(contents: list[bytes], data: st.DataObject) -> None:
    rows = build(contents)
    at = data.draw(st.integers(0, len(rows) - 1))
    changed = data.draw(st.binary(max_size=12).filter(lambda b: b != rows[at].content))
    rows[at] = replace(rows[at], content=changed)
    report = chain_verify("audit", rows)
    assert report.first_break is not None
    assert (report.first_break.row_id, report.first_break.kind) == (rows[at].id, BreakKind.CONTENT_CHANGED)


@given(contents_st.filter(lambda c: len(c) >= 2), st.data())
def test_any_removed_row_is_found_at_the_row_after_it(contents: list[bytes], data: st.DataObject) -> None:
    rows = build(contents)
    at = data.draw(st.integers(0, len(rows) - 2))
    del rows[at]
    report = chain_verify("audit", rows)
    assert report.first_break is not None
    assert (report.first_break.row_id, report.first_break.kind) == (rows[at].id, BreakKind.ROW_MISSING)


@given(contents_st, st.data())
def test_a_removed_last_row_is_found_by_the_checkpoint(contents: list[bytes], data: st.DataObject) -> None:
    rows = build(contents)
    signed = checkpoint_at(rows, len(rows) - 1)
    cut = data.draw(st.integers(0, len(rows) - 1))
    report = chain_verify("audit", rows[:cut], [signed], KEY)
    assert report.first_break is not None and report.first_break.kind == BreakKind.TRUNCATED


@given(contents_st.filter(lambda c: len(c) >= 2), st.data())
def test_any_reordering_is_found(contents: list[bytes], data: st.DataObject) -> None:
    rows = build(contents)
    i, j = sorted(data.draw(st.lists(st.integers(0, len(rows) - 1), min_size=2, max_size=2, unique=True)))
    # Swap two rows' places (each keeps its own hashes, the ids stay in order).
    swapped = list(rows)
    swapped[i] = replace(rows[j], id=rows[i].id)
    swapped[j] = replace(rows[i], id=rows[j].id)
    assert not chain_verify("audit", swapped).intact


@given(contents_st, st.data())
def test_any_inserted_row_is_found(contents: list[bytes], data: st.DataObject) -> None:
    # Ids 10, 20, 30...: room for a forged row before any of them.
    rows = [replace(row, id=row.id * 10) for row in build(contents)]
    at = data.draw(st.integers(0, len(rows) - 1))
    # A forged row with a self-consistent hash, linked to the row before it; the row after it no longer links.
    previous = rows[at - 1].row_hash if at else genesis("audit")
    forged = ChainRow(rows[at].id - 5, previous, next(chain_links("audit", previous, [b"forged"]))[1], b"forged")
    report = chain_verify("audit", [*rows[:at], forged, *rows[at:]])
    assert report.first_break is not None
    assert (report.first_break.row_id, report.first_break.kind) == (rows[at].id, BreakKind.ROW_MISSING)


def test_a_rewritten_chain_is_found_by_the_signed_checkpoint() -> None:
    rows = build([b"a", b"b", b"c", b"d"])
    signed = checkpoint_at(rows, 2)
    # Row 2 changed and every hash from it on recomputed with plain SHA-256: every link holds...
    rewritten = build([b"a", b"B", b"c", b"d"])
    assert chain_verify("audit", rewritten).intact
    # ...but the checkpoint signed before the rewrite does not.
    report = chain_verify("audit", rewritten, [signed], KEY)
    assert report.first_break is not None
    assert (report.first_break.row_id, report.first_break.kind) == (3, BreakKind.REWRITTEN)


def test_a_removed_row_with_the_chain_relinked_is_found_by_the_row_count() -> None:
    rows = build([b"a", b"b", b"c"])
    signed = checkpoint_at(rows, 2)
    relinked = build([b"a", b"c"])
    relinked = [relinked[0], replace(relinked[1], id=3)]
    report = chain_verify("audit", relinked, [signed], KEY)
    assert report.first_break is not None and report.first_break.kind == BreakKind.REWRITTEN


def test_an_emptied_and_refilled_table_is_a_truncation() -> None:
    rows = build([b"a", b"b", b"c"])
    signed = checkpoint_at(rows, 2)
    refilled = build([b"x"], first_id=4)
    report = chain_verify("audit", refilled, [signed], KEY)
    assert report.first_break is not None and report.first_break.kind == BreakKind.TRUNCATED


def test_a_forged_checkpoint_is_reported_before_any_row() -> None:
    rows = build([b"a", b"b"])
    forged = replace(checkpoint_at(rows, 1), row_count=1)
    report = chain_verify("audit", rows, [forged], KEY)
    assert report.first_break is not None and report.first_break.kind == BreakKind.CHECKPOINT_FORGED
    other_key = Checkpoint("audit", rows[1].id, rows[1].row_hash, 2, WHEN).signed(b"another key")
    assert not chain_verify("audit", rows, [other_key], KEY).intact


def test_a_checkpoint_of_an_empty_chain_holds_until_rows_are_added() -> None:
    empty = Checkpoint("ledger", 0, genesis("ledger"), 0, WHEN).signed(KEY)
    assert chain_verify("ledger", [], [empty], KEY).intact
    assert chain_verify("ledger", build([b"a"], "ledger"), [empty], KEY).intact


def test_a_checkpoint_line_reads_back_exactly() -> None:
    signed = Checkpoint("ledger", 42, "ab" * 32, 40, WHEN.replace(microsecond=123)).signed(KEY)
    assert checkpoint_parse(signed.line()) == signed
    assert checkpoint_parse(signed.line()).signature_valid(KEY)


@pytest.mark.parametrize(
    "line",
    ["", "checkpoint chain=audit", "kapclinic-checkpoint chain=audit last_id=x rows=1 hash=a at=b sig=c"],
)
def test_a_malformed_checkpoint_line_is_a_clear_error(line: str) -> None:
    with pytest.raises(ValueError, match="checkpoint line"):
        checkpoint_parse(line)
