"""The local stack's time: the clock, the process's simulated wall clock, schedule expressions."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine

from replimend_local.sam.errors import TemplateError

# --------------------------------------------------------------------------------------------
# Clock and schedules


class LocalClock:
    """The runtime's notion of now: starts at the wall clock and moves only when advanced."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = (start or datetime.now(UTC)).replace(microsecond=0)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        if moment < self._now:
            raise ValueError("the local clock never goes back")
        self._now = moment


class SimulatedTime:
    """The process's wall clock following a ``LocalClock`` while active.

    Handlers read real time (``datetime.now(UTC)``); production code has no clock parameter to
    inject. While active, time-machine makes ``datetime.now()``/``time.time()`` & co. return the
    simulated time in every thread of the process (the in-process moto server too, so S3
    LastModified, SQS visibility and DynamoDB items agree with the handlers). ``time.monotonic()``
    and ``perf_counter()`` are not touched, so Lambda deadlines and durations stay real.

    The simulated time starts at ``max(clock, last simulated time, real time)`` and ticks at real
    speed; when the clock is set forward it jumps there. It never goes back: what the account
    wrote at a simulated instant stays in its past. Re-entrant and thread-safe (a depth count).
    """

    def __init__(self, clock: LocalClock, *, enabled: bool = True) -> None:
        self.clock = clock
        self.enabled = enabled
        self._lock = threading.RLock()
        self._depth = 0
        self._travel: time_machine.travel | None = None
        self._traveller: time_machine.Traveller | None = None
        self._high_water: datetime | None = None

    @property
    def active(self) -> bool:
        return self._traveller is not None

    def enter(self) -> None:
        if not self.enabled:
            return
        with self._lock:
            if self._depth == 0:
                start = max(self.clock.now(), self._high_water or self.clock.now(), datetime.now(UTC))
                self._travel = time_machine.travel(start, tick=True)
                self._traveller = self._travel.start()
            self._depth += 1

    def exit(self) -> None:
        if not self.enabled:
            return
        with self._lock:
            if self._depth == 0:
                return  # already ended by stop()
            self._depth -= 1
            if self._depth == 0 and self._travel is not None:
                self._high_water = datetime.now(UTC)  # still simulated: where time resumes next
                self._travel.stop()
                self._travel = self._traveller = None

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        self.enter()
        try:
            yield
        finally:
            self.exit()

    def stop(self) -> None:
        """End the simulation whatever the depth (the runtime closes): real time again."""
        with self._lock:
            if self._depth:
                self._depth = 1
                self.exit()

    def follow_clock(self) -> None:
        """The clock was set forward: jump there if it is ahead of the simulated time."""
        with self._lock:
            if self._traveller is not None and self.clock.now() > datetime.now(UTC):
                self._traveller.move_to(self.clock.now())

    def now(self) -> datetime:
        """The simulated time now (also when inactive: where it would resume)."""
        if self.active:
            return datetime.now(UTC)
        return max(self.clock.now(), self._high_water or self.clock.now(), datetime.now(UTC))


_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_AT = re.compile(r"^at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)$")
_MONTH_NAMES = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, start=1)}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)}


def _cron_field(text: str, low: int, high: int, names: Mapping[str, int] | None = None) -> set[int] | None:
    """The values an AWS cron field allows (None for * and ?). Supports lists, ranges and steps."""
    if text in ("*", "?"):
        return None
    values: set[int] = set()
    for item in text.split(","):
        part, step = item, 1
        if "/" in item:
            part, step_text = item.split("/", 1)
            step = int(step_text)
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = _cron_value(first, names), _cron_value(last, names)
        else:
            start = _cron_value(part, names)
            end = high if step > 1 else start
        if not (low <= start <= high and low <= end <= high):
            raise TemplateError(f"cron field {text!r} is out of range {low}-{high}")
        values.update(range(start, end + 1, step))
    return values


def _cron_value(text: str, names: Mapping[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise TemplateError(f"unsupported cron value {text!r} (L, W and # are not emulated)")
    return int(text)


@dataclass
class Schedule:
    """A schedule expression that fires one function (rate(), cron() or at(), UTC)."""

    name: str
    expression: str
    function_id: str
    payload: Callable[[datetime], Any]
    enabled: bool = True
    last_checked: datetime = field(default_factory=lambda: datetime.now(UTC))
    fired: int = 0

    def __post_init__(self) -> None:
        self._period: timedelta | None = None
        self._cron: list[set[int] | None] | None = None
        self._at: datetime | None = None
        expression = self.expression.strip()
        if rate := _RATE.match(expression):
            amount, unit = int(rate.group(1)), rate.group(2).rstrip("s")
            self._period = timedelta(**{f"{unit}s": amount})
            self._anchor = self.last_checked
        elif cron := _CRON.match(expression):
            fields = cron.group(1).split()
            if len(fields) != 6:
                raise TemplateError(f"{expression}: AWS cron needs 6 fields")
            minute, hour, dom, month, dow, _year = fields
            self._cron = [
                _cron_field(minute, 0, 59),
                _cron_field(hour, 0, 23),
                _cron_field(dom, 1, 31),
                _cron_field(month, 1, 12, _MONTHS),
                _cron_field(dow, 1, 7, _DAYS),
            ]
        elif at := _AT.match(expression):
            self._at = datetime.fromisoformat(at.group(1)).replace(tzinfo=UTC)
        else:
            raise TemplateError(f"unsupported schedule expression {expression!r}")

    def due_between(self, after: datetime, until: datetime) -> Iterator[datetime]:
        """Fire times in (after, until]."""
        if self._period is not None:
            elapsed = (after - self._anchor) // self._period
            moment = self._anchor + self._period * (elapsed + 1)
            while moment <= until:
                yield moment
                moment += self._period
        elif self._at is not None:
            if after < self._at <= until:
                yield self._at
        elif self._cron is not None:
            minute, hour, dom, month, dow = self._cron
            moment = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
            while moment <= until:
                weekday = moment.isoweekday() % 7 + 1  # AWS: SUN=1 .. SAT=7
                if (
                    (minute is None or moment.minute in minute)
                    and (hour is None or moment.hour in hour)
                    and (dom is None or moment.day in dom)
                    and (month is None or moment.month in month)
                    and (dow is None or weekday in dow)
                ):
                    yield moment
                moment += timedelta(minutes=1)
