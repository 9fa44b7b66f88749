"""The client processes of `bench.bench_load`: closed-loop mixed clients, one tally per
call type.

Each client process (spawned, never forked: gRPC does not survive a fork) runs its
share of the clients as grpc.aio coroutines, each with its own channel and connection
(a local subchannel pool: channels to one target would otherwise share one connection,
and the kernel spreads connections, not calls, over the server processes). A process
says it is ready once every channel is connected, waits for the window, and runs its
clients until the window ends; calls that started inside the window count.

What it does not: choose or make the calls (bench/load_mix.py), start servers or
measure them (bench/bench_load.py).
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.queues import Queue
from typing import Any

import grpc

from bench.bench_calls import CallError, spread
from bench.load_mix import KINDS, MixedCaller, Slot
from bench.percentiles import percentile
from vault.v1 import vault_pb2_grpc

READY_TIMEOUT_SECONDS = 120.0
RESULT_GRACE_SECONDS = 60.0
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 8 * 1024 * 1024),
    ("grpc.use_local_subchannel_pool", 1),
]


@dataclass
class KindTally:
    """What the clients of one process saw of one call type in the window."""

    calls: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    first_error: str = ""


@dataclass(frozen=True)
class ProcessPlan:
    target: str
    slot: Slot
    clients: int
    first_client: int  # the global number of its first client


async def closed_loop(
    caller: MixedCaller, window: tuple[float, float], tallies: dict[str, KindTally]
) -> None:
    start, end = window
    while (began := time.monotonic()) < end:
        kind = caller.next_kind()
        error = ""
        try:
            await caller.call(kind)
        except (grpc.aio.AioRpcError, CallError) as failure:
            error = str(failure)[:500]
        if began < start:
            continue
        tally = tallies[kind]
        tally.calls += 1
        tally.latencies.append(time.monotonic() - began)
        if error:
            tally.errors += 1
            tally.first_error = tally.first_error or error


async def process_async(
    plan: ProcessPlan, ready: Queue[int], go: Queue[tuple[float, float]]
) -> dict[str, KindTally]:
    channels = [
        grpc.aio.insecure_channel(plan.target, options=CHANNEL_OPTIONS) for _ in range(plan.clients)
    ]
    try:
        await asyncio.gather(*(channel.channel_ready() for channel in channels))
        callers = [
            MixedCaller(vault_pb2_grpc.DossierVaultStub(channel), plan.slot, plan.first_client + n)
            for n, channel in enumerate(channels)
        ]
        ready.put(plan.first_client)
        window = await asyncio.get_running_loop().run_in_executor(None, go.get)
        tallies = {kind: KindTally() for kind in KINDS}
        await asyncio.gather(*(closed_loop(caller, window, tallies) for caller in callers))
        return tallies
    finally:
        await asyncio.gather(*(channel.close() for channel in channels))


def process_main(
    plan: ProcessPlan, ready: Queue[int], go: Queue[tuple[float, float]], results: Queue[Any]
) -> None:
    try:
        tallies = asyncio.run(process_async(plan, ready, go))
        results.put({kind: asdict(tally) for kind, tally in tallies.items()})
    except BaseException as error:
        results.put({"failure": f"{type(error).__name__}: {error}"})
        raise


@dataclass(frozen=True)
class KindResult:
    """One call type over the window, all client processes together."""

    calls: int
    errors: int
    calls_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    first_error: str = ""


class ClientLoad:
    """Client processes started and connected; `run` opens the window and collects."""

    def __init__(self, target: str, slots: Sequence[Slot], clients: int, processes: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._ready: Queue[int] = context.Queue()
        self._go: Queue[tuple[float, float]] = context.Queue()
        self._results: Queue[Any] = context.Queue()
        counts = spread(clients, processes)
        firsts = itertools.accumulate([0, *counts[:-1]])
        plans = [
            ProcessPlan(target, slots[n], count, first)
            for n, (count, first) in enumerate(zip(counts, firsts, strict=True))
        ]
        self._processes = [
            context.Process(
                target=process_main, args=(plan, self._ready, self._go, self._results), daemon=True
            )
            for plan in plans
        ]

    def __enter__(self) -> ClientLoad:
        for process in self._processes:
            process.start()
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        for _ in self._processes:
            self._ready.get(timeout=max(0.1, deadline - time.monotonic()))
        return self

    def start(self, warmup: float, seconds: float) -> tuple[float, float]:
        """Opens the window `warmup` seconds from now; returns it (time.monotonic)."""
        start = time.monotonic() + warmup
        window = (start, start + seconds)
        for _ in self._processes:
            self._go.put(window)
        return window

    def results(self, seconds: float) -> dict[str, KindResult]:
        tallies = [self._results.get(timeout=RESULT_GRACE_SECONDS) for _ in self._processes]
        failures = [tally["failure"] for tally in tallies if "failure" in tally]
        if failures:
            raise RuntimeError(f"a client process failed: {failures[0]}")
        return {kind: _merged([t[kind] for t in tallies], seconds) for kind in KINDS}

    def __exit__(self, *exc: object) -> None:
        for process in self._processes:
            process.join(timeout=RESULT_GRACE_SECONDS)
            if process.is_alive():
                process.kill()
                process.join()


def _merged(tallies: Sequence[dict[str, Any]], seconds: float) -> KindResult:
    latencies = sorted(itertools.chain.from_iterable(t["latencies"] for t in tallies))
    calls = sum(t["calls"] for t in tallies)
    return KindResult(
        calls=calls,
        errors=sum(t["errors"] for t in tallies),
        calls_per_s=calls / seconds,
        p50_ms=percentile(latencies, 50) * 1000 if latencies else None,
        p99_ms=percentile(latencies, 99) * 1000 if latencies else None,
        first_error=next((t["first_error"] for t in tallies if t["first_error"]), ""),
    )
