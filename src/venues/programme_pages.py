"""Staff pages for a venue's rooms, programmes (with photos and materials) and how to get there;
and the files themselves, served to anyone signed in."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from accounts.schemas import UserView
from core.errors import DomainError
from core.forms import parse_form
from core.guards import requires_role, requires_sign_in
from core.i18n import gettext
from core.web import flash, form_data
from venues import programmes, services
from venues.labels import GRADE_BAND_LABELS
from venues.programmes import PROGRAMME_RULE_FIELDS, ProgrammeForm, RoomForm, VenueInfoForm
from venues.schemas import RULE_FIELDS

MANAGERS = [requires_role("staff", "auditor")]
# A material may be 10 MB; the form around it adds a little. Larger bodies get a 413 naming the
# limit in opt (kepu.errors).
UPLOAD_BODY_LIMIT = programmes.MATERIAL_MAX_BYTES + 1024 * 1024
FILE_KIND_FIELDS = ("photo", "pre_visit", "post_visit")


async def _manager(actor: UserView, venue_id: int) -> None:
    await services.get_venue(venue_id)
    services.require_manager(actor, venue_id)


async def _overview(
    venue_id: int,
    *,
    room_values: dict[str, Any] | None = None,
    room_errors: dict[str, str] | None = None,
    info_values: dict[str, Any] | None = None,
    info_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    venue = await services.get_venue(venue_id)
    info = await programmes.venue_info(venue_id)
    return Template(
        "venues/programme_admin.html",
        context={
            "venue": venue,
            "rooms": await programmes.list_rooms(venue_id, include_retired=True),
            "programmes": await programmes.list_programmes(venue_id, include_retired=True),
            "room_values": room_values or {},
            "room_errors": room_errors or {},
            "info_values": info_values if info_values is not None else info,
            "info_errors": info_errors or {},
        },
        status_code=status_code,
    )


@get("/venues/{venue_id:int}/programmes", guards=MANAGERS, include_in_schema=False)
async def overview(actor: NamedDependency[UserView], venue_id: FromPath[int]) -> Template:
    await _manager(actor, venue_id)
    return await _overview(venue_id)


@post("/venues/{venue_id:int}/info", guards=MANAGERS, include_in_schema=False)
async def info_submit(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], venue_id: FromPath[int]
) -> Template | Redirect:
    await _manager(actor, venue_id)
    data = await form_data(request)
    values = {k: str(data.get(k) or "") for k in ("address", "directions", "contact_phone")}
    form, errors = parse_form(VenueInfoForm, values)
    if form is None:
        return await _overview(venue_id, info_values=values, info_errors=errors, status_code=400)
    await programmes.update_venue_info(actor, venue_id, form)
    flash(request, gettext("Address and directions saved."))
    return Redirect(f"/venues/{venue_id}/programmes", status_code=303)


@post("/venues/{venue_id:int}/rooms", guards=MANAGERS, include_in_schema=False)
async def room_create(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], venue_id: FromPath[int]
) -> Template | Redirect:
    await _manager(actor, venue_id)
    data = await form_data(request)
    values = {"name": data.get("name") or "", "capacity": data.get("capacity") or ""}
    form, errors = parse_form(RoomForm, values)
    if form is None:
        return await _overview(venue_id, room_values=values, room_errors=errors, status_code=400)
    room = await programmes.save_room(actor, venue_id, form)
    flash(request, gettext("Room {name} added.").format(name=room.name))
    return Redirect(f"/venues/{venue_id}/programmes", status_code=303)


@post("/venues/{venue_id:int}/rooms/{room_id:int}", guards=MANAGERS, include_in_schema=False)
async def room_update(
    request: Request[Any, Any, Any],
    actor: NamedDependency[UserView],
    venue_id: FromPath[int],
    room_id: FromPath[int],
) -> Template | Redirect:
    await _manager(actor, venue_id)
    data = await form_data(request)
    if "retire" in data or "restore" in data:
        room = await programmes.set_room_retired(actor, venue_id, room_id, "retire" in data)
        message = gettext("Room {name} retired.") if room.retired_at else gettext("Room {name} back in use.")
        flash(request, message.format(name=room.name))
        return Redirect(f"/venues/{venue_id}/programmes", status_code=303)
    values = {"name": data.get("name") or "", "capacity": data.get("capacity") or ""}
    form, errors = parse_form(RoomForm, values)
    if form is None:
        return await _overview(
            venue_id, room_values={**values, "id": room_id}, room_errors=errors, status_code=400
        )
    room = await programmes.save_room(actor, venue_id, form, room_id)
    flash(request, gettext("Room {name} saved.").format(name=room.name))
    return Redirect(f"/venues/{venue_id}/programmes", status_code=303)


# ---- programme form -------------------------------------------------------------------------------


async def _programme_form(
    venue_id: int,
    programme_id: int | None,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    file_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    venue = await services.get_venue(venue_id)
    programme = None
    files: list[programmes.FileView] = []
    if programme_id is not None:
        programme = await programmes.get_programme(programme_id, venue_id=venue_id)
        files = (await programmes.list_files([programme_id])).get(programme_id, [])
    if values is None:
        values = {}
        if programme is not None:
            values = {
                "title": programme.title,
                "description": programme.description,
                "grade_bands": programme.grade_bands,
                "tags": ", ".join(programme.tags),
                "duration_minutes": programme.duration_minutes,
                **{f: getattr(programme, f) for f in PROGRAMME_RULE_FIELDS},
            }
    return Template(
        "venues/programme_form.html",
        context={
            "venue": venue,
            "programme": programme,
            "files": files,
            "values": values,
            "errors": errors or {},
            "file_errors": file_errors or {},
            "venue_rules": {f: getattr(venue, f) for f in RULE_FIELDS},
            "photo_limit_mb": programmes.PHOTO_MAX_BYTES // 1024 // 1024,
            "material_limit_mb": programmes.MATERIAL_MAX_BYTES // 1024 // 1024,
        },
        status_code=status_code,
    )


def _form_values(form: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        k: str(form.get(k) or "")
        for k in ("title", "description", "tags", "duration_minutes", *PROGRAMME_RULE_FIELDS)
    }
    values["grade_bands"] = [str(b) for b in form.getall("grade_bands", [])]
    return values


@get("/venues/{venue_id:int}/programmes/new", guards=MANAGERS, include_in_schema=False)
async def programme_new(actor: NamedDependency[UserView], venue_id: FromPath[int]) -> Template:
    await _manager(actor, venue_id)
    return await _programme_form(venue_id, None)


@get("/venues/{venue_id:int}/programmes/{programme_id:int}", guards=MANAGERS, include_in_schema=False)
async def programme_edit(
    actor: NamedDependency[UserView], venue_id: FromPath[int], programme_id: FromPath[int]
) -> Template:
    await _manager(actor, venue_id)
    return await _programme_form(venue_id, programme_id)


async def _save(
    request: Request[Any, Any, Any], actor: UserView, venue_id: int, programme_id: int | None
) -> Template | Redirect:
    await _manager(actor, venue_id)
    if programme_id is not None:
        await programmes.get_programme(programme_id, venue_id=venue_id)
    raw = await request.form()
    values = _form_values(raw)
    form, errors = parse_form(
        ProgrammeForm,
        {k: v for k, v in values.items() if k != "grade_bands"},
        blank_as_none=("duration_minutes", *PROGRAMME_RULE_FIELDS),
    )
    # Ticked boxes arrive as several values (parse_form keeps one value per field).
    if any(b not in GRADE_BAND_LABELS for b in values["grade_bands"]):
        errors = {"grade_bands": gettext("Choose one of the options."), **errors}
    if form is None or errors:
        return await _programme_form(venue_id, programme_id, values=values, errors=errors, status_code=400)
    form = msgspec.structs.replace(form, grade_bands=values["grade_bands"])
    try:
        saved = await programmes.save_programme(actor, venue_id, form, programme_id)
    except DomainError as exc:
        field = "group_min" if exc.code == "group_bounds" else "min_lead_days"
        return await _programme_form(
            venue_id, programme_id, values=values, errors={field: exc.message()}, status_code=exc.status_code
        )
    flash(request, gettext("Programme {title} saved.").format(title=saved.title))
    return Redirect(f"/venues/{venue_id}/programmes/{saved.id}", status_code=303)


@post("/venues/{venue_id:int}/programmes/new", guards=MANAGERS, include_in_schema=False)
async def programme_create(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], venue_id: FromPath[int]
) -> Template | Redirect:
    return await _save(request, actor, venue_id, None)


@post("/venues/{venue_id:int}/programmes/{programme_id:int}", guards=MANAGERS, include_in_schema=False)
async def programme_update(
    request: Request[Any, Any, Any],
    actor: NamedDependency[UserView],
    venue_id: FromPath[int],
    programme_id: FromPath[int],
) -> Template | Redirect:
    return await _save(request, actor, venue_id, programme_id)


@post("/venues/{venue_id:int}/programmes/{programme_id:int}/retire", guards=MANAGERS, include_in_schema=False)
async def programme_retire(
    request: Request[Any, Any, Any],
    actor: NamedDependency[UserView],
    venue_id: FromPath[int],
    programme_id: FromPath[int],
) -> Redirect:
    await _manager(actor, venue_id)
    data = await form_data(request)
    saved = await programmes.set_programme_retired(actor, venue_id, programme_id, "restore" not in data)
    if saved.retired_at:
        flash(
            request,
            gettext("Programme {title} retired: it no longer shows in the catalogue.").format(
                title=saved.title
            ),
        )
    else:
        flash(request, gettext("Programme {title} is back in the catalogue.").format(title=saved.title))
    return Redirect(f"/venues/{venue_id}/programmes", status_code=303)


@post(
    "/venues/{venue_id:int}/programmes/{programme_id:int}/files",
    guards=MANAGERS,
    include_in_schema=False,
    request_max_body_size=UPLOAD_BODY_LIMIT,
    opt={"upload_limit_bytes": programmes.MATERIAL_MAX_BYTES},
)
async def file_upload(
    request: Request[Any, Any, Any],
    actor: NamedDependency[UserView],
    venue_id: FromPath[int],
    programme_id: FromPath[int],
) -> Template | Redirect:
    await _manager(actor, venue_id)
    await programmes.get_programme(programme_id, venue_id=venue_id)
    raw = await request.form()
    kind = str(raw.get("kind") or "")
    upload = raw.get("file")
    if kind not in FILE_KIND_FIELDS:
        kind = "photo"
    try:
        if not isinstance(upload, UploadFile):
            raise programmes.ProgrammeError("file_empty")
        data = await upload.read()
        saved = await programmes.add_file(actor, venue_id, programme_id, kind, upload.filename, data)
    except DomainError as exc:
        return await _programme_form(
            venue_id, programme_id, file_errors={"file": exc.message()}, status_code=exc.status_code
        )
    flash(request, gettext("File {name} uploaded.").format(name=saved.filename))
    return Redirect(f"/venues/{venue_id}/programmes/{programme_id}#files", status_code=303)


@post(
    "/venues/{venue_id:int}/programmes/{programme_id:int}/files/{file_id:int}/delete",
    guards=MANAGERS,
    include_in_schema=False,
)
async def file_delete(
    request: Request[Any, Any, Any],
    actor: NamedDependency[UserView],
    venue_id: FromPath[int],
    programme_id: FromPath[int],
    file_id: FromPath[int],
) -> Redirect:
    await _manager(actor, venue_id)
    await programmes.remove_file(actor, venue_id, programme_id, file_id)
    flash(request, gettext("File removed."))
    return Redirect(f"/venues/{venue_id}/programmes/{programme_id}#files", status_code=303)


# ---- serving files --------------------------------------------------------------------------------


def _disposition(kind: str, filename: str) -> str:
    """inline for images, attachment for documents; the name in ASCII and in UTF-8 (RFC 6266/5987)."""
    ascii_name = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;' else "_" for ch in filename)
    how = "inline" if kind == "inline" else "attachment"
    return f"{how}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _file_response(body: bytes, content_type: str, disposition: str) -> Response[bytes]:
    return Response(
        body,
        media_type=content_type,
        headers={
            "Content-Disposition": disposition,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=3600",
            "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
        },
    )


@get("/programme-files/{file_id:int}", guards=[requires_sign_in], include_in_schema=False)
async def file_download(file_id: FromPath[int]) -> Response[bytes]:
    info, body = await programmes.file_body(file_id)
    how = "inline" if info.kind == "photo" else "attachment"
    return _file_response(body, info.content_type, _disposition(how, info.filename))


@get("/programme-files/{file_id:int}/thumbnail", guards=[requires_sign_in], include_in_schema=False)
async def file_thumbnail(file_id: FromPath[int]) -> Response[bytes]:
    info, body = await programmes.file_body(file_id, thumbnail=True)
    return _file_response(body, "image/jpeg", _disposition("inline", info.filename))


PROGRAMME_STAFF_PAGES = [
    overview,
    info_submit,
    room_create,
    room_update,
    programme_new,
    programme_edit,
    programme_create,
    programme_update,
    programme_retire,
    file_upload,
    file_delete,
    file_download,
    file_thumbnail,
]
