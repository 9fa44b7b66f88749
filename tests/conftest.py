"""Shared fixtures: database URLs for both backends, a real S3 server, a real vault server.

`s3_endpoint` is moto in server mode (one per session, in a thread, on an ephemeral port
of 127.0.0.1); boto3 talks HTTP to it exactly as to MinIO.

PostgreSQL tests use `VAULT_TEST_POSTGRES_URL` (default: the machine's local server) and
a fresh schema per test. When PostgreSQL cannot be reached they are skipped on a
developer's machine, but fail in CI (`CI` set): CI must never pass without them.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from moto.server import ThreadedMotoServer
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.blobstore.support import admin_client
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
def s3_endpoint() -> Iterator[str]:
    """http://127.0.0.1:<port> of a moto S3 server for the whole session."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


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
    ) -> str:
        return mint_token(self.issuer, kind=kind, subject=subject, ttl_seconds=ttl_seconds)

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
