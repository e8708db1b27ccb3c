"""The schools registry: search it, and import it from a CSV file that is checked row by row first."""

from __future__ import annotations

import csv
import io
import json
import secrets
from datetime import timedelta
from typing import Any

import msgspec

import auditlog
from accounts.labels import STAGE_NAMES_ZH, stage_code
from accounts.tables import DISTRICTS, School, StoreEntry
from core import clock
from core.db import write_transaction
from core.i18n import N_, gettext

MAX_UPLOAD_BYTES = 1024 * 1024  # 1 MiB: about 20,000 schools, far more than Xiamen has
MAX_ROWS = 10_000
MAX_NAME = 200
PENDING_NAMESPACE = "school_import"
PENDING_TTL = timedelta(minutes=30)
NOT_CSV = N_("The file could not be read as CSV. Save the table as CSV UTF-8 and upload that.")

# Accepted column titles, English or Chinese, mapped to the field they fill.
HEADERS = {
    "name": "name",
    "school": "name",
    "学校名称": "name",
    "学校": "name",
    "名称": "name",
    "district": "district",
    "区": "district",
    "所在区": "district",
    "区县": "district",
    "stage": "stage",
    "学段": "stage",
    "办学类型": "stage",
}
FIELDS = ("name", "district", "stage")


class SchoolRow(msgspec.Struct):
    row: int
    name: str
    district: str
    stage: str


class Problem(msgspec.Struct):
    """One thing wrong with an import file; row None is the file as a whole. The message is translated."""

    row: int | None
    field: str
    message: str


class ImportCheck(msgspec.Struct):
    rows: list[SchoolRow]
    problems: list[Problem]
    bad_rows: int = 0

    @property
    def clean(self) -> bool:
        return not self.problems

    @property
    def file_problem(self) -> bool:
        return any(p.row is None for p in self.problems)


class ImportResult(msgspec.Struct):
    created: int
    updated: int
    unchanged: int


def _district(text: str) -> str | None:
    cleaned = text.strip()
    if cleaned in DISTRICTS:
        return cleaned
    if cleaned + "区" in DISTRICTS:  # "思明" for "思明区"
        return cleaned + "区"
    return None


def _file_problem(message: str, **params: Any) -> ImportCheck:
    return ImportCheck(rows=[], problems=[Problem(None, "", gettext(message).format(**params))])


def check_csv(data: bytes) -> ImportCheck:
    """Every row checked; nothing written. Rows are numbered as a spreadsheet shows them (titles = 1)."""
    if len(data) > MAX_UPLOAD_BYTES:
        return _file_problem(N_("The file is larger than {n} MB; split it into smaller files."), n=1)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _file_problem(
            N_(
                "The file is not UTF-8 text (Excel and WPS often save CSV as GBK). "
                "Save it again choosing “CSV UTF-8” and upload that file."
            )
        )
    if not text.strip():
        return _file_problem(N_("The file is empty: it needs a title row and one row per school."))
    if "\x00" in text:
        return _file_problem(N_("This is not a CSV text file. Save the table as CSV UTF-8 and upload that."))
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except csv.Error:
        return _file_problem(NOT_CSV)
    columns: dict[str, int] = {}
    for index, title in enumerate(header):
        field = HEADERS.get(title.strip().lower())
        if field and field not in columns:
            columns[field] = index
    missing = [f for f in FIELDS if f not in columns]
    if missing:
        return _file_problem(
            N_(
                "The first row must name the columns name, district and stage "
                "(or 学校名称, 区, 学段); this file's first row is: {found}."
            ),
            found="、".join(h.strip() for h in header if h.strip()) or "—",
        )
    rows: list[SchoolRow] = []
    problems: list[Problem] = []
    bad_rows: set[int] = set()
    seen: dict[tuple[str, str], int] = {}
    try:
        for number, record in enumerate(reader, start=2):
            if not any(cell.strip() for cell in record):
                continue
            if number - 1 > MAX_ROWS:
                return _file_problem(
                    N_("The file has more than {n} rows; split it into smaller files."), n=MAX_ROWS
                )

            def cell(field: str, record: list[str] = record) -> str:
                index = columns[field]
                return record[index].strip() if index < len(record) else ""

            name, district_text, stage_text = cell("name"), cell("district"), cell("stage")
            row_problems: list[Problem] = []
            if not name:
                row_problems.append(Problem(number, "name", gettext("The school's name is missing.")))
            elif len(name) > MAX_NAME:
                row_problems.append(
                    Problem(
                        number,
                        "name",
                        gettext("The name is longer than {n} characters.").format(n=MAX_NAME),
                    )
                )
            district = _district(district_text)
            if district is None:
                message = (
                    gettext("The district is missing.")
                    if not district_text
                    else gettext("“{value}” is not one of Xiamen's districts: {districts}.").format(
                        value=district_text[:40], districts="、".join(DISTRICTS)
                    )
                )
                row_problems.append(Problem(number, "district", message))
            stage = stage_code(stage_text)
            if stage is None:
                message = (
                    gettext("The stage is missing.")
                    if not stage_text
                    else gettext("“{value}” is not a stage we know; use one of: {stages}.").format(
                        value=stage_text[:40], stages="、".join(STAGE_NAMES_ZH)
                    )
                )
                row_problems.append(Problem(number, "stage", message))
            if not row_problems and district is not None:
                key = (name, district)
                if key in seen:
                    row_problems.append(
                        Problem(
                            number,
                            "name",
                            gettext("The same school (name and district) as row {row}.").format(
                                row=seen[key]
                            ),
                        )
                    )
                else:
                    seen[key] = number
            if row_problems:
                problems.extend(row_problems)
                bad_rows.add(number)
            else:
                assert district is not None and stage is not None
                rows.append(SchoolRow(row=number, name=name, district=district, stage=stage))
    except csv.Error:
        return _file_problem(NOT_CSV)
    if not rows and not problems:
        return _file_problem(N_("The file is empty: it needs a title row and one row per school."))
    return ImportCheck(rows=rows, problems=problems, bad_rows=len(bad_rows))


