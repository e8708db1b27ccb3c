"""Page forms: url-encoded fields become the same msgspec Structs the API uses, so one set of rules
applies everywhere; problems come back per field, in the reader's language."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

from core.i18n import gettext

T = TypeVar("T", bound=msgspec.Struct)

_FIELD = re.compile(r"at `\$\.(\w+)`")
_MISSING = re.compile(r"missing required field `(\w+)`")


def _message(error: str) -> str:
    """A sentence for a person from msgspec's validation message."""
    if "missing required field" in error:
        return gettext("Please fill this in.")
    if m := re.search(r"Expected `int >= (-?\d+)`", error):
        return gettext("Enter a whole number of at least {n}.").format(n=m.group(1))
    if m := re.search(r"Expected `int <= (-?\d+)`", error):
        return gettext("Enter a whole number of at most {n}.").format(n=m.group(1))
    if "Expected `int`" in error:
        return gettext("Enter a whole number.")
    if m := re.search(r"Expected `str` of length <= (\d+)", error):
        return gettext("At most {n} characters.").format(n=m.group(1))
    if re.search(r"Expected `str` of length >= 1", error):
        return gettext("Please fill this in.")
    if "datetime" in error:
        return gettext("Enter a date and time.")
    if "Invalid enum value" in error:
        return gettext("Choose one of the options.")
    return gettext("This value is not valid.")


def parse_form(
    struct: type[T], data: dict[str, Any], *, blank_as_none: tuple[str, ...] = ()
) -> tuple[T | None, dict[str, str]]:
    """(the parsed struct, {}) or (None, {field: message}); strings are converted as a form sends them."""
    cleaned: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, list):
            value = value[-1] if value else ""
        if isinstance(value, str):
            value = value.strip()
            if value == "" and key in blank_as_none:
                continue
        cleaned[key] = value
    try:
        return msgspec.convert(cleaned, struct, strict=False), {}
    except msgspec.ValidationError as exc:
        text = str(exc)
        field = (m.group(1) if (m := _FIELD.search(text) or _MISSING.search(text)) else "") or "__all__"
        return None, {field: _message(text)}
