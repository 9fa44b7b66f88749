"""A worker of `serve --processes N` stops when its parent is gone, even SIGKILLed.

The parent (vault/server/workers.py) opens a pipe, keeps its write end to itself (not
inheritable, never written) and hands every worker the read end (`serve --parent-fd`).
When the parent dies, however it dies, the kernel closes the write end: the read end
turns readable (end of file) and the worker stops as on SIGTERM, draining its calls and
freeing the port. A pipe rather than Linux's `prctl(PR_SET_PDEATHSIG)`: it works on
every POSIX system, it fires on the death of the process, not of the thread that
forked, it needs no `preexec_fn` (unsafe once the parent runs threads, which its
metrics server does), and a parent dead before the worker watched is not missed (the
end of file waits in the pipe). What it does not: start or reap workers
(vault/server/workers.py).
"""

from __future__ import annotations

import asyncio
import logging
import os

_log = logging.getLogger(__name__)


def watch(fd: int, stop: asyncio.Event) -> None:
    """Sets `stop` once `fd`, the read end of the parent's pipe, reads end of file."""
    loop = asyncio.get_running_loop()

    def parent_gone() -> None:
        loop.remove_reader(fd)
        os.close(fd)
        _log.warning("the parent process is gone: stopping")
        stop.set()

    loop.add_reader(fd, parent_gone)
