"""Parked uploads in the upload budget (vault/server/budget.py, docs/adr/0031): what a
parked upload holds is charged to the server's budget, refused when it does not fit (the
upload is then aborted, not parked), released when a resume's stream adopts it or when
the reaper expires it."""

from __future__ import annotations

import asyncio

from vault.server.budget import UploadBudget

MIB = 1 << 20


def test_a_parked_upload_is_charged_to_the_server_until_unparked() -> None:
    asyncio.run(_test_a_parked_upload_is_charged_to_the_server_until_unparked())


async def _test_a_parked_upload_is_charged_to_the_server_until_unparked() -> None:
    budget = UploadBudget(3 * MIB, MIB, 0.01)
    assert budget.park(MIB)
    assert budget.park(MIB)
    assert not budget.park(2 * MIB)  # no room: not parked
    assert (budget.used, budget.parked) == (2 * MIB, 2 * MIB)
    assert not budget.room("peer", 2 * MIB)  # streams see the parked bytes
    budget.unpark(MIB)
    assert (budget.used, budget.parked) == (MIB, MIB)


def test_a_resumed_stream_adopts_the_parked_charge() -> None:
    asyncio.run(_test_a_resumed_stream_adopts_the_parked_charge())


async def _test_a_resumed_stream_adopts_the_parked_charge() -> None:
    budget = UploadBudget(3 * MIB, 2 * MIB, 0.01)
    assert budget.park(MIB)
    stream = budget.stream("peer")
    budget.unpark(MIB)
    stream.adopt(MIB)
    assert (budget.used, budget.parked, budget.connection_used("peer")) == (MIB, 0, MIB)
    stream.release()
    assert budget.used == 0


def test_the_reaper_releases_what_expired_and_runs_again_while_anything_is_parked() -> None:
    asyncio.run(_test_the_reaper_releases_what_expired_and_runs_again_while_anything_is_parked())


async def _test_the_reaper_releases_what_expired_and_runs_again_while_anything_is_parked() -> None:
    budget = UploadBudget(3 * MIB, MIB, 0.01)
    assert budget.park(MIB)
    assert budget.park(MIB)
    rounds = [([MIB], 0.0), ([MIB], None)]  # one expires, then the other; then none parked
    done = asyncio.Event()

    async def reap() -> tuple[list[int], float | None]:
        released, again = rounds.pop(0)
        if again is None:
            done.set()
        return released, again

    budget.reap_after(0.0, reap)
    await asyncio.wait_for(done.wait(), 10)
    await asyncio.sleep(0)  # the last round's release
    assert (budget.used, budget.parked, rounds) == (0, 0, [])
