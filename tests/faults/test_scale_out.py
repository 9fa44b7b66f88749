"""Drill (issue #17 item 6): 4 server processes on one port, 32 concurrent writers.

`dossier-vault serve --processes 4` (the processes share the port: VAULT_REUSE_PORT) on
one PostgreSQL database; 32 writers, each on a connection of its own so the kernel
spreads them over the processes, put and read documents at once. Every call succeeds,
every process served some, the journal export is one chain from entry 1 without a gap
or a fork (`journal verify --require-checkpoint`), and one process alone took the
singleton advisory lock and signed the checkpoints. Then the rest of the audit.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.faults.harness import OK, Ledger, Traffic, Vault, audit, vault_env
from tests.server.test_ports import _connections

PROCESSES = 4
WRITERS = 32


def test_four_processes_and_thirty_two_writers_keep_one_journal_chain_and_one_checkpointer(
    postgres_url: str, tmp_path: Path
) -> None:
    # few threads per process: 4 processes' pools stay well inside the shared server's
    # connection limit
    env = vault_env(
        tmp_path / "var",
        postgres_url,
        VAULT_REUSE_PORT="1",
        VAULT_WORKERS="2",
        VAULT_BLOB_WORKERS="2",
    )
    vault = Vault(env, tmp_path / "server.log", "--processes", str(PROCESSES), listening=PROCESSES)
    vault.start()
    ledger = Ledger()
    try:
        started = re.search(
            r"started \d+ server processes on \S+: ([\d, ]+)", vault.log.read_text()
        )
        assert started, vault.log.read_text()
        workers = [int(pid) for pid in started[1].split(", ")]
        assert len(workers) == PROCESSES
        port = int(vault.target.rsplit(":", 1)[1])
        with Traffic(vault, ledger, writers=WRITERS) as traffic:
            traffic.wait_until(lambda: ledger.count(OK) >= WRITERS, "writes", seconds=120)
            connected = [_connections(pid, port) for pid in workers]
            traffic.wait_until(lambda: ledger.count(OK) >= 2 * WRITERS, "writes", seconds=120)
        assert all(connected), connected  # the kernel spread the writers over every process
        tally = ledger.tally()
        assert set(tally) == {"OK"}, tally
        audit(vault, ledger, tmp_path)
    finally:
        vault.stop()
    log = vault.log.read_text()
    holders = set(re.findall(r"process (\d+) holds the singleton lock", log))
    assert len(holders) == 1, log  # one checkpointer (and sweeper) for the deployment
    for trouble in ("Traceback", "checkpoint failed", "REFUSED", "different checkpoint"):
        assert trouble not in log, log
