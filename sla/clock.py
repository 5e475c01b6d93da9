"""Business-time arithmetic for the SLA clock (SPEC section 5).

Pure Python, no Django, no database, so that it is cheap to test exhaustively and cheap to call from
the admin list, the SLA sweep and ``manage.py sla_due`` alike.

Conventions, decided once here so that every caller agrees:

* Instants are aware datetimes; naive ones raise ``ValueError`` because a wall time without a zone
  is not an instant. Results are aware datetimes in UTC.
* Open intervals are half-open, ``[opens, closes)``: 09:00 is open, 17:00 is closed.
* Local wall times become instants through ``zoneinfo``. A wall time that does not exist (inside a
  daylight-saving gap) means the first instant after the gap, i.e. the first instant whose clock
  reads at least that time: a range 02:30-04:00 on spring-forward night opens at 03:00. An ambiguous
  wall time (the repeated hour in autumn) means its first occurrence (``fold=0``).
* A zero minute budget is due at dispatch itself, even outside hours: there is nothing to count.

How it stays fast: ``zoneinfo`` is used only to turn one local day's opening hours into UTC instant
pairs (integer microseconds since the epoch). Those are gathered into cached blocks of 128 UTC days
holding sorted interval starts/ends and the running total of open time, so a minute target is a
bisect, a subtraction and at most a few block hops, whatever the budget: cost grows with the number
of blocks spanned, never with minutes.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import accumulate
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "Calendar",
    "due_after_days",
    "due_after_minutes",
    "is_open",
    "next_opening",
    "open_minutes_between",
    "wall_time",
]

Range = tuple[time, time | None]  # [start, end) local wall times; end None means 24:00
WeeklyHours = tuple[tuple[Range, ...], ...]  # indexed by weekday, 0 = Monday
# What the constructor takes: the 7-tuple, or weekday → ranges (ends of time(0) or None).
WeeklyInput = WeeklyHours | Mapping[int, Sequence[tuple[time, time | None]]]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_EPOCH_ORDINAL = _EPOCH_NAIVE.toordinal()
_ONE_US = timedelta(microseconds=1)
_US_PER_MINUTE = 60_000_000
_DAY_US = 86_400_000_000
_BLOCK_DAYS = 128
_BLOCK_US = _BLOCK_DAYS * _DAY_US
# Give up after this many blocks without any open time (10 years): a calendar whose every date is
# closed must fail loudly instead of looping forever.
_MAX_EMPTY_BLOCKS = math.ceil(3653 / _BLOCK_DAYS) + 1
_MAX_ORDINAL = date.max.toordinal()
_MIDNIGHT = time(0)
_ALL_DAY: tuple[Range, ...] = ((_MIDNIGHT, None),)


@dataclass(frozen=True, init=False)
class Calendar:
    """Support hours: a timezone, weekly opening hours and closed dates (holidays).

    ``weekly`` may be given as a mapping ``{weekday: [(start, end), ...]}`` (0 = Monday; missing
    weekdays are closed) or as a 7-tuple; it is normalised to a hashable 7-tuple of sorted, merged
    ranges so that equal calendars compare and hash equal and share one cache. An ``end`` of
    ``None`` (or ``time(0)``) means midnight at the end of the day, i.e. 24:00.
    """

    tz: str
    weekly: WeeklyHours
    closed_dates: frozenset[date] = frozenset()

    def __init__(
        self, tz: str, weekly: WeeklyInput, closed_dates: Iterable[date] = frozenset()
    ) -> None:
        object.__setattr__(self, "tz", tz)
        object.__setattr__(self, "weekly", weekly)
        object.__setattr__(self, "closed_dates", closed_dates)
        self.__post_init__()

    def __post_init__(self) -> None:
        try:
            zone = ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
            raise ValueError(f"unknown timezone {self.tz!r}") from exc
        object.__setattr__(self, "weekly", _normalise_weekly(self.weekly))
        object.__setattr__(self, "closed_dates", frozenset(self.closed_dates))
        if not all(type(d) is date for d in self.closed_dates):
            raise ValueError("closed_dates must be dates")
        # Not dataclass fields: kept out of eq, hash and repr. Equal calendars share one clock so
        # that building Calendar.standard() per call does not throw the day cache away.
        object.__setattr__(self, "_clock", _shared_clock(self, zone))

    @classmethod
    def standard(cls, closed_dates: Iterable[date] = ()) -> Calendar:
        """The contract's standard hours: Monday-Friday 09:00-17:00 US Eastern."""
        day = ((time(9), time(17)),)
        return cls("America/New_York", {wd: day for wd in range(5)}, frozenset(closed_dates))

    @classmethod
    def extended(cls, closed_dates: Iterable[date] = ()) -> Calendar:
        """The contract's extended hours: every minute that standard hours leave out."""
        weekday = ((_MIDNIGHT, time(9)), (time(17), None))
        weekly = {wd: weekday if wd < 5 else _ALL_DAY for wd in range(7)}
        return cls("America/New_York", weekly, frozenset(closed_dates))

    @classmethod
    def round_the_clock(cls, tz: str = "America/New_York") -> Calendar:
        """Always open: minute targets are elapsed real time; ``tz`` matters to day targets only."""
        return cls(tz, {wd: _ALL_DAY for wd in range(7)})

    @property
    def always_open(self) -> bool:
        """True for a 24x7 calendar, whose arithmetic is plain UTC arithmetic."""
        return self._clock.always_open  # type: ignore[attr-defined]


