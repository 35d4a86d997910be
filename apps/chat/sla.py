"""SLA clocks: counting minutes of a target, around the clock or in business hours.

A `Clock` is an organisation's calendar as a target counts it: its time zone and weekly
business hours (local wall-clock times, so daylight-saving changes move them with the
clock on the wall), or no hours at all (every minute counts). Pure: no database."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
# Far enough for any target (a year of minutes) in the sparsest week of one hour.
_HORIZON_DAYS = 400 * 7


@dataclass(frozen=True)
class Window:
    """Business hours of one weekday, in minutes after local midnight (end up to 1440)."""

    day: int  # 0 = Monday
    start: int
    end: int


def _minutes(text: object) -> int:
    if not isinstance(text, str) or len(text) != 5 or text[2] != ":":
        raise ValueError("Use HH:MM.")
    hours, minutes = text[:2], text[3:]
    if not (hours.isdigit() and minutes.isdigit()):
        raise ValueError("Use HH:MM.")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > 24 * 60:
        raise ValueError("Use a time from 00:00 to 24:00.")
    return value


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_hours(items: Sequence[Any]) -> list[Window]:
    """`[{"day": "MON", "start": "09:00", "end": "17:00"}, ...]` -> windows; raises
    ValueError with a message for a person. Windows of one day may not overlap."""
    windows: list[Window] = []
    for item in items:
        if not isinstance(item, dict) or set(item) != {"day", "start", "end"}:
            raise ValueError('Each entry is {"day", "start", "end"}.')
        if item["day"] not in DAYS:
            raise ValueError(f"day is one of {', '.join(DAYS)}.")
        window = Window(DAYS.index(item["day"]), _minutes(item["start"]), _minutes(item["end"]))
        if window.end <= window.start:
            raise ValueError("end must be after start (use 24:00 for midnight).")
        windows.append(window)
    windows.sort(key=lambda w: (w.day, w.start))
    for a, b in zip(windows, windows[1:], strict=False):
        if a.day == b.day and b.start < a.end:
            raise ValueError(f"Hours overlap on {DAYS[a.day]}.")
    return windows


def hours_payload(windows: Sequence[Window]) -> list[dict[str, str]]:
    return [{"day": DAYS[w.day], "start": _hhmm(w.start), "end": _hhmm(w.end)} for w in windows]


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())  # reads the time zone database: once


def zone(name: str) -> ZoneInfo:
    """The IANA time zone; raises ValueError for an unknown name."""
    if name not in _zone_names():
        raise ValueError("Unknown time zone; use an IANA name such as Europe/Berlin.")
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:
        raise ValueError("Unknown time zone.") from None


@dataclass(frozen=True)
class Clock:
    tz: ZoneInfo
    windows: tuple[Window, ...] = ()  # empty: every minute counts

    def _spans(
        self, since: datetime, until: datetime | None = None
    ) -> Iterator[tuple[datetime, datetime]]:
        """Business spans (UTC-aware) overlapping [since, until), in order."""
        day: date = since.astimezone(self.tz).date() - timedelta(days=1)
        last = day + timedelta(days=_HORIZON_DAYS)
        if until is not None:
            last = min(last, until.astimezone(self.tz).date() + timedelta(days=1))
        by_day: dict[int, list[Window]] = {}
        for window in self.windows:
            by_day.setdefault(window.day, []).append(window)
        while day <= last:
            midnight = datetime(day.year, day.month, day.day, tzinfo=self.tz)
            for window in by_day.get(day.weekday(), ()):
                start = midnight + timedelta(minutes=window.start)
                end = midnight + timedelta(minutes=window.end)
                # Wall-clock arithmetic, then the real instant (daylight saving applied).
                start, end = _instant(start, self.tz), _instant(end, self.tz)
                if end > since and (until is None or start < until):
                    yield max(start, since), end if until is None else min(end, until)
            day += timedelta(days=1)

    def add(self, start: datetime, seconds: float) -> datetime:
        """The instant `seconds` of counted time after `start`."""
        if not self.windows:
            return start + timedelta(seconds=seconds)
        remaining = seconds
        last = start
        for span_start, span_end in self._spans(start):
            available = (span_end - span_start).total_seconds()
            if remaining <= available:
                return span_start + timedelta(seconds=remaining)
            remaining -= available
            last = span_end
        # Hours too sparse for the target within the horizon: the rest around the clock.
        return last + timedelta(seconds=remaining)

    def between(self, start: datetime, end: datetime) -> float:
        """Counted seconds from `start` to `end` (0 when `end` is not after `start`)."""
        if end <= start:
            return 0.0
        if not self.windows:
            return (end - start).total_seconds()
        return sum((b - a).total_seconds() for a, b in self._spans(start, end))


def _instant(wall: datetime, tz: ZoneInfo) -> datetime:
    """A local wall-clock time as an instant (PEP 495: a time skipped by a daylight-saving
    jump lands after it; a repeated one is its first occurrence)."""
    return wall.replace(fold=0).astimezone(_UTC)


_UTC = ZoneInfo("UTC")
