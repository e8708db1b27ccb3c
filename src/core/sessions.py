"""Server-side page sessions with a new id at sign-in, so an id planted before sign-in is useless."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.types import Message, ScopeSession

ROTATE_KEY = "kepu.rotate_session"
_NEW_ID_KEY = "kepu.new_session_id"


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
        if connection.scope.get(ROTATE_KEY) and old_id:
            await self.delete(old_id, store=self.config.get_store_from_app(connection.scope["app"]))
        await super().store_in_message(scope_session, message, connection)


class RotatingSessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend
