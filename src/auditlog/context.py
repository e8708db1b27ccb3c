"""Keeps the client's address and browser for the audit log while a request runs (a context variable),
so services record them without every handler passing them down."""

from __future__ import annotations

from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from auditlog.services import RequestInfo, request_info


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == name:
            return value.decode("latin-1")[:300]
    return None


class RequestContextMiddleware(ASGIMiddleware):
    """The ASGI client host (uvicorn has already applied X-Forwarded-For from a trusted proxy) and the
    User-Agent header, for `auditlog.record()`; nothing is stored unless an action is logged."""

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        client = scope.get("client")
        info = RequestInfo(ip=client[0] if client else None, user_agent=_header(scope, b"user-agent"))
        token = request_info.set(info)
        try:
            await next_app(scope, receive, send)
        finally:
            request_info.reset(token)
