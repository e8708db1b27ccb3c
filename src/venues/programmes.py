"""Rooms and programmes of a venue: staff set them up; a programme's rules override the venue's.

Photos and pre-/post-visit materials are checked by their content (never by their name), re-encoded
where they are images (so no metadata leaves the venue) and kept in the database, so every process
serves the same bytes.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from datetime import datetime
from typing import Annotated, Any, ClassVar

import msgspec
from PIL import Image, ImageOps, UnidentifiedImageError

import auditlog
from accounts.schemas import UserView
from core import clock
from core.db import is_sqlite, valid_id, write_transaction
from core.errors import DomainError, NotFound
from core.i18n import N_
from core.schemas import ApprovalMode, Capacity, Days, GradeBand, Name200, People, Phone, Ratio, Text200
from venues.labels import GRADE_BAND_LABELS
from venues.schemas import RULE_FIELDS, SlotForm, SlotView
from venues.services import _check_rule_bounds, create_slot, get_venue, require_manager
from venues.tables import Programme, ProgrammeFile, Room, Venue

# The rules a programme may set for itself; the daily cap is the venue's alone.
PROGRAMME_RULE_FIELDS = tuple(f for f in RULE_FIELDS if f != "daily_cap")

PHOTO_MAX_BYTES = 5 * 1024 * 1024
MATERIAL_MAX_BYTES = 10 * 1024 * 1024
FILES_PER_PROGRAMME = 20
PHOTO_MAX_SIDE = 1600
THUMB_SIDE = 480
# A photo's pixels, at most: a small file that decodes to a huge image is refused before decoding.
MAX_PIXELS = 40_000_000

Description = Annotated[str, msgspec.Meta(max_length=5000)]
Duration = Annotated[int, msgspec.Meta(ge=1, le=24 * 60)]


class ProgrammeError(DomainError):
    messages: ClassVar[dict[str, tuple[int, str]]] = {
        "no_programme": (404, N_("There is no such programme.")),
        "no_room": (404, N_("There is no such room.")),
        "no_file": (404, N_("There is no such file.")),
        "programme_retired": (409, N_("This programme is retired; it takes no new slots.")),
        "room_retired": (409, N_("This room is retired; it takes no new slots.")),
        "room_too_small": (
            422,
            N_(
                "The room {room} holds {room_capacity} people, "
                "so a slot in it can have at most that many places."
            ),
        ),
        "file_empty": (422, N_("Choose a file to upload.")),
        "photo_too_large": (413, N_("This photo is {size} MB; a photo can be at most {limit} MB.")),
        "material_too_large": (413, N_("This file is {size} MB; a material can be at most {limit} MB.")),
        "not_a_photo": (415, N_("This file is not a photo: upload a JPEG, PNG or WebP image.")),
        "not_a_material": (
            415,
            N_("Materials can be PDF, Word (.docx), PowerPoint (.pptx) or a JPEG, PNG or WebP image."),
        ),
        "wrong_extension": (
            415,
            N_("The file is named .{named} but its content is {found}; rename it or upload the right file."),
        ),
        "too_many_files": (409, N_("A programme holds at most {n} files; remove one first.")),
    }


class RoomForm(msgspec.Struct):
    name: Name200
    capacity: Capacity


class RoomView(msgspec.Struct):
    id: int
    venue_id: int
    name: str
    capacity: int
    retired_at: datetime | None


class ProgrammeForm(msgspec.Struct):
    title: Name200
    description: Description = ""
    grade_bands: list[GradeBand] = []
    tags: Text200 = ""
    duration_minutes: Duration | None = None
    min_lead_days: Days | None = None
    max_lead_days: Days | None = None
    group_min: People | None = None
    group_max: People | None = None
    students_per_adult: Ratio | None = None
    preschool_students_per_adult: Ratio | None = None
    approval_mode: ApprovalMode | None = None
    final_count_days: Days | None = None
    free_cancel_days: Days | None = None


class ProgrammeView(msgspec.Struct):
    id: int
    venue_id: int
    title: str
    description: str
    grade_bands: list[str]
    tags: list[str]
    duration_minutes: int | None
    min_lead_days: int | None
    max_lead_days: int | None
    group_min: int | None
    group_max: int | None
    students_per_adult: int | None
    preschool_students_per_adult: int | None
    approval_mode: str | None
    final_count_days: int | None
    free_cancel_days: int | None
    retired_at: datetime | None

    @property
    def overrides(self) -> dict[str, Any]:
        return {f: v for f in PROGRAMME_RULE_FIELDS if (v := getattr(self, f)) is not None}


class FileView(msgspec.Struct):
    id: int
    programme_id: int
    kind: str
    filename: str
    content_type: str
    size: int
    has_thumbnail: bool


PROGRAMME_COLUMNS: tuple[Any, ...] = (
    Programme.id,
    Programme.venue.as_alias("venue_id"),
    Programme.title,
    Programme.description,
    Programme.grade_bands,
    Programme.tags,
    Programme.duration_minutes,
    *(getattr(Programme, f) for f in PROGRAMME_RULE_FIELDS),
    Programme.retired_at,
)


def _value(source: Any, field: str) -> Any:
    return source.get(field) if isinstance(source, dict) else getattr(source, field, None)


def merge_rules(venue: Any, programme: Any | None, fields: tuple[str, ...] = RULE_FIELDS) -> dict[str, Any]:
    """The venue's rules (views or row dicts) with every rule the programme sets (non-NULL) in its
    place; bookings.rules.effective_rules makes its Rules from this, the catalogue filters with it."""
    merged = {f: _value(venue, f) for f in fields}
    if programme is not None:
        for f in PROGRAMME_RULE_FIELDS:
            if f in merged and (v := _value(programme, f)) is not None:
                merged[f] = v
    return merged


def split_list(text: str | None) -> list[str]:
    """A comma list as typed (ASCII or Chinese commas, 、 or ；), cleaned and without repeats."""
    out: list[str] = []
    for part in re.split(r"[,，、;；\n]", text or ""):
        item = part.strip()
        if item and item not in out:
            out.append(item)
    return out


def programme_view(row: dict[str, Any]) -> ProgrammeView:
    data = dict(row)
    data["grade_bands"] = [b for b in split_list(data["grade_bands"]) if b in GRADE_BAND_LABELS]
    data["tags"] = split_list(data["tags"])
    if data["retired_at"] is not None:
        data["retired_at"] = clock.local(data["retired_at"])
    return ProgrammeView(**data)


def room_view(row: dict[str, Any]) -> RoomView:
    return RoomView(
        id=row["id"],
        venue_id=row["venue_id"],
        name=row["name"],
        capacity=row["capacity"],
        retired_at=clock.local(row["retired_at"]) if row["retired_at"] else None,
    )


# ---- rooms ----------------------------------------------------------------------------------------


ROOM_COLUMNS = (Room.id, Room.venue.as_alias("venue_id"), Room.name, Room.capacity, Room.retired_at)


async def list_rooms(venue_id: int, *, include_retired: bool = False) -> list[RoomView]:
    query = Room.select(*ROOM_COLUMNS).where(Room.venue == venue_id).order_by(Room.name).order_by(Room.id)
    if not include_retired:
        query = query.where(Room.retired_at.is_null())
    return [room_view(r) for r in await query]


async def get_room(venue_id: int, room_id: int) -> RoomView:
    if not valid_id(room_id):
        raise ProgrammeError("no_room")
    row = await Room.select(*ROOM_COLUMNS).where((Room.id == room_id) & (Room.venue == venue_id)).first()
    if row is None:
        raise ProgrammeError("no_room")
    return room_view(row)


async def save_room(actor: UserView, venue_id: int, form: RoomForm, room_id: int | None = None) -> RoomView:
    """Create a room, or change one's name and capacity (slots already published keep their places)."""
    await get_venue(venue_id)
    require_manager(actor, venue_id)
    async with write_transaction():
        before: RoomView | None = None
        if room_id is None:
            rows = await Room.insert(
                Room(venue=venue_id, name=form.name.strip(), capacity=form.capacity, created_at=clock.now())
            ).returning(Room.id)
            room_id = int(rows[0]["id"])
        else:
            before = await get_room(venue_id, room_id)
            await Room.update({Room.name: form.name.strip(), Room.capacity: form.capacity}).where(
                Room.id == room_id
            )
        room = await get_room(venue_id, room_id)
        await auditlog.record(
            actor,
            "room.create" if before is None else "room.update",
            "room",
            room_id,
            before=None if before is None else _room_fields(before),
            after=_room_fields(room),
            venue_id=venue_id,
        )
    return room


