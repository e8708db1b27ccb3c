"""Pages a teacher reaches alone: register, confirm the e-mail address, reset a forgotten password,
the privacy notice, and their own account page."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from accounts import own_data, registration
from accounts.labels import STAGE_LABELS
from accounts.registration import RegistrationForm
from accounts.schools import search_schools
from accounts.tables import DISTRICTS
from core import clock
from core.guards import requires_sign_in
from core.i18n import gettext
from core.sessions import rotate_session_id
from core.web import attachment, flash, form_data

# More than any one district has; the list is a <select>, usable on a phone without JavaScript.
SCHOOL_CHOICES_LIMIT = 400


def base_url(request: Request[Any, Any, Any]) -> str:
    """The public address for links in e-mails: KEPU_BASE_URL, else the address this request came to."""
    settings = getattr(request.app.state, "settings", None)
    configured = getattr(settings, "base_url", "") or ""
    return configured.rstrip("/") or str(request.base_url).rstrip("/")


def _text(data: dict[str, Any], key: str, limit: int = 1024) -> str:
    value = data.get(key)
    return str(value)[:limit] if isinstance(value, str) else ""


async def _register_page(
    *,
    district: str = "",
    q: str = "",
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    district = district if district in DISTRICTS else ""
    q = q.strip()[:50]
    schools, total = await search_schools(q=q, district=district, limit=SCHOOL_CHOICES_LIMIT)
    return Template(
        "accounts/register.html",
        context={
            "district": district,
            "q": q,
            "schools": schools,
            "schools_total": total,
            "schools_limit": SCHOOL_CHOICES_LIMIT,
            "values": values or {},
            "errors": errors or {},
            "stage_label": lambda code: gettext(STAGE_LABELS[code]) if code in STAGE_LABELS else "",
        },
        status_code=status_code,
    )


@get("/register", include_in_schema=False)
async def register_page(
    request: Request[Any, Any, Any],
    district: Annotated[str | None, QueryParameter(name="district", max_length=8)] = None,
    q: Annotated[str | None, QueryParameter(name="q", max_length=100)] = None,
) -> Template | Redirect:
    if request.scope.get("user") is not None:
        return Redirect("/")
    return await _register_page(district=district or "", q=q or "")


@post("/register", include_in_schema=False, status_code=303)
async def register_submit(request: Request[Any, Any, Any]) -> Template | Redirect:
    data = await form_data(request)
    form = RegistrationForm(
        name=_text(data, "name", 200),
        phone=_text(data, "phone", 40),
        email=_text(data, "email", 300),
        school_id=_text(data, "school_id", 20),
        password=_text(data, "password"),
        password_again=_text(data, "password_again"),
        consent=_text(data, "consent", 10),
    )
    errors = await registration.register(form, base_url(request))
    if errors:
        values = {"name": form.name, "phone": form.phone, "email": form.email, "school_id": form.school_id}
        return await _register_page(
            district=_text(data, "district", 8),
            q=_text(data, "q", 100),
            values=values,
            errors=errors,
            status_code=400,
        )
    return Redirect("/register/sent", status_code=303)


@get("/register/sent", include_in_schema=False)
async def register_sent() -> Template:
    return Template("accounts/mail_sent.html", context={"kind": "verify"})


@get("/verify/{token:str}", include_in_schema=False)
async def verify_page(token: FromPath[str]) -> Template:
    live = await registration.verify_link_is_live(token)
    return Template(
        "accounts/verify.html", context={"token": token, "live": live}, status_code=200 if live else 400
    )


@post("/verify/{token:str}", include_in_schema=False, status_code=303)
async def verify_submit(request: Request[Any, Any, Any], token: FromPath[str]) -> Template | Redirect:
    if not await registration.confirm_email(token):
        return Template("accounts/verify.html", context={"token": token, "live": False}, status_code=400)
    flash(request, gettext("Your e-mail address is confirmed. Sign in to book a visit."))
    return Redirect("/login", status_code=303)


@post("/verify-resend", include_in_schema=False, status_code=303)
async def verify_resend(request: Request[Any, Any, Any]) -> Redirect:
    data = await form_data(request)
    await registration.resend_verification(_text(data, "email", 300), base_url(request))
    return Redirect("/register/sent", status_code=303)


@get("/password/forgot", include_in_schema=False)
async def forgot_page() -> Template:
    return Template("accounts/forgot.html", context={"email": "", "errors": {}})


@post("/password/forgot", include_in_schema=False, status_code=303)
async def forgot_submit(request: Request[Any, Any, Any]) -> Template | Redirect:
    data = await form_data(request)
    email = _text(data, "email", 300).strip()
    if not email:
        return Template(
            "accounts/forgot.html",
            context={"email": "", "errors": {"email": gettext("Please enter your e-mail address.")}},
            status_code=400,
        )
    await registration.request_reset(email, base_url(request))
    return Redirect("/password/forgot/sent", status_code=303)


@get("/password/forgot/sent", include_in_schema=False)
async def forgot_sent() -> Template:
    return Template("accounts/mail_sent.html", context={"kind": "reset"})


@get("/password/reset/{token:str}", include_in_schema=False)
async def reset_page(token: FromPath[str]) -> Template:
    live = await registration.reset_user(token) is not None
    return Template(
        "accounts/reset.html",
        context={"token": token, "live": live, "errors": {}},
        status_code=200 if live else 400,
    )


@post("/password/reset/{token:str}", include_in_schema=False, status_code=303)
async def reset_submit(request: Request[Any, Any, Any], token: FromPath[str]) -> Template | Redirect:
    data = await form_data(request)
    password, again = _text(data, "password"), _text(data, "password_again")
    user = await registration.reset_user(token)
    if user is None:
        return Template(
            "accounts/reset.html", context={"token": token, "live": False, "errors": {}}, status_code=400
        )
    errors: dict[str, str] = {}
    if problem := registration.password_problem(password, phone=user["phone"], email=user["email"]):
        errors["password"] = problem
    elif password != again:
        errors["password_again"] = gettext("The two passwords differ; type the same one twice.")
    if errors:
        return Template(
            "accounts/reset.html", context={"token": token, "live": True, "errors": errors}, status_code=400
        )
    if not await registration.reset_password(token, password):
        return Template(
            "accounts/reset.html", context={"token": token, "live": False, "errors": {}}, status_code=400
        )
    # Whoever was signed in on this browser is signed out with every other session of the account.
    request.set_session({})
    flash(
        request,
        gettext("Your password is changed and you are signed out everywhere. Sign in with the new one."),
    )
    return Redirect("/login", status_code=303)


@get("/privacy", include_in_schema=False)
async def privacy_page() -> Template:
    from privacy.namelists import retention_days  # the days name lists are kept after a visit

    return Template("accounts/privacy.html", context={"namelist_days": retention_days()})


async def _account_page(
    user_id: int, errors: dict[str, str] | None = None, status_code: int = 200
) -> Template:
    details = await registration.account_details(user_id)
    return Template(
        "accounts/account.html",
        context={
            "account": details or {},
            "errors": errors or {},
            "stage_label": lambda code: gettext(STAGE_LABELS[code]) if code in STAGE_LABELS else "",
        },
        status_code=status_code,
    )


@get("/account", guards=[requires_sign_in], include_in_schema=False)
async def account_page(request: Request[Any, Any, Any]) -> Template:
    return await _account_page(request.scope["user"].id)


@post("/account/password", guards=[requires_sign_in], include_in_schema=False, status_code=303)
async def account_password(request: Request[Any, Any, Any]) -> Template | Redirect:
    data = await form_data(request)
    user_id = request.scope["user"].id
    errors = await registration.change_password(
        user_id,
        _text(data, "current_password"),
        _text(data, "new_password"),
        _text(data, "new_password_again"),
    )
    if errors:
        return await _account_page(user_id, errors, status_code=400)
    flash(request, gettext("Your password is changed."))
    return Redirect("/account", status_code=303)


@get("/account/data", guards=[requires_sign_in], include_in_schema=False)
async def account_data(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Everything kept about the signed-in account, as a JSON file (PIPL: a copy of one's own data)."""
    data = await own_data.export(request.scope["user"].id)
    name = f"kepu-my-data-{clock.today().isoformat()}.json"
    return attachment(own_data.export_json(data), "application/json", name, no_store=True)


@post("/account/delete", guards=[requires_sign_in], include_in_schema=False, status_code=303)
async def account_delete(request: Request[Any, Any, Any]) -> Template | Redirect:
    data = await form_data(request)
    user_id = request.scope["user"].id
    errors = await own_data.delete_account(user_id, _text(data, "delete_password"))
    if errors:
        status = 409 if "delete" in errors else 400
        return await _account_page(user_id, errors, status_code=status)
    # Its sessions are gone from the store; this browser gets a fresh, empty one for the message.
    request.set_session({})
    rotate_session_id(request.scope)
    flash(
        request,
        gettext("Your account is deleted. Your visits stay in the venues' statistics without your name."),
    )
    return Redirect("/login", status_code=303)


SELF_PAGES = [
    register_page,
    register_submit,
    register_sent,
    verify_page,
    verify_submit,
    verify_resend,
    forgot_page,
    forgot_submit,
    forgot_sent,
    reset_page,
    reset_submit,
    privacy_page,
    account_page,
    account_password,
    account_data,
    account_delete,
]
