"""Server-side page sessions with a new id at sign-in, so an id planted before sign-in is useless,
and an absolute lifetime: a session signed in longer ago than `absolute_max_age` ends even if it is
used all the time (the idle timeout is the store entry's expiry, renewed on each request)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.types import Message, ScopeSession

from core import clock

ROTATE_KEY = "kepu.rotate_session"
_NEW_ID_KEY = "kepu.new_session_id"
# Put into the session data at sign-in (POSIX seconds); checked against absolute_max_age.
SIGNED_IN_AT_KEY = "signed_in_at"
# When the stored session was last renewed (POSIX seconds). A request that changes nothing in a session
# renewed less than TOUCH_EVERY seconds ago writes nothing: reading a page is not a database write.
# The idle timeout therefore counts from at most TOUCH_EVERY seconds before the last request.
TOUCHED_KEY = "touched"
TOUCH_EVERY = 60
_LOADED_KEY = "kepu.session_loaded"


def rotate_session_id(scope: Any) -> None:
    """Ask for a fresh session id when this response stores the session (called at sign-in)."""
    scope[ROTATE_KEY] = True


class RotatingSessionBackend(ServerSideSessionBackend):
    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        if connection.scope.get(ROTATE_KEY):
            new_id = connection.scope.get(_NEW_ID_KEY)
            if not new_id:
                new_id = self.generate_session_id()
                connection.scope[_NEW_ID_KEY] = new_id  # type: ignore[literal-required]
            return str(new_id)
        return super().get_session_id(connection)

    async def store_in_message(
        self, scope_session: ScopeSession, message: Message, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        old_id = connection.cookies.get(self.config.key)
        rotating = bool(connection.scope.get(ROTATE_KEY))
        if rotating and old_id:
            await self.delete(old_id, store=self.config.get_store_from_app(connection.scope["app"]))
        if isinstance(scope_session, dict) and scope_session:
            now = clock.now().timestamp()
            touched = scope_session.get(TOUCHED_KEY)
            loaded = connection.scope.get(_LOADED_KEY)
            if (
                not rotating
                and loaded is not None
                and isinstance(touched, int | float)
                and now - touched < TOUCH_EVERY
                and self.serialize_data(scope_session, connection.scope) == loaded
            ):
                return  # unchanged, and renewed a moment ago: the store and the cookie stay as they are
            scope_session[TOUCHED_KEY] = int(now)
        await super().store_in_message(scope_session, message, connection)

    async def load_from_connection(self, connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
        data = await super().load_from_connection(connection)
        max_age = getattr(self.config, "absolute_max_age", None)
        signed_in_at = data.get(SIGNED_IN_AT_KEY)
        too_old = (
            max_age is not None
            and isinstance(signed_in_at, int | float)
            and clock.now().timestamp() - signed_in_at > max_age
        )
        if too_old:
            store = self.config.get_store_from_app(connection.scope["app"])
            if session_id := connection.cookies.get(self.config.key):
                await self.delete(session_id, store=store)
            # Whatever this response stores goes under a new id: the old one is never used again.
            rotate_session_id(connection.scope)
            return {}
        if data:
            connection.scope[_LOADED_KEY] = self.serialize_data(data, connection.scope)  # type: ignore[literal-required]
        return data


@dataclass
class RotatingSessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend
    absolute_max_age: int | None = None
    """Seconds after sign-in after which the session ends however active it is; None: no limit."""
