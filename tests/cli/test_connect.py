"""`dossier-vault serve` over mutual TLS, configured by VAULT_TLS_*, and the client
commands connecting with --tls-ca/--tls-cert/--tls-key (or VAULT_CLIENT_TLS_*)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CLI, PATIENT_INS, free_port, run
from tests.pki import Issued, TestCA, uri
from vault.errors import ConfigurationError, UnavailableError

KINDS = """
[[client]]
uri = "spiffe://dmp.test/patient-portal"
kinds = ["patient"]
"""


class Portals:
    def __init__(self, directory: Path) -> None:
        self.ca = TestCA(directory, "portals")
        self.server = self.ca.issue("server", server=True)
        self.patient = self.ca.issue("patient", names=(uri("spiffe://dmp.test/patient-portal"),))
        self.kinds = directory / "client-kinds.toml"
        self.kinds.write_text(KINDS)


@pytest.fixture
def portals(tmp_path: Path) -> Portals:
    return Portals(tmp_path)


@pytest.fixture
def served_tls(tmp_path: Path, portals: Portals) -> Iterator[dict[str, str]]:
    env = {
        **os.environ,
        "VAULT_DATA_DIR": str(tmp_path / "var"),
        "VAULT_LISTEN": f"127.0.0.1:{free_port()}",
        "VAULT_TLS_CERT": str(portals.server.cert),
        "VAULT_TLS_KEY": str(portals.server.key),
        "VAULT_TLS_CLIENT_CA": str(portals.ca.bundle),
        "VAULT_TLS_CLIENT_KINDS": str(portals.kinds),
    }
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen([*CLI, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while "listening on" not in log_path.read_text():
                assert server.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
            assert "mutual TLS, client certificates required" in log_path.read_text()
            yield env
        finally:
            server.terminate()
            assert server.wait(timeout=30) == 0


def _client_env(served: dict[str, str], ca: Path) -> dict[str, str]:
    env = {k: v for k, v in served.items() if not k.startswith("VAULT_TLS_")}
    minted = run(env, "dev-token", "--kind", "patient", "--subject", PATIENT_INS)
    env["VAULT_TOKEN"] = minted.stdout.decode().strip()
    env["VAULT_CLIENT_TLS_CA"] = str(ca)
    return env


def _with(identity: Issued) -> tuple[str, ...]:
    return ("--tls-cert", str(identity.cert), "--tls-key", str(identity.key))


def test_cli_creates_a_dossier_over_mutual_tls(
    served_tls: dict[str, str], portals: Portals
) -> None:
    env = _client_env(served_tls, portals.ca.bundle)
    created = run(env, *_with(portals.patient), "dossier", "create", "--ins", PATIENT_INS, "-q")
    assert created.returncode == 0, created.stderr
    env["VAULT_CLIENT_TLS_CERT"] = str(portals.patient.cert)  # the same, from the environment
    env["VAULT_CLIENT_TLS_KEY"] = str(portals.patient.key)
    shown = run(env, "dossier", "show", "--ins", PATIENT_INS, "-q")
    assert shown.stdout == created.stdout


def test_cli_without_a_client_certificate_cannot_connect(
    served_tls: dict[str, str], portals: Portals
) -> None:
    env = _client_env(served_tls, portals.ca.bundle)
    refused = run(env, "dossier", "create", "--ins", PATIENT_INS)
    assert refused.returncode == UnavailableError.exit_code


def test_cli_client_key_of_another_certificate_is_a_configuration_error(portals: Portals) -> None:
    env = {**os.environ, "VAULT_TOKEN": "t", "VAULT_CLIENT_TLS_CA": str(portals.ca.bundle)}
    mixed = ("--tls-cert", str(portals.patient.cert), "--tls-key", str(portals.server.key))
    refused = run(env, *mixed, "dossier", "show", "--ins", PATIENT_INS)
    assert refused.returncode == ConfigurationError.exit_code
    assert b"does not match" in refused.stderr
