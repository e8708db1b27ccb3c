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


async def _authorize_connection(
    self: BaseRouteHandler, connection: ASGIConnection[Any, Any, Any, Any]
) -> None:
    """Litestar's BaseRouteHandler.authorize_connection without its `copy(self)` per guard.

    Litestar hands every guard a shallow copy of the route handler, so that a guard cannot change
    it; copying a handler object took about 0.05 ms each time, two guards on most API routes: a tenth
    of a door scan's CPU. kepu's guards (above) never look at the handler.
    """
    for guard in self.resolve_guards():
        await guard(connection, self)  # type: ignore[misc]  # resolve_guards() made each one async


def run_guards_without_copies() -> None:
    """Install _authorize_connection on Litestar's route handlers (kepu.app, before building the app)."""
    BaseRouteHandler.authorize_connection = _authorize_connection  # type: ignore[method-assign]
