"""Dependency probes behind the gRPC health service (docs/adr/0010-bulkheads-and-deadlines.md).

`Probes.failing` runs each probe (the index and the journal: `SELECT 1`; the blob store:
a HeadBucket or a stat of its directory) in threads of its own, never the call
compartments', and names those that failed or did not answer within the timeout. A
probe still hung from an earlier round is not started again: it counts as failing until
it returns. `watch` sets the health service NOT_SERVING while one fails and SERVING
again once all answer, without a restart.

What it does not: probe the key provider (a key file has nothing to reach; an HSM
session is not probed yet), or stop calls (the compartments and timeouts do).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from grpc_health.v1 import health, health_pb2
from sqlalchemy import Engine, text

from vault.sqlstore import guard, reading

_log = logging.getLogger(__name__)
_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass(frozen=True)
class Probe:
    name: str
    check: Callable[[], object]  # raises, or hangs, while the dependency is down


def select_one(engine: Engine) -> Callable[[], object]:
    def check() -> None:
        with guard(), reading(engine) as conn:
            conn.execute(text("SELECT 1"))

    return check


class Probes:
    """Runs the probes, one in flight at most each, in a pool of their own."""

    def __init__(self, probes: Sequence[Probe], timeout: float) -> None:
        self._probes = tuple(probes)
        self._timeout = timeout
        self._pool = ThreadPoolExecutor(max(1, len(probes)), thread_name_prefix="vault-probe")
        self._running: dict[str, asyncio.Future[object]] = {}

    async def failing(self) -> list[str]:
        """The names of the probes that failed or did not answer in time."""
        for probe in self._probes:
            if probe.name not in self._running:
                self._running[probe.name] = asyncio.wrap_future(self._pool.submit(probe.check))
        await asyncio.wait(self._running.values(), timeout=self._timeout)
        failed: list[str] = []
        for name, future in list(self._running.items()):
            if not future.done():
                failed.append(name)  # still hung: it stays in flight
                continue
            del self._running[name]
            if future.cancelled() or future.exception() is not None:
                failed.append(name)
        return failed

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


async def watch(
    probes: Probes,
    servicer: health.aio.HealthServicer,
    services: Sequence[str],
    every_seconds: float,
    stop: asyncio.Event,
) -> None:
    """Probes every `every_seconds` until `stop`; sets `services`' health accordingly."""
    serving = True
    while not stop.is_set():
        try:
            failed = await probes.failing()
        except Exception:  # the watch must outlive any one failure
            _log.exception("dependency probe failed to run")
            failed = ["probes"]
        if stop.is_set():
            return
        if bool(failed) == serving:
            serving = not failed
            if failed:
                _log.warning("dependencies not answering: %s: NOT_SERVING", ", ".join(failed))
            else:
                _log.warning("dependencies answering again: SERVING")
            for name in services:
                await servicer.set(name, _SERVING if serving else _NOT_SERVING)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_seconds)
