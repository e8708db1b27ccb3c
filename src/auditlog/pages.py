"""The auditors' audit log pages: the newest actions first with filters and paging, one action's before
and after side by side, and the same list as CSV."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any, ClassVar
from urllib.parse import urlencode

from litestar import Response, get
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from auditlog import services
from auditlog.labels import ACTIONS, FIELD_LABELS, OBJECT_TYPES, ROLES
from core.db import valid_id
from core.errors import DomainError
from core.guards import requires_role
from core.i18n import N_, gettext
from core.sql import Statement
from core.web import attachment

AUDITOR = [requires_role("auditor")]
_VENUES = Statement("SELECT id, name FROM venues_venue ORDER BY name, id")


class AuditLogError(DomainError):
    messages: ClassVar[dict[str, tuple[int, str]]] = {
        "no_entry": (404, N_("There is no such entry in the audit log.")),
        "dates": (400, N_("The start date must not be after the end date.")),
    }


def _label(mapping: dict[str, str]) -> Any:
    def translate(key: str | None) -> str:
        return gettext(mapping[key]) if key in mapping else (key or "")

    return translate


def _field_label(name: str) -> str:
    """A field's label; other fields show their name (weekdays of opening hours are message ids)."""
    return gettext(FIELD_LABELS.get(name, name))


def _value(value: Any) -> str:
    """A before/after value as a person reads it."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _helpers() -> dict[str, Any]:
    return {
        "action_label": _label(ACTIONS),
        "type_label": _label(OBJECT_TYPES),
        "role_label": _label(ROLES),
        "field_label": _field_label,
        "show_value": _value,
        "ACTIONS": ACTIONS,
        "OBJECT_TYPES": OBJECT_TYPES,
    }


async def _venue_names() -> dict[int, str]:
    return {int(r["id"]): str(r["name"]) for r in await _VENUES.fetch()}


def _filters(
    who: int | None,
    action: str | None,
    kind: str | None,
    venue: int | None,
    since: date | None,
    until: date | None,
) -> services.Filters:
    if since is not None and until is not None and since > until:
        raise AuditLogError("dates")
    return services.Filters(
        actor_id=who if who is not None and valid_id(who) else None,
        action=action if action in ACTIONS else None,
        object_type=kind if kind in OBJECT_TYPES else None,
        venue_id=venue if venue is not None and valid_id(venue) else None,
        since=since,
        until=until,
    )


Who = Annotated[int | None, QueryParameter(name="who", ge=0)]
Action = Annotated[str | None, QueryParameter(name="action", max_length=64)]
Kind = Annotated[str | None, QueryParameter(name="type", max_length=32)]
VenueId = Annotated[int | None, QueryParameter(name="venue", ge=0)]
Since = Annotated[date | None, QueryParameter(name="from")]
Until = Annotated[date | None, QueryParameter(name="to")]


def _query(filters: services.Filters) -> str:
    """The filters as a query string, for the paging and CSV links."""
    pairs = {
        "who": filters.actor_id,
        "action": filters.action,
        "type": filters.object_type,
        "venue": filters.venue_id,
        "from": filters.since.isoformat() if filters.since else None,
        "to": filters.until.isoformat() if filters.until else None,
    }
    return urlencode({k: v for k, v in pairs.items() if v is not None})


@get("/audit/log", guards=AUDITOR, include_in_schema=False)
async def log_page(
    who: Who = None,
    action: Action = None,
    kind: Kind = None,
    venue: VenueId = None,
    since: Since = None,
    until: Until = None,
    page: Annotated[int, QueryParameter(name="page", ge=1, le=100_000)] = 1,
) -> Template:
    filters = _filters(who, action, kind, venue, since, until)
    entries, more = await services.list_entries(filters, page=page)
    return Template(
        "auditlog/log.html",
        context={
            "entries": entries,
            "more": more,
            "page": page,
            "filters": filters,
            "query": _query(filters),
            "actors": await services.actors(),
            "venues": await _venue_names(),
            **_helpers(),
        },
    )


@get("/audit/log/{entry_id:int}", guards=AUDITOR, include_in_schema=False)
async def entry_page(entry_id: FromPath[int]) -> Template:
    entry = await services.get_entry(entry_id)
    if entry is None:
        raise AuditLogError("no_entry")
    venues = await _venue_names()
    return Template(
        "auditlog/detail.html",
        context={"e": entry, "venue_name": venues.get(entry.venue_id or 0, ""), **_helpers()},
    )


@get("/audit/log.csv", guards=AUDITOR, include_in_schema=False)
async def log_csv(
    who: Who = None,
    action: Action = None,
    kind: Kind = None,
    venue: VenueId = None,
    since: Since = None,
    until: Until = None,
) -> Response[bytes]:
    filters = _filters(who, action, kind, venue, since, until)
    entries = await services.all_entries(filters)
    body = services.csv_bytes(entries, _label(ACTIONS), _label(OBJECT_TYPES), await _venue_names())
    return attachment(body, "text/csv; charset=utf-8", "kepu-audit-log.csv", no_store=True)


AUDITLOG_PAGES = [log_page, entry_page, log_csv]
