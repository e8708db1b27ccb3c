"""Small helpers shared by page handlers: flash messages, the signed-in user, form data."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response

FLASH_KEY = "_flash"


def flash(request: Request[Any, Any, Any], message: str, category: str = "success") -> None:
    """A one-time message shown on the next page (kept in the server-side session)."""
    messages = list(request.session.get(FLASH_KEY, [])) if request.scope.get("session") is not None else []
    messages.append({"message": message, "category": category})
    request.set_session({**request.session, FLASH_KEY: messages})


def pop_flashes(request: Request[Any, Any, Any]) -> list[dict[str, str]]:
    session = request.scope.get("session")
    if not isinstance(session, dict) or not session.get(FLASH_KEY):
        return []
    messages: list[dict[str, str]] = session.pop(FLASH_KEY)
    request.set_session(dict(session))
    return messages


async def form_data(request: Request[Any, Any, Any]) -> dict[str, Any]:
    form = await request.form()
    return {k: form.get(k) for k in form}


def attachment(body: bytes, media_type: str, filename: str, *, no_store: bool = False) -> Response[bytes]:
    """A file to download (pass calendar, CSV exports), the same for pages and the API."""
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if no_store:
        headers["Cache-Control"] = "private, no-store"
    return Response(body, media_type=media_type, headers=headers)
