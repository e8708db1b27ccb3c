"""Per-request language (cookie `lang`, then Accept-Language, else zh_CN) and Jinja's gettext hooks."""

from __future__ import annotations

from jinja2 import Environment
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from core import i18n

LANG_COOKIE = "lang"


def language_for(scope: Scope) -> str:
    cookie_lang = None
    accept = None
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, val = part.strip().partition("=")
                if key == LANG_COOKIE and val in i18n.LANGUAGES:
                    cookie_lang = val
        elif name == b"accept-language":
            accept = value.decode("latin-1")
    return cookie_lang or i18n.negotiate(accept) or i18n.DEFAULT_LANGUAGE


class LanguageMiddleware(ASGIMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        with i18n.language(language_for(scope)):
            await next_app(scope, receive, send)


def install_gettext(env: Environment) -> None:
    """Jinja's i18n extension calls these at render time, so each request renders in its own language."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=i18n.gettext, ngettext=i18n.ngettext, pgettext=i18n.pgettext, newstyle=True
    )
    env.globals["current_language"] = i18n.current_language
    env.globals["LANGUAGES"] = i18n.LANGUAGES