def _room_fields(room: RoomView) -> dict[str, Any]:
    return {"name": room.name, "capacity": room.capacity}


async def set_room_retired(actor: UserView, venue_id: int, room_id: int, retired: bool) -> RoomView:
    """A retired room takes no new slots; the slots already in it keep it."""
    await get_venue(venue_id)
    require_manager(actor, venue_id)
    before = await get_room(venue_id, room_id)
    async with write_transaction():
        await Room.update({Room.retired_at: clock.now() if retired else None}).where(Room.id == room_id)
        room = await get_room(venue_id, room_id)
        if (before.retired_at is None) == retired:  # a real change, not a repeated click
            await auditlog.record(
                actor,
                "room.retire" if retired else "room.restore",
                "room",
                room_id,
                before={"name": room.name, "retired_at": before.retired_at},
                after={"name": room.name, "retired_at": room.retired_at},
                venue_id=venue_id,
            )
    return room


# ---- programmes -----------------------------------------------------------------------------------


async def list_programmes(venue_id: int, *, include_retired: bool = False) -> list[ProgrammeView]:
    query = (
        Programme.select(*PROGRAMME_COLUMNS)
        .where(Programme.venue == venue_id)
        .order_by(Programme.title)
        .order_by(Programme.id)
    )
    if not include_retired:
        query = query.where(Programme.retired_at.is_null())
    return [programme_view(r) for r in await query]


