"""Drill: the S3 server stops in the middle of traffic and comes back on the same port.

A moto server of this drill's own (its state survives the restart, as a real S3's
does) serves a `dossier-vault serve` process. While writers put and read documents, the
S3 server stops: every call that needs it fails UNAVAILABLE (not INTERNAL, not a hang),
while a call that does not (GetDossier) still succeeds; the server restarts on the
same port and the same vault process, not restarted, serves again. Then the audit.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from tests.blobstore.support import DUMMY_KEY, REGION, admin_client, create_bucket
from tests.conftest import free_port
from tests.faults.harness import (
    OK,
    UNAVAILABLE,
    Ledger,
    Traffic,
    Vault,
    audit,
    get,
    get_dossier,
    put,
    status,
    vault_env,
)


class S3Server:
    """moto in server mode on a fixed port, stoppable and restartable."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server: ThreadedMotoServer | None = None

    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


@pytest.fixture
def s3_server() -> Iterator[S3Server]:
    server = S3Server()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_s3_stopped_mid_traffic_fails_unavailable_then_serves_again_without_restart(
    s3_server: S3Server, postgres_url: str, tmp_path: Path
) -> None:
    bucket = create_bucket(admin_client(s3_server.endpoint), versioned=True)
    env = vault_env(
        tmp_path / "var",
        postgres_url,
        VAULT_S3_BUCKET=bucket,
        VAULT_S3_ENDPOINT_URL=s3_server.endpoint,
        VAULT_S3_REGION=REGION,
        VAULT_S3_ACCESS_KEY_ID=DUMMY_KEY,
        VAULT_S3_SECRET_ACCESS_KEY=DUMMY_KEY,
        VAULT_S3_PATH_STYLE="true",
        VAULT_S3_CONNECT_TIMEOUT="1",
        VAULT_S3_READ_TIMEOUT="2",
    )
    vault = Vault(env, tmp_path / "server.log").start()
    ledger = Ledger()
    try:
        token = vault.token()
        channel, stub = vault.stub()
        with channel, Traffic(vault, ledger) as traffic:
            traffic.wait_until(lambda: ledger.count(OK) >= 8, "writes before the outage")
            (dossier, document, version), _ = next(iter(ledger.acknowledged.items()))

            s3_server.stop()
            outage = ledger.mark()
            traffic.wait_until(
                lambda: ledger.count(UNAVAILABLE, outage) >= 4, "failures during the outage"
            )
            assert put(stub, token, dossier, os.urandom(100))[0] is UNAVAILABLE
            assert get(stub, token, dossier, document, version)[0] is UNAVAILABLE
            # the index and the key provider still answer: so do calls that need only them
            assert status(lambda: get_dossier(stub, token, dossier)) is OK

            s3_server.start()
            back = ledger.mark()
            traffic.wait_until(lambda: ledger.count(OK, back) >= 8, "writes after the restart")
            assert vault.process is not None
            assert vault.process.poll() is None  # the same process: never restarted
        tally = ledger.tally()
        assert set(tally) <= {"OK", "UNAVAILABLE"}, tally
        audit(vault, ledger, tmp_path)
    finally:
        vault.stop()
