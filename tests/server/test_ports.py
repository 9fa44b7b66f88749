"""One owner per port (issue #17 item 1), several processes on one port (issue #22).

Through real `dossier-vault serve` processes: a second server on a taken port, or on a
malformed address, stops with the configuration exit code and one line; with
`VAULT_REUSE_PORT=1` processes of one deployment share the port; `serve --processes 2`
balances connections between two workers, of which one alone signs checkpoints.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from tests.conftest import CLI, PATIENT_INS, free_port, run
from vault.auth import load_or_create_dev_issuer, mint_token
from vault.cli.exitcodes import EXIT_CODES
from vault.client import VaultClient
from vault.domain.model import ActorKind, DocumentCategory, DocumentMetadata
from vault.errors import ConfigurationError
from vault.server.singleton import FileLock
from vault.v1 import vault_pb2_grpc

EXIT_CONFIGURATION = EXIT_CODES[ConfigurationError]
NOTE = DocumentMetadata("Note", DocumentCategory.TREATMENTS_AND_CARE, "text/plain")


def _env(data_dir: Path, listen: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "VAULT_DATA_DIR": str(data_dir), "VAULT_LISTEN": listen, **extra}


def _start(
    env: dict[str, str], log: Path, *args: str, listening: int = 1
) -> subprocess.Popen[bytes]:
    """`serve` in its own process, once its log shows `listening` servers listening."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*CLI, "serve", *args], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 60
    while log.read_text().count("listening on") < listening:
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    return process


def _stop(process: subprocess.Popen[bytes]) -> int:
    process.terminate()
    return process.wait(timeout=60)


def _one_line(result: subprocess.CompletedProcess[bytes]) -> str:
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[str]:
    """A server (the port its alone) on a free port; yields its address."""
    listen = f"127.0.0.1:{free_port()}"
    process = _start(_env(tmp_path / "a", listen), tmp_path / "a.log")
    try:
        yield listen
    finally:
        assert _stop(process) == 0


