"""Password hashing: production parameters, hashes made with other parameters, and the bound on hashes
computed at once (each holds its memory cost for the duration)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
from argon2 import PasswordHasher
from argon2.low_level import Type

from accounts import passwords


def test_production_hashes_use_owasp_argon2id_parameters() -> None:
    """Without the test suite's setting, a new hash is argon2id with 7 MiB, 5 passes, 1 lane."""
    env = {k: v for k, v in os.environ.items() if k != "KEPU_FAST_PASSWORD_HASHING"}
    code = "import asyncio; from accounts import passwords as p; print(asyncio.run(p.hash_password('pw')))"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip().startswith("$argon2id$v=19$m=7168,t=5,p=1$")


async def test_hashes_with_other_parameters_still_verify() -> None:
    # e.g. made before the parameters changed (argon2-cffi's 64 MiB default), or by the test setting
    old = PasswordHasher(time_cost=3, memory_cost=8 * 1024, parallelism=4, type=Type.ID).hash("旧密码-123")
    assert await passwords.verify_password("旧密码-123", old)
    assert not await passwords.verify_password("旧密码-124", old)
    assert not await passwords.verify_password("旧密码-123", None)
    fresh = await passwords.hash_password("新密码-456")
    assert await passwords.verify_password("新密码-456", fresh)


async def test_at_most_concurrent_hashes_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    running = peak = 0
    lock = threading.Lock()

    class Slow:
        def verify(self, _hash: str, _password: str) -> bool:
            nonlocal running, peak
            with lock:
                running += 1
                peak = max(peak, running)
            time.sleep(0.05)
            with lock:
                running -= 1
            return True

        def hash(self, password: str) -> Any:
            self.verify("", password)
            return "x"

    monkeypatch.setattr(passwords, "_hasher", Slow())
    await asyncio.gather(
        *(passwords.verify_password("pw", "h") for _ in range(passwords.CONCURRENT * 3)),
        *(passwords.hash_password("pw") for _ in range(passwords.CONCURRENT)),
    )
    assert peak == passwords.CONCURRENT


def test_large_freed_blocks_go_back_to_the_system() -> None:
    """`kepu serve` and `kepu worker` set glibc's mmap threshold (core/memory.py) before threads start."""
    code = (
        "from core.memory import return_large_blocks; import sys; "
        "import platform; ok = return_large_blocks(); "
        "sys.exit(0 if ok or platform.libc_ver()[0] != 'glibc' else 1)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
