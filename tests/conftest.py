"""Shared fixtures: database URLs for both backends, a real S3 server, a real vault server.

`s3_endpoint` is moto in server mode (one per session, in a thread, on an ephemeral port
of 127.0.0.1); boto3 talks HTTP to it exactly as to MinIO. `s3_server` runs a test on
each real S3 server (tests/s3_servers.py): moto, and SeaweedFS (`weed mini`, started once
per session on loopback ports at its first use). Without `weed`, the SeaweedFS runs are
skipped on a developer's machine and fail in CI.

PostgreSQL tests use `VAULT_TEST_POSTGRES_URL` (default: the machine's local server) and
a fresh schema per test. When PostgreSQL cannot be reached they are skipped on a
developer's machine, but fail in CI (`CI` set): CI must never pass without them.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.blobstore.support import admin_client, create_bucket, s3_settings
from tests.s3_servers import (
    SERVERS,
    S3Server,
    WeedMissingError,
    moto_server,
    seaweedfs_server,
    weed_binary,
)
from vault.auth import load_or_create_dev_issuer, mint_token
from vault.client import VaultClient
from vault.config import Config
from vault.domain.model import ActorKind
from vault.server.app import BackgroundServer

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client

POSTGRES_URL = os.environ.get(
    "VAULT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PATIENT_INS = "184127645108946"
OTHER_INS = "292057512345668"
BACKENDS = ["sqlite", "postgresql"]


def _postgres_available() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as error:  # any failure means "not available"
        return f"{type(error).__name__}"
    return None


_PG_PROBLEM = _postgres_available()


def _require_postgres() -> None:
    if _PG_PROBLEM is None:
        return
    message = f"PostgreSQL unreachable at {make_url(POSTGRES_URL).host} ({_PG_PROBLEM})"
    if os.environ.get("CI"):
        pytest.fail(message + ": PostgreSQL is required in CI")
    pytest.skip(message)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh, private schema."""
    _require_postgres()
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on SQLite (a file in tmp_path) and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture(scope="session")
def moto() -> Iterator[S3Server]:
    with moto_server() as server:
        yield server


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    try:
        weed_binary()
    except WeedMissingError as missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing}: SeaweedFS is required in CI")
        pytest.skip(str(missing))
    with seaweedfs_server(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@pytest.fixture(params=SERVERS)
def s3_server(request: pytest.FixtureRequest) -> S3Server:
    """The test once on each real S3 server (moto, SeaweedFS)."""
    server: S3Server = request.getfixturevalue(request.param)
    return server


@pytest.fixture(scope="session")
def s3_endpoint(moto: S3Server) -> str:
    """http://127.0.0.1:<port> of the moto S3 server, for tests of the AWS contract."""
    return moto.endpoint


@pytest.fixture(scope="session")
def s3_admin(s3_endpoint: str) -> S3Client:
    return admin_client(s3_endpoint)


class RunningVault:
    """A real server on an ephemeral port, and what tests need to talk to it."""

    def __init__(self, server: BackgroundServer, issuer: Ed25519PrivateKey) -> None:
        self.server = server
        self.config = server.config
        self.issuer = issuer

    def token(
        self,
        kind: ActorKind = ActorKind.PATIENT,
        subject: str = PATIENT_INS,
        ttl_seconds: int = 600,
        *,
        profession: str | None = None,
        specialty: str | None = None,
    ) -> str:
        return mint_token(
            self.issuer,
            kind=kind,
            subject=subject,
            ttl_seconds=ttl_seconds,
            profession=profession,
            specialty=specialty,
        )

    def client(self, token: str | None = None) -> VaultClient:
        return VaultClient(self.server.target, token if token is not None else self.token())


@pytest.fixture
def running_vault(db_url: str, tmp_path: Path) -> Iterator[RunningVault]:
    config = Config(
        listen="127.0.0.1:0", data_dir=tmp_path / "data", database_url=db_url, workers=4
    )
    issuer = load_or_create_dev_issuer(config.data_dir)
    server = BackgroundServer(config).start()
    try:
        yield RunningVault(server, issuer)
    finally:
        server.stop()


@contextmanager
def vault_on_s3(db_url: str, data_dir: Path, endpoint: str) -> Iterator[tuple[RunningVault, str]]:
    """A real server on a fresh versioned bucket of the S3 server at `endpoint`."""
    bucket = create_bucket(admin_client(endpoint), versioned=True)
    config = Config(
        listen="127.0.0.1:0",
        data_dir=data_dir,
        database_url=db_url,
        workers=4,
        s3=s3_settings(endpoint, bucket),
    )
    issuer = load_or_create_dev_issuer(config.data_dir)
    server = BackgroundServer(config).start()
    try:
        yield RunningVault(server, issuer), bucket
    finally:
        server.stop()


@pytest.fixture
def s3_vault(db_url: str, tmp_path: Path, s3_endpoint: str) -> Iterator[tuple[RunningVault, str]]:
    """A real server on a fresh versioned bucket of moto; yields it and the bucket."""
    with vault_on_s3(db_url, tmp_path / "data", s3_endpoint) as served:
        yield served


# -- the CLI and a served process ----------------------------------------------------

CLI = [sys.executable, "-m", "vault.cli"]


def free_port() -> int:
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
        "VAULT_LISTEN": f"127.0.0.1:{free_port()}",
        "VAULT_KEY_REFRESH_SECONDS": "1",
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
