"""Teachers on their own: register, confirm the e-mail address, reset a forgotten password, change it.

Each e-mailed link carries a random token of which only the SHA-256 is stored; it works once and
expires (48 h to confirm an address, 1 h to reset a password). Nothing here tells a stranger whether
an e-mail address has an account: the pages answer the same either way, and the mail says the rest.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from datetime import timedelta
from typing import Any

import msgspec

from accounts.passwords import hash_password, verify_password
from accounts.tables import AccessToken, AccountToken, School, StoreEntry, User
from core import clock
from core.db import write_transaction
from core.i18n import gettext
from messaging import outbox

VERIFY_TTL = timedelta(hours=48)
RESET_TTL = timedelta(hours=1)
# At most this many links of one kind per account an hour, so the forms cannot be used to flood a mailbox.
MAILS_PER_HOUR = 3
MIN_LENGTH = 10
MAX_EMAIL = 150  # the address is also the account's username (150 characters at most)
PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
EMAIL_RE = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
MASK = "[link hidden]"


class RegistrationForm(msgspec.Struct):
    name: str = ""
    phone: str = ""
    email: str = ""
    school_id: str = ""
    password: str = ""
    password_again: str = ""
    consent: str = ""


def normal_phone(phone: str) -> str:
    digits = re.sub(r"[\s\-()]", "", phone)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    return digits


def normal_email(email: str) -> str:
    return email.strip().lower()


def password_problem(password: str, *, phone: str = "", email: str = "") -> str | None:
    """The first rule a new password breaks, as a sentence; None when it keeps them all."""
    if len(password) < MIN_LENGTH:
        return gettext("The password needs at least {n} characters.").format(n=MIN_LENGTH)
    if len(password) > 1024:
        return gettext("The password may have at most 1024 characters.")
    if password.isdigit():
        return gettext("The password may not be digits only: add letters or other characters.")
    lowered = password.strip().lower()
    if phone and normal_phone(phone) and normal_phone(phone) in lowered:
        return gettext("The password may not contain your phone number.")
    if email and (lowered == email.lower() or lowered == email.lower().split("@", 1)[0]):
        return gettext("The password may not be your e-mail address.")
    return None


def check_registration(form: RegistrationForm) -> dict[str, str]:
    """Problems per field (translated); empty when the form can be registered."""
    errors: dict[str, str] = {}
    name = form.name.strip()
    if not name:
        errors["name"] = gettext("Please enter your name.")
    elif len(name) > 100:
        errors["name"] = gettext("At most {n} characters.").format(n=100)
    phone = normal_phone(form.phone)
    if not phone:
        errors["phone"] = gettext("Please enter your mobile number.")
    elif not PHONE_RE.match(phone):
        errors["phone"] = gettext("Enter a mainland mobile number: 11 digits starting with 13–19.")
    email = normal_email(form.email)
    if not email:
        errors["email"] = gettext("Please enter your e-mail address.")
    elif len(email) > MAX_EMAIL or not EMAIL_RE.match(email):
        errors["email"] = gettext("Enter an e-mail address such as name@school.edu.cn.")
    if not form.school_id.strip() or not form.school_id.strip().isdigit() or len(form.school_id.strip()) > 12:
        errors["school_id"] = gettext("Choose your school from the list.")
    if problem := password_problem(form.password, phone=phone, email=email):
        errors["password"] = problem
    elif form.password != form.password_again:
        errors["password_again"] = gettext("The two passwords differ; type the same one twice.")
    if form.consent not in ("on", "yes", "1", "true"):
        errors["consent"] = gettext("Please read the privacy notice and agree to it to register.")
    return errors


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _new_token(user_id: int, purpose: str, ttl: timedelta) -> str | None:
    """A new link token, or None when this account already had MAILS_PER_HOUR of them in the last hour."""
    now = clock.now()
    recent = await AccountToken.count().where(
        (AccountToken.user == user_id)
        & (AccountToken.purpose == purpose)
        & (AccountToken.created_at > now - timedelta(hours=1))
    )
    if recent >= MAILS_PER_HOUR:
        return None
    token = secrets.token_urlsafe(32)
    await AccountToken.insert(
        AccountToken(
            purpose=purpose, token_hash=_hash(token), user=user_id, created_at=now, expires_at=now + ttl
        )
    )
    # Housekeeping on the write path keeps the table small without a separate job.
    await AccountToken.delete().where(AccountToken.expires_at < now - timedelta(days=7))
    return token


async def _mail(*, kind: str, to: str, user_id: int, subject: str, body: str, link: str = "") -> None:
    await outbox.enqueue(
        kind=kind,
        recipient=to,
        subject=subject,
        body=body,
        user_id=user_id,
        masked_body=body.replace(link, MASK) if link else body,
    )


async def _send_verify(user_id: int, email: str, name: str, base_url: str) -> None:
    token = await _new_token(user_id, "verify_email", VERIFY_TTL)
    if token is not None:
        await _mail_verify(user_id, email, name, base_url, token)


async def _mail_verify(user_id: int, email: str, name: str, base_url: str, token: str) -> None:
    link = f"{base_url}/verify/{token}"
    body = gettext(
        "{name}, welcome to kepu (科普预约).\n\n"
        "To confirm this e-mail address and start booking visits, open this link within 48 hours:\n\n"
        "{link}\n\n"
        "If you did not register, ignore this message: without the link the account cannot be used."
    ).format(name=name, link=link)
    await _mail(
        kind="verify_email",
        to=email,
        user_id=user_id,
        subject=gettext("Confirm your e-mail address for kepu"),
        body=body,
        link=link,
    )


async def _send_already(user_id: int, email: str, base_url: str) -> None:
    # Counted like a link, so repeated registrations cannot flood the mailbox either.
    token = await _new_token(user_id, "account_exists", timedelta(minutes=1))
    if token is None:
        return
    body = gettext(
        "Someone (perhaps you) tried to register on kepu (科普预约) with this e-mail address, "
        "but it already has an account.\n\n"
        "Sign in: {login}\nForgot the password? Ask for a new one: {forgot}\n\n"
        "If it was not you, you can ignore this message."
    ).format(login=f"{base_url}/login", forgot=f"{base_url}/password/forgot")
    await _mail(
        kind="account_exists",
        to=email,
        user_id=user_id,
        subject=gettext("You already have a kepu account"),
        body=body,
    )


async def _replace_unconfirmed(
    user_id: int, form: RegistrationForm, password_hash: str, school_id: int, base_url: str
) -> None:
    """No one has proved the address yet, so the newest registration for it wins: its details replace
    the pending ones and only its link works — whoever holds the mailbox confirms what they typed last."""
    email = normal_email(form.email)
    token = await _new_token(user_id, "verify_email", VERIFY_TTL)
    if token is None:
        return  # the hourly limit: the pending registration and its links stay as they are
    await AccountToken.update({AccountToken.used_at: clock.now()}).where(
        (AccountToken.user == user_id)
        & (AccountToken.purpose == "verify_email")
        & (AccountToken.used_at.is_null())
        & (AccountToken.token_hash != _hash(token))
    )
    await User.update(
        {
            User.password_hash: password_hash,
            User.display_name: form.name.strip(),
            User.phone: normal_phone(form.phone),
            User.school: school_id,
        }
    ).where(User.id == user_id)
    await _mail_verify(user_id, email, form.name.strip(), base_url, token)


async def register(form: RegistrationForm, base_url: str) -> dict[str, str]:
    """Create the unconfirmed account and queue its link; {field: problem} when the form is not right.

    An address that already has a confirmed account gets a mail saying so; one whose account was never
    confirmed gets this registration's details and a new link. Either way the caller shows the same
    "check your mail" page as for a new account.
    """
    errors = check_registration(form)
    if errors:
        return errors
    school_id = int(form.school_id.strip())
    if not await School.exists().where(School.id == school_id):
        return {"school_id": gettext("That school is not in the registry; choose it from the list.")}
    email = normal_email(form.email)
    password_hash = await hash_password(form.password)
    name = form.name.strip()
    async with write_transaction():
        found = (
            await User.select(User.id, User.email, User.must_confirm_email, User.display_name)
            .where((User.email == email) | (User.username == email))
            .first()
        )
        if found is not None:
            if found["email"] == email and found["must_confirm_email"]:
                await _replace_unconfirmed(found["id"], form, password_hash, school_id, base_url)
            else:
                await _send_already(found["id"], email, base_url)
            return {}
        rows = (
            await User.insert(
                User(
                    username=email,
                    password_hash=password_hash,
                    role="teacher",
                    display_name=name,
                    phone=normal_phone(form.phone),
                    email=email,
                    email_verified_at=None,
                    must_confirm_email=True,
                    school=school_id,
                    created_at=clock.now(),
                )
            )
            .on_conflict(action="DO NOTHING")
            .returning(User.id)
        )
        # No row: the same address registered in a concurrent request (the unique indexes on username
        # and e-mail decided); that request sends its own link, and this one answers the same page.
        if rows:
            await _send_verify(int(rows[0]["id"]), email, name, base_url)
    return {}


async def resend_verification(email: str, base_url: str) -> None:
    """A new confirmation link when this address has an unconfirmed account; nothing otherwise."""
    email = normal_email(email)
    if not email or len(email) > MAX_EMAIL:
        return
    async with write_transaction():
        found = (
            await User.select(User.id, User.display_name, User.must_confirm_email)
            .where((User.email == email) & (User.is_active.eq(True)))
            .first()
        )
        if found is not None and found["must_confirm_email"]:
            await _send_verify(found["id"], email, found["display_name"], base_url)


async def _live_token(token: str, purpose: str) -> dict[str, Any] | None:
    if not token or len(token) > 200:
        return None
    return await (
        AccountToken.select(AccountToken.id, AccountToken.user)
        .where(
            (AccountToken.token_hash == _hash(token))
            & (AccountToken.purpose == purpose)
            & (AccountToken.used_at.is_null())
            & (AccountToken.expires_at > clock.now())
        )
        .first()
    )


async def _use_token(token: str, purpose: str) -> int | None:
    """Mark the token used, if it still can be (one conditional UPDATE: two clicks use it once)."""
    if not token or len(token) > 200:
        return None
    rows = (
        await AccountToken.update({AccountToken.used_at: clock.now()})
        .where(
            (AccountToken.token_hash == _hash(token))
            & (AccountToken.purpose == purpose)
            & (AccountToken.used_at.is_null())
            & (AccountToken.expires_at > clock.now())
        )
        .returning(AccountToken.user)
    )
    return int(rows[0]["user"]) if rows else None


async def verify_link_is_live(token: str) -> bool:
    return await _live_token(token, "verify_email") is not None


async def confirm_email(token: str) -> bool:
    """Confirm the address the link was sent to; False when the link is unknown, used or expired."""
    async with write_transaction():
        user_id = await _use_token(token, "verify_email")
        if user_id is None:
            return False
        await User.update({User.email_verified_at: clock.now(), User.must_confirm_email: False}).where(
            (User.id == user_id) & (User.must_confirm_email.eq(True))
        )
        # The other links sent for the same address are spent too.
        await AccountToken.update({AccountToken.used_at: clock.now()}).where(
            (AccountToken.user == user_id)
            & (AccountToken.purpose == "verify_email")
            & (AccountToken.used_at.is_null())
        )
    return True


async def request_reset(email: str, base_url: str) -> None:
    """Queue a reset link when an active account has this address; nothing happens otherwise."""
    email = normal_email(email)
    if not email or len(email) > 254:
        return
    async with write_transaction():
        found = (
            await User.select(User.id, User.display_name)
            .where((User.email == email) & (User.is_active.eq(True)))
            .first()
        )
        if found is None:
            return
        token = await _new_token(found["id"], "reset_password", RESET_TTL)
        if token is None:
            return
        link = f"{base_url}/password/reset/{token}"
        body = gettext(
            "{name}, someone (perhaps you) asked to reset the password of your kepu (科普预约) account.\n\n"
            "To choose a new password, open this link within one hour; it works once:\n\n{link}\n\n"
            "If it was not you, ignore this message: your password stays as it is."
        ).format(name=found["display_name"], link=link)
        await _mail(
            kind="reset_password",
            to=email,
            user_id=found["id"],
            subject=gettext("Reset your kepu password"),
            body=body,
            link=link,
        )


async def reset_user(token: str) -> dict[str, Any] | None:
    """The account a live reset link belongs to (its phone and e-mail, for the password rules)."""
    live = await _live_token(token, "reset_password")
    if live is None:
        return None
    return await User.select(User.id, User.phone, User.email).where(User.id == live["user"]).first()


async def end_sessions(user_id: int) -> None:
    """Sign the account out everywhere: its page sessions and API tokens end."""
    await AccessToken.delete().where(AccessToken.user == user_id)
    doomed = []
    for entry in await StoreEntry.select(StoreEntry.id, StoreEntry.value).where(
        StoreEntry.namespace == "session"
    ):
        try:
            data = json.loads(bytes(entry["value"]))
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("user_id") == user_id:
            doomed.append(entry["id"])
    if doomed:
        await StoreEntry.delete().where(StoreEntry.id.is_in(doomed))


async def reset_password(token: str, password: str) -> bool:
    """Set the new password (the caller has checked it), spend every reset link, end every session."""
    new_hash = await hash_password(password)
    async with write_transaction():
        user_id = await _use_token(token, "reset_password")
        if user_id is None:
            return False
        now = clock.now()
        await User.update({User.password_hash: new_hash}).where(User.id == user_id)
        # Following a link sent to the address proves it, as the confirmation link would.
        await User.update({User.must_confirm_email: False}).where(User.id == user_id)
        await User.update({User.email_verified_at: now}).where(
            (User.id == user_id) & (User.email_verified_at.is_null())
        )
        await AccountToken.update({AccountToken.used_at: now}).where(
            (AccountToken.user == user_id)
            & (AccountToken.purpose == "reset_password")
            & (AccountToken.used_at.is_null())
        )
        await end_sessions(user_id)
    return True


async def account_details(user_id: int) -> dict[str, Any] | None:
    return await (
        User.select(
            User.id,
            User.username,
            User.display_name,
            User.phone,
            User.email,
            User.role,
            User.school.name.as_alias("school_name"),
            User.school.district.as_alias("district"),
            User.school.stage.as_alias("stage"),
        )
        .where(User.id == user_id)
        .first()
    )


async def change_password(user_id: int, current: str, new: str, again: str) -> dict[str, str]:
    """{field: problem}, or {} when the password is changed."""
    row = await User.select(User.password_hash, User.phone, User.email).where(User.id == user_id).first()
    if row is None or not await verify_password(current[:1024], row["password_hash"]):
        return {"current_password": gettext("That is not your current password.")}
    if problem := password_problem(new, phone=row["phone"], email=row["email"]):
        return {"new_password": problem}
    if new != again:
        return {"new_password_again": gettext("The two passwords differ; type the same one twice.")}
    new_hash = await hash_password(new)
    async with write_transaction():
        await User.update({User.password_hash: new_hash}).where(User.id == user_id)
    return {}
