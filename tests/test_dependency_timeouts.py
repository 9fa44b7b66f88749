"""Every dependency wait is bounded (docs/adr/0010): PostgreSQL statements, pool
checkouts, S3 requests; the bounds are settings with defaults that fit a call's
deadline, and a wait that runs out ends as UnavailableError."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from typing import Any

import pytest
from sqlalchemy import text

from tests.blobstore.support import admin_client, create_bucket, s3_settings
from tests.s3_servers import S3Server
from tests.stalling_proxy import StallingProxy
from vault import deadlines
from vault.blobstore.s3.client import make_client
from vault.blobstore.s3.settings import S3Settings
from vault.blobstore.s3.store import S3BlobStore
from vault.config import Config
from vault.domain.ids import new_object_key
from vault.errors import UnavailableError
from vault.sqlstore import DatabaseTimeouts, guard, make_engine, reading


def test_a_postgres_statement_ends_at_the_statement_timeout_as_unavailable(
    postgres_url: str,
) -> None:
    engine = make_engine(postgres_url, DatabaseTimeouts(statement=0.5))
    try:
        began = time.monotonic()
        with pytest.raises(UnavailableError), guard(), reading(engine) as conn:
            conn.execute(text("SELECT pg_sleep(10)"))
        assert time.monotonic() - began < 5
    finally:
        engine.dispose()


def test_the_statement_timeout_keeps_the_urls_own_options(postgres_url: str) -> None:
    """The test URLs carry `options=-csearch_path=<schema>`: it must survive."""
    engine = make_engine(postgres_url, DatabaseTimeouts(statement=7))
    try:
        with reading(engine) as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "7s"
            assert conn.execute(text("SHOW search_path")).scalar_one().startswith("t_")
            dsn = conn.connection.driver_connection.info.get_parameters()  # type: ignore[union-attr]
            assert (dsn["keepalives"], dsn["keepalives_idle"]) == ("1", "30")
    finally:
        engine.dispose()


def test_a_pool_checkout_waits_no_longer_than_its_timeout(postgres_url: str) -> None:
    engine = make_engine(postgres_url, DatabaseTimeouts(checkout=0.5))
    try:
        with contextlib.ExitStack() as held:
            for _ in range(20):  # pool_size 10 + max_overflow 10
                held.enter_context(engine.connect())
            began = time.monotonic()
            with pytest.raises(UnavailableError), guard(), engine.connect():
                pass
            assert time.monotonic() - began < 5
    finally:
        engine.dispose()


def test_postgres_connect_arguments_bound_connect_keepalives_and_statements() -> None:
    arguments = DatabaseTimeouts().postgres_connect_args("-csearch_path=s")
    assert arguments["connect_timeout"] == 5
    assert arguments["keepalives"] == 1
    assert arguments["keepalives_idle"] == 30
    assert arguments["tcp_user_timeout"] == 60_000
    assert arguments["options"] == "-csearch_path=s -c statement_timeout=30000"
    assert "options" not in DatabaseTimeouts(statement=0).postgres_connect_args()


def test_the_bounds_default_and_are_read_from_the_environment() -> None:
    defaults = Config.from_env({})
    assert (defaults.workers, defaults.worker_queue) == (16, 1024)
    assert (defaults.blob_workers, defaults.blob_queue) == (8, 512)
    assert defaults.db_connect_timeout_seconds == 5
    assert defaults.db_statement_timeout_seconds == 30
    assert defaults.db_pool_timeout_seconds == 5
    assert defaults.db_keepalive_idle_seconds == 30
    assert (defaults.health_probe_seconds, defaults.health_probe_timeout_seconds) == (5, 2)
    read = Config.from_env(
        {
            "VAULT_BLOB_WORKERS": "3",
            "VAULT_BLOB_QUEUE": "0",
            "VAULT_WORKER_QUEUE": "7",
            "VAULT_DB_STATEMENT_TIMEOUT_SECONDS": "0",
            "VAULT_DB_POOL_TIMEOUT_SECONDS": "1.5",
            "VAULT_HEALTH_PROBE_SECONDS": "0",
        }
    )
    assert (read.blob_workers, read.blob_queue, read.worker_queue) == (3, 0, 7)
    assert read.db_statement_timeout_seconds == 0
    assert read.db_pool_timeout_seconds == 1.5
    assert read.health_probe_seconds == 0


def test_s3_requests_are_bounded_to_fit_a_calls_deadline_by_default() -> None:
    """`s3_settings` (the tests') sets the same bounds the defaults now have."""
    settings = S3Settings(bucket="b")
    assert (settings.connect_timeout, settings.read_timeout, settings.max_attempts) == (2, 10, 2)
    defaults = S3Settings.from_env({"VAULT_S3_BUCKET": "b"})
    assert (defaults.connect_timeout, defaults.read_timeout, defaults.max_attempts) == (2, 10, 2)
    config: Any = make_client(s3_settings("http://127.0.0.1:9", "b")).meta.config
    assert (config.connect_timeout, config.read_timeout) == (2.0, 10.0)
    assert config.retries == {"mode": "standard", "total_max_attempts": 2}


def test_s3_retries_stop_when_they_cannot_fit_in_the_calls_deadline(s3_server: S3Server) -> None:
    """Four attempts of one second each against an S3 that never answers: a call with
    1.5 s left gives up after the first; without a deadline all four run."""
    bucket = create_bucket(admin_client(s3_server.endpoint))
    host, port = s3_server.endpoint.removeprefix("http://").rsplit(":", 1)
    with StallingProxy(host, int(port)) as proxy:
        settings = s3_settings(f"http://127.0.0.1:{proxy.port}", bucket)
        store = S3BlobStore(
            dataclasses.replace(settings, connect_timeout=1.0, read_timeout=1.0, max_attempts=4)
        )
        proxy.stall()
        began = time.monotonic()
        with deadlines.within(1.5), pytest.raises(UnavailableError):
            store.delete(new_object_key())
        within_deadline = time.monotonic() - began
        began = time.monotonic()
        with pytest.raises(UnavailableError):
            store.delete(new_object_key())
        without_deadline = time.monotonic() - began
    assert within_deadline < 2.5 <= 3.5 <= without_deadline
