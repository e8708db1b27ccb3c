"""Calendar file tests, cross-checked with two independent parsers (icalendar and vobject)."""

from __future__ import annotations

import datetime
import re
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject

from bookings.ics import visit_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = datetime.UTC
VENUE = "厦门科技馆"
ADDRESS = "福建省厦门市思明区体育路95号"
# Escaped rather than typed so ruff's confusable-character rules stay quiet.
FW_COMMA = "\N{FULLWIDTH COMMA}"
LOCATION = f"{VENUE}{FW_COMMA}{ADDRESS}"
# Commas, semicolons, a newline and a backslash all need RFC 5545 escaping; long enough to be line-folded.
DESCRIPTION = (
    f"请提前15分钟到达{FW_COMMA}携带学生证。\n集合点 一楼大厅, 东门; 咨询电话 0592-1234567\\ 谢谢。" * 2
)
SUMMARY = "厦门科技馆 · 中学团体参观"
STAMP = datetime.datetime(2025, 4, 20, 8, 0, tzinfo=UTC)
# 09:30-11:00 in Xiamen, given in UTC so the conversion is exercised.
STARTS = datetime.datetime(2025, 5, 1, 1, 30, tzinfo=UTC)
ENDS = datetime.datetime(2025, 5, 1, 3, 0, tzinfo=UTC)


def make(**overrides: Any) -> bytes:
    kwargs: dict[str, Any] = {
        "uid": "booking-42@kepu.example",
        "summary": SUMMARY,
        "description": DESCRIPTION,
        "location": LOCATION,
        "starts_at": STARTS,
        "ends_at": ENDS,
        "sequence": 3,
        "url": "https://kepu.example/bookings/42",
        "stamp": STAMP,
    }
    kwargs.update(overrides)
    return visit_calendar(**kwargs)


def unfolded(data: bytes) -> str:
    return data.decode("utf-8").replace("\r\n ", "")


def utc_offset(component: icalendar.Component, name: str) -> datetime.timedelta:
    value = component[name]
    assert isinstance(value, icalendar.vUTCOffset)
    return value.td


def only_event(cal: icalendar.Calendar) -> icalendar.Event:
    events = cal.walk("VEVENT")
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, icalendar.Event)
    return event


def test_wire_format() -> None:
    data = make()
    text = unfolded(data)
    assert data.startswith(b"BEGIN:VCALENDAR\r\n")
    assert data.endswith(b"END:VCALENDAR\r\n")
    # RFC 5545 3.1: lines at most 75 octets, folded without splitting UTF-8 sequences.
    for line in data.split(b"\r\n"):
        assert len(line) <= 75
        line.decode("utf-8")
    assert "DTSTART;TZID=Asia/Shanghai:20250501T093000\r\n" in text
    assert "DTEND;TZID=Asia/Shanghai:20250501T110000\r\n" in text
    assert "DTSTAMP:20250420T080000Z\r\n" in text
    assert "PRODID:-//kepu//科普预约//ZH\r\n" in text
    assert text.index("BEGIN:VTIMEZONE") < text.index("BEGIN:VEVENT")