async def get_programme(programme_id: int, *, venue_id: int | None = None) -> ProgrammeView:
    if not valid_id(programme_id):
        raise ProgrammeError("no_programme")
    query = Programme.select(*PROGRAMME_COLUMNS).where(Programme.id == programme_id)
    if venue_id is not None:
        query = query.where(Programme.venue == venue_id)
    row = await query.first()
    if row is None:
        raise ProgrammeError("no_programme")
    return programme_view(row)


async def rule_overrides(programme_id: int | None) -> dict[str, Any] | None:
    """The rule columns of a slot's programme (NULL = the venue's rule), or None without a programme."""
    if programme_id is None:
        return None
    cols = [getattr(Programme, f) for f in PROGRAMME_RULE_FIELDS]
    row = await Programme.select(*cols).where(Programme.id == programme_id).first()
    return dict(row) if row else None


def _programme_values(form: ProgrammeForm) -> dict[Any, Any]:
    bands = [b for b in GRADE_BAND_LABELS if b in form.grade_bands]  # the usual order, no repeats
    return {
        Programme.title: form.title.strip(),
        Programme.description: form.description.strip(),
        Programme.grade_bands: ",".join(bands),
        Programme.tags: ",".join(split_list(form.tags))[:200],
        Programme.duration_minutes: form.duration_minutes,
        **{getattr(Programme, f): getattr(form, f) for f in PROGRAMME_RULE_FIELDS},
    }


async def save_programme(
    actor: UserView, venue_id: int, form: ProgrammeForm, programme_id: int | None = None
) -> ProgrammeView:
    """Create a programme or change one; its rules apply to bookings made from now on."""
    await get_venue(venue_id)
    require_manager(actor, venue_id)
    _check_rule_bounds({f: getattr(form, f) for f in PROGRAMME_RULE_FIELDS})
    values = _programme_values(form)
    now = clock.now()
    async with write_transaction():
        before: ProgrammeView | None = None
        if programme_id is None:
            row = Programme(venue=venue_id, created_at=now, updated_at=now)
            for column, value in values.items():
                setattr(row, column._meta.name, value)
            rows = await Programme.insert(row).returning(Programme.id)
            programme_id = int(rows[0]["id"])
        else:
            before = await get_programme(programme_id, venue_id=venue_id)
            await Programme.update({**values, Programme.updated_at: now}).where(Programme.id == programme_id)
        programme = await get_programme(programme_id)
        await auditlog.record(
            actor,
            "programme.create" if before is None else "programme.update",
            "programme",
            programme_id,
            before=None if before is None else _programme_fields(before),
            after=_programme_fields(programme),
            venue_id=venue_id,
        )
    return programme


