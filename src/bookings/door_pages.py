"""The door scanner page for venue staff (/staff/scan) and the JSON endpoint it talks to.

The page posts with the session cookie and the CSRF header; the answer is the same outcome JSON
as POST /api/v1/checkins, with its HTTP status.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
from litestar import MediaType, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.response import Template

from accounts.schemas import UserView
from bookings import checkin, door
from bookings.schemas import CheckInOutcome
from core.errors import Forbidden
from core.guards import requires_role
from core.i18n import gettext
from venues import services as venues

# Nothing inline, nothing from elsewhere; 'wasm-unsafe-eval' lets the ZXing decoder compile its wasm.
SCAN_CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; worker-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SCAN_HEADERS = {
    "Content-Security-Policy": SCAN_CSP,
    "Permissions-Policy": "camera=(self)",
    "Cache-Control": "no-store",
}


def _venue_of(actor: UserView) -> int:
    if actor.venue_id is None:
        raise Forbidden("role")
    return actor.venue_id


def _bad_request(exc: Exception) -> Response[Any]:
    body = {
        "status_code": 400,
        "detail": gettext("The request is not valid."),
        "extra": [{"message": str(exc)}],
    }
    return Response(body, status_code=400, media_type=MediaType.JSON)


@get("/staff/scan", guards=[requires_role("staff")], include_in_schema=False)
async def scan_page(actor: NamedDependency[UserView]) -> Template:
    venue = await venues.get_venue(_venue_of(actor))
    # The same sentences the server gives, for the verdicts the page reaches on its own when offline.
    results = {code: gettext(message) for code, (_status, message) in checkin.RESULTS.items()}
    return Template("bookings/scan.html", context={"venue": venue, "results": results}, headers=SCAN_HEADERS)


@post("/staff/scan/check", guards=[requires_role("staff")], include_in_schema=False)
async def scan_check(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView]
) -> Response[CheckInOutcome | dict[str, Any]]:
    _venue_of(actor)
    try:
        form = door.decode_scan(await request.body())
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        return _bad_request(exc)
    outcome = await door.scan(actor, form)
    return Response(outcome, status_code=outcome.status_code, media_type=MediaType.JSON)


@get("/staff/scan/bundle", guards=[requires_role("staff")], include_in_schema=False)
async def scan_bundle(actor: NamedDependency[UserView]) -> Response[door.Bundle]:
    return Response(
        await door.bundle(actor), media_type=MediaType.JSON, headers={"Cache-Control": "no-store"}
    )


@post("/staff/scan/upload", guards=[requires_role("staff")], include_in_schema=False)
async def scan_upload(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView]
) -> Response[dict[str, Any]]:
    _venue_of(actor)
    try:
        items = door.decode_upload(await request.body())
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        return _bad_request(exc)
    results = await door.upload(actor, items)
    return Response({"results": results}, status_code=200, media_type=MediaType.JSON)


@get("/staff/sw.js", include_in_schema=False, sync_to_thread=False)
def service_worker(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The scan page's service worker, served from /staff/ so that its scope can cover /staff/scan."""
    assets: Path = request.app.state.settings.assets_dir
    return Response(
        (assets / "js" / "scan-sw.js").read_bytes(),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "no-cache"},
    )


DOOR_PAGES = [scan_page, scan_check, scan_bundle, scan_upload, service_worker]
