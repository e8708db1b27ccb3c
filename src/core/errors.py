"""Domain errors: stable codes raised by services, mapped to a status and a translated sentence."""

from __future__ import annotations

from typing import Any, ClassVar

from core.i18n import N_


class DomainError(Exception):
    """Base for every rule a service enforces.

    Subclasses list their codes in ``messages`` as (HTTP status, message id). The message id is
    translated when the error reaches a person (API body or page), never when raised.
    """

    messages: ClassVar[dict[str, tuple[int, str]]] = {}

    def __init__(self, code: str, /, **params: Any) -> None:
        if code not in self.messages:
            raise KeyError(f"{type(self).__name__} has no code {code!r}")
        self.code = code
        self.params = params
        super().__init__(code)

    @property
    def status_code(self) -> int:
        return self.messages[self.code][0]

    @property
    def message_id(self) -> str:
        return self.messages[self.code][1]

    def message(self) -> str:
        from core.i18n import gettext

        return gettext(self.message_id).format(**self.params)


class NotFound(DomainError):
    """Something does not exist, or the caller may not know that it does."""

    messages: ClassVar[dict[str, tuple[int, str]]] = {
        "venue": (404, N_("There is no such venue.")),
        "slot": (404, N_("There is no such slot.")),
        "booking": (404, N_("There is no such booking.")),
        "user": (404, N_("There is no such user.")),
        "checkin": (404, N_("There is no such check-in.")),
    }


class Forbidden(DomainError):
    """The caller is signed in but their role may not do this."""

    messages: ClassVar[dict[str, tuple[int, str]]] = {
        "role": (403, N_("Your account may not do this.")),
        "other_venue": (403, N_("You can only manage your own venue.")),
    }