def _programme_fields(programme: ProgrammeView) -> dict[str, Any]:
    skip = ("id", "venue_id", "retired_at")
    return {f: getattr(programme, f) for f in programme.__struct_fields__ if f not in skip}


async def set_programme_retired(
    actor: UserView, venue_id: int, programme_id: int, retired: bool
) -> ProgrammeView:
    """A retired programme leaves the catalogue and takes no new slots; slots already made keep it."""
    await get_venue(venue_id)
    require_manager(actor, venue_id)
    before = await get_programme(programme_id, venue_id=venue_id)
    async with write_transaction():
        await Programme.update(
            {Programme.retired_at: clock.now() if retired else None, Programme.updated_at: clock.now()}
        ).where(Programme.id == programme_id)
        programme = await get_programme(programme_id)
        if (before.retired_at is None) == retired:  # a real change, not a repeated click
            await auditlog.record(
                actor,
                "programme.retire" if retired else "programme.restore",
                "programme",
                programme_id,
                before={"title": before.title, "retired_at": before.retired_at},
                after={"title": programme.title, "retired_at": programme.retired_at},
                venue_id=venue_id,
            )
    return programme


# The slot form's field each problem with a slot's programme or room belongs to.
SLOT_LINK_FIELDS = {
    "no_programme": "programme_id",
    "programme_retired": "programme_id",
    "no_room": "room_id",
    "room_retired": "room_id",
    "room_too_small": "capacity",
}


async def check_slot_links(
    venue_id: int, programme_id: int | None, room_id: int | None, capacity: int
) -> None:
    """A new slot's programme and room: of this venue, not retired, and the room holds the places."""
    if programme_id is not None:
        programme = await get_programme(programme_id, venue_id=venue_id)
        if programme.retired_at is not None:
            raise ProgrammeError("programme_retired")
    if room_id is not None:
        room = await get_room(venue_id, room_id)
        if room.retired_at is not None:
            raise ProgrammeError("room_retired")
        if capacity > room.capacity:
            raise ProgrammeError("room_too_small", room=room.name, room_capacity=room.capacity)


# ---- files ----------------------------------------------------------------------------------------


def clean_filename(name: str | None) -> str:
    """A name to show and to offer for download: no path, no control characters, at most 120 chars."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C" and ch not in '"<>|*?:')
    return base.strip(" .")[:120] or "file"


def _extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f}"


def reencode_image(data: bytes) -> tuple[bytes, bytes]:
    """(the photo as a fresh JPEG without metadata, a thumbnail), or ProgrammeError("not_a_photo")."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in ("JPEG", "PNG", "WEBP"):
                raise ProgrammeError("not_a_photo")
            width, height = probe.size
            if width * height > MAX_PIXELS:
                raise ProgrammeError("not_a_photo")
            probe.load()
            image = ImageOps.exif_transpose(probe) or probe
            if image.mode in ("RGBA", "LA", "P"):
                rgba = image.convert("RGBA")
                flat = Image.new("RGB", rgba.size, (255, 255, 255))
                flat.paste(rgba, mask=rgba.getchannel("A"))
                image = flat
            else:
                image = image.convert("RGB")
    except ProgrammeError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ProgrammeError("not_a_photo") from exc
    image.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, optimize=True)
    thumb = image.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE))
    small = io.BytesIO()
    thumb.save(small, "JPEG", quality=80, optimize=True)
    return out.getvalue(), small.getvalue()


OFFICE = {
    "docx": ("word/document.xml", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "pptx": (
        "ppt/presentation.xml",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
}
FOUND_NAMES = {"pdf": "PDF", "docx": "Word (.docx)", "pptx": "PowerPoint (.pptx)", "jpg": "JPEG"}


def sniff_material(data: bytes) -> tuple[str, str] | None:
    """(extension, content type) of a material by its bytes, or None when it is none of the kinds kept."""
    if data.startswith(b"%PDF-"):
        return "pdf", "application/pdf"
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError, ValueError):
            return None
        for ext, (marker, content_type) in OFFICE.items():
            if marker in names:
                return ext, content_type
        return None
    if data.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")) or (
        data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    ):
        return "jpg", "image/jpeg"  # re-encoded as JPEG below
    return None


