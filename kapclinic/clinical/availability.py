"""When a booking can happen: working hours, opening hours, time off, closures and what is already booked (issue 16,
items 1 and 2). Plain date arithmetic over intervals; no Django.

A resource is anything a booking needs at its time: a member of staff, a room, a chair. Each has weekly hours
written as iCalendar recurrence rules (RFC 5545 section 3.3.10 RRULE, read with python-dateutil's rrulestr, so
"every weekday", "every other Friday" and "the first Monday of the month" mean what a calendar means by them),
minus its time off and the clinic's closures, minus its bookings. A booking fits where every resource it needs is
free for its whole length, on the clinic's grid of start times.

How long a booking lasts comes from its kind; a dosing session's from its route: the dose or infusion, the
observation minimum of monitoring.md section 6 (Spravato's from the label; the others clinic policy) and the
check-in and discharge around them (clinic policy).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

from dateutil.rrule import rrulestr

from kapclinic.clinical.monitoring import DEFAULT_POLICY as MONITORING_POLICY
from kapclinic.clinical.monitoring import MonitoringPolicy, observation_minutes

Interval = tuple[datetime, datetime]

# A booking lasts 10 minutes to 8 hours (clinic policy; the longest, an IV session with a long infusion, is under
# 4 hours). The upper bound also bounds the search for clashes: nothing that started more than 8 hours before a time
# can still be running then, so an index on the start answers it without reading the whole history.
SHORTEST_BOOKING_MINUTES = 10
LONGEST_BOOKING_MINUTES = 480

# How far ahead "next free times" looks before it says there are none: two weeks, as the booking form offers.
SEARCH_DAYS = 14


@dataclass(frozen=True)
class WeeklyHours:
    """One recurring block of hours: starting at `starts` on the days `rule` picks, lasting until `ends`.

    `rule` is an RRULE value without DTSTART, e.g. "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR" or
    "FREQ=WEEKLY;INTERVAL=2;BYDAY=FR"; `since` anchors it (an every-other-week rule counts its weeks from there).
    """

    rule: str
    starts: time
    ends: time
    since: date
    until: date | None = None  # the last day these hours hold (hours that changed), or open-ended

    def __post_init__(self) -> None:
        if self.ends <= self.starts:
            raise ValueError("Hours must end after they start (a night shift is two blocks).")
        if "DTSTART" in self.rule.upper():
            raise ValueError("Give the rule without DTSTART; `since` anchors it.")
        try:
            rrulestr(self.rule, dtstart=datetime.combine(self.since, self.starts))
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"Not an iCalendar recurrence rule: {self.rule!r} ({error}).") from error

    def windows(self, first: date, last: date, zone: tzinfo) -> list[Interval]:
        """The blocks on the days from `first` to `last` inclusive, as aware instants in `zone` (local wall
        time, so a block keeps its hours across a daylight-saving change)."""
        anchor = datetime.combine(self.since, self.starts)
        if self.until is not None:
            last = min(last, self.until)
        if last < first:
            return []
        days = rrulestr(self.rule, dtstart=anchor).between(
            datetime.combine(max(first, self.since), time.min), datetime.combine(last, time.max), inc=True
        )
        return [
            (
                datetime.combine(day.date(), self.starts, tzinfo=zone),
                datetime.combine(day.date(), self.ends, tzinfo=zone),
            )
            for day in days
        ]


_DAY_NAMES = {"MO": "Mon", "TU": "Tue", "WE": "Wed", "TH": "Thu", "FR": "Fri", "SA": "Sat", "SU": "Sun"}


def rule_text(rule: str) -> str:
    """A recurrence rule in words, for the rules the hours form writes ("Mon to Fri", "every other Fri", "every
    day"); any other rule as written."""
    parts = dict(part.partition("=")[::2] for part in rule.upper().split(";") if "=" in part)
    if set(parts) - {"FREQ", "INTERVAL", "BYDAY"}:
        return rule
    every_other = parts.get("INTERVAL") == "2"
    if parts.get("INTERVAL") not in (None, "1", "2"):
        return rule
    if parts.get("FREQ") == "DAILY" and "BYDAY" not in parts:
        return "every other day" if every_other else "every day"
    days = parts.get("BYDAY", "").split(",")
    if parts.get("FREQ") != "WEEKLY" or not all(day in _DAY_NAMES for day in days):
        return rule
    order = list(_DAY_NAMES)
    days.sort(key=order.index)
    if len(days) > 2 and days == order[order.index(days[0]) : order.index(days[0]) + len(days)]:
        text = f"{_DAY_NAMES[days[0]]} to {_DAY_NAMES[days[-1]]}"
    else:
        text = ", ".join(_DAY_NAMES[day] for day in days)
    return f"every other week: {text}" if every_other else text


@dataclass(frozen=True)
class Resource:
    """A member of staff, a room or a chair, with its hours, time off and bookings."""

    key: str
    hours: Sequence[WeeklyHours]
    time_off: Sequence[Interval] = ()
    busy: Sequence[Interval] = ()


@dataclass(frozen=True)
class Grid:
    """Where starts may fall: every `step_minutes` past the hour, not before `not_before`."""

    step_minutes: int = 15
    not_before: datetime | None = None


def merged(intervals: Iterable[Interval]) -> list[Interval]:
    """The intervals sorted, overlapping or touching ones joined."""
    out: list[Interval] = []
    for begin, end in sorted(i for i in intervals if i[1] > i[0]):
        if out and begin <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((begin, end))
    return out


def minus(windows: Iterable[Interval], taken: Iterable[Interval]) -> list[Interval]:
    """What is left of `windows` once `taken` is cut out of them."""
    cuts = merged(taken)
    left: list[Interval] = []
    for begin, end in merged(windows):
        cursor = begin
        for cut_begin, cut_end in cuts:
            if cut_end <= cursor or cut_begin >= end:
                continue
            if cut_begin > cursor:
                left.append((cursor, cut_begin))
            cursor = max(cursor, cut_end)
            if cursor >= end:
                break
        if cursor < end:
            left.append((cursor, end))
    return left


def crowded(intervals: Iterable[Interval], at_once: int) -> list[Interval]:
    """The stretches when at least `at_once` of the intervals run at the same time (a sweep over their ends; an
    interval ending as another starts does not overlap it). With `at_once` 1, the intervals merged."""
    if at_once < 1:
        raise ValueError("At least one at once.")
    edges = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals], key=lambda e: (e[0], e[1]))
    out: list[Interval] = []
    running, since = 0, None
    for moment, step in edges:
        running += step
        if step == 1 and running == at_once:
            since = moment
        elif step == -1 and running == at_once - 1 and since is not None:
            if moment > since:
                out.append((since, moment))
            since = None
    return merged(out)