@pytest.mark.parametrize("reuse", ["0", "1"])
def test_a_second_server_on_a_taken_port_stops_with_one_line(
    holder: str, tmp_path: Path, reuse: str
) -> None:
    # another data directory: another vault; sharing the port is refused even when the
    # newcomer asks for it, since the holder does not share it
    result = subprocess.run(
        [*CLI, "serve"],
        env=_env(tmp_path / "b", holder, VAULT_REUSE_PORT=reuse),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == EXIT_CONFIGURATION
    line = _one_line(result)
    assert holder in line
    assert "in use" in line
    assert not (tmp_path / "b").exists()  # refused before anything was built


@pytest.mark.parametrize("listen", ["nonsense", "127.0.0.1:99999", ":", ":50051", "::1:5"])
def test_a_malformed_listen_address_stops_with_one_line(tmp_path: Path, listen: str) -> None:
    result = run(_env(tmp_path / "v", listen), "serve")
    assert result.returncode == EXIT_CONFIGURATION
    assert repr(listen) in _one_line(result)


def test_processes_of_one_deployment_share_a_port_when_told(tmp_path: Path) -> None:
    listen = f"127.0.0.1:{free_port()}"
    env = _env(tmp_path / "var", listen, VAULT_REUSE_PORT="1")
    first = _start(env, tmp_path / "first.log")
    try:
        second = _start(env, tmp_path / "second.log")
        try:
            issuer = load_or_create_dev_issuer(tmp_path / "var")
            token = mint_token(issuer, kind=ActorKind.PATIENT, subject=PATIENT_INS, ttl_seconds=600)
            with VaultClient(listen, token) as client:
                assert client.create_dossier(PATIENT_INS).dossier_id
        finally:
            assert _stop(second) == 0
    finally:
        assert _stop(first) == 0
    logs = (tmp_path / "first.log").read_text() + (tmp_path / "second.log").read_text()
    assert logs.count("holds the singleton lock") == 1  # one of them signs checkpoints


def test_the_singleton_file_lock_has_one_holder_at_a_time(tmp_path: Path) -> None:
    first, second = FileLock(tmp_path / "lock"), FileLock(tmp_path / "lock")
    assert first.poll()
    assert not second.poll()
    assert first.poll()  # still held
    first.release()
    assert second.poll()
    assert not first.poll()
    second.release()


def test_the_singleton_advisory_lock_has_one_holder_at_a_time(postgres_url: str) -> None:
    from vault.server.singleton import AdvisoryLock

    first, second = AdvisoryLock(postgres_url), AdvisoryLock(postgres_url)
    try:
        assert first.poll()
        assert not second.poll()
        assert first.poll()
        first.release()
        assert second.poll()
    finally:
        first.release()
        second.release()


# -- serve --processes N ---------------------------------------------------------------


def _connections(pid: int, port: int) -> int:
    """Established TCP connections to `port` that process `pid` holds."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            link = os.readlink(fd)
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[len("socket:[") : -1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if fields[3] == "01" and local_port == port and fields[9] in inodes:
                count += 1
    return count


def _workers(log: Path) -> list[int]:
    found = re.search(r"started 2 server processes on \S+: (\d+), (\d+)", log.read_text())
    assert found, log.read_text()
    return [int(found[1]), int(found[2])]


CLIENTS = 8
PUTS_PER_CLIENT = 3


def _own_connection(target: str, token: str) -> VaultClient:
    """A client on a connection of its own, as clients on other hosts are: the channels
    of one process otherwise share one connection (gRPC's global subchannel pool)."""
    client = VaultClient(target, token)
    client._channel.close()
    client._channel = grpc.insecure_channel(target, [("grpc.use_local_subchannel_pool", 1)])
    client._stub = vault_pb2_grpc.DossierVaultStub(client._channel)
    return client


def test_two_processes_serve_one_port_and_one_signs_checkpoints(tmp_path: Path) -> None:
    port = free_port()
    listen = f"127.0.0.1:{port}"
    data_dir = tmp_path / "var"
    env = _env(data_dir, listen, VAULT_CHECKPOINT_EVERY="4", VAULT_WORKERS="4")
    log = tmp_path / "server.log"
    parent = _start(env, log, "--processes", "2", listening=2)
    try:
        workers = _workers(log)
        issuer = load_or_create_dev_issuer(data_dir)
        token = mint_token(issuer, kind=ActorKind.PATIENT, subject=PATIENT_INS, ttl_seconds=600)
        with VaultClient(listen, token) as client:
            dossier = client.create_dossier(PATIENT_INS).dossier_id
        connected = threading.Barrier(CLIENTS + 1, timeout=60)
        counted = threading.Barrier(CLIENTS + 1, timeout=60)
        failures: list[BaseException] = []

        def put(number: int) -> None:
            try:
                with _own_connection(listen, token) as client:
                    client.put_document(dossier, NOTE, f"client {number} 0".encode())
                    connected.wait()
                    counted.wait()
                    for n in range(1, PUTS_PER_CLIENT):
                        client.put_document(dossier, NOTE, f"client {number} {n}".encode())
            except BaseException as error:  # reported below
                failures.append(error)
                connected.abort()
                counted.abort()

        threads = [threading.Thread(target=put, args=(n,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        connected.wait()
        per_worker = [_connections(pid, port) for pid in workers]
        counted.wait()
        for thread in threads:
            thread.join()
        assert not failures, failures
        assert all(count > 0 for count in per_worker), per_worker  # both workers serve
        assert sum(per_worker) >= 2

        auditor = mint_token(issuer, kind=ActorKind.AUDITOR, subject="audit-1", ttl_seconds=600)
        export, key = tmp_path / "journal.jsonl", tmp_path / "journal.vkey"
        exported = run({**env, "VAULT_TOKEN": auditor}, "journal", "export", "-o", str(export))
        assert exported.returncode == 0, exported.stderr
        public_key = run(env, "journal", "public-key")
        assert public_key.returncode == 0, public_key.stderr
        key.write_bytes(public_key.stdout)
    finally:
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=60) == 0, log.read_text()

    text = log.read_text()
    assert text.count("holds the singleton lock") == 1, text  # one checkpoint publisher
    for trouble in ("Traceback", "checkpoint failed", "REFUSED", "different checkpoint"):
        assert trouble not in text, text
    checkpoints = data_dir / "checkpoints"
    published = sorted(p.name for p in checkpoints.glob("checkpoint-*"))
    assert published, "no checkpoint was published"
    assert all(re.fullmatch(r"checkpoint-\d{20}\.txt", name) for name in published), published
    others = {p.name for p in checkpoints.iterdir()} - set(published)
    assert others == {"checkpoint", "tile"}, others  # the tiles (ADR 0043)
    assert not [p for p in checkpoints.rglob(".*")], "a temporary file was left behind"
    tiles = run(env, "journal", "verify", str(checkpoints), "--key-file", str(key))
    assert tiles.returncode == 0, tiles.stderr + tiles.stdout
    verified = run(
        env,
        "journal",
        "verify",
        str(export),
        "--key-file",
        str(key),
        "--checkpoints",
        str(checkpoints),
        "--require-checkpoint",
    )
    assert verified.returncode == 0, verified.stderr + verified.stdout


def test_a_worker_that_dies_stops_the_others_and_the_parent_fails(tmp_path: Path) -> None:
    env = _env(tmp_path / "var", f"127.0.0.1:{free_port()}")
    log = tmp_path / "server.log"
    parent = _start(env, log, "--processes", "2", listening=2)
    try:
        first, second = _workers(log)
        os.kill(first, signal.SIGKILL)
        assert parent.wait(timeout=60) != 0
        assert "exited unexpectedly" in log.read_text()
        deadline = time.monotonic() + 10
        while Path(f"/proc/{second}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)  # reaped by the parent: gone
        assert not Path(f"/proc/{second}").exists()
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_several_processes_need_a_fixed_port(tmp_path: Path) -> None:
    result = run(_env(tmp_path / "v", "127.0.0.1:0", VAULT_PROCESSES="2"), "serve")
    assert result.returncode == EXIT_CONFIGURATION
    assert "fixed port" in _one_line(result)
