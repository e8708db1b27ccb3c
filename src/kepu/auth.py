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
from core.i18n import gettext
from venues import services as venues

API_PREFIX = "/api/v1"


async def load_actor(user_id: int) -> UserView | None:
    """The user with what the rest of the app needs to decide: role, school, venue."""
    user = await accounts.get_user(user_id)
    if user is None:
        return None
    if user.is_staff:
        member = await venues.membership(user.id)
        if member is not None:
            user.venue_id, user.venue_role = member
    return user


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
                user_id = await accounts.user_id_for_token(token)
                if user_id is not None:
                    user = await load_actor(user_id)
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