def overlap(a: Iterable[Interval], b: Iterable[Interval]) -> list[Interval]:
    """The instants in both `a` and `b`."""
    left, right = merged(a), merged(b)
    out: list[Interval] = []
    i = j = 0
    while i < len(left) and j < len(right):
        begin, end = max(left[i][0], right[j][0]), min(left[i][1], right[j][1])
        if begin < end:
            out.append((begin, end))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return out


def free_windows(
    resource: Resource, first: date, last: date, zone: tzinfo, closures: Iterable[Interval] = ()
) -> list[Interval]:
    """When `resource` is free from `first` to `last`: its hours less its time off, the closures and its bookings."""
    hours = [w for block in resource.hours for w in block.windows(first, last, zone)]
    return minus(hours, [*resource.time_off, *closures, *resource.busy])


def within_hours(hours: Iterable[WeeklyHours], start: datetime, end: datetime, zone: tzinfo) -> bool:
    """Whether [start, end) lies inside one block of `hours` (touching blocks count as one)."""
    windows = [
        w for block in hours for w in block.windows(start.astimezone(zone).date(), end.astimezone(zone).date(), zone)
    ]
    return any(begin <= start and end <= finish for begin, finish in merged(windows))


def clashes(start: datetime, end: datetime, busy: Iterable[Interval]) -> list[Interval]:
    """The bookings in `busy` that overlap [start, end): half-open, so one ending at 10:00 leaves 10:00 free (and an
    empty interval holds nothing)."""
    return [(b, e) for b, e in busy if b < end and e > start and e > b]


