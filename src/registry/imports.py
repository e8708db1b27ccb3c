"""Import bases from a CSV (UTF-8, BOM allowed) or XLSX file: check every row first, then import the
clean rows in chunks so the page can show progress. A base is matched on name + district, so
importing the same file again changes nothing."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date, datetime
from typing import Any, ClassVar

import auditlog
from accounts.schemas import UserView
from core import clock
from core.db import write_transaction
from core.errors import DomainError, Forbidden
from core.i18n import N_, gettext
from registry.tables import Accreditation, ImportJob, StatusChange
from venues.labels import DISTRICT_LABELS, KIND_LABELS
from venues.tables import Venue

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5000
CHUNK = 50

# field -> accepted headers (compared lower-case, spaces and underscores ignored)
HEADERS: dict[str, tuple[str, ...]] = {
    "name": ("name", "名称", "基地名称", "场馆名称", "单位名称"),
    "kind": ("kind", "type", "类型", "基地类型", "类别"),
    "district": ("district", "区", "所在区", "行政区", "区县"),
    "address": ("address", "地址"),
    "level": ("level", "级别", "认定级别"),
    "batch": ("batch", "批次"),
    "accredited_on": ("accrediteddate", "accreditedon", "认定日期", "命名日期", "认定时间"),
    "valid_until": ("validuntil", "有效期至", "有效期", "有效期限"),
    "contact_name": ("contact", "contactname", "联系人"),
    "contact_phone": ("phone", "contactphone", "联系电话", "电话"),
}
REQUIRED = ("name", "kind", "district")
FIELD_LABELS = {
    "file": N_("File"),
    "name": N_("Name"),
    "kind": N_("Kind"),
    "district": N_("District"),
    "address": N_("Address"),
    "level": N_("Level"),
    "batch": N_("Batch"),
    "accredited_on": N_("Accredited on"),
    "valid_until": N_("Valid until"),
    "contact_name": N_("Contact person"),
    "contact_phone": N_("Contact phone"),
}
KIND_WORDS = {
    "科技馆": "science_museum",
    "科学技术馆": "science_museum",
    "博物馆": "museum",
    "科普教育基地": "education_base",
    "教育基地": "education_base",
    "实验室": "laboratory",
    "科研院所": "laboratory",
    "实验室/科研院所": "laboratory",
    "科学家精神教育基地": "scientist_spirit_base",
    "社区科普": "community_site",
    "社区科普站": "community_site",
    "社区科普点": "community_site",
}
LEVEL_WORDS = {"国家级": "national", "省级": "provincial", "市级": "municipal"}


class ImportError_(DomainError):
    messages: ClassVar[dict[str, tuple[int, str]]] = {
        "empty": (400, N_("Choose a CSV or XLSX file to upload.")),
        "too_big": (413, N_("The file is larger than 5 MB. Split it into smaller files.")),
        "not_xlsx": (
            400,
            N_("This file is not a readable XLSX workbook. Save it again from the spreadsheet."),
        ),
        "not_utf8": (400, N_("This CSV file is not UTF-8 text. Save it as “CSV UTF-8” and upload it again.")),
        "not_csv": (
            400,
            N_("The file could not be read as CSV. Save the table as CSV UTF-8 and upload that."),
        ),
        "job": (404, N_("There is no such import.")),
        "not_clean": (
            409,
            N_("Some rows have problems. Fix the file, or choose to import only the clean rows."),
        ),
        "nothing": (409, N_("There are no clean rows to import.")),
    }


def _norm(header: Any) -> str:
    return str(header or "").strip().lower().replace(" ", "").replace("_", "").replace("\ufeff", "")


def read_table(filename: str, data: bytes) -> list[list[Any]]:
    """The file's rows (header first) as lists of cells; refuses what is not what it says it is."""
    if not data:
        raise ImportError_("empty")
    if len(data) > MAX_BYTES:
        raise ImportError_("too_big")
    is_zip = data[:4] == b"PK\x03\x04"
    if filename.lower().endswith((".xlsx", ".xlsm")) or is_zip:
        if not is_zip:
            raise ImportError_("not_xlsx")
        try:
            import openpyxl

            wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            ws = wb.worksheets[0]
            rows = [list(r) for r in ws.iter_rows(values_only=True, max_row=MAX_ROWS + 1)]
            wb.close()
        except (zipfile.BadZipFile, KeyError, OSError, ValueError, IndexError, TypeError) as exc:
            raise ImportError_("not_xlsx") from exc
        except Exception as exc:  # openpyxl raises its own InvalidFileException and others
            raise ImportError_("not_xlsx") from exc
        return rows
    if b"\x00" in data:
        raise ImportError_("not_utf8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportError_("not_utf8") from exc
    try:
        return [row for row in csv.reader(io.StringIO(text, newline=""))][: MAX_ROWS + 1]
    except csv.Error as exc:  # e.g. a field over the csv module's size limit
        raise ImportError_("not_csv") from exc


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.date().isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _parse_date(raw: str) -> date | None:
    if not raw:
        return None
    text = raw.replace("/", "-").replace(".", "-").replace("年", "-").replace("月", "-").replace("日", "")
    parts = text.split()[0].split("-") if text.split() else []
    if len(parts) != 3:
        raise ValueError(raw)
    return date(int(parts[0]), int(parts[1]), int(parts[2]))


def check_rows(table: list[list[Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """(clean rows, problems [{row, field, problem}], data rows). Rows are numbered as in the file."""
    problems: list[dict[str, Any]] = []
    if not table or not any(_cell(c) for c in table[0]):
        return (
            [],
            [{"row": 1, "field": "file", "problem": gettext("The first row must hold the column names.")}],
            0,
        )
    header = [_norm(h) for h in table[0]]
    columns: dict[str, int] = {}
    for field, names in HEADERS.items():
        accepted = {_norm(n) for n in names}
        for i, h in enumerate(header):
            if h in accepted:
                columns[field] = i
                break
    missing = [f for f in REQUIRED if f not in columns]
    if missing:
        return (
            [],
            [
                {
                    "row": 1,
                    "field": f,
                    "problem": gettext("Column “%(column)s” is missing.") % {"column": HEADERS[f][1]},
                }
                for f in missing
            ],
            max(0, len(table) - 1),
        )
    clean: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    data_rows = 0
    kind_words = {**KIND_WORDS, **{k: k for k in KIND_LABELS}}
    kind_words.update({gettext(v).lower(): k for k, v in KIND_LABELS.items()})
    for number, raw in enumerate(table[1:], start=2):
        cells = {f: _cell(raw[i]) if i < len(raw) else "" for f, i in columns.items()}
        if not any(cells.values()):
            continue  # a blank line
        data_rows += 1
        row_problems: list[tuple[str, str]] = []
        name = cells["name"]
        if not name:
            row_problems.append(("name", gettext("The name is empty.")))
        elif len(name) > 200:
            row_problems.append(("name", gettext("The name is longer than 200 characters.")))
        kind = kind_words.get(cells["kind"]) or kind_words.get(cells["kind"].lower())
        if not kind:
            row_problems.append(
                (
                    "kind",
                    gettext("Unknown kind “%(value)s”: use one of %(kinds)s.")
                    % {
                        "value": cells["kind"],
                        "kinds": "科技馆、博物馆、科普教育基地、实验室、科学家精神教育基地、社区科普点",
                    },
                )
            )
        district = cells["district"]
        if district and district not in DISTRICT_LABELS and district + "区" in DISTRICT_LABELS:
            district += "区"
        if district not in DISTRICT_LABELS:
            row_problems.append(
                (
                    "district",
                    gettext("Unknown district “%(value)s”: use one of Xiamen's six districts, e.g. 思明区.")
                    % {"value": district},
                )
            )
        level = cells.get("level", "")
        level_code = LEVEL_WORDS.get(level) or (level if level in LEVEL_WORDS.values() else None)
        if level and not level_code:
            row_problems.append(
                ("level", gettext("Unknown level “%(value)s”: use 国家级, 省级 or 市级.") % {"value": level})
            )
        dates: dict[str, date | None] = {}
        for field in ("accredited_on", "valid_until"):
            try:
                dates[field] = _parse_date(cells.get(field, ""))
            except (ValueError, OverflowError):  # a year of 20 digits overflows date()
                dates[field] = None
                row_problems.append(
                    (field, gettext("“%(value)s” is not a date like 2024-05-20.") % {"value": cells[field]})
                )
        start, end = dates.get("accredited_on"), dates.get("valid_until")
        if start is not None and end is not None and end < start:
            row_problems.append(
                ("valid_until", gettext("The end of validity is before the accreditation date."))
            )
        phone = cells.get("contact_phone", "")
        if phone and not all(ch.isdigit() or ch in "-+ ()" for ch in phone):
            row_problems.append(
                ("contact_phone", gettext("“%(value)s” is not a phone number.") % {"value": phone})
            )
        for field, limit in (("address", 200), ("batch", 100), ("contact_name", 100), ("contact_phone", 32)):
            if len(cells.get(field, "")) > limit:
                row_problems.append((field, gettext("Longer than %(limit)s characters.") % {"limit": limit}))
        key = (name, district)
        if name and key in seen:
            row_problems.append(
                (
                    "name",
                    gettext("The same base (name and district) is already in row %(row)s.")
                    % {"row": seen[key]},
                )
            )
        elif name:
            seen[key] = number
        if row_problems:
            problems.extend({"row": number, "field": f, "problem": p} for f, p in row_problems)
            continue
        clean.append(
            {
                "row": number,
                "name": name,
                "kind": kind,
                "district": district,
                "address": cells.get("address", ""),
                "level": level_code or "municipal",
                "batch": cells.get("batch", ""),
                "accredited_on": dates["accredited_on"].isoformat() if dates.get("accredited_on") else None,  # type: ignore[union-attr]
                "valid_until": dates["valid_until"].isoformat() if dates.get("valid_until") else None,  # type: ignore[union-attr]
                "contact_name": cells.get("contact_name", ""),
                "contact_phone": phone,
            }
        )
    if data_rows == 0:
        problems.append({"row": 2, "field": "file", "problem": gettext("The file has no data rows.")})
    return clean, problems, data_rows


async def check_file(actor: UserView, filename: str, data: bytes) -> int:
    """Read and check the whole file; keep the outcome as an import job. Returns the job id."""
    if not actor.is_auditor:
        raise Forbidden("role")
    table = read_table(filename, data)
    clean, problems, total = check_rows(table)
    now = clock.now()
    rows = await ImportJob.insert(
        ImportJob(
            filename=filename[:200],
            state="checked",
            rows=json.dumps(clean, ensure_ascii=False),
            problems=json.dumps(problems, ensure_ascii=False),
            total_rows=total,
            created_by=actor.id,
            created_at=now,
            updated_at=now,
        )
    ).returning(ImportJob.id)
    return int(rows[0]["id"])


async def get_job(job_id: int) -> dict[str, Any]:
    job = await ImportJob.select().where(ImportJob.id == job_id).first()
    if job is None:
        raise ImportError_("job")
    return {**job, "rows": json.loads(job["rows"]), "problems": json.loads(job["problems"])}


async def start(actor: UserView, job_id: int, *, clean_only: bool) -> None:
    if not actor.is_auditor:
        raise Forbidden("role")
    async with write_transaction():
        job = await get_job(job_id)
        if job["state"] != "checked":
            return  # already started: starting again changes nothing
        if job["problems"] and not clean_only:
            raise ImportError_("not_clean")
        if not job["rows"]:
            raise ImportError_("nothing")
        await ImportJob.update({ImportJob.state: "importing", ImportJob.updated_at: clock.now()}).where(
            ImportJob.id == job_id
        )
        await auditlog.record(
            actor,
            "base_import.start",
            "import_job",
            job_id,
            after={
                "filename": job["filename"],
                "rows": len(job["rows"]),
                "rows_with_problems": len({p.get("row") for p in job["problems"]}),
            },
        )


async def step(actor: UserView, job_id: int) -> dict[str, Any]:
    """Import the next chunk of clean rows; returns the job's progress."""
    if not actor.is_auditor:
        raise Forbidden("role")
    now = clock.now()
    async with write_transaction():
        job = await get_job(job_id)
        if job["state"] == "importing":
            done = job["processed"]
            chunk = job["rows"][done : done + CHUNK]
            counts = {"created": 0, "updated": 0, "unchanged": 0}
            for row in chunk:
                counts[await _apply(actor, row, now)] += 1
            processed = done + len(chunk)
            state = "done" if processed >= len(job["rows"]) else "importing"
            await ImportJob.update(
                {
                    ImportJob.processed: processed,
                    ImportJob.created: ImportJob.created + counts["created"],
                    ImportJob.updated: ImportJob.updated + counts["updated"],
                    ImportJob.unchanged: ImportJob.unchanged + counts["unchanged"],
                    ImportJob.state: state,
                    ImportJob.updated_at: now,
                }
            ).where(ImportJob.id == job_id)
            job = await get_job(job_id)
    return progress(job)


def progress(job: dict[str, Any]) -> dict[str, Any]:
    total = len(job["rows"])
    return {
        "state": job["state"],
        "processed": job["processed"],
        "total": total,
        "percent": int(100 * job["processed"] / total) if total else 100,
        "created": job["created"],
        "updated": job["updated"],
        "unchanged": job["unchanged"],
    }


async def _apply(actor: UserView, row: dict[str, Any], now: datetime) -> str:
    venue = (
        await Venue.select(Venue.id, Venue.kind, Venue.address)
        .where((Venue.name == row["name"]) & (Venue.district == row["district"]))
        .first()
    )
    acc_values = {
        "level": row["level"],
        "batch": row["batch"],
        "accredited_on": _parse_date(row["accredited_on"] or ""),
        "valid_until": _parse_date(row["valid_until"] or ""),
        "contact_name": row["contact_name"],
        "contact_phone": row["contact_phone"],
    }
    if venue is None:
        ids = await Venue.insert(
            Venue(
                name=row["name"],
                kind=row["kind"],
                district=row["district"],
                address=row["address"],
                contact_phone=row["contact_phone"],
                created_at=now,
            )
        ).returning(Venue.id)
        venue_id = ids[0]["id"]
        await Accreditation.insert(
            Accreditation(venue=venue_id, status="active", created_at=now, updated_at=now, **acc_values)
        )
        made = {f: row[f] for f in ("name", "kind", "district", "address")} | acc_values
        await auditlog.record(actor, "base_import.row", "venue", venue_id, after=made, venue_id=venue_id)
        await StatusChange.insert(
            StatusChange(
                venue=venue_id,
                from_status="",
                to_status="active",
                reason="批量导入 / imported from a file",
                changed_by=actor.id,
                changed_at=now,
            )
        )
        return "created"
    changed = False
    before: dict[str, Any] = {"kind": venue["kind"], "address": venue["address"]}
    after: dict[str, Any] = {"kind": row["kind"], "address": row["address"]}
    if (venue["kind"], venue["address"]) != (row["kind"], row["address"]):
        await Venue.update({Venue.kind: row["kind"], Venue.address: row["address"]}).where(
            Venue.id == venue["id"]
        )
        changed = True
    acc = await Accreditation.select().where(Accreditation.venue == venue["id"]).first()
    if acc is None:
        await Accreditation.insert(
            Accreditation(venue=venue["id"], status="active", created_at=now, updated_at=now, **acc_values)
        )
        await StatusChange.insert(
            StatusChange(
                venue=venue["id"],
                from_status="",
                to_status="active",
                reason="批量导入 / imported from a file",
                changed_by=actor.id,
                changed_at=now,
            )
        )
        await auditlog.record(
            actor, "base_import.row", "venue", venue["id"], before, after | acc_values, venue_id=venue["id"]
        )
        return "updated"
    current = {
        k: (_parse_date(str(acc[k])[:10]) if k in ("accredited_on", "valid_until") and acc[k] else acc[k])
        for k in acc_values
    }
    if current != acc_values:
        await Accreditation.update(
            {**{getattr(Accreditation, k): v for k, v in acc_values.items()}, Accreditation.updated_at: now}
        ).where(Accreditation.id == acc["id"])
        changed = True
    if changed:
        await auditlog.record(
            actor,
            "base_import.row",
            "venue",
            venue["id"],
            before | current,
            after | acc_values,
            venue_id=venue["id"],
        )
    return "updated" if changed else "unchanged"
