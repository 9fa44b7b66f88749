"""Drill: the parent of `serve --processes 2` SIGKILLed leaves no worker behind.

Its workers watch a pipe only the parent holds (vault/server/parent_watch.py): once the
parent is gone, every worker stops on its own, the port is free again, and the same
configuration started again serves. The one bound is a generous wait for the workers
to leave; nothing is timed.
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

from tests.conftest import PATIENT_INS
from tests.faults.harness import Vault, create_dossier, vault_env
from vault.server.listen import ListenAddress, check_available

PROCESSES = 2
GONE_WITHIN = 60.0  # seconds: a worker drains for 5 and signs a last checkpoint


def _alive(pid: int) -> bool:
    """False once the process has exited, reaped or not (a zombie serves nothing)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = re.search(r"^State:\s+(\S)", status, re.MULTILINE)
    return state is not None and state[1] not in {"Z", "X"}


def _workers(vault: Vault) -> list[int]:
    started = re.search(r"started \d+ server processes on \S+: ([\d, ]+)", vault.log.read_text())
    assert started, vault.log.read_text()
    return [int(pid) for pid in started[1].split(", ")]


def test_workers_of_a_sigkilled_parent_stop_and_free_the_port(tmp_path: Path) -> None:
    env = vault_env(tmp_path / "var")
    vault = Vault(env, tmp_path / "server.log", "--processes", str(PROCESSES), listening=PROCESSES)
    vault.start()
    workers = _workers(vault)
    assert len(workers) == PROCESSES
    try:
        vault.kill()
        deadline = time.monotonic() + GONE_WITHIN
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in workers if _alive(pid)], vault.log.read_text()
        assert vault.log.read_text().count("the parent process is gone") == PROCESSES
        check_available(ListenAddress.parse(vault.target), reuse_port=False)  # raises if held
        vault.start()
        channel, stub = vault.stub()
        with channel:
            assert create_dossier(stub, vault.token(), PATIENT_INS)
    finally:
        vault.stop()
        for pid in workers:  # never leave a stray server behind a failed drill
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
