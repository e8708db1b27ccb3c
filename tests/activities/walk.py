"""Objects of the activities app for the permission walk (tests/test_permissions.py)."""

from __future__ import annotations

from typing import Any

from accounts import services as accounts
from activities import services
from activities.services import ActivityForm
from core import clock
from kepu.auth import load_actor

from .test_services import jpeg_with_exif


async def activity_id() -> int:
    """An activity of venue A (staff_a's), recorded today with an evidence photo."""
    found = await accounts.get_user_by_username("staff_a")
    assert found is not None
    staff = await load_actor(found.id)
    assert staff is not None
    form = ActivityForm(kind="lecture", title="权限测试讲座", starts_on=clock.today(), attendance=50)
    return (await services.create_activity(staff, form, jpeg_with_exif())).id


async def fresh_activity(_p: Any) -> dict[str, Any]:
    return {"activity_id": await activity_id()}
