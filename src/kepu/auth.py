"""Who is calling: bearer tokens for /api/v1, the server-side session for pages; guards and the actor."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from accounts import services as accounts
from accounts.pages import SESSION_USER_KEY
from accounts.schemas import UserView
from core import clock
from core.db import valid_id
from core.i18n import gettext
from core.sql import Statement

API_PREFIX = "/api/v1"


_ACTOR_COLUMNS = """
    u.id, u.username, u.role, u.display_name, u.created_at,
    sc.id AS school_id, sc.name AS school_name, sc.district AS district,
    m.venue AS venue_id, m.role AS venue_role
  FROM accounts_user u
  LEFT JOIN accounts_school sc ON sc.id = u.school
  LEFT JOIN venues_staff m ON m."user" = u.id AND u.role = 'staff'
"""
# Every request needs its actor: one statement each, not the three a query builder would make.
_ACTOR_BY_ID = Statement(f"SELECT {_ACTOR_COLUMNS} WHERE u.id = $1 AND u.is_active = $2", quick=True)
_ACTOR_BY_TOKEN = Statement(
    f'SELECT {_ACTOR_COLUMNS} JOIN accounts_access_token t ON t."user" = u.id'
    " WHERE t.token_hash = $1 AND t.expires_at > $2 AND u.is_active = $3",
    quick=True,
)


def _actor(row: dict[str, Any] | None) -> UserView | None:
    return UserView(**row) if row is not None else None


async def load_actor(user_id: int) -> UserView | None:
    """The user with what the rest of the app needs to decide: role, school, venue."""
    if not valid_id(user_id):
        return None
    return _actor(await _ACTOR_BY_ID.fetchrow(user_id, True))


async def actor_for_token(token: str) -> UserView | None:
    """The actor a bearer token stands for, while it is valid."""
    if not token or len(token) > 200:
        return None
    return _actor(await _ACTOR_BY_TOKEN.fetchrow(accounts._token_hash(token), clock.now(), True))


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


class ActorMiddleware(ASGIMiddleware):
    """Puts the signed-in user (or None) into the scope; guards decide what that user may do.

    The API accepts only bearer tokens and pages only the session cookie, so a page session can
    never be ridden by a cross-site request to the API (which therefore needs no CSRF token).
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        user: UserView | None = None
        path: str = scope.get("path", "")
        if path.startswith(API_PREFIX):
            token = bearer_token(scope)
            if token:
                user = await actor_for_token(token)
        else:
            session: Any = scope.get("session")
            if isinstance(session, dict) and session.get(SESSION_USER_KEY):
                user = await load_actor(int(session[SESSION_USER_KEY]))
        scope["user"] = user
        scope["auth"] = None
        await next_app(scope, receive, send)


def provide_actor(request: Request[Any, Any, Any]) -> UserView:
    user = request.scope.get("user")
    if user is None:  # guarded routes never get here; this keeps the type honest
        raise NotAuthorizedException(detail=gettext("Sign in first: this needs a valid access token."))
    assert isinstance(user, UserView)
    return user
