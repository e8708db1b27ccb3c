"""create_app(): the one place kepu is assembled — database, auth, sessions, CSRF, i18n, routes, errors."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, MediaType, Response, Router, get
from litestar.config.csrf import CSRFConfig
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, YamlRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins import PluginProtocol
from litestar.plugins.core import MsgspecDIPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from accounts import services as accounts
from accounts.controllers import AuthApi
from auditlog.context import RequestContextMiddleware
from bookings import keys
from bookings.controllers import BookingApi, CheckInApi
from core import db
from core.guards import requires_sign_in, run_guards_without_copies
from core.sessions import RotatingSessionConfig
from evaluation.controllers import ReportApi
from kepu import __version__
from kepu.auth import ActorMiddleware, provide_actor
from kepu.errors import EXCEPTION_HANDLERS
from kepu.i18n_web import LanguageMiddleware, install_gettext
from kepu.openapi_errors import document_errors
from kepu.pages import PAGE_HANDLERS
from kepu.security import add_security_headers
from kepu.settings import Settings
from kepu.stores import DatabaseStore
from kepu.templating import install_template_helpers
from venues.catalogue_api import ProgrammeApi
from venues.controllers import SlotApi, VenueApi


@get("/healthz", include_in_schema=True, tags=["health"], summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", include_in_schema=True, tags=["health"], summary="The database answers")
async def readyz() -> Response[dict[str, Any]]:
    if await db.ping():
        return Response({"status": "ok"}, media_type=MediaType.JSON)
    return Response(
        {"status_code": 503, "detail": "The database is not answering.", "status": "unavailable"},
        status_code=503,
        media_type=MediaType.JSON,
    )


class KepuApp(Litestar):
    """Litestar without the Pydantic plugins it adds whenever Pydantic is importable (Piccolo installs
    it). kepu's schemas are msgspec structs; the plugins imported Pydantic into every process for
    nothing, about 8 MB of each `kepu serve` (tests/test_app_memory.py). Generating the OpenAPI
    document (`/schema`, rarely) still imports it, through polyfactory's examples."""

    @staticmethod
    def _get_default_plugins(plugins: list[PluginProtocol]) -> list[PluginProtocol]:
        plugins.append(MsgspecDIPlugin())
        return plugins


def derive(root: str, purpose: str) -> str:
    """A separate key per purpose from the root secret, so one leaked use does not expose the others."""
    return hmac.new(root.encode(), purpose.encode(), hashlib.sha256).hexdigest()


async def root_secret(settings: Settings) -> str:
    if settings.secret_key:
        return settings.secret_key
    return await accounts.installation_secret("root", lambda: secrets.token_urlsafe(48))


def create_app(settings: Settings | None = None) -> Litestar:
    run_guards_without_copies()
    settings = settings or Settings.from_env()
    # Filled in at startup from KEPU_SECRET_KEY or the installation secret in the database, so
    # every process shares it; a placeholder that is never used to serve a request.
    csrf = CSRFConfig(
        secret=secrets.token_hex(32),
        cookie_name="kepu_csrf",
        cookie_secure=settings.secure_cookies,
        cookie_httponly=True,
        cookie_samesite="lax",
        header_name="x-csrftoken",
        exclude=["/api/", "/healthz", "/readyz", "/schema"],
    )
    sessions = RotatingSessionConfig(
        key="kepu_session",
        store="sessions",
        max_age=settings.session_idle_minutes * 60,
        absolute_max_age=settings.session_max_hours * 3600,
        renew_on_access=True,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        exclude=["/api/", "/static/", "/healthz", "/readyz", "/schema"],
    )

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        async with db.database_lifespan(pool_size=settings.db_pool_size):
            csrf.secret = derive(await root_secret(settings), "csrf")
            await keys.ensure_key()
            yield

    def configure_templates(engine: JinjaTemplateEngine) -> None:
        # Templates change with a release, not while it runs: without this, every render asks the disk
        # whether each template it uses has changed (debug mode keeps that, for editing them live).
        engine.engine.auto_reload = settings.debug
        install_gettext(engine.engine)
        install_template_helpers(engine.engine)

    api = Router(
        path="/",
        route_handlers=[VenueApi, SlotApi, BookingApi, CheckInApi, ReportApi, ProgrammeApi],
        guards=[requires_sign_in],
        security=[{"BearerToken": []}],
    )
    app = KepuApp(
        route_handlers=[
            healthz,
            readyz,
            AuthApi,
            api,
            *PAGE_HANDLERS,
            create_static_files_router(
                path="/static", directories=[settings.assets_dir], include_in_schema=False
            ),
        ],
        dependencies={
            "actor": Provide(provide_actor, sync_to_thread=False),
            "settings": Provide(lambda: settings, sync_to_thread=False, use_cache=True),
        },
        before_send=[add_security_headers],
        middleware=[
            LanguageMiddleware(),
            sessions.middleware,
            ActorMiddleware(),
            RequestContextMiddleware(),
        ],
        csrf_config=csrf,
        stores={"sessions": DatabaseStore("session")},
        template_config=TemplateConfig(
            directory=settings.templates_dir,
            engine=JinjaTemplateEngine,
            engine_callback=configure_templates,
        ),
        openapi_config=OpenAPIConfig(
            title="kepu JSON API",
            version=__version__,
            path="/schema",
            # Only the machine-readable documents: the HTML viewers load scripts from CDNs.
            render_plugins=[JsonRenderPlugin(), YamlRenderPlugin()],
            description="科普预约 — booking and check-in for science venues. The contract: shared/api.md.",
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(
                        type="http", scheme="bearer", description="POST /api/v1/auth/token"
                    )
                }
            ),
        ),
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        debug=settings.debug,
    )
    # Tests enter this directly in their own event loop (recipes/litestar-piccolo.md §5).
    app.state.kepu_lifespan = lifespan
    app.state.settings = settings
    document_errors(app)
    return app
