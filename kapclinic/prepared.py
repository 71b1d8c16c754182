"""Queries of a fixed shape, built and compiled once per process, then run with each request's values.

Building a QuerySet and compiling it to SQL costs more than running it on the pages every member of staff opens
all day (issue 15, item 3: 35-40 % of a home page's time; the day's sessions alone 0.8 ms to compile). A query
whose shape does not change between requests (only a user's id, a day's bounds) is built here once with stand-in
values, compiled, and then run with the request's values put in the stand-ins' places; the rows come back as the
QuerySet would have given them (model instances with their select_related rows and annotations, or values).

The shape is checked when it is first built: the builder is called twice with two different sets of stand-ins,
and the two SQL texts must be the same and their parameters differ only where a stand-in is. A builder that reads
the clock itself (timezone.now()) fails that check at once; every changing value must be an argument.
(kapclinic.home.inbox does the same for the header's counts, by hand.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from django.core.exceptions import EmptyResultSet, ImproperlyConfigured
from django.db import connections, router
from django.db.models import Model, QuerySet

RowT = TypeVar("RowT")
Value = int | str | datetime | date
# Above every code point: `column < prefix + AFTER_ALL` bounds the strings that start with `prefix`.
AFTER_ALL = "\U0010ffff"


@dataclass(frozen=True)
class _Slot:
    """Where a parameter comes from: a fixed value, or argument `index` adapted as the ORM adapted it."""

    fixed: Any
    index: int = -1
    adapt: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class _Prepared:
    queryset: QuerySet[Any]
    compiler: Any  # the SQLCompiler after as_sql(): its select, klass_info and converters are what rows need
    sql: str
    slots: tuple[_Slot, ...]


_PREPARED: dict[Hashable, _Prepared | None] = {}  # None: the builder's query is empty (EmptyResultSet): none run
_LOCK = threading.Lock()
_MISSING: Any = object()
_IN_A_COLUMN = (-(2**63), 2**63 - 1)  # a 64-bit integer column's range, both databases


def _stand_in(value: Value, index: int, variant: int) -> Value:
    """A value of the same type no real argument takes (a negative id, a time in 1901), distinct per place."""
    if isinstance(value, bool):
        raise TypeError("a prepared query takes no bool: make it part of the key (it changes the shape)")
    if isinstance(value, int):
        return -987_654_321_000 - 16 * index - variant
    if isinstance(value, str):
        return f"\x1estand-in {index} {variant}\x1e"
    if isinstance(value, datetime):
        return datetime(1901, 1 + index, 1 + variant, 3, 4, 5, tzinfo=UTC)
    if isinstance(value, date):
        return date(1901, 1 + index, 1 + variant)
    raise TypeError(f"a prepared query takes ids, text, dates and times, not {type(value).__name__}")


def _adapters(alias: str) -> list[Callable[[Any], Any]]:
    """How the ORM may have turned an argument into a parameter: as it is, a time or date as SQLite stores it
    (text), a LIKE pattern of a prefix (__startswith), a prefix's upper bound (prefix + AFTER_ALL)."""
    ops = connections[alias].ops
    return [
        lambda v: v,
        ops.adapt_datetimefield_value,
        ops.adapt_datefield_value,
        lambda v: f"{ops.prep_for_like_query(v)}%",
        lambda v: v + AFTER_ALL,
    ]


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _compiled(queryset: QuerySet[Any], alias: str) -> tuple[Any, str, tuple[Any, ...]]:
    compiler = queryset.query.get_compiler(using=alias)
    sql, params = compiler.as_sql()
    return compiler, sql, tuple(params)


