"""Accounts tables: users and their roles, schools, access tokens, web sessions, installation secrets."""

from piccolo.columns import (
    Boolean,
    Bytea,
    ForeignKey,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.table import Table

ROLES = ("teacher", "staff", "auditor")
DISTRICTS = ("思明区", "湖里区", "集美区", "海沧区", "同安区", "翔安区")


class School(Table, tablename="accounts_school"):
    """A school in the registry; bookings are made for a school, teachers belong to one."""

    id: Serial

    name = Varchar(length=200, index=True)
    district = Varchar(length=8, help_text="One of Xiamen's six districts.")
    stage = Varchar(length=16, default="", help_text="A code of accounts.labels.STAGE_LABELS, or empty.")
    created_at = Timestamptz()


class User(Table, tablename="accounts_user"):
    """Anyone who signs in: a teacher (of a school), venue staff, or an auditor of the science association."""

    id: Serial

    username = Varchar(length=150, unique=True)
    password_hash = Varchar(length=255, secret=True, help_text="argon2id, salted, slow.")
    role = Varchar(length=16, help_text="teacher | staff | auditor")
    display_name = Varchar(length=200, default="")
    phone = Varchar(length=32, default="")
    email = Varchar(
        length=254, default="", help_text="Lower-case; unique when set (a partial index in the migration)."
    )
    # Only a self-registered account waits for its e-mail link; accounts made by `kepu user add`, the
    # demo or an auditor sign in as before, whether or not an address is set on them later.
    must_confirm_email = Boolean(
        default=False, help_text="Self-registered, the e-mail link not followed yet: may not sign in."
    )
    email_verified_at = Timestamptz(
        null=True,
        default=None,
        help_text="None with an e-mail set: the link sent at registration not yet followed.",
    )
    school = ForeignKey(references=School, null=True, default=None, on_delete=OnDelete.restrict)
    is_active = Boolean(default=True)
    created_at = Timestamptz()


class AccessToken(Table, tablename="accounts_access_token"):
    """A bearer token for the JSON API; only its SHA-256 is stored, so a database leak reveals no token."""

    id: Serial

    token_hash = Varchar(length=64, unique=True)
    user = ForeignKey(references=User, null=False, on_delete=OnDelete.cascade, index=True)
    created_at = Timestamptz()
    expires_at = Timestamptz(index=True)


class AccountToken(Table, tablename="accounts_account_token"):
    """A single-use link sent by e-mail (verify the address, reset the password); only its SHA-256 is kept."""

    id: Serial

    purpose = Varchar(length=16, help_text="verify_email | reset_password")
    token_hash = Varchar(length=64, unique=True)
    user = ForeignKey(references=User, null=False, on_delete=OnDelete.cascade, index=True)
    created_at = Timestamptz()
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)


class StoreEntry(Table, tablename="accounts_store_entry"):
    """Key-value entries shared by every process (web sessions, throttling); expired entries are ignored."""

    id: Serial

    namespace = Varchar(length=32)
    key = Varchar(length=200, unique=True, help_text="namespace:key, unique across namespaces.")
    value = Bytea()
    expires_at = Timestamptz(null=True, default=None, index=True)


class SignInFailure(Table, tablename="accounts_signin_failure"):
    """One failed sign-in, counted for the name as typed (hashed) and for the client address
    (accounts.throttle); rows older than the throttling window are deleted."""

    id: Serial

    key = Varchar(length=80, index=True, help_text="n:<sha256 of the typed name> | a:<client address>")
    created_at = Timestamptz(index=True)


class InstallationSecret(Table, tablename="accounts_installation_secret"):
    """Secrets generated once per installation (e.g. the root secret when KEPU_SECRET_KEY is unset)."""

    id: Serial

    name = Varchar(length=64, unique=True)
    value = Text(secret=True)
    created_at = Timestamptz()


__all__ = [
    "AccessToken",
    "AccountToken",
    "InstallationSecret",
    "School",
    "SignInFailure",
    "StoreEntry",
    "User",
]
