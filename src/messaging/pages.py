"""Messaging pages: the outbox for auditors, and a teacher's calendar subscription."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from accounts.schemas import UserView
from core.guards import requires_role
from core.i18n import N_, gettext
from core.web import flash
from messaging import feeds
from messaging.tables import OUTBOX_STATES, Outbox

PAGE_SIZE = 100
STATE_LABELS = {"pending": N_("Waiting to be sent"), "sent": N_("Sent"), "failed": N_("Failed")}


@get("/audit/outbox", guards=[requires_role("auditor")], include_in_schema=False)
async def outbox_page(request: Request[Any, Any, Any]) -> Template:
    state = request.query_params.get("state") or ""
    if state not in OUTBOX_STATES:
        state = ""
    try:
        page = max(1, min(int(request.query_params.get("page") or 1), 10_000))
    except ValueError:
        page = 1
    query = Outbox.select(
        Outbox.id,
        Outbox.kind,
        Outbox.recipient,
        Outbox.subject,
        Outbox.masked_body,  # never the body: it may hold secrets such as reset links
        Outbox.attachment_name,
        Outbox.state,
        Outbox.attempts,
        Outbox.last_error,
        Outbox.next_attempt_at,
        Outbox.created_at,
        Outbox.sent_at,
    ).order_by(Outbox.id, ascending=False)
    count = Outbox.count()
    if state:
        query = query.where(Outbox.state == state)
        count = count.where(Outbox.state == state)
    total = await count
    messages = await query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    counts = {s: await Outbox.count().where(Outbox.state == s) for s in OUTBOX_STATES}
    return Template(
        "messaging/outbox.html",
        context={
            "messages": messages,
            "state": state,
            "states": OUTBOX_STATES,
            "counts": counts,
            "state_labels": {s: gettext(label) for s, label in STATE_LABELS.items()},
            "page": page,
            "pages": max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE),
        },
    )


def _feed_url(request: Request[Any, Any, Any], secret: str) -> str:
    base = request.app.state.settings.base_url or str(request.base_url).rstrip("/")
    return f"{base}/calendar/{secret}.ics"


async def _calendar_page(actor: UserView, request: Request[Any, Any, Any], secret: str = "") -> Template:
    url = _feed_url(request, secret) if secret else ""
    return Template(
        "messaging/calendar.html",
        context={
            "feed": await feeds.current(actor.id),
            "url": url,
            "webcal": "webcal://" + url.split("://", 1)[1] if url else "",
        },
        # The page that shows a new address once must not be kept by a browser or proxy.
        headers={"Cache-Control": "no-store"} if secret else None,
    )


@get("/account/calendar", guards=[requires_role("teacher")], include_in_schema=False)
async def calendar_page(actor: NamedDependency[UserView], request: Request[Any, Any, Any]) -> Template:
    return await _calendar_page(actor, request)


@post("/account/calendar", guards=[requires_role("teacher")], include_in_schema=False)
async def calendar_create(actor: NamedDependency[UserView], request: Request[Any, Any, Any]) -> Template:
    # Shown here, once, rather than after a redirect: kepu keeps only a fingerprint of the secret.
    return await _calendar_page(actor, request, await feeds.create(actor.id))


@post("/account/calendar/revoke", guards=[requires_role("teacher")], include_in_schema=False)
async def calendar_revoke(actor: NamedDependency[UserView], request: Request[Any, Any, Any]) -> Redirect:
    if await feeds.revoke(actor.id):
        flash(
            request, gettext("The calendar address is switched off; calendars using it get no more updates.")
        )
    return Redirect("/account/calendar", status_code=303)


@get("/calendar/{name:str}", include_in_schema=False)
async def calendar_feed(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[bytes]:
    """The subscription itself: no sign-in, the secret in the address is the key."""
    secret = name.removesuffix(".ics") if name.endswith(".ics") else ""
    data = await feeds.feed_for(secret, request.app.state.settings.base_url) if secret else None
    if data is None:
        raise NotFoundException(detail=gettext("No calendar at this address: it may have been switched off."))
    return Response(
        data,
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, no-cache", "X-Robots-Tag": "noindex"},
    )


PAGES = [outbox_page, calendar_page, calendar_create, calendar_revoke, calendar_feed]