def due_after_minutes(cal: Calendar, start: datetime, minutes: float) -> datetime:
    """The instant a budget of open minutes, counted from ``start``, runs out.

    Only open time counts, so a budget that runs out exactly at closing is due at the closing
    instant (Mon 16:30 + 30 -> Mon 17:00), not at the next opening. A zero budget is due at
    ``start`` itself. Fractions of a minute are kept to the microsecond.
    """
    clock: _Clock = cal._clock  # type: ignore[attr-defined]
    at = _to_us(start)
    budget = _budget_us(minutes)
    if budget == 0:
        return _from_us(at)
    if clock.always_open:
        return _from_us(at + budget)
    return _from_us(clock.advance(at, budget))


def due_after_days(cal: Calendar, start: datetime, days: int) -> datetime:
    """The due instant of a target in calendar days (SPEC section 5).

    The count starts at dispatch, or at the next opening when dispatched outside hours; the due
    time is the same local wall-clock time ``days`` later (so a day across a daylight-saving change
    is 23 or 25 hours), moved to the next opening if that is outside hours.
    """
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise ValueError(f"days must be a non-negative integer, not {days!r}")
    clock: _Clock = cal._clock  # type: ignore[attr-defined]
    begin = clock.next_opening(_to_us(start))
    if days == 0:  # not "the same wall time today", which in the repeated hour could be earlier
        return _from_us(begin)
    return _from_us(clock.next_opening(clock.days_later(begin, days)))


def open_minutes_between(cal: Calendar, a: datetime, b: datetime) -> float:
    """Open minutes in ``[a, b)``; negative (minus the open minutes in ``[b, a)``) when b < a.

    The sign makes "time left" (now -> due) go negative once a case is overdue, by the open time
    it has been overdue.
    """
    clock: _Clock = cal._clock  # type: ignore[attr-defined]
    a_us, b_us = _to_us(a), _to_us(b)
    if b_us < a_us:
        return -open_minutes_between(cal, b, a)
    if clock.always_open:
        return (b_us - a_us) / _US_PER_MINUTE
    return clock.open_between(a_us, b_us) / _US_PER_MINUTE


def next_opening(cal: Calendar, instant: datetime) -> datetime:
    """``instant`` itself (in UTC) when open, else the start of the next open interval."""
    clock: _Clock = cal._clock  # type: ignore[attr-defined]
    return _from_us(clock.next_opening(_to_us(instant)))


def is_open(cal: Calendar, instant: datetime) -> bool:
    """Whether ``instant`` is in an open interval (the opening instant is, the closing one not)."""
    clock: _Clock = cal._clock  # type: ignore[attr-defined]
    us = _to_us(instant)  # first, so that naive datetimes are rejected even when always open
    return clock.always_open or clock.is_open(us)


# --- internals -------------------------------------------------------------------------------


def _to_us(instant: datetime) -> int:
    """Microseconds since the epoch; integers keep every sum exact."""
    if getattr(instant, "tzinfo", None) is None:
        raise ValueError(f"an aware datetime is required, not {instant!r}")
    try:
        return (instant - _EPOCH) // _ONE_US
    except TypeError as exc:  # a tzinfo whose utcoffset() is None: naive in disguise
        raise ValueError(f"an aware datetime is required, not {instant!r}") from exc


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(0, 0, us)


def _budget_us(minutes: float) -> int:
    if type(minutes) is int:  # the common case, exact and cheap
        budget = minutes * _US_PER_MINUTE
    else:
        if isinstance(minutes, bool) or not isinstance(minutes, int | float):
            raise ValueError(f"minutes must be a number, not {minutes!r}")
        if not math.isfinite(minutes):
            raise ValueError(f"minutes must be finite, not {minutes!r}")
        budget = round(minutes * _US_PER_MINUTE)
    if budget < 0:
        raise ValueError(f"minutes must not be negative, not {minutes!r}")
    return budget


