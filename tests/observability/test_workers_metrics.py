"""`serve --processes N` with metrics: one port, the sum over the workers (multiprocess mode).

The parent serves `VAULT_METRICS_LISTEN` from prometheus-client's multiprocess directory,
which the workers record into; calls spread over both workers (one connection each) are
all counted in one scrape, and the directory is gone once the deployment stops.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import grpc
import pytest

from tests.conftest import CLI, PATIENT_INS, free_port
from tests.observability.test_metrics_endpoint import scrape, value
from vault.auth import load_or_create_dev_issuer, mint_token
from vault.cli.exitcodes import EXIT_CODES
from vault.domain.model import ActorKind
from vault.errors import ConfigurationError
from vault.observability.exposition import for_server
from vault.v1 import vault_pb2 as pb
from vault.v1 import vault_pb2_grpc

CALLS = 24


def _call_on_a_new_connection(target: str, token: str) -> grpc.StatusCode:
    """One CreateDossier on a connection of its own (the kernel picks its worker)."""
    options = [("grpc.use_local_subchannel_pool", 1)]
    with grpc.insecure_channel(target, options) as channel:
        stub = vault_pb2_grpc.DossierVaultStub(channel)
        try:
            stub.CreateDossier(
                pb.CreateDossierRequest(ins=PATIENT_INS),
                metadata=(("authorization", f"Bearer {token}"),),
                timeout=30,
            )
        except grpc.RpcError as error:
            code: grpc.StatusCode = error.code()
            return code
    return grpc.StatusCode.OK


def test_the_parent_serves_the_sum_of_its_workers_metrics(tmp_path: Path) -> None:
    listen, metrics_port = f"127.0.0.1:{free_port()}", free_port()
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {
        **os.environ,
        "VAULT_DATA_DIR": str(tmp_path / "var"),
        "VAULT_LISTEN": listen,
        "VAULT_METRICS_LISTEN": f"127.0.0.1:{metrics_port}",
        "TMPDIR": str(temporary),  # where the parent makes the multiprocess directory
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        parent = subprocess.Popen(
            [*CLI, "serve", "--processes", "2"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while log.read_text().count("listening on") < 2:
            assert parent.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        assert [p.name[:14] for p in temporary.iterdir()] == ["vault-metrics-"]
        issuer = load_or_create_dev_issuer(tmp_path / "var")
        token = mint_token(issuer, kind=ActorKind.PATIENT, subject=PATIENT_INS, ttl_seconds=600)
        codes = [_call_on_a_new_connection(listen, token) for _ in range(CALLS)]
        assert sorted(c.name for c in codes) == ["ALREADY_EXISTS"] * (CALLS - 1) + ["OK"]
        samples = scrape(metrics_port)
        assert value(samples, "vault_requests_total", method="CreateDossier") == CALLS
        assert value(samples, "vault_requests_total", method="CreateDossier", code="OK") == 1
        assert value(samples, "vault_requests_in_progress", method="CreateDossier") == 0
    finally:
        parent.terminate()
        assert parent.wait(timeout=60) == 0, log.read_text()
    assert list(temporary.iterdir()) == []


def test_a_taken_metrics_port_stops_the_server_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        env = {
            **os.environ,
            "VAULT_DATA_DIR": str(tmp_path / "var"),
            "VAULT_LISTEN": f"127.0.0.1:{free_port()}",
            "VAULT_METRICS_LISTEN": f"127.0.0.1:{taken}",
        }
        result = subprocess.run(
            [*CLI, "serve"], env=env, capture_output=True, timeout=120, check=False
        )
    assert result.returncode == EXIT_CODES[ConfigurationError], result.stderr
    assert f"cannot serve metrics on 127.0.0.1:{taken}" in result.stderr.decode()
    assert "Traceback" not in result.stderr.decode()


@pytest.mark.parametrize("listen", ["nonsense", "127.0.0.1:99999"])
def test_a_malformed_metrics_address_is_refused_naming_the_setting(listen: str) -> None:
    with pytest.raises(ConfigurationError, match="VAULT_METRICS_LISTEN"):
        for_server(listen)
