"""Keeping the server's resident memory flat: at most two glibc malloc arenas, trimmed
after waves of uploads (`trim_heap`, which vault/server/budget.py calls).

glibc gives each thread that allocates under contention an arena of its own (up to eight
per core) and keeps what an arena held once large buffers are freed there. The server
moves 1 MiB segments and 8 MiB S3 parts through a pool of 16+ worker threads, so its
peak resident memory crept up with the number of threads that ever held such a buffer:
the S3 benchmark went from 185 MiB after 64 MiB documents to 191 MiB after 1 GiB, and
limiting the arenas to two (as `MALLOC_ARENA_MAX=2` does) brought both to about 150 MiB
with no measurable cost in throughput (docs/performance.md). `mallopt` applies it from
inside the process, whoever starts the server; an operator's `MALLOC_ARENA_MAX` wins.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os

_M_ARENA_MAX = -8  # glibc's malloc.h
ARENAS = 2


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Caps glibc's malloc arenas, unless `MALLOC_ARENA_MAX` is set; returns whether it
    did (False too on a C library without `mallopt`, such as musl)."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    applied: int = mallopt(_M_ARENA_MAX, arenas)
    return applied == 1


def trim_malloc() -> bool:
    """Returns the free memory at the top of glibc's heaps to the system (`malloc_trim`),
    as after a wave of uploads whose buffers are gone; False without glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        malloc_trim = libc.malloc_trim
    except (OSError, AttributeError):
        return False
    released: int = malloc_trim(0)
    return released == 1


def trim_heap() -> None:
    """Frees what only reference cycles still hold (an aborted call's traceback keeps its
    frames and their buffers), then trims the heap (`trim_malloc`)."""
    gc.collect()
    trim_malloc()