def _normalise_weekly(weekly: object) -> WeeklyHours:
    """Validate opening hours and turn them into a sorted, merged, hashable 7-tuple."""
    if isinstance(weekly, Mapping):
        if not all(type(wd) is int and 0 <= wd <= 6 for wd in weekly):
            raise ValueError("weekly keys must be weekdays 0 (Monday) to 6 (Sunday)")
        days = [weekly.get(wd, ()) for wd in range(7)]
    else:
        days = list(weekly)  # type: ignore[call-overload]
        if len(days) != 7:
            raise ValueError("weekly hours need one entry per weekday")
    out = []
    for ranges in days:
        spans = []
        for start, end in ranges:
            if end == _MIDNIGHT:
                end = None  # 00:00 as an end can only mean the coming midnight
            if not isinstance(start, time) or not (end is None or isinstance(end, time)):
                raise ValueError(f"opening range must be times, not {(start, end)!r}")
            if start.tzinfo is not None or (end is not None and end.tzinfo is not None):
                raise ValueError("opening hours are local wall times without tzinfo")
            if end is not None and end <= start:
                raise ValueError(f"opening range must end after it starts: {(start, end)!r}")
            spans.append((start, end))
        # Sort with 24:00 last, then merge overlaps: the open time is their union.
        spans.sort(key=lambda r: (r[0], r[1] is None, r[1] or _MIDNIGHT))
        merged: list[Range] = []
        for start, end in spans:
            last = merged[-1] if merged else None
            if last and (last[1] is None or start <= last[1]):
                if last[1] is not None and (end is None or end > last[1]):
                    merged[-1] = (last[0], end)
            else:
                merged.append((start, end))
        out.append(tuple(merged))
    return tuple(out)


_CLOCKS: dict[Calendar, _Clock] = {}


def _shared_clock(cal: Calendar, zone: ZoneInfo) -> _Clock:
    clock = _CLOCKS.get(cal)
    if clock is None:
        if len(_CLOCKS) >= 256:  # calendars come from admin-edited data: keep the registry bounded
            _CLOCKS.clear()
        clock = _CLOCKS[cal] = _Clock(cal, zone)
    return clock


Block = tuple[list[int], list[int], list[int], int]  # starts, ends, running open total, total


