"""A hash chain over an append-only table, and signed checkpoints of it: pure Python, no Django.

Each row carries `row_hash = SHA-256(previous_hash + "\\n" + canonical content)`, where
`previous_hash` is the row_hash of the row before it (in id order) and the first row's is the
chain's genesis value. Changing, removing, inserting or reordering any row breaks a link that
`chain_verify` finds; rewriting the whole chain from some row on is caught by a checkpoint
signed with a key the database does not hold (HMAC-SHA256).

Canonical content: the row's stored fields as JSON with sorted keys and no spaces; times in
UTC ISO 8601 with microseconds, decimals as their text. The Django side (kapclinic/audit/chain.py)
turns model values into these plain values so that a row written and the same row read back
serialise alike on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

HASH_LENGTH = 64  # hex characters of a SHA-256 digest

Value = None | bool | int | str | Decimal | datetime | list["Value"] | dict[str, "Value"]


class ChainError(ValueError):
    """A value that has no canonical form (a naive time, a float NaN, an unknown type)."""


def utc_text(value: datetime) -> str:
    """Return a time as its canonical text: UTC, ISO 8601, always with microseconds (2026-03-01T12:00:00.000000Z)."""
    if value.tzinfo is None:
        raise ChainError("A time in a chained row must carry its time zone.")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ChainError("A decimal in a chained row must be finite.")
        return str(value)
    raise ChainError(f"No canonical form for a {type(value).__name__}.")


def canonical(fields: Mapping[str, object]) -> bytes:
    """Return the canonical bytes of one row's stored fields."""
    try:
        text = json.dumps(
            fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_plain
        )
    except ValueError as exc:  # NaN or infinity, which JSON cannot hold
        raise ChainError(str(exc)) from None
    return text.encode("utf-8")


def genesis(chain: str) -> str:
    """Return the previous_hash of a chain's first row: distinct per chain, so rows cannot move between chains."""
    return hashlib.sha256(f"kapclinic hash chain: {chain}".encode()).hexdigest()


def link_hash(previous_hash: str, content: bytes) -> str:
    """Return the row_hash of a row with this canonical content after a row whose hash is `previous_hash`."""
    digest = hashlib.sha256(previous_hash.encode("ascii"))
    digest.update(b"\n")
    digest.update(content)
    return digest.hexdigest()


def chain_links(chain: str, last_hash: str | None, contents: Iterable[bytes]) -> Iterator[tuple[str, str]]:
    """Yield (previous_hash, row_hash) for new rows appended after a row whose hash is `last_hash`."""
    previous = last_hash if last_hash is not None else genesis(chain)
    for content in contents:
        row_hash = link_hash(previous, content)
        yield previous, row_hash
        previous = row_hash


