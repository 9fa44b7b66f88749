"""`dossier-vault witness serve` / `public-key` as processes: the HTTP statuses of the
spec, and the state kept across a restart."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.witness.fixtures import LOG_KEY, history
from vault.witness.cosignature import WitnessKey, valid_cosigners
from vault.witness.protocol import encode_request

CLI = [sys.executable, "-m", "vault.cli", "witness"]
NAME = "witness.test/cli"


@contextmanager
def witness_process(directory: Path) -> Iterator[str]:
    command = [*CLI, "serve", "--name", NAME, "--dir", str(directory), "--listen", "127.0.0.1:0",
               "--log-key", LOG_KEY.encode()]  # fmt: skip
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert "listening on" in line, line
        yield "http://" + line.rsplit(" ", 1)[1].strip()
    finally:
        process.terminate()
        process.wait(timeout=30)


def post(url: str, body: bytes, method: str = "POST") -> tuple[int, str, str]:
    request = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def test_served_witness_cosigns_and_remembers_across_a_restart(tmp_path: Path) -> None:
    key_text = subprocess.run(
        [*CLI, "public-key", "--name", NAME, "--dir", str(tmp_path)],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    key = WitnessKey.parse(key_text)
    log = history("a", 6)
    with witness_process(tmp_path) as url:
        status, _, body = post(f"{url}/add-checkpoint", encode_request(0, [], log.note()))
        assert status == 200
        assert valid_cosigners(log.note() + body, [key]) == {key.identity}
        assert post(f"{url}/add-checkpoint", b"", "GET")[0] == 405
        assert post(f"{url}/other", b"old 0\n\n")[0] == 404
    with witness_process(tmp_path) as url:  # restarted: the same key, the same state
        status, content_type, body = post(
            f"{url}/add-checkpoint", encode_request(0, [], log.note())
        )
        assert (status, content_type, body) == (409, "text/x.tlog.size", "6\n")
        log.append(b"7")
        status, _, body = post(f"{url}/add-checkpoint", encode_request(6, log.proof(6), log.note()))
        assert status == 200
        assert valid_cosigners(log.note() + body, [key]) == {key.identity}


def test_witness_refuses_to_listen_beyond_loopback(tmp_path: Path) -> None:
    result = subprocess.run(
        [*CLI, "serve", "--name", NAME, "--dir", str(tmp_path), "--listen", "0.0.0.0:0",
         "--log-key", LOG_KEY.encode()],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "loopback" in result.stderr
