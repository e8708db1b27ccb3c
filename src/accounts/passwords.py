"""Password hashing with argon2id (salted, deliberately slow), run off the event loop."""

from __future__ import annotations

import asyncio
import os
import weakref

import anyio
import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# Production: argon2id with the least memory of OWASP's recommended parameter sets (Password Storage
# Cheat Sheet: 7 MiB, 5 passes, 1 lane — rated as strong as its 12 MiB/3, 19 MiB/2 or 46 MiB/1), rather
# than argon2-cffi's 64 MiB default: every sign-in briefly holds that much memory in a `kepu serve`
# process, which counts towards its peak (bench/RESULTS.md), and at most
# CONCURRENT of them run at once (a burst of sign-ins queues instead of multiplying the memory; the
# memory goes back afterwards, core/memory.py). Hashes made with other parameters still verify: each
# hash carries its own. The test suite sets KEPU_FAST_PASSWORD_HASHING=1 for the smallest parameters,
# still real salted argon2id, so that hundreds of test accounts don't cost minutes.
PRODUCTION: dict[str, int] = {"time_cost": 5, "memory_cost": 7 * 1024, "parallelism": 1}
_hasher = (
    PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    if os.environ.get("KEPU_FAST_PASSWORD_HASHING") == "1"
    else PasswordHasher(
        time_cost=PRODUCTION["time_cost"],
        memory_cost=PRODUCTION["memory_cost"],
        parallelism=PRODUCTION["parallelism"],
    )
)
CONCURRENT = max(2, os.cpu_count() or 2)
_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)


def _threads() -> anyio.CapacityLimiter:
    """The event loop's limit on hashes computed at once (a limiter belongs to one loop)."""
    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = _limiters[loop] = anyio.CapacityLimiter(CONCURRENT)
    return limiter


# A hash of a random password, verified when the username is unknown so that a wrong username
# takes as long as a wrong password and timing does not reveal which accounts exist.
_DUMMY_HASH = _hasher.hash("kepu-no-such-user")


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_hasher.hash, password, limiter=_threads())


async def verify_password(password: str, password_hash: str | None) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    return await anyio.to_thread.run_sync(check, limiter=_threads())
