"""Accounts rules: creating users and schools, signing in, access tokens, installation secrets."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

import auditlog
from accounts import throttle
from accounts.passwords import hash_password, verify_password
from accounts.schemas import SchoolView, UserView
from accounts.tables import DISTRICTS, ROLES, AccessToken, InstallationSecret, School, User
from core import clock
from core.db import write_transaction
from core.errors import DomainError
from core.i18n import N_

TOKEN_TTL = timedelta(hours=12)
USERNAME_RE = re.compile(r"^[^\s]{1,150}$")
MIN_PASSWORD_LENGTH = 8


class AccountError(DomainError):
    messages: ClassVar[dict[str, tuple[int, str]]] = {
        "duplicate_username": (409, N_("The username “{username}” is taken; choose another.")),
        "bad_username": (
            422,
            N_("A username has 1 to 150 characters and no spaces."),
        ),
        "bad_role": (422, N_("The role must be teacher, staff or auditor.")),
        "short_password": (422, N_("A password needs at least {n} characters.")),
        "school_required": (422, N_("A teacher needs a school and its district.")),
        "bad_district": (422, N_("The district must be one of Xiamen's six: {districts}.")),
        "school_not_allowed": (422, N_("Only teachers belong to a school.")),
    }


def check_district(district: str) -> None:
    if district not in DISTRICTS:
        raise AccountError("bad_district", districts="、".join(DISTRICTS))


async def find_or_create_school(name: str, district: str, stage: str = "") -> SchoolView:
    """The school with this name in this district, registering it if it is new (with its stage code,
    which also fills in a known school's missing stage)."""
    name = name.strip()
    check_district(district)
    if not name:
        raise AccountError("school_required")
    async with write_transaction():
        row = (
            await School.select(School.id, School.stage)
            .where((School.name == name) & (School.district == district))
            .first()
        )
        if row is None:
            created = await School.insert(
                School(name=name, district=district, stage=stage, created_at=clock.now())
            ).returning(School.id)
            school_id = created[0]["id"]
        else:
            school_id = row["id"]
            if stage and not row["stage"]:
                await School.update({School.stage: stage}).where(School.id == school_id)
    return SchoolView(id=school_id, name=name, district=district)


async def create_user(
    username: str,
    password: str,
    role: str,
    *,
    display_name: str = "",
    phone: str = "",
    school_id: int | None = None,
    min_password_length: int = MIN_PASSWORD_LENGTH,
    actor: Any = None,
) -> int:
    """Create an account; the caller links staff to a venue (venues depends on accounts, not back).
    An account made by someone else (`actor`: an auditor, or auditlog.CONSOLE) goes in the audit log."""
    if not USERNAME_RE.match(username):
        raise AccountError("bad_username")
    if role not in ROLES:
        raise AccountError("bad_role")
    if len(password) < max(min_password_length, 1):
        raise AccountError("short_password", n=max(min_password_length, 1))
    if role == "teacher" and school_id is None:
        raise AccountError("school_required")
    if role != "teacher" and school_id is not None:
        raise AccountError("school_not_allowed")
    password_hash = await hash_password(password)
    async with write_transaction():
        if await User.exists().where(User.username == username):
            raise AccountError("duplicate_username", username=username)
        rows = await User.insert(
            User(
                username=username,
                password_hash=password_hash,
                role=role,
                display_name=display_name or username,
                phone=phone,
                school=school_id,
                created_at=clock.now(),
            )
        ).returning(User.id)
        user_id = int(rows[0]["id"])
        if actor is not None:
            after = {"username": username, "display_name": display_name or username, "role": role}
            await auditlog.record(
                actor, "user.create", "user", user_id, after={**after, "school_id": school_id}
            )
    return user_id


async def check_sign_in(username: str, password: str) -> tuple[int | None, bool]:
    """(the user's id, False) when the credentials are right and the account may sign in;
    (None, True) when they are right but the e-mail address is not confirmed yet; else (None, False).
    A username with an @ also finds the account registered with that e-mail address."""
    where: Any = User.username == username
    if "@" in username:
        where = where | (User.email == username.strip().lower())
    row = (
        await User.select(User.id, User.password_hash, User.is_active, User.must_confirm_email)
        .where(where)
        .order_by(User.id)
        .first()
    )
    ok = await verify_password(password, row["password_hash"] if row else None)
    if not ok or row is None or not row["is_active"]:
        return None, False
    if row["must_confirm_email"]:
        return None, True
    return int(row["id"]), False


async def authenticate(username: str, password: str) -> int | None:
    """The user's id when the credentials are right and the account is active and confirmed, else None."""
    user_id, _ = await check_sign_in(username, password)
    return user_id


@dataclass(frozen=True)
class SignInResult:
    user_id: int | None = None
    unconfirmed: bool = False
    lockout: throttle.Lockout | None = None


async def throttled_sign_in(username: str, password: str, address: str) -> SignInResult:
    """check_sign_in behind the sign-in throttle (accounts.throttle explains the trade-offs): the
    password is always checked and a right one always gets in; a wrong one is counted, and refused
    with a Lockout while the typed name or the client address is over its limit."""
    await throttle.slow_down_if_locked(username, address)
    user_id, unconfirmed = await check_sign_in(username, password)
    if user_id is not None:
        await throttle.clear_account(username)
        return SignInResult(user_id=user_id)
    if unconfirmed:  # the right password: not a failure
        return SignInResult(unconfirmed=True)
    return SignInResult(lockout=await throttle.record_failure(username, address))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_token(user_id: int, ttl: timedelta = TOKEN_TTL) -> tuple[str, int]:
    """A new bearer token (random, 256 bits) and its lifetime in seconds."""
    token = secrets.token_urlsafe(32)
    now = clock.now()
    async with write_transaction():
        await AccessToken.insert(
            AccessToken(token_hash=_token_hash(token), user=user_id, created_at=now, expires_at=now + ttl)
        )
        # Housekeeping on the write path keeps the table small without a separate job.
        await AccessToken.delete().where(AccessToken.expires_at < now - timedelta(days=1))
    return token, int(ttl.total_seconds())


USER_COLUMNS: tuple[Any, ...] = (
    User.id,
    User.username,
    User.role,
    User.display_name,
    User.is_active,
    User.created_at,
    User.school.id.as_alias("school_id"),
    User.school.name.as_alias("school_name"),
    User.school.district.as_alias("district"),
)


def _user_view(row: dict[str, Any]) -> UserView:
    return UserView(
        id=row["id"],
        username=row["username"],
        role=row["role"],
        display_name=row["display_name"],
        school_id=row["school_id"],
        school_name=row["school_name"],
        district=row["district"],
        created_at=row["created_at"],
    )


async def get_user_by_username(username: str) -> UserView | None:
    row = await User.select(*USER_COLUMNS).where(User.username == username).first()
    return _user_view(row) if row else None


async def installation_secret(name: str, make: Callable[[], str]) -> str:
    """A secret generated once for the installation and shared by every process through the database."""
    row = (
        await InstallationSecret.select(InstallationSecret.value)
        .where(InstallationSecret.name == name)
        .first()
    )
    if row:
        return str(row["value"])
    async with write_transaction():
        # Two processes starting together: the unique name lets only one insert win.
        await InstallationSecret.insert(
            InstallationSecret(name=name, value=make(), created_at=clock.now())
        ).on_conflict(action="DO NOTHING")
    row = (
        await InstallationSecret.select(InstallationSecret.value)
        .where(InstallationSecret.name == name)
        .first()
    )
    assert row is not None
    return str(row["value"])
