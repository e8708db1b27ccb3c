"""Password hashing with argon2id (salted, deliberately slow), run off the event loop."""

from __future__ import annotations

import os

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# Production uses argon2-cffi's defaults (RFC 9106 "low memory": 64 MiB, 3 passes). The test suite
# sets KEPU_FAST_PASSWORD_HASHING=1 to use the smallest parameters, still real salted argon2id,
# so that hundreds of test accounts don't cost minutes.
_hasher = (
    PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    if os.environ.get("KEPU_FAST_PASSWORD_HASHING") == "1"
    else PasswordHasher()
)

# A hash of a random password, verified when the username is unknown so that a wrong username
# takes as long as a wrong password and timing does not reveal which accounts exist.
_DUMMY_HASH = _hasher.hash("kepu-no-such-user")


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_hasher.hash, password)


async def verify_password(password: str, password_hash: str | None) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    return await anyio.to_thread.run_sync(check)
