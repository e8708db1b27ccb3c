"""Small helpers shared by page handlers: flash messages, the signed-in user, form data."""

from __future__ import annotations

from typing import Any

from litestar import Request

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


def current_user(request: Request[Any, Any, Any]) -> Any:
    return request.scope.get("user")


async def form_data(request: Request[Any, Any, Any]) -> dict[str, Any]:
    form = await request.form()
    return {k: form.get(k) for k in form}
