"""Keep a long-running kepu process's memory from only ever growing, and its collector's pauses short.

glibc serves a large allocation from a thread's heap arena once its "dynamic mmap threshold" has grown
past that size, and a freed block there stays with the process. A password hash holds its memory cost
(argon2id: 12 MiB when this was measured, 7 MiB now) in whichever worker thread ran it, so every
sign-in could leave that much behind in another arena (measured: RSS 99 → 124 MB after one sign-in, for
good). A fixed threshold of 1 MiB sends
such blocks to mmap, and they go back to the system when freed (RSS 99 → 106 MB).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc

M_MMAP_THRESHOLD = -3  # glibc's mallopt() parameter number
MMAP_THRESHOLD_BYTES = 1024 * 1024


def return_large_blocks() -> bool:
    """Set glibc's mmap threshold to 1 MiB; True when it took effect (False off glibc: nothing to do)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS): their allocators behave otherwise
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))


def settle_heap() -> None:
    """Move everything a started server holds into the collector's permanent generation.

    The app, its routes, templates, translations and imported modules live as long as the process, yet
    every full (oldest-generation) collection walked them all again: 40–70 ms with the event loop
    stopped, every few thousand requests, which put every request in flight at that moment in the
    slowest 1% (bench/RESULTS.md, session 8). Frozen objects are still freed when nothing refers to
    them; only cycles among them would stay, and a server's startup leaves none worth collecting (it
    collects first). Call it once, when startup is done.
    """
    gc.collect()
    gc.freeze()