class _Clock:
    """The cached, compiled form of a calendar: open intervals as UTC microsecond pairs."""

    def __init__(self, cal: Calendar, zone: ZoneInfo) -> None:
        self.zone = zone
        self.weekly = cal.weekly
        self.closed_dates = cal.closed_dates
        self.never_open = not any(cal.weekly)
        self.always_open = not cal.closed_dates and all(day == _ALL_DAY for day in cal.weekly)
        self.blocks: dict[int, Block] = {}
        self.midnights: dict[int, int] = {}

    def localize(self, wall: datetime) -> int:
        """A local wall time as an instant; a gap means its end, an ambiguous time its first use."""
        zone = self.zone
        aware = wall.replace(tzinfo=zone)
        before = aware.utcoffset()
        after = aware.replace(fold=1).utcoffset()
        assert before is not None and after is not None
        if after > before:
            # In a gap zoneinfo applies the pre-transition offset (jumping past the gap by its
            # length); the first real instant at or after this wall time is the transition itself.
            lo, hi = 0, int((after - before).total_seconds())
            base = wall - after
            while lo < hi:  # transitions fall on whole seconds; gaps are rare, this is cold code
                mid = (lo + hi) // 2
                probe = (base + timedelta(seconds=mid)).replace(tzinfo=UTC).astimezone(zone)
                if probe.utcoffset() == after:
                    hi = mid
                else:
                    lo = mid + 1
            return (base + timedelta(seconds=lo) - _EPOCH_NAIVE) // _ONE_US
        return (wall - before - _EPOCH_NAIVE) // _ONE_US

    def midnight(self, ordinal: int) -> int:
        """The instant a local date starts, cached: day targets need it on every call."""
        found = self.midnights.get(ordinal)
        if found is None:
            if len(self.midnights) >= 100_000:
                self.midnights.clear()
            found = self.localize(datetime.combine(date.fromordinal(ordinal), _MIDNIGHT))
            self.midnights[ordinal] = found
        return found

    def days_later(self, us: int, days: int) -> int:
        """The instant showing the same local wall-clock time as ``us``, ``days`` dates later."""
        # The local date is the UTC date or one either side; find it from cached midnights.
        ordinal = us // _DAY_US + _EPOCH_ORDINAL
        start = self.midnight(ordinal)
        if us < start:
            ordinal -= 1
            start = self.midnight(ordinal)
        elif us >= self.midnight(ordinal + 1):
            ordinal += 1
            start = self.midnight(ordinal)
        # When neither date has a daylight-saving change, the wall time is the time since local
        # midnight on both, and zoneinfo is not needed at all.
        if self.midnight(ordinal + 1) - start == _DAY_US:
            target = self.midnight(ordinal + days)
            if self.midnight(ordinal + days + 1) - target == _DAY_US:
                return target + (us - start)
        wall = (_EPOCH + timedelta(0, 0, us)).astimezone(self.zone).replace(tzinfo=None)
        return self.localize(wall + timedelta(days))

    def day(self, ordinal: int) -> list[tuple[int, int]]:
        """One local date's open intervals in UTC microseconds (uncached: blocks are the cache)."""
        day = date.fromordinal(ordinal)
        if day in self.closed_dates:
            return []
        out = []
        for start, end in self.weekly[day.weekday()]:
            opens = self.localize(datetime.combine(day, start))
            if end is None:
                closes = self.localize(datetime.combine(day + timedelta(1), _MIDNIGHT))
            else:
                closes = self.localize(datetime.combine(day, end))
            if closes > opens:  # a range inside a gap has no real time
                out.append((opens, closes))
        return out

    def block(self, index: int) -> Block:
        """Open intervals clipped to 128 UTC days, contiguous ones merged, with running totals."""
        found = self.blocks.get(index)
        if found is not None:
            return found
        lo = index * _BLOCK_US
        hi = lo + _BLOCK_US
        first = _EPOCH_ORDINAL + index * _BLOCK_DAYS
        starts: list[int] = []
        ends: list[int] = []
        # UTC offsets stay within a day, so local dates two either side cover the block.
        for ordinal in range(max(first - 2, 2), min(first + _BLOCK_DAYS + 2, _MAX_ORDINAL - 1)):
            for opens, closes in self.day(ordinal):
                opens, closes = max(opens, lo), min(closes, hi)
                if opens >= closes:
                    continue
                if ends and ends[-1] == opens:  # e.g. Mon 17:00-24:00 then Tue 00:00-09:00
                    ends[-1] = closes
                else:
                    starts.append(opens)
                    ends.append(closes)
        running = list(accumulate(e - s for s, e in zip(starts, ends, strict=True)))
        found = (starts, ends, running, running[-1] if running else 0)
        if len(self.blocks) >= 4096:  # ~1400 years of blocks: only hostile input gets here
            self.blocks.clear()
        self.blocks[index] = found
        return found

    def is_open(self, us: int) -> bool:
        starts, ends, _, _ = self.block(us // _BLOCK_US)
        i = bisect_right(ends, us)  # first interval closing after us
        return i < len(ends) and starts[i] <= us

    def next_opening(self, us: int) -> int:
        if self.always_open:
            return us
        if self.never_open:
            raise ValueError("calendar has no opening hours")
        index = us // _BLOCK_US
        for _ in range(_MAX_EMPTY_BLOCKS):
            starts, ends, _, _ = self.block(index)
            i = bisect_right(ends, us)
            if i < len(ends):
                return max(us, starts[i])
            index += 1
        raise ValueError("calendar has no open time within 10 years")

    def advance(self, us: int, budget: int) -> int:
        """The instant ``budget`` open microseconds after ``us``: a bisect on running totals."""
        if self.never_open:
            raise ValueError("calendar has no opening hours")
        index = us // _BLOCK_US
        starts, ends, running, total = self.blocks.get(index) or self.block(index)
        i = bisect_right(ends, us)
        # Express the target as a running total within the block: open time before us + budget.
        target = budget + (running[i - 1] if i else 0)
        if i < len(starts) and starts[i] < us:
            target += us - starts[i]
        empty = 0
        while target > total:  # "==" stays: the budget may run out exactly at a closing
            target -= total
            empty = empty + 1 if total == 0 else 0
            if empty > _MAX_EMPTY_BLOCKS:
                raise ValueError("calendar has no open time within 10 years")
            index += 1
            starts, ends, running, total = self.blocks.get(index) or self.block(index)
        j = bisect_left(running, target)  # first interval whose close reaches the target
        return ends[j] - (running[j] - target)

    def open_between(self, a: int, b: int) -> int:
        """Open microseconds in [a, b), a <= b: running total at b minus running total at a."""
        first, last = a // _BLOCK_US, b // _BLOCK_US
        total = sum(self.block(index)[3] for index in range(first, last))
        return total + self._running_at(b, last) - self._running_at(a, first)

    def _running_at(self, us: int, index: int) -> int:
        starts, ends, running, _ = self.block(index)
        i = bisect_right(ends, us)
        before = running[i - 1] if i else 0
        return before + (us - starts[i] if i < len(starts) and starts[i] < us else 0)


def wall_time(instant: datetime, tz: str) -> str:
    """An instant as wall time in ``tz``, for timelines and emails: “2026-03-09 09:20 EDT”."""
    return f"{instant.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M %Z}"
