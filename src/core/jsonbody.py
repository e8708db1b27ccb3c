"""Strict JSON request bodies for the API: a value of the wrong type is refused, never converted."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import ValidationException

from core.i18n import gettext

_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


async def strict_json_body(request: Request[Any, Any, Any]) -> None:
    """A `before_request` hook for API controllers whose handlers take `data`.

    Litestar converts request data leniently ("5" becomes 5), which forms and query strings need;
    api.md makes a wrong type in a JSON body a 4xx, so the body is first decoded strictly into the
    handler's own type. Malformed JSON and empty bodies are left to Litestar, which reports them.
    """
    field = request.route_handler.parsed_data_field
    if field is None or request.content_type[0] in _FORMS:
        return
    try:
        msgspec.json.decode(await request.body(), type=field.annotation)
    except msgspec.ValidationError as exc:
        message, _, where = str(exc).partition(" - at `$.")
        problem = {"message": message, "key": where.rstrip("`")} if where else {"message": message}
        raise ValidationException(detail=gettext("The request is not valid."), extra=[problem]) from None
    except msgspec.DecodeError:
        return