def prepare_file(kind: str, filename: str | None, data: bytes) -> dict[str, Any]:
    """Check an upload and make what is stored: the bytes, their type, a thumbnail for photos."""
    name = clean_filename(filename)
    if not data:
        raise ProgrammeError("file_empty")
    if kind == "photo":
        if len(data) > PHOTO_MAX_BYTES:
            raise ProgrammeError(
                "photo_too_large", size=_mb(len(data)), limit=PHOTO_MAX_BYTES // 1024 // 1024
            )
        body, thumb = reencode_image(data)
        stem = name.rsplit(".", 1)[0] if "." in name else name
        return {"filename": f"{stem}.jpg", "content_type": "image/jpeg", "data": body, "thumbnail": thumb}
    if len(data) > MATERIAL_MAX_BYTES:
        raise ProgrammeError(
            "material_too_large", size=_mb(len(data)), limit=MATERIAL_MAX_BYTES // 1024 // 1024
        )
    found = sniff_material(data)
    if found is None:
        raise ProgrammeError("not_a_material")
    ext, content_type = found
    named = _extension(name)
    images = ("jpg", "jpeg", "png", "webp")
    if named != ext and not (ext == "jpg" and named in images):
        raise ProgrammeError("wrong_extension", named=named or "?", found=FOUND_NAMES[ext])
    if ext == "jpg":
        try:
            data, thumb = reencode_image(data)
        except ProgrammeError as exc:
            raise ProgrammeError("not_a_material") from exc
        stem = name.rsplit(".", 1)[0]
        return {"filename": f"{stem}.jpg", "content_type": content_type, "data": data, "thumbnail": thumb}
    return {"filename": name, "content_type": content_type, "data": data, "thumbnail": None}


async def add_file(
    actor: UserView, venue_id: int, programme_id: int, kind: str, filename: str | None, data: bytes
) -> FileView:
    await get_venue(venue_id)
    require_manager(actor, venue_id)
    await get_programme(programme_id, venue_id=venue_id)
    if kind not in ("photo", "pre_visit", "post_visit"):
        raise ProgrammeError("no_file")
    prepared = prepare_file(kind, filename, data)
    async with write_transaction():
        if not is_sqlite():  # two uploads at once must not both take the last place (SQLite: IMMEDIATE)
            await Programme.select(Programme.id).where(Programme.id == programme_id).lock_rows()
        count = await ProgrammeFile.count().where(ProgrammeFile.programme == programme_id)
        if count >= FILES_PER_PROGRAMME:
            raise ProgrammeError("too_many_files", n=FILES_PER_PROGRAMME)
        rows = await ProgrammeFile.insert(
            ProgrammeFile(
                programme=programme_id,
                kind=kind,
                size=len(prepared["data"]),
                created_by=actor.id,
                created_at=clock.now(),
                **prepared,
            )
        ).returning(ProgrammeFile.id)
        await auditlog.record(
            actor,
            "file.add",
            "file",
            rows[0]["id"],
            after={
                "programme_id": programme_id,
                "kind": kind,
                "filename": prepared["filename"],
                "content_type": prepared["content_type"],
                "size": len(prepared["data"]),
            },
            venue_id=venue_id,
        )
    files = await list_files([programme_id])
    return next(f for f in files.get(programme_id, []) if f.id == rows[0]["id"])


