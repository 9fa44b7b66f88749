"""Drill: PostgreSQL kills the vault's backends (`pg_terminate_backend`) mid-traffic.

The vault's connections carry an `application_name` of this drill's own, so only they
are killed (the PostgreSQL server is shared with other tests: it is never restarted
here). Three times, while writers put and read documents, every backend of the vault
is terminated: the index's and the journal's pooled connections, and the singleton
lock's session. Calls fail UNAVAILABLE at worst, never INTERNAL nor a hang, and the
vault recovers by itself: writes are acknowledged again after each round. Then the
audit (journal verified against the checkpoints signed across the kills).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_URL
from tests.faults.harness import OK, Ledger, Traffic, Vault, audit, vault_env

ROUNDS = 3


def _terminate(application: str) -> int:
    """Terminates every backend of `application`; returns how many."""
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            killed = conn.execute(
                text(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))"
                    " FROM pg_stat_activity WHERE application_name = :name"
                ),
                {"name": application},
            ).scalar_one()
        return int(killed)
    finally:
        admin.dispose()


def _writes_since(ledger: Ledger, mark: int, writes: int = 6) -> Callable[[], bool]:
    return lambda: ledger.count(OK, mark) >= writes


def test_postgres_backends_killed_mid_traffic_fail_unavailable_at_worst_and_recover(
    postgres_url: str, tmp_path: Path
) -> None:
    application = f"vault-drill-{secrets.token_hex(4)}"
    url = make_url(postgres_url).update_query_dict({"application_name": application})
    env = vault_env(tmp_path / "var", url.render_as_string(hide_password=False))
    vault = Vault(env, tmp_path / "server.log").start()
    ledger = Ledger()
    try:
        with Traffic(vault, ledger) as traffic:
            for _ in range(ROUNDS):
                traffic.wait_until(_writes_since(ledger, ledger.mark()), "writes between kills")
                assert _terminate(application) > 0  # the vault's backends, and only they
            after = ledger.mark()
            traffic.wait_until(lambda: ledger.count(OK, after) >= 6, "writes after the kills")
        tally = ledger.tally()
        assert set(tally) <= {"OK", "UNAVAILABLE"}, tally
        assert "Traceback" not in vault.log.read_text()
        audit(vault, ledger, tmp_path)
    finally:
        vault.stop()
    # the lock's session was killed too: its holder stepped down
    assert "lost the singleton lock's database session" in vault.log.read_text()
