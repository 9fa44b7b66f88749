"""The upload budget's arithmetic (vault/server/budget.py), without a server."""

from __future__ import annotations

import asyncio

import pytest

from vault.errors import ResourceExhaustedError
from vault.server.budget import MIB, UploadBudget


def test_a_chunk_over_the_servers_budget_is_refused_at_once() -> None:
    budget = UploadBudget(4 * MIB, 4 * MIB, wait_seconds=10)
    budget.stream("a").admit(3 * MIB)
    with pytest.raises(ResourceExhaustedError, match="server's upload memory budget"):
        budget.stream("b").admit(2 * MIB)


def test_a_chunk_over_its_connections_budget_is_refused_while_another_connection_fits() -> None:
    budget = UploadBudget(16 * MIB, 4 * MIB, wait_seconds=10)
    budget.stream("a").admit(3 * MIB)
    with pytest.raises(ResourceExhaustedError, match="connection's upload memory budget"):
        budget.stream("a").admit(2 * MIB)
    budget.stream("b").admit(2 * MIB)
    assert budget.used == 5 * MIB


def test_a_stream_waits_for_room_before_reading_then_is_refused() -> None:
    async def scenario() -> None:
        budget = UploadBudget(2 * MIB, 2 * MIB, wait_seconds=0.2)
        budget.stream("a").admit(2 * MIB)
        with pytest.raises(ResourceExhaustedError):
            await budget.stream("b").before_read()

    asyncio.run(scenario())


def test_a_waiting_stream_reads_once_another_releases() -> None:
    async def scenario() -> None:
        budget = UploadBudget(2 * MIB, 2 * MIB, wait_seconds=5)
        holder = budget.stream("a")
        holder.admit(2 * MIB)
        waiting = asyncio.ensure_future(budget.stream("a").before_read())
        await asyncio.sleep(0.05)
        assert not waiting.done()
        holder.release()
        await asyncio.wait_for(waiting, 1)
        assert budget.used == 0
        assert budget.connection_used("a") == 0

    asyncio.run(scenario())


def test_a_streams_own_charge_does_not_block_its_next_read() -> None:
    async def scenario() -> None:
        budget = UploadBudget(4 * MIB, 4 * MIB, wait_seconds=0.1)
        stream = budget.stream("a")
        stream.admit(3 * MIB)
        await stream.before_read()  # its 3 MiB are settled before the next chunk
        stream.settle(MIB)  # what the encryptor still holds after the write
        stream.admit(3 * MIB)
        assert budget.used == 4 * MIB

    asyncio.run(scenario())


def test_the_heap_is_trimmed_when_a_wave_of_uploads_ends() -> None:
    trims: list[int] = []
    budget = UploadBudget(256 * MIB, 256 * MIB, wait_seconds=1, trim=lambda: trims.append(1))
    streams = [budget.stream(str(i)) for i in range(100)]
    for stream in streams:
        stream.admit(MIB)
    for stream in streams:
        stream.release()
    assert len(trims) == 1  # once 64 MiB were freed; the other 36 MiB are not worth one


def test_refused_chunks_count_towards_the_next_trim() -> None:
    trims: list[int] = []
    budget = UploadBudget(1 * MIB, 1 * MIB, wait_seconds=1, trim=lambda: trims.append(1))
    for _ in range(32):  # 64 MiB refused
        with pytest.raises(ResourceExhaustedError):
            budget.stream("a").admit(2 * MIB)
    assert len(trims) == 1