def test_parsed_with_icalendar() -> None:
    cal = icalendar.Calendar.from_ical(make())
    assert str(cal["PRODID"]) == "-//kepu//科普预约//ZH"
    assert str(cal["VERSION"]) == "2.0"
    assert str(cal["METHOD"]) == "PUBLISH"
    timezones = cal.walk("VTIMEZONE")
    assert [str(tz["TZID"]) for tz in timezones] == ["Asia/Shanghai"]
    # Shanghai has been a fixed +08:00 since 1991; the VTIMEZONE should say only that.
    observances = timezones[0].walk("STANDARD") + timezones[0].walk("DAYLIGHT")
    eight = datetime.timedelta(hours=8)
    assert observances
    assert {(utc_offset(o, "TZOFFSETFROM"), utc_offset(o, "TZOFFSETTO")) for o in observances} == {
        (eight, eight)
    }

    event = only_event(cal)
    assert event["DTSTART"].params["TZID"] == "Asia/Shanghai"
    assert event["DTEND"].params["TZID"] == "Asia/Shanghai"
    start = event.start
    assert isinstance(start, datetime.datetime)
    assert start == STARTS
    assert event.end == ENDS
    assert start.utcoffset() == datetime.timedelta(hours=8)
    assert (start.hour, start.minute) == (9, 30)
    assert event.stamp == STAMP
    assert event.stamp.utcoffset() == datetime.timedelta(0)
    assert str(event["UID"]) == "booking-42@kepu.example"
    assert event.sequence == 3
    assert str(event["SUMMARY"]) == SUMMARY
    assert str(event["DESCRIPTION"]) == DESCRIPTION
    assert VENUE in str(event["LOCATION"])
    assert ADDRESS in str(event["LOCATION"])
    assert str(event["LOCATION"]) == LOCATION
    assert str(event["URL"]) == "https://kepu.example/bookings/42"
    assert str(event["STATUS"]) == "CONFIRMED"

    alarms = event.walk("VALARM")
    assert len(alarms) == 1
    alarm = alarms[0]
    assert isinstance(alarm, icalendar.Alarm)
    assert str(alarm["ACTION"]) == "DISPLAY"
    trigger = alarm.TRIGGER
    assert trigger == datetime.timedelta(days=-1)
    assert str(alarm["DESCRIPTION"]) == SUMMARY


def test_parsed_with_vobject() -> None:
    cal = vobject.readOne(make().decode("utf-8"))
    assert cal.prodid.value == "-//kepu//科普预约//ZH"
    assert cal.method.value == "PUBLISH"
    assert cal.vtimezone.tzid.value == "Asia/Shanghai"
    events = list(cal.vevent_list)
    assert len(events) == 1
    event = events[0]
    start, end = event.dtstart.value, event.dtend.value
    # vobject builds its tzinfo from our VTIMEZONE, so this also checks the VTIMEZONE's offsets.
    assert start == STARTS and end == ENDS
    assert start.utcoffset() == datetime.timedelta(hours=8)
    assert (start.hour, start.minute, end.hour, end.minute) == (9, 30, 11, 0)
    assert event.dtstamp.value == STAMP
    assert event.uid.value == "booking-42@kepu.example"
    assert event.sequence.value == "3"
    assert event.summary.value == SUMMARY
    assert event.description.value == DESCRIPTION
    assert event.location.value == LOCATION
    assert event.url.value == "https://kepu.example/bookings/42"
    assert event.status.value == "CONFIRMED"
    assert event.valarm.action.value == "DISPLAY"
    assert event.valarm.trigger.value == datetime.timedelta(days=-1)


def test_uid_and_output_are_stable() -> None:
    assert make() == make()
    later = make(stamp=STAMP + datetime.timedelta(days=3), sequence=4)
    first = only_event(icalendar.Calendar.from_ical(make()))
    second = only_event(icalendar.Calendar.from_ical(later))
    assert str(first["UID"]) == str(second["UID"]) == "booking-42@kepu.example"
    assert second.sequence == 4
    # No random calendar-level UID sneaks in.
    assert "UID" not in icalendar.Calendar.from_ical(make())


def test_default_stamp_is_now_in_utc() -> None:
    before = datetime.datetime.now(UTC).replace(microsecond=0)
    event = only_event(icalendar.Calendar.from_ical(make(stamp=None)))
    after = datetime.datetime.now(UTC)
    assert before <= event.stamp <= after
    assert re.search(r"DTSTAMP:\d{8}T\d{6}Z\r\n", unfolded(make(stamp=None)))


def test_other_zones_are_converted_to_shanghai() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    starts = datetime.datetime(2025, 5, 1, 3, 30, tzinfo=berlin)  # CEST, = 09:30 in Xiamen
    ends = datetime.datetime(2025, 5, 1, 5, 0, tzinfo=berlin)
    data = make(starts_at=starts, ends_at=ends, stamp=STAMP.astimezone(SHANGHAI))
    text = unfolded(data)
    assert "DTSTART;TZID=Asia/Shanghai:20250501T093000\r\n" in text
    assert "DTEND;TZID=Asia/Shanghai:20250501T110000\r\n" in text
    assert "DTSTAMP:20250420T080000Z\r\n" in text
    assert "Europe/Berlin" not in text
    event = only_event(icalendar.Calendar.from_ical(data))
    assert event.start == starts


