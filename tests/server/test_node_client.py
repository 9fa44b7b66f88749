"""A client written in another language, from the proto's comments and docs/api.md alone,
works against the real server: clients/node/client.js (grpc-js, proto-loader, no
generated code) creates a dossier, streams a document in, lists it, reads it back whole
and by range, and decodes the structured errors of refused calls."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests import node_client
from tests.conftest import PATIENT_INS, RunningVault


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_node_client_written_from_the_docs_stores_reads_and_reads_errors(
    running_vault: RunningVault,
) -> None:
    node = node_client.require("@grpc/grpc-js", "@grpc/proto-loader", "protobufjs")
    env = {
        **os.environ,
        "VAULT_TARGET": running_vault.server.target,
        "VAULT_TOKEN": running_vault.token(),
        "VAULT_INS": PATIENT_INS,
    }
    result = subprocess.run(
        [node, str(node_client.CLIENT / "client.js")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout
    assert "checks passed" in result.stdout
