"""One place that turns errors into responses: JSON for /api/v1 (api.md's body), pages for people."""

from __future__ import annotations

import logging
import socket
from typing import Any
from urllib.parse import quote

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR, HTTP_503_SERVICE_UNAVAILABLE

from core.errors import DomainError
from core.i18n import gettext
from kepu.auth import API_PREFIX

log = logging.getLogger("kepu")


def is_api(request: Request[Any, Any, Any]) -> bool:
    path = request.scope.get("path", "")
    return path.startswith(API_PREFIX) or path.startswith("/schema") or path in ("/healthz", "/readyz")


def _json(status: int, detail: str, **extra: Any) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {"status_code": status, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    return Response(body, status_code=status, media_type=MediaType.JSON)


def _page(request: Request[Any, Any, Any], status: int, detail: str) -> Response[Any]:
    return Template(
        "kepu/error.html",
        context={"status_code": status, "detail": detail, "user": request.scope.get("user")},
        status_code=status,
    )


def domain_error_handler(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    if is_api(request):
        return _json(exc.status_code, exc.message(), code=exc.code)
    return _page(request, exc.status_code, exc.message())


def _validation_detail(exc: ValidationException) -> str:
    problems = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            key = item.get("key")
            message = str(item.get("message", "")).rstrip(".")
            problems.append(f"{key}: {message}" if key else message)
    if not problems:
        return str(exc.detail) if exc.detail else gettext("The request is not valid.")
    return gettext("Please correct the request: {problems}.").format(problems="; ".join(problems))


def _mb(n: float) -> str:
    return f"{n / 1048576:.1f}".rstrip("0").rstrip(".")


def _too_large(request: Request[Any, Any, Any]) -> Response[Any]:
    """A body over the route's request_max_body_size: say the limit in MB (the route's
    opt["upload_limit_bytes"] when it names the file limit people know, else the body limit) and,
    when the client announced it, how big the upload was."""
    handler = request.scope.get("route_handler")
    opt = getattr(handler, "opt", None) or {}
    limit = opt.get("upload_limit_bytes")
    if limit is None and handler is not None and hasattr(handler, "resolve_request_max_body_size"):
        limit = handler.resolve_request_max_body_size()
    size = request.headers.get("content-length", "")
    if limit and size.isdigit():
        detail = gettext(
            "The upload is %(size)s MB, but this form accepts at most %(limit)s MB. "
            "Choose a smaller file (or split it) and try again."
        ) % {"size": _mb(int(size)), "limit": _mb(limit)}
    elif limit:
        detail = gettext(
            "The upload is larger than the %(limit)s MB this form accepts. "
            "Choose a smaller file (or split it) and try again."
        ) % {"limit": _mb(limit)}
    else:
        detail = gettext("The upload is too large. Choose a smaller file (or split it) and try again.")
    accept = request.headers.get("accept", "")
    if is_api(request) or ("application/json" in accept and "text/html" not in accept):
        return _json(413, detail, code="too_large", limit_bytes=limit)
    return _page(request, 413, detail)


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if status == 413:
        return _too_large(request)
    if isinstance(exc, ValidationException):
        detail = _validation_detail(exc)
    elif status == 404 and exc.detail in ("", "Not Found"):
        detail = gettext("There is nothing at this address.")
    elif status == 405:
        detail = gettext("This address does not accept this method.")
    else:
        detail = str(exc.detail)
    if is_api(request):
        response = _json(status, detail, extra=exc.extra if isinstance(exc, ValidationException) else None)
        if exc.headers:
            response.headers.update(exc.headers)
        return response
    if status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Redirect(f"/login?next={quote(target, safe='')}")
    return _page(request, status, detail)


# SQLSTATE classes that mean the database cannot serve now rather than that the request is wrong:
# 08 connection exceptions, 53 insufficient resources (too many connections, disk full), 57 operator
# intervention (shutdown, terminated backend, "cannot connect now").
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57")
_UNAVAILABLE_MESSAGES = (
    "database is locked",  # SQLite: another process held the write lock past the busy timeout
    "database table is locked",
    "unable to open database file",
    "not currently accepting connections",  # PostgreSQL: ALTER DATABASE ... ALLOW_CONNECTIONS false
    "connection is closed",  # asyncpg: the server went away under a pooled connection
    "connection was closed",
    "pool is closed",
    "connect call failed",
)


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and what it was raised from or during, nearest first (a driver error is often
    wrapped by Piccolo or aiosqlite)."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 8:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _is_db_unavailable(exc: Exception) -> bool:
    """Whether the error means the database is unreachable, busy or shutting down (503), not a bug (500)."""
    for e in _causes(exc):
        if isinstance(e, ConnectionError | TimeoutError | socket.gaierror):
            return True
        sqlstate = getattr(e, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate[:2] in _UNAVAILABLE_SQLSTATE_CLASSES:
            return True
        if type(e).__name__ in ("OperationalError", "InterfaceError", "OSError", "PostgresError") or (
            sqlstate is not None
        ):
            text = str(e).lower()
            if any(m in text for m in _UNAVAILABLE_MESSAGES):
                return True
    return False


def _is_number_out_of_range(exc: Exception) -> bool:
    """A number from the request too large for the database column (an id of 2**63 in an address):
    sqlite3 raises OverflowError, asyncpg a DataError "out of int32 range", PostgreSQL SQLSTATE 22003.
    Such a number names nothing and stores nothing: bad input, not a bug of ours."""
    for e in _causes(exc):
        text = str(e).lower()
        if isinstance(e, OverflowError) and "too large to convert" in text:
            return True
        if getattr(e, "sqlstate", None) == "22003" or (
            type(e).__name__ == "DataError" and "out of int" in text and "range" in text
        ):
            return True
    return False


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if _is_number_out_of_range(exc):
        detail = gettext("A number in this request is too large. Check the address and the numbers entered.")
        return _json(400, detail) if is_api(request) else _page(request, 400, detail)
    if _is_db_unavailable(exc):
        log.warning("database unavailable: %r", exc)
        status = HTTP_503_SERVICE_UNAVAILABLE
        detail = gettext("The database is not answering right now; please try again in a minute.")
    else:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        status = HTTP_500_INTERNAL_SERVER_ERROR
        detail = gettext("Something went wrong on our side; it has been logged. Please try again.")
    response = _json(status, detail) if is_api(request) else _page(request, status, detail)
    if status == HTTP_503_SERVICE_UNAVAILABLE:
        response.headers["Retry-After"] = "30"
    return response


EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: domain_error_handler,
    HTTPException: http_error_handler,
    Exception: internal_error_handler,
}
