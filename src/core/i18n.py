"""Gettext for kepu: Babel catalogues per language, the current language per request (a context variable)."""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).resolve().parent.parent / "kepu" / "locale"
LANGUAGES: dict[str, str] = {"zh_CN": "简体中文", "en": "English"}
DEFAULT_LANGUAGE = "zh_CN"

_current: ContextVar[str] = ContextVar("kepu_language", default=DEFAULT_LANGUAGE)


def N_(message: str) -> str:
    """Mark a string for extraction without translating it now (translated where it is shown)."""
    return message


@cache
def translations(language: str) -> _gettext.NullTranslations:
    """The catalogue for a language, compiled from its .po file in memory (no .mo files to keep in sync)."""
    po = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return _gettext.NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=language)
    buf = BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(fp=buf)


def current_language() -> str:
    return _current.get()


@contextmanager
def language(lang: str) -> Iterator[None]:
    token = _current.set(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)
    try:
        yield
    finally:
        _current.reset(token)


def gettext(message: str) -> str:
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return translations(_current.get()).pgettext(context, message)


def negotiate(accept_language: str | None) -> str | None:
    """Pick a supported language from an Accept-Language header, or None."""
    if not accept_language:
        return None
    preferred: list[tuple[float, str]] = []
    for part in accept_language.split(","):
        piece = part.strip()
        if not piece:
            continue
        tag, _, q = piece.partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            continue
        preferred.append((weight, tag.strip().replace("-", "_")))
    preferred.sort(key=lambda p: -p[0])
    # Any Chinese variant gets the Chinese catalogue, any English one the English catalogue, in the
    # order of the header's weights (Babel's negotiate maps zh to zh_Hans_CN, which we don't use).
    for _, tag in preferred:
        language = tag.split("_", 1)[0].lower()
        if language == "zh":
            return "zh_CN"
        if language == "en":
            return "en"
    return None
