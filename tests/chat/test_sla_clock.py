"""Counting SLA minutes: around the clock, in business hours across a weekend and a
daylight-saving change, and the calendar's validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apps.chat.sla import Clock, hours_payload, parse_hours, zone

WEEK = [{"day": d, "start": "09:00", "end": "17:00"} for d in ("MON", "TUE", "WED", "THU", "FRI")]


def test_around_the_clock_every_minute_counts():
    clock = Clock(tz=zone("UTC"))
    start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert clock.add(start, 90 * 60) == start + timedelta(minutes=90)
    assert clock.between(start, start + timedelta(hours=3)) == 3 * 3600


def test_business_hours_skip_the_weekend_across_a_daylight_saving_change():
    clock = Clock(tz=zone("Europe/Berlin"), windows=tuple(parse_hours(WEEK)))
    # Friday 23 October 2026, 16:00 in Berlin (UTC+2); clocks go back on Sunday the 25th.
    friday = datetime(2026, 10, 23, 14, 0, tzinfo=UTC)
    monday = clock.add(friday, 120 * 60)
    assert monday == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)  # 10:00 in Berlin (UTC+1)
    assert clock.between(friday, monday) == 120 * 60
    # Outside hours, the count starts at the next opening.
    saturday = datetime(2026, 10, 24, 10, 0, tzinfo=UTC)
    assert clock.add(saturday, 60) == datetime(2026, 10, 26, 8, 1, tzinfo=UTC)


def test_hours_until_midnight_and_round_trip():
    windows = parse_hours([{"day": "SUN", "start": "22:00", "end": "24:00"}])
    assert hours_payload(windows) == [{"day": "SUN", "start": "22:00", "end": "24:00"}]
    clock = Clock(tz=zone("UTC"), windows=tuple(windows))
    sunday = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    assert clock.add(sunday, 3600) == datetime(2026, 11, 29, 22, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "hours",
    [
        [{"day": "MON", "start": "10:00", "end": "09:00"}],
        [{"day": "FUNDAY", "start": "09:00", "end": "10:00"}],
        [{"day": "MON", "start": "25:00", "end": "26:00"}],
        [{"day": "MON", "start": "09:00"}],
        [
            {"day": "MON", "start": "09:00", "end": "12:00"},
            {"day": "MON", "start": "11:59", "end": "13:00"},
        ],
    ],
)
def test_invalid_hours_are_refused(hours):
    with pytest.raises(ValueError, match="."):
        parse_hours(hours)


def test_unknown_time_zone_is_refused():
    with pytest.raises(ValueError, match="time zone"):
        zone("Mars/Olympus")


def test_hours_too_sparse_for_a_target_count_the_rest_around_the_clock():
    clock = Clock(
        tz=zone("UTC"),
        windows=tuple(parse_hours([{"day": "MON", "start": "09:00", "end": "10:00"}])),
    )
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    due = clock.add(start, 365 * 24 * 3600)  # a year of business time: beyond the horizon
    assert due > start + timedelta(days=365)
