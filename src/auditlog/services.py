"""Writing the audit log inside the caller's transaction, and reading it back for the auditors' page."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

import msgspec
from litestar.types import Scope

from auditlog.labels import ACTIONS, OBJECT_TYPES
from auditlog.tables import AdminAction
from core import clock
from core.db import valid_id, write_transaction
from core.sql import Statement

# Field names whose values never reach the log (password hashes, tokens, keys, signatures).
SECRET_FIELD = re.compile(r"password|passwd|token|secret|private|hash|signature|api_key|nonce", re.IGNORECASE)
PAGE_SIZE = 50
MAX_CSV_ROWS = 100_000


# The running request's ASGI scope, set by auditlog.context.RequestContextMiddleware when the app
# installs it; None otherwise. Read only when an action is logged, so other requests pay nothing.
request_scope: ContextVar[Scope | None] = ContextVar("kepu_audit_request", default=None)


def _request_info() -> tuple[str | None, str | None]:
    """The client host (uvicorn has already applied X-Forwarded-For from a trusted proxy) and the
    User-Agent header of the running request, if any."""
    scope = request_scope.get()
    if scope is None:
        return None, None
    client = scope.get("client")
    user_agent = next(
        (v.decode("latin-1") for k, v in scope.get("headers") or () if k == b"user-agent"), None
    )
    return (client[0] if client else None), user_agent


@dataclass(frozen=True)
class SystemActor:
    """Someone acting outside the web app: the operator at the console (`kepu user add`) or a job."""

    display_name: str
    role: str
    id: int | None = None
    username: str = ""


CONSOLE = SystemActor(display_name="console", role="console")


def _actor_snapshot(actor: Any) -> tuple[int | None, str, str]:
    if actor is None:
        return None, "", "system"
    actor_id = getattr(actor, "id", None)
    name = str(getattr(actor, "display_name", "") or "")
    username = str(getattr(actor, "username", "") or "")
    if username and username != name:
        name = f"{name} ({username})" if name else username
    role = str(getattr(actor, "role", "") or "")
    venue_role = getattr(actor, "venue_role", None)
    if role == "staff" and venue_role:
        role = f"staff/{venue_role}"
    return (int(actor_id) if actor_id is not None else None), name[:150], role[:32]


def json_safe(value: Any) -> Any:
    """A value as JSON holds it: instants as Asia/Shanghai ISO text, dates ISO; secrets and bytes left out."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return clock.local(value).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return json_safe(value.value)
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(bytes(value))} bytes>"
    if isinstance(value, msgspec.Struct):
        return json_safe({f: getattr(value, f) for f in value.__struct_fields__})
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return json_safe({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items() if not SECRET_FIELD.search(str(k))}
    if isinstance(value, list | tuple | set | frozenset):
        items = [json_safe(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    return str(value)


def fields(value: Any) -> dict[str, Any]:
    """A dict, Struct or row as a JSON-safe dict without secrets (for before/after)."""
    if value is None:
        return {}
    safe = json_safe(value)
    return safe if isinstance(safe, dict) else {"value": safe}


def changes(before: Any, after: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that differ, each side with the same keys (None where a side lacks it)."""
    b, a = fields(before), fields(after)
    keys = [k for k in dict.fromkeys([*b, *a]) if b.get(k) != a.get(k)]
    return {k: b.get(k) for k in keys}, {k: a.get(k) for k in keys}


_INSERT = Statement(
    "INSERT INTO auditlog_action (actor_id, actor_name, actor_role, action, object_type, object_id,"
    " venue_id, before, after, reason, ip, user_agent, created_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id"
)


def _dump(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


async def record(
    actor: Any,
    action: str,
    obj_type: str,
    obj_id: Any,
    before: Any = None,
    after: Any = None,
    venue_id: int | None = None,
    reason: str | None = None,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
) -> int | None:
    """Log one administrative action in the caller's write transaction, so both commit or neither does.

    With both `before` and `after`, only the changed fields are kept, and an edit that changed nothing
    is not logged (returns None). Either side alone (a creation, a removal) is kept whole. Secrets
    (password hashes, tokens, keys) never reach the log. Returns the entry's id.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}: add it to auditlog.labels.ACTIONS")
    if obj_type not in OBJECT_TYPES:
        raise ValueError(f"unknown audit object type {obj_type!r}: add it to auditlog.labels.OBJECT_TYPES")
    if before is not None and after is not None:
        b, a = changes(before, after)
        if not b and not a and not reason:
            return None
        before_json, after_json = _dump(b), _dump(a)
    else:
        before_json = None if before is None else _dump(fields(before))
        after_json = None if after is None else _dump(fields(after))
    actor_id, actor_name, actor_role = _actor_snapshot(actor)
    if not (ip and user_agent):
        request_ip, request_agent = _request_info()
        ip = ip or request_ip
        user_agent = user_agent or request_agent
    object_id = json_safe(obj_id)
    async with write_transaction():  # joins the caller's transaction; opens one when there is none
        row = await _INSERT.fetchrow(
            actor_id,
            actor_name,
            actor_role,
            action,
            obj_type,
            "" if object_id is None else str(object_id)[:64],
            venue_id,
            before_json,
            after_json,
            (reason or None),
            (ip or None) and ip[:64],
            (user_agent or None) and user_agent[:300],
            clock.now(),
        )
    assert row is not None
    return int(row["id"])


# Reading ---------------------------------------------------------------------------------------------


class EntryView(msgspec.Struct):
    id: int
    created_at: datetime
    actor_id: int | None
    actor_name: str
    actor_role: str
    action: str
    object_type: str
    object_id: str
    venue_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None
    ip: str | None
    user_agent: str | None

    @property
    def field_names(self) -> list[str]:
        """The fields either side names, in a stable order, for the side-by-side view."""
        return list(dict.fromkeys([*(self.before or {}), *(self.after or {})]))


class Filters(msgspec.Struct, frozen=True):
    actor_id: int | None = None
    action: str | None = None
    object_type: str | None = None
    venue_id: int | None = None
    since: date | None = None
    until: date | None = None  # inclusive


def _loads(text: Any) -> dict[str, Any] | None:
    if text is None:
        return None
    value = json.loads(text)
    return value if isinstance(value, dict) else {"value": value}


def _entry(row: dict[str, Any]) -> EntryView:
    created = row["created_at"]
    if isinstance(created, str):
        created = datetime.fromisoformat(created)
    return EntryView(
        id=row["id"],
        created_at=clock.local(created),
        actor_id=row["actor_id"],
        actor_name=row["actor_name"],
        actor_role=row["actor_role"],
        action=row["action"],
        object_type=row["object_type"],
        object_id=row["object_id"],
        venue_id=row["venue_id"],
        before=_loads(row["before"]),
        after=_loads(row["after"]),
        reason=row["reason"],
        ip=row["ip"],
        user_agent=row["user_agent"],
    )


COLUMNS = (
    "id, created_at, actor_id, actor_name, actor_role, action, object_type, object_id, venue_id,"
    " before, after, reason, ip, user_agent"
)


def _where(filters: Filters) -> tuple[str, list[Any]]:
    """The WHERE clause for the filters, with PostgreSQL-style numbered placeholders."""
    parts: list[str] = []
    args: list[Any] = []

    def add(sql: str, value: Any) -> None:
        args.append(value)
        parts.append(sql.replace("?", f"${len(args)}"))

    if filters.actor_id is not None:
        add("actor_id = ?", filters.actor_id)
    if filters.action:
        add("action = ?", filters.action)
    if filters.object_type:
        add("object_type = ?", filters.object_type)
    if filters.venue_id is not None:
        add("venue_id = ?", filters.venue_id)
    if filters.since is not None:
        add("created_at >= ?", clock.day_bounds(filters.since)[0])
    if filters.until is not None:
        add("created_at < ?", clock.day_bounds(filters.until)[1])
    return (" WHERE " + " AND ".join(parts)) if parts else "", args


async def _run(sql: str, args: list[Any]) -> list[dict[str, Any]]:
    # Built per filter combination (a handful), so not kept as module-level Statements.
    return await Statement(sql).fetch(*args)


async def list_entries(
    filters: Filters, *, page: int = 1, size: int = PAGE_SIZE
) -> tuple[list[EntryView], bool]:
    """One page of entries, newest first, and whether there is a next page."""
    where, args = _where(filters)
    page = max(page, 1)
    n = len(args)
    sql = (
        f"SELECT {COLUMNS} FROM auditlog_action{where} ORDER BY created_at DESC, id DESC"
        f" LIMIT ${n + 1} OFFSET ${n + 2}"
    )
    rows = await _run(sql, [*args, size + 1, (page - 1) * size])
    return [_entry(r) for r in rows[:size]], len(rows) > size


async def get_entry(entry_id: int) -> EntryView | None:
    if not valid_id(entry_id):
        return None
    rows = await _run(f"SELECT {COLUMNS} FROM auditlog_action WHERE id = $1", [entry_id])
    return _entry(rows[0]) if rows else None


async def actors() -> list[dict[str, Any]]:
    """Everyone who appears in the log, for the actor filter (latest name per id)."""
    rows = await _run(
        "SELECT actor_id, MAX(id) AS last FROM auditlog_action WHERE actor_id IS NOT NULL GROUP BY actor_id",
        [],
    )
    if not rows:
        return []
    last = [int(r["last"]) for r in rows]
    marks = ", ".join(f"${i + 1}" for i in range(len(last)))
    named = await _run(f"SELECT actor_id, actor_name FROM auditlog_action WHERE id IN ({marks})", last)
    return sorted(({"id": r["actor_id"], "name": r["actor_name"]} for r in named), key=lambda a: a["name"])


def csv_bytes(
    entries: list[EntryView], action_label: Any, type_label: Any, venue_names: dict[int, str]
) -> bytes:
    """The entries as CSV in UTF-8 with a byte-order mark (so spreadsheet programs read the Chinese)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["id", "time", "actor_id", "actor", "role", "action", "action_label", "object_type", "object_label",
         "object_id", "venue_id", "venue", "before", "after", "reason", "ip", "user_agent"]
    )  # fmt: skip
    for e in entries:
        writer.writerow(
            [
                e.id,
                e.created_at.isoformat(),
                "" if e.actor_id is None else e.actor_id,
                e.actor_name,
                e.actor_role,
                e.action,
                action_label(e.action),
                e.object_type,
                type_label(e.object_type),
                e.object_id,
                "" if e.venue_id is None else e.venue_id,
                venue_names.get(e.venue_id, "") if e.venue_id is not None else "",
                _dump(e.before) or "",
                _dump(e.after) or "",
                e.reason or "",
                e.ip or "",
                e.user_agent or "",
            ]
        )
    return out.getvalue().encode("utf-8-sig")


async def all_entries(filters: Filters) -> list[EntryView]:
    entries, _ = await list_entries(filters, page=1, size=MAX_CSV_ROWS)
    return entries


__all__ = ["CONSOLE", "AdminAction", "Filters", "SystemActor", "record"]