def _prepare(build: Callable[..., QuerySet[Any]], values: tuple[Value, ...], alias: str) -> _Prepared | None:
    ins_a = tuple(_stand_in(v, i, 0) for i, v in enumerate(values))
    ins_b = tuple(_stand_in(v, i, 1) for i, v in enumerate(values))
    queryset = build(*ins_a)
    if getattr(queryset, "_prefetch_related_lookups", ()):  # done after the rows, by the QuerySet: not here
        raise ImproperlyConfigured("a prepared query cannot prefetch_related")
    try:
        compiler, sql, params = _compiled(queryset, alias)
        _, sql_b, params_b = _compiled(build(*ins_b), alias)
    except EmptyResultSet:
        return None
    if sql != sql_b or len(params) != len(params_b):
        raise ImproperlyConfigured(f"the query's SQL changes with its arguments: not a fixed shape\n{sql}\n{sql_b}")
    adapters = _adapters(alias)
    slots = []
    for position, (a, b) in enumerate(zip(params, params_b, strict=True)):
        slot = None
        for index in range(len(values)):
            for adapt in adapters:
                try:
                    if _same(a, adapt(ins_a[index])) and _same(b, adapt(ins_b[index])):
                        slot = _Slot(None, index, adapt)
                        break
                except (TypeError, ValueError, AttributeError):
                    continue
            if slot is not None:
                break
        if slot is None:
            if not _same(a, b):
                raise ImproperlyConfigured(
                    f"parameter {position} of the query changes between builds ({a!r}, {b!r}) yet is no argument: "
                    "pass it in (the clock, a day), or the prepared query would keep the first value"
                )
            slot = _Slot(a)
        slots.append(slot)
    return _Prepared(queryset, compiler, sql, tuple(slots))


def prepared_rows(key: Hashable, build: Callable[..., QuerySet[Any, RowT]], *values: Value) -> list[RowT]:
    """The rows of `build(*values)`, the query built and compiled once per process for `key` and the database.

    `build` must give a query of one shape whatever the values (ids, dates, times); anything that changes the
    shape (a role, a search's kind, a list's length) belongs in `key`.
    """
    if any(isinstance(v, int) and not _IN_A_COLUMN[0] <= v <= _IN_A_COLUMN[1] for v in values):
        return []  # as the ORM: an id no integer column can hold (an address's 2**63) matches no row
    alias = router.db_for_read(_model_of(build, key, values))
    cache_key = (key, alias, connections[alias].vendor, tuple(type(v) for v in values))
    prepared = _PREPARED.get(cache_key, _MISSING)
    if prepared is _MISSING:
        with _LOCK:
            prepared = _prepare(build, values, alias)
            if len(_PREPARED) > 512:  # keys are a fixed few; this only bounds a mistake
                _PREPARED.clear()
            _PREPARED[cache_key] = prepared
    if prepared is None:
        return []
    assert isinstance(prepared, _Prepared)
    params = tuple(slot.fixed if slot.adapt is None else slot.adapt(values[slot.index]) for slot in prepared.slots)
    compiler = _shallow(prepared.compiler)
    compiler.using = alias
    compiler.connection = connections[alias]  # this thread's: connections are per thread
    sql = prepared.sql
    compiler.as_sql = lambda *args, **kwargs: (sql, params)
    query = _shallow(prepared.queryset.query)
    query.get_compiler = lambda *args, **kwargs: compiler
    queryset = _shallow(prepared.queryset)
    queryset._query = query  # not the property: its setter would make a values_list() give dicts
    queryset._db = alias
    return list(queryset._iterable_class(queryset))


def _shallow(thing: Any) -> Any:
    """A copy sharing every attribute (copy.copy would run a QuerySet's query: its __getstate__ fetches rows)."""
    twin = object.__new__(type(thing))
    twin.__dict__.update(thing.__dict__)
    return twin


_MODELS: dict[Hashable, type[Model]] = {}


def _model_of(build: Callable[..., QuerySet[Any]], key: Hashable, values: tuple[Value, ...]) -> type[Model]:
    """The builder's model, for the database router (which may send this request's reads to a replica)."""
    model = _MODELS.get(key)
    if model is None:
        model = _MODELS[key] = build(*(_stand_in(v, i, 2) for i, v in enumerate(values))).model
    return model