def next_free_starts(
    resources: Sequence[Resource],
    *,
    minutes: int,
    wanted: datetime,
    zone: tzinfo,
    closures: Iterable[Interval] = (),
    grid: Grid = Grid(),
    count: int = 3,
    search_days: int = SEARCH_DAYS,
) -> list[datetime]:
    """Up to `count` starts at or after `wanted` where every one of `resources` is free for `minutes`, on the grid.

    No resource means nothing constrains the time, which is never what a booking means: it returns nothing.
    """
    if minutes <= 0 or count <= 0 or not resources:
        return []
    length = timedelta(minutes=minutes)
    earliest = max(wanted, grid.not_before) if grid.not_before else wanted
    first = earliest.astimezone(zone).date()
    last = first + timedelta(days=search_days)
    closures = list(closures)
    common = free_windows(resources[0], first, last, zone, closures)
    for resource in resources[1:]:
        common = overlap(common, free_windows(resource, first, last, zone, closures))
    found: list[datetime] = []
    for begin, end in common:
        start = on_grid(max(begin, earliest), grid.step_minutes)
        while start + length <= end and len(found) < count:
            found.append(start)
            start += timedelta(minutes=grid.step_minutes)
        if len(found) >= count:
            break
    return found


def on_grid(moment: datetime, step_minutes: int) -> datetime:
    """Round up to the next multiple of `step_minutes` past the hour (10:07 becomes 10:15; 10:15 stays)."""
    exact = moment.replace(second=0, microsecond=0)
    if exact != moment:
        exact += timedelta(minutes=1)
    extra = (exact.hour * 60 + exact.minute) % step_minutes
    return exact + timedelta(minutes=step_minutes - extra) if extra else exact


# --- What each kind of booking needs, and how long it lasts ---------------------------------------------------


@dataclass(frozen=True)
class KindNeeds:
    """Who and what a kind of booking needs (clinic policy). Roles by their names in kapclinic.roles.Role.

    `held_by`: the roles that may hold it, one of whom is booked for its whole length (an appointment; a dosing
    session's monitoring nurse, who may watch up to `at_once` sessions at the same time). `on_site`: roles of whom
    one must be at work during it, not held by it, so one prescriber can be on site for several sessions at once (a
    dosing session; monitoring.md section 6 asks for the prescriber or a delegate at discharge). `place`: "room",
    "chair" or "" (a video visit needs none).
    """

    label: str
    held_by: tuple[str, ...]
    on_site: tuple[str, ...] = ()
    place: str = "room"
    # How many bookings of this kind one holder may hold at the same time (never with a booking of another kind).
    at_once: int = 1


# The appointment kinds keep the holders they had (appointments.services.WHO_HOLDS); a dosing session takes a nurse
# for its whole length and a prescriber on site; an IV infusion takes a chair, the other routes a room.
KIND_NEEDS: dict[str, KindNeeds] = {
    "consultation": KindNeeds("Free consultation", ("coordinator", "prescriber", "therapist")),
    "evaluation": KindNeeds("Medical and psychiatric evaluation", ("prescriber",)),
    "preparation": KindNeeds("Preparation session", ("therapist", "prescriber")),
    "integration": KindNeeds("Integration session", ("therapist", "prescriber")),
    # One nurse monitors up to three dosing sessions at once, each in its own chair or room: clinic policy (no
    # published ratio in ../shared/domain; monitoring.md section 2 asks for vitals every 5-15 minutes and continuous
    # SpO2, which one nurse can keep for a few patients), set here by the clinic (1 for one-to-one monitoring).
    "dosing": KindNeeds("Dosing session", ("nurse",), on_site=("prescriber",), at_once=3),
}
KINDS = tuple(KIND_NEEDS)
PLACE_KINDS = {"room": "Room", "chair": "Infusion chair"}


