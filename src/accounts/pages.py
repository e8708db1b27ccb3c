"""Sign-in, sign-out and the language switch for people in a browser."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from accounts import services, throttle
from accounts.school_pages import SCHOOL_PAGES
from accounts.self_pages import SELF_PAGES
from core import clock
from core.i18n import LANGUAGES, gettext
from core.sessions import SIGNED_IN_AT_KEY, rotate_session_id
from core.web import form_data

SESSION_USER_KEY = "user_id"
LANG_COOKIE = "lang"


def safe_next(target: str | None) -> str:
    """Only same-site paths, so a crafted link cannot send someone elsewhere after sign-in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@get("/login", include_in_schema=False)
async def login_page(
    request: Request[Any, Any, Any], next_: Annotated[str | None, QueryParameter(name="next")] = None
) -> Template | Redirect:
    if request.scope.get("user") is not None:
        return Redirect(safe_next(next_))
    return Template("accounts/login.html", context={"next": safe_next(next_), "username": "", "error": None})


@post("/login", include_in_schema=False, status_code=303)
async def login_submit(request: Request[Any, Any, Any]) -> Template | Redirect:
    data = await form_data(request)
    username = str(data.get("username") or "").strip()[:150]
    password = str(data.get("password") or "")[:1024]
    target = safe_next(str(data.get("next") or "/"))
    result = (
        await services.throttled_sign_in(username, password, throttle.client_address(request.scope))
        if username and password
        else services.SignInResult()
    )
    user_id, unconfirmed = result.user_id, result.unconfirmed
    if result.lockout is not None:
        return Template(
            "accounts/login.html",
            context={"next": target, "username": username, "error": result.lockout.message()},
            status_code=429,
            headers={"Retry-After": str(result.lockout.retry_after)},
        )
    if unconfirmed:
        # Only someone who knows the password learns that the account waits for its e-mail link.
        return Template(
            "accounts/login.html",
            context={
                "next": target,
                "username": username,
                "error": gettext(
                    "Your e-mail address is not confirmed yet: open the link we sent to it "
                    "(look in the spam folder too), or have a new link sent."
                ),
                "resend": username,
            },
            status_code=403,
        )
    if user_id is None:
        return Template(
            "accounts/login.html",
            context={"next": target, "username": username, "error": gettext("Wrong username or password.")},
            status_code=401,
        )
    # A fresh session at sign-in: nothing from before (e.g. a planted session id) carries over.
    request.clear_session()
    rotate_session_id(request.scope)
    request.set_session({SESSION_USER_KEY: user_id, SIGNED_IN_AT_KEY: clock.now().timestamp()})
    return Redirect(target, status_code=303)


@post("/logout", include_in_schema=False, status_code=303)
async def logout(request: Request[Any, Any, Any]) -> Redirect:
    request.clear_session()
    return Redirect("/login", status_code=303)


@get("/lang/{code:str}", include_in_schema=False)
async def switch_language(
    code: FromPath[str], next_: Annotated[str | None, QueryParameter(name="next")] = None
) -> Redirect:
    response = Redirect(safe_next(next_))
    if code in LANGUAGES:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="lax", httponly=True)
    return response


PAGES = [login_page, login_submit, logout, switch_language, *SELF_PAGES, *SCHOOL_PAGES]
