"""Keeps the running request's scope for the audit log (a context variable), so services record the
client's address and browser without every handler passing them down."""

from __future__ import annotations

from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from auditlog.services import request_scope


class RequestContextMiddleware(ASGIMiddleware):
    """Only the scope is kept; `auditlog.record()` reads the client host and User-Agent from it when an
    action is logged, so a request that logs nothing does no extra work."""

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        token = request_scope.set(scope)
        try:
            await next_app(scope, receive, send)
        finally:
            request_scope.reset(token)
