"""Route guards: signed in, and of a role. Objects of others are hidden by the services (404), not here."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from core.i18n import gettext


def _user(connection: ASGIConnection[Any, Any, Any, Any]) -> Any:
    user = connection.scope.get("user")
    if user is None:
        raise NotAuthorizedException(detail=gettext("Sign in first: this needs a valid access token."))
    return user


# Guards are coroutines: Litestar runs a plain-function guard in a worker thread, which cost more CPU
# than the whole check-in it guarded (py-spy on the door benchmark).


async def requires_sign_in(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    _user(connection)


def requires_role(*roles: str) -> Guard:
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if _user(connection).role not in roles:
            raise PermissionDeniedException(detail=gettext("Your account may not do this."))

    return guard
