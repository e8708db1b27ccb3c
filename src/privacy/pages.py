"""Name list pages: the teacher uploads, views (masked) and deletes a visit's list; door staff see
today's lists masked; a venue's managers turn the requirement on or off."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from accounts.schemas import UserView
from bookings import services as bookings
from core import clock
from core.guards import requires_role, requires_sign_in
from core.i18n import gettext
from core.web import flash, form_data
from privacy import namelists
from privacy.masking import MAX_BYTES
from venues import services as venues

# Masked names are still about children: no shared cache keeps a copy.
NO_STORE = {"Cache-Control": "private, no-store"}


async def _teacher_page(
    actor: UserView, booking_id: int, *, error: str = "", status_code: int = 200
) -> Template:
    view = await namelists.for_teacher(actor, booking_id)
    return Template(
        "privacy/namelist.html",
        context={
            "b": await bookings.get_booking(actor, booking_id),
            "nl": view,
            "error": error,
            "retention_days": namelists.retention_days(),
            "max_kb": MAX_BYTES // 1024,
        },
        status_code=status_code,
        headers=NO_STORE,
    )


@get("/bookings/{booking_id:int}/namelist", guards=[requires_sign_in], include_in_schema=False)
async def namelist_page(actor: NamedDependency[UserView], booking_id: FromPath[int]) -> Template:
    return await _teacher_page(actor, booking_id)


@post(
    "/bookings/{booking_id:int}/namelist",
    guards=[requires_sign_in],
    include_in_schema=False,
    request_max_body_size=MAX_BYTES + namelists.MAX_TEXT_CHARS * 4 + 65536,
    opt={"upload_limit_bytes": MAX_BYTES},
)
async def namelist_upload(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], booking_id: FromPath[int]
) -> Template | Redirect:
    form = await request.form()
    upload = form.get("file")
    data = b""
    filename = ""
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read(MAX_BYTES + 1)
        filename = upload.filename
    text = form.get("names")
    try:
        count = await namelists.upload(
            actor,
            booking_id,
            filename=filename,
            data=data,
            text=text if isinstance(text, str) else "",
            guardians_informed=form.get("guardians_informed") == "yes",
        )
    except namelists.NameListError as exc:
        return await _teacher_page(actor, booking_id, error=exc.message(), status_code=exc.status_code)
    flash(request, gettext("Name list saved: {n} names, kept encrypted.").format(n=count))
    return Redirect(f"/bookings/{booking_id}/namelist", status_code=303)


@post("/bookings/{booking_id:int}/namelist/delete", guards=[requires_sign_in], include_in_schema=False)
async def namelist_delete(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], booking_id: FromPath[int]
) -> Redirect:
    if await namelists.delete(actor, booking_id):
        flash(request, gettext("Name list deleted."))
    return Redirect(f"/bookings/{booking_id}/namelist", status_code=303)


@get("/staff/namelists", guards=[requires_role("staff")], include_in_schema=False)
async def door_page(actor: NamedDependency[UserView]) -> Template:
    lists = await namelists.for_door(actor)
    return Template(
        "privacy/door.html",
        context={"lists": lists, "today": clock.today()},
        headers=NO_STORE,
    )


async def _policy_page(venue_id: int, *, status_code: int = 200) -> Template:
    return Template(
        "privacy/venue_policy.html",
        context={
            "venue": await venues.get_venue(venue_id),
            "required": await namelists.requires_name_list(venue_id),
            "retention_days": namelists.retention_days(),
        },
        status_code=status_code,
    )


@get("/venues/{venue_id:int}/namelist-policy", guards=[requires_sign_in], include_in_schema=False)
async def policy_page(actor: NamedDependency[UserView], venue_id: FromPath[int]) -> Template:
    await venues.get_venue(venue_id)
    venues.require_manager(actor, venue_id)
    return await _policy_page(venue_id)


@post("/venues/{venue_id:int}/namelist-policy", guards=[requires_sign_in], include_in_schema=False)
async def policy_submit(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], venue_id: FromPath[int]
) -> Template | Redirect:
    data = await form_data(request)
    required = data.get("requires_name_list")
    if required not in ("yes", "no"):
        await venues.get_venue(venue_id)
        venues.require_manager(actor, venue_id)
        flash(request, gettext("Choose whether the venue requires a name list."), "error")
        return Redirect(f"/venues/{venue_id}/namelist-policy", status_code=303)
    await namelists.set_requirement(actor, venue_id, required == "yes")
    flash(
        request,
        gettext("The venue now requires a name list for each visit.")
        if required == "yes"
        else gettext("The venue no longer asks for name lists."),
    )
    return Redirect(f"/venues/{venue_id}/namelist-policy", status_code=303)


PRIVACY_PAGES: list[Any] = [
    namelist_page,
    namelist_upload,
    namelist_delete,
    door_page,
    policy_page,
    policy_submit,
]
