"""The rules of activity records and self-reports: validation, who may do what, the year window."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta

import pytest
from PIL import Image

from activities import services
from activities.services import ActivityError, ActivityForm, SelfReportForm
from activities.tables import Activity, SelfReport
from core import clock
from core.errors import Forbidden
from tests.conftest import Clock
from tests.helpers import World

from .conftest import NOW, user


def form(**kw: object) -> ActivityForm:
    values: dict[str, object] = {
        "kind": "lecture",
        "title": "海洋科普讲座",
        "starts_on": date(2026, 6, 1),
        "attendance": 90,
    }
    values.update(kw)
    return ActivityForm(**values)  # type: ignore[arg-type]


def report(**kw: int) -> SelfReportForm:
    values = {
        "fulltime_staff": 5,
        "parttime_staff": 8,
        "volunteers": 40,
        "funding_raised": 300_000,
        "funding_spent": 280_000,
        "exhibit_area": 1200,
    }
    values.update(kw)
    return SelfReportForm(**values)


def jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (120, 80), (30, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0131] = "GPS-leaking-software"  # Software
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"kind": "party"}, "bad_kind"),
        ({"title": "   "}, "title_blank"),
        ({"starts_on": date(1999, 12, 31)}, "too_early"),
        ({"starts_on": date(2026, 6, 16)}, "in_future"),
        ({"starts_on": date(2026, 6, 1), "ends_on": date(2026, 5, 31)}, "ends_before_start"),
        ({"starts_on": date(2026, 1, 1), "ends_on": date(2027, 1, 2)}, "too_long"),
        ({"attendance": 10, "students": 8, "adults": 5}, "split_too_big"),
        ({"starts_on": date(2024, 5, 1)}, "year_closed"),
    ],
)
async def test_activity_validation(world: World, changes: dict[str, object], code: str) -> None:
    a = await user("staff_a")
    with pytest.raises(ActivityError) as caught:
        await services.create_activity(a, form(**changes))
    assert caught.value.code == code
    assert caught.value.message()  # a sentence, with its parameters filled in
    assert await Activity.count() == 0


async def test_defaults_and_online(world: World) -> None:
    a = await user("staff_a")
    one = await services.create_activity(a, form(title="  讲座  ", views=500))
    assert one.title == "讲座" and one.ends_on == one.starts_on and one.views is None and not one.online
    online = await services.create_activity(a, form(kind="online", views=500))
    assert online.online and online.views == 500
    # The previous year stays open until 31 January.
    frozen_jan = await services.create_activity(
        a, form(starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31))
    )
    assert frozen_jan.days == 365


async def test_previous_year_open_until_end_of_january(world: World, frozen: Clock) -> None:
    a = await user("staff_a")
    frozen.set(datetime(2027, 1, 31, 23, 0, tzinfo=clock.TZ))
    made = await services.create_activity(a, form(starts_on=date(2026, 12, 30)))
    await services.save_self_report(a, 2026, report())
    frozen.set(datetime(2027, 2, 1, 0, 30, tzinfo=clock.TZ))
    with pytest.raises(ActivityError, match="year_closed"):
        await services.create_activity(a, form(starts_on=date(2026, 12, 30)))
    with pytest.raises(ActivityError, match="year_closed"):
        await services.update_activity(a, made.id, form(starts_on=date(2026, 12, 30), attendance=1))
    with pytest.raises(ActivityError, match="year_closed"):
        await services.save_self_report(a, 2026, report(volunteers=1))
    assert (await services.get_self_report(a, 2026)).volunteers == 40  # type: ignore[union-attr]


async def test_permissions(world: World) -> None:
    a, b = await user("staff_a"), await user("staff_b")
    auditor, teacher = await user("auditor"), await user("teacher_a")
    mine = await services.create_activity(a, form())
    # Another venue's staff: not found, for reading, correcting, withdrawing and the photo.
    for call in (
        services.get_activity(b, mine.id),
        services.update_activity(b, mine.id, form(attendance=1)),
        services.withdraw_activity(b, mine.id, "not ours"),
        services.photo_body(b, mine.id),
    ):
        with pytest.raises(ActivityError) as caught:
            await call
        assert caught.value.code == "no_activity" and caught.value.status_code == 404
    assert await services.list_activities(b, year=2026, venue_id=world.venue_a) == []
    assert (await services.get_activity(auditor, mine.id)).attendance == 90
    assert [x.id for x in await services.list_activities(auditor, year=2026)] == [mine.id]
    # Auditors read but do not record; teachers do neither.
    with pytest.raises(Forbidden):
        await services.create_activity(auditor, form())
    with pytest.raises(Forbidden):
        await services.save_self_report(auditor, 2026, report())
    with pytest.raises(Forbidden):
        await services.get_activity(teacher, mine.id)
    with pytest.raises(Forbidden):
        await services.list_activities(teacher, year=2026)
    with pytest.raises(Forbidden):
        await services.self_report_overview(a, 2026)
    await services.save_self_report(a, 2026, report())
    assert await services.get_self_report(b, 2026) is None  # staff see only their own venue's
    assert (await services.get_self_report(auditor, 2026, world.venue_a)).volunteers == 40  # type: ignore[union-attr]


async def test_update_and_withdraw(world: World) -> None:
    a = await user("staff_a")
    made = await services.create_activity(a, form())
    fixed = await services.update_activity(a, made.id, form(attendance=95, note="更正人数"))
    assert fixed.attendance == 95 and fixed.note == "更正人数"
    with pytest.raises(ActivityError, match="reason_blank"):
        await services.withdraw_activity(a, made.id, "  ")
    gone = await services.withdraw_activity(a, made.id, "重复录入")
    assert gone.withdrawn_at is not None and gone.withdraw_reason == "重复录入"
    with pytest.raises(ActivityError, match="withdrawn"):
        await services.update_activity(a, made.id, form())
    assert await services.year_counts_by_venue(2026) == {}


async def test_self_report_rules(world: World) -> None:
    a = await user("staff_a")
    with pytest.raises(ActivityError, match="future_year"):
        await services.save_self_report(a, 2027, report())
    with pytest.raises(ActivityError, match="bad_year"):
        await services.save_self_report(a, 1999, report())
    with pytest.raises(ActivityError, match="spent_without_raised"):
        await services.save_self_report(a, 2026, report(funding_raised=100, funding_spent=1000))
    first = await services.save_self_report(a, 2026, report())
    second = await services.save_self_report(a, 2026, report(volunteers=41))
    assert second.volunteers == 41 and second.submitted_at == first.submitted_at
    assert await SelfReport.count() == 1


async def test_evidence_photo_reencoded_without_metadata(world: World) -> None:
    a = await user("staff_a")
    original = jpeg_with_exif()
    assert b"SecretCam" in original
    made = await services.create_activity(a, form(), photo=original)
    body = await services.photo_body(a, made.id)
    assert b"SecretCam" not in body and b"GPS-leaking" not in body
    with Image.open(io.BytesIO(body)) as image:
        assert image.format == "JPEG"
        assert not image.getexif()
    thumb = await services.photo_body(await user("auditor"), made.id, thumbnail=True)
    assert thumb.startswith(b"\xff\xd8")


async def test_non_image_refused_by_content(world: World) -> None:
    a = await user("staff_a")
    with pytest.raises(ActivityError) as caught:
        await services.create_activity(a, form(), photo=b"%PDF-1.4 not a photo at all")
    assert caught.value.code == "not_a_photo" and caught.value.status_code == 415
    # A text file named like a photo is judged by its bytes.
    with pytest.raises(ActivityError, match="not_a_photo"):
        await services.create_activity(a, form(), photo=b"\xff\xd8\xff" + b"garbage" * 10)
    assert await Activity.count() == 0
    made = await services.create_activity(a, form())
    with pytest.raises(ActivityError, match="no_photo"):
        await services.photo_body(a, made.id)


def test_now_is_fixed() -> None:
    assert NOW.date() - timedelta(days=0) == date(2026, 6, 15)