def test_cancelled_event_has_status_and_no_reminder() -> None:
    data = make(status="CANCELLED", sequence=5)
    event = only_event(icalendar.Calendar.from_ical(data))
    assert str(event["STATUS"]) == "CANCELLED"
    assert event.sequence == 5
    assert event.walk("VALARM") == []
    assert vobject.readOne(data.decode("utf-8")).vevent.status.value == "CANCELLED"


def test_url_is_optional() -> None:
    event = only_event(icalendar.Calendar.from_ical(make(url=None)))
    assert "URL" not in event


@pytest.mark.parametrize("field", ["starts_at", "ends_at", "stamp"])
def test_naive_datetimes_are_rejected(field: str) -> None:
    aware = {"starts_at": STARTS, "ends_at": ENDS, "stamp": STAMP}[field]
    with pytest.raises(ValueError):
        make(**{field: aware.replace(tzinfo=None)})


@pytest.mark.parametrize(
    "overrides",
    [
        {"ends_at": STARTS},
        {"ends_at": STARTS - datetime.timedelta(hours=1)},
        {"status": "MAYBE"},
        {"status": "confirmed"},
        {"sequence": -1},
    ],
)
def test_invalid_arguments_are_rejected(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        make(**overrides)


def test_a_request_is_tentative_and_has_no_reminder() -> None:
    text = make(status="TENTATIVE").decode()
    assert "STATUS:TENTATIVE" in text and "VALARM" not in text


def test_sequence_rises_with_every_change_and_fits_32_bits() -> None:
    from bookings.ics import sequence_for

    first = sequence_for(datetime.datetime(2030, 5, 20, 8, 0, tzinfo=SHANGHAI))
    later = sequence_for(datetime.datetime(2030, 5, 20, 8, 0, 1, tzinfo=SHANGHAI))
    assert 0 < first < later < 2**31 - 1
    assert sequence_for(datetime.datetime(2088, 1, 1, tzinfo=UTC)) < 2**31 - 1
    assert sequence_for(datetime.datetime(2019, 1, 1, tzinfo=UTC)) == 0
    with pytest.raises(ValueError):
        sequence_for(datetime.datetime(2030, 5, 20, 8, 0))


def test_a_calendar_of_many_visits_has_one_timezone() -> None:
    from bookings.ics import calendar_of, visit_event

    events = [
        visit_event(
            uid=f"booking-{i}@kepu",
            summary=SUMMARY,
            description=DESCRIPTION,
            location=LOCATION,
            starts_at=STARTS + datetime.timedelta(days=i),
            ends_at=ENDS + datetime.timedelta(days=i),
            status="CANCELLED" if i == 2 else "CONFIRMED",
            sequence=i,
            stamp=STAMP,
        )
        for i in range(3)
    ]
    data = calendar_of(events, name="我的参观")
    cal = icalendar.Calendar.from_ical(data)
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Asia/Shanghai"]
    assert str(cal["X-WR-CALNAME"]) == "我的参观"
    parsed = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    assert set(parsed) == {"booking-0@kepu", "booking-1@kepu", "booking-2@kepu"}
    assert str(parsed["booking-2@kepu"]["STATUS"]) == "CANCELLED"
    assert parsed["booking-2@kepu"].walk("VALARM") == []
    assert len(parsed["booking-1@kepu"].walk("VALARM")) == 1
    assert parsed["booking-1@kepu"].start == STARTS + datetime.timedelta(days=1)
    assert len(list(vobject.readOne(data.decode()).vevent_list)) == 3
    # An empty feed is still a valid calendar.
    assert icalendar.Calendar.from_ical(calendar_of([], name="x")).walk("VEVENT") == []


def test_a_visit_outside_the_usual_window_still_gets_a_covering_timezone() -> None:
    starts = datetime.datetime(2040, 3, 1, 9, 0, tzinfo=SHANGHAI)
    data = make(starts_at=starts, ends_at=starts + datetime.timedelta(hours=1))
    event = only_event(icalendar.Calendar.from_ical(data))
    assert event.start == starts
    assert vobject.readOne(data.decode()).vevent.dtstart.value == starts