# --- checkpoints --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """What the chain was at one moment: its last row and how many rows it held, signed."""

    chain: str
    last_id: int  # 0: the chain was empty
    last_hash: str
    row_count: int
    taken_at: datetime
    signature: str = ""

    def message(self) -> bytes:
        taken = _plain(self.taken_at)
        return f"kapclinic checkpoint v1|{self.chain}|{self.last_id}|{self.last_hash}|{self.row_count}|{taken}".encode()

    def signed(self, key: bytes) -> Checkpoint:
        signature = hmac.new(key, self.message(), hashlib.sha256).hexdigest()
        return Checkpoint(self.chain, self.last_id, self.last_hash, self.row_count, self.taken_at, signature)

    def signature_valid(self, key: bytes) -> bool:
        expected = hmac.new(key, self.message(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.signature)

    def line(self) -> str:
        """Return the one-line text an operator keeps off the database (parsed back by `checkpoint_parse`)."""
        return (
            f"kapclinic-checkpoint chain={self.chain} last_id={self.last_id} rows={self.row_count} "
            f"hash={self.last_hash} at={_plain(self.taken_at)} sig={self.signature}"
        )


def checkpoint_parse(line: str) -> Checkpoint:
    """Read back a line written by `Checkpoint.line`; ValueError with the reason when it is not one."""
    words = line.strip().split()
    if not words or words[0] != "kapclinic-checkpoint":
        raise ValueError("A checkpoint line starts with 'kapclinic-checkpoint'.")
    parts = dict(word.partition("=")[::2] for word in words[1:])
    missing = {"chain", "last_id", "rows", "hash", "at", "sig"} - parts.keys()
    if missing:
        raise ValueError(f"The checkpoint line lacks {', '.join(sorted(missing))}.")
    try:
        taken_at = datetime.strptime(parts["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        return Checkpoint(
            parts["chain"], int(parts["last_id"]), parts["hash"], int(parts["rows"]), taken_at, parts["sig"]
        )
    except ValueError:
        raise ValueError("The checkpoint line has a malformed number or time.") from None


# --- verification -------------------------------------------------------------------------------


class BreakKind(StrEnum):
    CONTENT_CHANGED = "content changed"
    ROW_MISSING = "row missing or chain broken"
    REWRITTEN = "chain rewritten after checkpoint"
    TRUNCATED = "rows removed by truncation"
    CHECKPOINT_FORGED = "checkpoint signature invalid"


@dataclass(frozen=True)
class ChainRow:
    id: int
    previous_hash: str
    row_hash: str
    content: bytes


@dataclass(frozen=True)
class ChainBreak:
    row_id: int  # the row where the break shows (for truncation: the checkpoint's last row)
    kind: BreakKind
    detail: str

    def __str__(self) -> str:
        return f"row {self.row_id}: {self.kind.value}: {self.detail}"


@dataclass(frozen=True)
class ChainReport:
    chain: str
    rows: int
    last_id: int
    last_hash: str
    checkpoints: int
    first_break: ChainBreak | None

    @property
    def intact(self) -> bool:
        return self.first_break is None


def chain_verify(
    chain: str, rows: Iterable[ChainRow], checkpoints: Sequence[Checkpoint] = (), key: bytes | None = None
) -> ChainReport:
    """Walk the rows in id order and return the first broken link, if any.

    Each row's hash is recomputed from its content and its stored previous_hash (a mismatch: the
    content changed), and its previous_hash must be the hash of the row before it (a mismatch: a
    row went missing, or was inserted or moved). Each checkpoint must carry a valid signature
    (when `key` is given), and the row it names must still be there with the same hash and the
    same number of rows up to it: a mismatch means the chain was rewritten or cut after the
    checkpoint was taken. Memory stays bounded by the number of checkpoints, not rows.
    """
    pending = sorted(checkpoints, key=lambda c: c.last_id)
    expected, count, last_id, at = genesis(chain), 0, 0, 0

    def report(found: ChainBreak | None) -> ChainReport:
        return ChainReport(chain, count, last_id, expected, len(pending), found)

    for checkpoint in pending:
        if checkpoint.chain != chain:
            return report(_forged(checkpoint, f"a checkpoint of '{checkpoint.chain}' among those of '{chain}'"))
        if key is not None and not checkpoint.signature_valid(key):
            return report(
                _forged(checkpoint, "its signature is not valid: forged, altered, or signed with another key")
            )
    # Checkpoints of an empty chain (last_id 0) hold at once.
    while at < len(pending) and pending[at].last_id == 0:
        if found := _check_point(pending[at], last_id, expected, count):
            return report(found)
        at += 1
    for row in rows:
        if at < len(pending) and pending[at].last_id < row.id:
            cp = pending[at]
            # The checkpoint's row is gone: with no row before it, the table was emptied and filled again.
            kind = BreakKind.TRUNCATED if count == 0 else BreakKind.REWRITTEN
            detail = f"the checkpoint's row {cp.last_id} is missing ({cp.row_count} rows up to it when signed)"
            return report(ChainBreak(cp.last_id, kind, detail))
        if link_hash(row.previous_hash, row.content) != row.row_hash:
            return report(ChainBreak(row.id, BreakKind.CONTENT_CHANGED, "its stored hash does not match its content"))
        if row.previous_hash != expected:
            before = f"row {last_id}" if last_id else "the chain's start"
            detail = f"its previous hash is not the hash of {before}: a row before it was removed, added or moved"
            return report(ChainBreak(row.id, BreakKind.ROW_MISSING, detail))
        expected, count, last_id = row.row_hash, count + 1, row.id
        while at < len(pending) and pending[at].last_id == row.id:
            if found := _check_point(pending[at], last_id, expected, count):
                return report(found)
            at += 1
    if at < len(pending):
        cp = pending[at]
        detail = (
            f"a checkpoint signed {_plain(cp.taken_at)} covered {cp.row_count} rows up to row {cp.last_id}; "
            f"the table now ends at row {last_id} with {count} rows"
        )
        return report(ChainBreak(cp.last_id, BreakKind.TRUNCATED, detail))
    return report(None)


def _forged(checkpoint: Checkpoint, detail: str) -> ChainBreak:
    return ChainBreak(checkpoint.last_id, BreakKind.CHECKPOINT_FORGED, f"checkpoint {checkpoint.line()}: {detail}")


def _check_point(checkpoint: Checkpoint, last_id: int, last_hash: str, count: int) -> ChainBreak | None:
    if checkpoint.last_hash != last_hash:
        detail = f"row {last_id} no longer has the hash signed at {_plain(checkpoint.taken_at)}"
        return ChainBreak(last_id, BreakKind.REWRITTEN, detail)
    if checkpoint.row_count != count:
        detail = (
            f"{count} rows up to row {last_id}, {checkpoint.row_count} when signed at {_plain(checkpoint.taken_at)}"
        )
        return ChainBreak(last_id, BreakKind.REWRITTEN, detail)
    return None
