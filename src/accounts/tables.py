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
    created_at = Timestamptz()


class User(Table, tablename="accounts_user"):
    """Anyone who signs in: a teacher (of a school), venue staff, or an auditor of the science association."""

    id: Serial

    username = Varchar(length=150, unique=True)
    password_hash = Varchar(length=255, secret=True, help_text="argon2id, salted, slow.")
    role = Varchar(length=16, help_text="teacher | staff | auditor")
    display_name = Varchar(length=200, default="")
    phone = Varchar(length=32, default="")
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


class StoreEntry(Table, tablename="accounts_store_entry"):
    """Key-value entries shared by every process (web sessions, throttling); expired entries are ignored."""

    id: Serial

    namespace = Varchar(length=32)
    key = Varchar(length=200, unique=True, help_text="namespace:key, unique across namespaces.")
    value = Bytea()
    expires_at = Timestamptz(null=True, default=None, index=True)


class InstallationSecret(Table, tablename="accounts_installation_secret"):
    """Secrets generated once per installation (e.g. the root secret when KEPU_SECRET_KEY is unset)."""

    id: Serial

    name = Varchar(length=64, unique=True)
    value = Text(secret=True)
    created_at = Timestamptz()


__all__ = ["AccessToken", "InstallationSecret", "School", "StoreEntry", "User"]
