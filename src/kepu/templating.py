"""Template globals and filters: labels, Asia/Shanghai dates in the reader's language, flash messages."""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import cache, lru_cache
from typing import Any

from babel import Locale
from jinja2 import Environment
from markupsafe import Markup, escape

from core import clock, i18n
from core.web import pop_flashes
from venues.labels import (
    APPROVAL_LABELS,
    DISTRICT_LABELS,
    GRADE_BAND_LABELS,
    KIND_LABELS,
    SLOT_KIND_LABELS,
    STAFF_ROLE_LABELS,
)

STATUS_LABELS = {
    "requested": i18n.N_("Awaiting approval"),
    "confirmed": i18n.N_("Confirmed"),
    "declined": i18n.N_("Declined"),
    "cancelled": i18n.N_("Cancelled"),
}


@lru_cache(maxsize=8)
def _babel_locale(code: str) -> Locale:
    # Babel parses a locale name on every call (about 1 ms each); a page of 100 dates spent most of
    # its time there.
    return Locale.parse(code)


@lru_cache(maxsize=8)
def _weekdays(code: str) -> tuple[str, ...]:
    """The locale's abbreviated weekday names, Monday first (CLDR's "EEE", e.g. 周四 or Thu)."""
    names = _babel_locale(code).days["format"]["abbreviated"]
    return tuple(names[n] for n in range(7))


# The three formats below are CLDR patterns ("yyyy-MM-dd EEE HH:mm", "yyyy-MM-dd EEE", "HH:mm") whose
# only localised part is the weekday's name: they are written out here instead of going through
# Babel's pattern formatter, which cost about 20 µs a date on pages that list a hundred of them, and
# without strftime (2.5 µs a call).
def fmt_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    local = clock.local(value)
    weekday = _weekdays(i18n.current_language())[local.weekday()]
    return f"{local.date().isoformat()} {weekday} {local.hour:02d}:{local.minute:02d}"


def fmt_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = clock.local(value).date()
    return f"{value.isoformat()} {_weekdays(i18n.current_language())[value.weekday()]}"


def fmt_time(value: datetime | None) -> str:
    if value is None:
        return ""
    # Pages that list many slots convert their instants to local time once, then format them here.
    local = value if value.tzinfo is clock.TZ else clock.local(value)
    return f"{local.hour:02d}:{local.minute:02d}"


# The characters markupsafe.escape() replaces, which Jinja's autoescaping applies to every value.
_SPECIAL = re.compile("[&<>\"']")


def html_text(value: str) -> str:
    """Text as HTML, escaped exactly as Jinja's autoescaping would (markupsafe), for pages that escape
    the values of long lists once in Python: most text has nothing to escape, and this returns it as
    it is in a fifth of the time escape() takes to build a Markup of it."""
    return str(escape(value)) if _SPECIAL.search(value) else value


def html_labels(labels: dict[str, str]) -> dict[str, str]:
    """A mapping's labels translated and as HTML, for a page to make once rather than once a row."""
    return {key: html_text(i18n.gettext(text)) for key, text in labels.items()}


def label(mapping: dict[str, str]) -> Any:
    def translate(key: str | None) -> str:
        return i18n.gettext(mapping[key]) if key in mapping else (key or "")

    return translate


@cache
def _frame_text(language: str, message: str) -> Markup:
    # What Jinja's newstyle gettext returns under autoescaping: the translation taken as markup, then
    # formatted with no variables.
    return Markup(i18n.translations(language).gettext(message)) % {}


def frame_gettext(message: str) -> Markup:
    """`_()` for base.html's own labels (menu, footer), which every page renders: the same text as Jinja's
    newstyle gettext, made once per language and message instead of about 7 µs a call, twenty a page."""
    return _frame_text(i18n.current_language(), message)


def install_template_helpers(env: Environment) -> None:
    env.globals.update(
        pop_flashes=pop_flashes,
        frame_gettext=frame_gettext,
        kind_label=label(KIND_LABELS),
        slot_kind_label=label(SLOT_KIND_LABELS),
        district_label=label(DISTRICT_LABELS),
        status_label=label(STATUS_LABELS),
        staff_role_label=label(STAFF_ROLE_LABELS),
        grade_band_label=label(GRADE_BAND_LABELS),
        approval_label=label(APPROVAL_LABELS),
        GRADE_BANDS=list(GRADE_BAND_LABELS),
        KINDS=list(KIND_LABELS),
        SLOT_KINDS=list(SLOT_KIND_LABELS),
        DISTRICTS=list(DISTRICT_LABELS),
        today=clock.today,
    )
    env.filters.update(dt=fmt_datetime, date=fmt_date, time=fmt_time)
