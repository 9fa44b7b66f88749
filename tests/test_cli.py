"""The `dossier-vault` command as a person uses it: `serve` in one process, the README's
example in another, exit codes for what goes wrong."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import OTHER_INS, PATIENT_INS
from vault.cli import EXIT_CODES, build_parser
from vault.errors import InvalidArgumentError, PermissionDeniedError, UnauthenticatedError

CLI = [sys.executable, "-m", "vault.cli"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def served(tmp_path: Path) -> Iterator[dict[str, str]]:
    """`dossier-vault serve` in its own process; yields the environment to reach it."""
    env = {
        **os.environ,
        "VAULT_DATA_DIR": str(tmp_path / "var"),
        "VAULT_LISTEN": f"127.0.0.1:{_free_port()}",
    }
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen([*CLI, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while "listening on" not in (tmp_path / "server.log").read_text():
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        yield env
    finally:
        server.terminate()
        assert server.wait(timeout=30) == 0  # SIGTERM is a graceful stop
        log.close()


def run(
    env: dict[str, str], *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*CLI, *args], env=env, input=stdin, capture_output=True, timeout=120, check=False
    )


def test_readme_example_round_trip(served: dict[str, str], tmp_path: Path) -> None:
    env = dict(served)
    env["VAULT_TOKEN"] = (
        run(env, "dev-token", "--kind", "patient", "--subject", PATIENT_INS).stdout.decode().strip()
    )
    created = run(env, "dossier", "create", "--ins", PATIENT_INS, "-q")
    assert created.returncode == 0, created.stderr
    dossier = created.stdout.decode().strip()
    source, copy = tmp_path / "scan.pdf", tmp_path / "copy.pdf"
    source.write_bytes(os.urandom(3_000_000))
    put = run(
        env,
        "doc",
        "put",
        "--dossier",
        dossier,
        "--title",
        "IRM",
        "--category",
        "imaging",
        "--media-type",
        "application/pdf",
        str(source),
        "--json",
    )
    assert put.returncode == 0, put.stderr
    document = json.loads(put.stdout)["document_id"]
    listed = run(env, "doc", "ls", "--dossier", dossier)
    assert document in listed.stdout.decode()
    got = run(env, "doc", "get", "--dossier", dossier, "--document", document, "-o", str(copy))
    assert got.returncode == 0, got.stderr
    assert copy.read_bytes() == source.read_bytes()
    shown = json.loads(run(env, "dossier", "show", "--ins", PATIENT_INS, "--json").stdout)
    assert shown["dossier_id"] == dossier
    piped = run(
        env,
        "doc",
        "put",
        "--dossier",
        dossier,
        "--title",
        "note",
        "--category",
        "synthesis",
        "--media-type",
        "text/plain",
        "-",
        "-q",
        stdin=b"hello",
    )
    assert piped.returncode == 0, piped.stderr


def test_errors_map_to_stable_exit_codes(served: dict[str, str]) -> None:
    env = dict(served)
    assert (
        run(env, "dossier", "create", "--ins", PATIENT_INS).returncode
        == EXIT_CODES[UnauthenticatedError]
    )
    env["VAULT_TOKEN"] = (
        run(env, "dev-token", "--kind", "patient", "--subject", PATIENT_INS).stdout.decode().strip()
    )
    bad_ins = run(env, "dossier", "create", "--ins", "184127645108947")
    assert bad_ins.returncode == EXIT_CODES[InvalidArgumentError]
    assert b"184127645108947" not in bad_ins.stderr
    other = run(env, "dossier", "create", "--ins", OTHER_INS)
    assert other.returncode == EXIT_CODES[PermissionDeniedError]


def test_unreachable_server_is_unavailable(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "VAULT_DATA_DIR": str(tmp_path),
        "VAULT_TOKEN": "x",
        "VAULT_TARGET": f"127.0.0.1:{_free_port()}",
    }
    assert run(env, "dossier", "show", "--ins", PATIENT_INS).returncode == 10


def test_help_documents_every_exit_code() -> None:
    epilog = build_parser().format_help()
    for kind, code in EXIT_CODES.items():
        assert f"{code:<3} {kind.__name__}" in epilog


def test_usage_error_exits_2() -> None:
    assert subprocess.run([*CLI, "doc"], capture_output=True, check=False).returncode == 2