async def remove_file(actor: UserView, venue_id: int, programme_id: int, file_id: int) -> None:
    await get_venue(venue_id)
    require_manager(actor, venue_id)
    await get_programme(programme_id, venue_id=venue_id)
    if not valid_id(file_id):
        raise ProgrammeError("no_file")
    async with write_transaction():
        gone = await (
            ProgrammeFile.delete()
            .where((ProgrammeFile.id == file_id) & (ProgrammeFile.programme == programme_id))
            .returning(
                ProgrammeFile.id,
                ProgrammeFile.kind,
                ProgrammeFile.filename,
                ProgrammeFile.content_type,
                ProgrammeFile.size,
            )
        )
        if gone:
            await auditlog.record(
                actor,
                "file.remove",
                "file",
                file_id,
                before={"programme_id": programme_id, **{k: v for k, v in gone[0].items() if k != "id"}},
                venue_id=venue_id,
            )
    if not gone:
        raise ProgrammeError("no_file")


async def list_files(programme_ids: list[int]) -> dict[int, list[FileView]]:
    """The files of several programmes in one query (no bytes), photos first, oldest first."""
    if not programme_ids:
        return {}
    rows = (
        await ProgrammeFile.select(
            ProgrammeFile.id,
            ProgrammeFile.programme.as_alias("programme_id"),
            ProgrammeFile.kind,
            ProgrammeFile.filename,
            ProgrammeFile.content_type,
            ProgrammeFile.size,
        )
        .where(ProgrammeFile.programme.is_in(programme_ids))
        .order_by(ProgrammeFile.id)
    )
    out: dict[int, list[FileView]] = {}
    for r in rows:
        # Every image is re-encoded as a JPEG with a thumbnail; other files have none.
        out.setdefault(r["programme_id"], []).append(
            FileView(**r, has_thumbnail=r["content_type"] == "image/jpeg")
        )
    return out


async def file_body(file_id: int, *, thumbnail: bool = False) -> tuple[FileView, bytes]:
    """One file's description and its bytes (or its thumbnail's)."""
    if not valid_id(file_id):
        raise ProgrammeError("no_file")
    row = (
        await ProgrammeFile.select(
            ProgrammeFile.id,
            ProgrammeFile.programme.as_alias("programme_id"),
            ProgrammeFile.kind,
            ProgrammeFile.filename,
            ProgrammeFile.content_type,
            ProgrammeFile.size,
            ProgrammeFile.thumbnail if thumbnail else ProgrammeFile.data,
        )
        .where(ProgrammeFile.id == file_id)
        .first()
    )
    if row is None:
        raise ProgrammeError("no_file")
    body = row.pop("thumbnail" if thumbnail else "data")
    if body is None:
        raise ProgrammeError("no_file")
    return FileView(**row, has_thumbnail=thumbnail), bytes(body)


async def publish_slot(
    actor: UserView, venue_id: int, form: SlotForm, programme_id: int | None, room_id: int | None
) -> SlotView:
    """A one-off slot, tied to a programme and a room when given, in one transaction."""
    return await create_slot(
        actor, venue_id, msgspec.structs.replace(form, programme_id=programme_id, room_id=room_id)
    )


def optional_id(value: Any) -> int | None:
    """A select's value: an id, or None for "none" (blank or not a number)."""
    text = str(value or "").strip()
    return int(text) if text.isdigit() and valid_id(int(text)) else None


# ---- how to get there -----------------------------------------------------------------------------


class VenueInfoForm(msgspec.Struct):
    address: Text200 = ""
    directions: Description = ""
    contact_phone: Phone = ""


async def venue_info(venue_id: int) -> dict[str, str]:
    row = (
        await Venue.select(Venue.address, Venue.directions, Venue.contact_phone)
        .where(Venue.id == venue_id)
        .first()
    )
    if row is None:
        raise NotFound("venue")
    return {k: str(v or "") for k, v in row.items()}


async def update_venue_info(actor: UserView, venue_id: int, form: VenueInfoForm) -> dict[str, str]:
    """The address, directions (bus, metro, where coaches stop) and contact phone teachers see."""
    await get_venue(venue_id)
    require_manager(actor, venue_id)
    async with write_transaction():
        before = await venue_info(venue_id)
        await Venue.update(
            {
                Venue.address: form.address.strip(),
                Venue.directions: form.directions.strip(),
                Venue.contact_phone: form.contact_phone.strip(),
            }
        ).where(Venue.id == venue_id)
        after = await venue_info(venue_id)
        await auditlog.record(actor, "venue.info_update", "venue", venue_id, before, after, venue_id=venue_id)
    return after
