"""One place that turns errors into responses: JSON for /api/v1 (api.md's body), pages for people."""

from __future__ import annotations

import logging
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


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
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


def _is_db_unavailable(exc: Exception) -> bool:
    names = {type(e).__name__ for e in (exc, exc.__cause__, exc.__context__) if e is not None}
    return bool(
        names
        & {
            "ConnectionRefusedError",
            "CannotConnectNowError",
            "ConnectionDoesNotExistError",
            "InterfaceError",
            "TooManyConnectionsError",
            "PostgresConnectionError",
        }
    ) or (type(exc).__name__ == "OperationalError" and "locked" in str(exc))


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if _is_db_unavailable(exc):
        log.warning("database unavailable: %r", exc)
        status = HTTP_503_SERVICE_UNAVAILABLE
        detail = gettext("The database is not answering right now; please try again in a minute.")
    else:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        status = HTTP_500_INTERNAL_SERVER_ERROR
        detail = gettext("Something went wrong on our side; it has been logged. Please try again.")
    if is_api(request):
        return _json(status, detail)
    return _page(request, status, detail)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: domain_error_handler,
    HTTPException: http_error_handler,
    Exception: internal_error_handler,
}