def holder_busy(bookings: Iterable[tuple[datetime, datetime, str]], kind: str | None) -> list[Interval]:
    """When a staff member cannot take a booking of `kind`, given what they already hold (start, end, kind): every
    booking of another kind, and the stretches where they already hold as many of this kind as one may at once."""
    at_once = KIND_NEEDS[kind].at_once if kind in KIND_NEEDS else 1
    shared = [(a, b) for a, b, k in bookings if k == kind and at_once > 1]
    alone = [(a, b) for a, b, k in bookings if k != kind or at_once == 1]
    return merged(alone + crowded(shared, at_once)) if shared else merged(alone)


def place_needed(kind: str, *, route: str | None = None, video: bool = False) -> str:
    """The kind of place a booking needs: an IV dosing session a chair; a video visit none; the others a room."""
    if kind not in KIND_NEEDS:
        raise ValueError(f"Unknown kind of booking {kind!r}; choose one of {', '.join(KINDS)}.")
    if kind == "dosing":
        return "chair" if route == "iv" else "room"
    return "" if video else KIND_NEEDS[kind].place


@dataclass(frozen=True)
class BookingLengths:
    """Minutes a booking of each kind holds its people and place. Clinic policy, not a published figure, except the
    observation minimum inside a dosing session's length (monitoring.md section 6, MonitoringPolicy)."""

    consultation: int = 30
    evaluation: int = 60
    preparation: int = 50
    integration: int = 50
    # Around every dose: check-in with the pre-dose vitals and checks, then discharge and its signatures.
    check_in: int = 20
    discharge: int = 15
    # IM, sublingual and nasal doses take minutes to give; an IV infusion its planned minutes (the order's, or
    # MonitoringPolicy.iv_infusion_minutes).
    dose: int = 10
    monitoring: MonitoringPolicy = field(default=MONITORING_POLICY)


DEFAULT_LENGTHS = BookingLengths()


def booking_minutes(
    kind: str,
    *,
    route: str | None = None,
    infusion_minutes: int | None = None,
    lengths: BookingLengths = DEFAULT_LENGTHS,
) -> int:
    """How long a booking of `kind` lasts. A dosing session: check-in, the dose (an IV infusion's planned minutes),
    the route's observation minimum after it (monitoring.md section 6; IV counts from the infusion's end), and
    discharge. The therapist's guiding happens within the observation, so it adds nothing."""
    if kind not in KIND_NEEDS:
        raise ValueError(f"Unknown kind of booking {kind!r}; choose one of {', '.join(KINDS)}.")
    if kind != "dosing":
        return int(getattr(lengths, kind))
    if route is None:
        raise ValueError("A dosing session's length depends on its route.")
    observe = observation_minutes(route, lengths.monitoring)
    if route == "iv":
        dose = infusion_minutes if infusion_minutes is not None else lengths.monitoring.iv_infusion_minutes
        if dose <= 0:
            raise ValueError("An infusion lasts at least a minute.")
    else:
        dose = lengths.dose
    return lengths.check_in + dose + observe + lengths.discharge


def dosing_session_minutes(planned_minutes: int, *, route: str, infusion_minutes: int | None = None) -> int:
    """How long a dosing session is booked for: as long as the plan's session (its therapy time), and never shorter
    than the route needs (booking_minutes: check-in, dose, the observation minimum, discharge)."""
    return max(planned_minutes, booking_minutes("dosing", route=route, infusion_minutes=infusion_minutes))