async def import_rows(rows: list[SchoolRow], *, actor: Any = None) -> ImportResult:
    """Add the schools that are new (matched on name and district); set the stage where it changed.
    An import by a person (`actor`) goes in the audit log with its counts."""
    created = updated = unchanged = 0
    if not rows:
        return ImportResult(0, 0, 0)
    now = clock.now()
    async with write_transaction():
        existing: dict[tuple[str, str], dict[str, Any]] = {}
        names = sorted({r.name for r in rows})
        for start in range(0, len(names), 500):
            chunk = names[start : start + 500]
            for found in await School.select(School.id, School.name, School.district, School.stage).where(
                School.name.is_in(chunk)
            ):
                existing[(found["name"], found["district"])] = found
        new = []
        for r in rows:
            known = existing.get((r.name, r.district))
            if known is None:
                new.append(School(name=r.name, district=r.district, stage=r.stage, created_at=now))
            elif known["stage"] != r.stage:
                await School.update({School.stage: r.stage}).where(School.id == known["id"])
                updated += 1
            else:
                unchanged += 1
        for start in range(0, len(new), 500):
            # A concurrent import of the same school: the unique (name, district) index keeps one.
            inserted = (
                await School.insert(*new[start : start + 500])
                .on_conflict(action="DO NOTHING")
                .returning(School.id)
            )
            created += len(inserted)
            unchanged += len(new[start : start + 500]) - len(inserted)
        if actor is not None and (created or updated):
            after = {"created": created, "updated": updated, "unchanged": unchanged}
            await auditlog.record(actor, "school.import", "school", "", after=after)
    return ImportResult(created=created, updated=updated, unchanged=unchanged)


async def keep_pending(user_id: int, rows: list[SchoolRow]) -> str:
    """Keep checked rows for a little while, so the auditor can import them without uploading again."""
    key = secrets.token_urlsafe(16)
    value = json.dumps({"user": user_id, "rows": msgspec.to_builtins(rows)}).encode()
    async with write_transaction():
        await StoreEntry.delete().where(
            (StoreEntry.namespace == PENDING_NAMESPACE) & (StoreEntry.expires_at < clock.now())
        )
        await StoreEntry.insert(
            StoreEntry(
                namespace=PENDING_NAMESPACE,
                key=f"{PENDING_NAMESPACE}:{key}",
                value=value,
                expires_at=clock.now() + PENDING_TTL,
            )
        )
    return key


async def take_pending(user_id: int, key: str) -> list[SchoolRow] | None:
    """The rows kept under this key for this auditor (then forgotten), or None when gone or not theirs."""
    if not key or len(key) > 64:
        return None
    async with write_transaction():
        entry = (
            await StoreEntry.select(StoreEntry.value, StoreEntry.expires_at)
            .where(StoreEntry.key == f"{PENDING_NAMESPACE}:{key}")
            .first()
        )
        if entry is None or entry["expires_at"] is None or entry["expires_at"] <= clock.now():
            return None
        data = json.loads(bytes(entry["value"]))
        if data.get("user") != user_id:
            return None
        await StoreEntry.delete().where(StoreEntry.key == f"{PENDING_NAMESPACE}:{key}")
    return msgspec.convert(data["rows"], list[SchoolRow])


class SchoolListing(msgspec.Struct):
    id: int
    name: str
    district: str
    stage: str


async def search_schools(
    *, q: str = "", district: str = "", limit: int | None = None
) -> tuple[list[SchoolListing], int]:
    """Schools by district then name, filtered by part of the name; and how many match in all."""
    where: Any = School.id > 0
    if district in DISTRICTS:
        where = where & (School.district == district)
    q = q.strip()[:100]
    if q:
        where = where & School.name.like("%" + q.replace("%", "").replace("_", "") + "%")
    total = await School.count().where(where)
    query = (
        School.select(School.id, School.name, School.district, School.stage)
        .where(where)
        .order_by(School.district)
        .order_by(School.name)
    )
    if limit is not None:
        query = query.limit(limit)
    return [SchoolListing(**r) for r in await query], int(total)
