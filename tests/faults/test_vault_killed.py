"""Drill: the vault SIGKILLed under load from concurrent writers, then restarted.

tests/server/test_crash.py kills a server in the middle of large streaming uploads (file
and S3 stores, both databases) and checks none of them is half-visible. This drill adds
what it does not cover: writes *acknowledged* under concurrent load (the journal's group
commit and the index's commit racing the kill) are all still there after the restart.
Writers put and read small documents on PostgreSQL; the server is SIGKILLed, calls fail
UNAVAILABLE while it is down, the same configuration is started again and the writers
go on. Then the audit: every acknowledged write reads back, the journal is one chain
across the crash (`journal verify --require-checkpoint`), the sweep leaves nothing.
"""

from __future__ import annotations

from pathlib import Path

from tests.faults.harness import OK, UNAVAILABLE, Ledger, Traffic, Vault, audit, vault_env


def test_sigkill_under_load_loses_no_acknowledged_write_and_no_journal_entry(
    postgres_url: str, tmp_path: Path
) -> None:
    vault = Vault(vault_env(tmp_path / "var", postgres_url), tmp_path / "server.log").start()
    ledger = Ledger()
    try:
        with Traffic(vault, ledger, writers=6) as traffic:
            traffic.wait_until(lambda: ledger.count(OK) >= 12, "writes before the kill")
            vault.kill()
            down = ledger.mark()
            traffic.wait_until(lambda: ledger.count(UNAVAILABLE, down) >= 6, "calls refused")
            vault.start()
            back = ledger.mark()
            traffic.wait_until(lambda: ledger.count(OK, back) >= 12, "writes after the restart")
        tally = ledger.tally()
        assert set(tally) <= {"OK", "UNAVAILABLE"}, tally
        audit(vault, ledger, tmp_path)
    finally:
        vault.stop()
