"""The composition root: the adapters and the `Vault` built from a `Config`.

Every entry point builds what it needs here: the server (`build`), the operators'
commands on the server host (`key_provider`, `blob_store`, `open_index`,
`open_journal`, `build_checkpointer`, `build_sweeper`, `open_retention`) and the tests
and benchmarks. An adapter whose library is heavy is imported inside the function that
builds it: the file store never loads boto3, the key file never loads python-pkcs11.

What it does not: serve (vault/server/app.py), parse arguments or print (vault/cli/), or
decide anything (vault/service.py and the domain do).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, TypeAlias

from sqlalchemy import Engine

from vault.blobstore.base import BlobStore, NoRetainer, Retainer
from vault.blobstore.file import FileBlobStore
from vault.config import Config
from vault.crypto.keyprovider import KeyProvider
from vault.crypto.localkeys import LocalKeyFileProvider, create_key_file
from vault.domain.clock import SystemClock
from vault.domain.policy import DEFAULT_MATRIX, AccessMatrix
from vault.errors import ConfigurationError
from vault.index.sql import SqlIndex
from vault.journal.checkpoint import VerifierKey
from vault.journal.checkpointer import Checkpointer, DirectoryPublisher, Publisher
from vault.journal.group import GroupCommitJournal
from vault.journal.sql import SqlJournal
from vault.journal.tilewriter import TilingPublisher
from vault.journal.tree import SqlMerkleTree
from vault.matrix import load_matrix
from vault.observability.instrumented import (
    InstrumentedBlobStore,
    InstrumentedKeyProvider,
    Instruments,
)
from vault.service import UploadQuota, Vault
from vault.sqlstore import DatabaseTimeouts, make_engine
from vault.sweeper import Sweeper
from vault.witness.collector import Collector

if TYPE_CHECKING:
    from retention.destroyer import Destroyer
    from vault.blobstore.s3.store import S3BlobStore
    from vault.crypto.pkcs11.provider import Pkcs11KeyProvider

_log = logging.getLogger(__name__)

KeyProviders: TypeAlias = "LocalKeyFileProvider | Pkcs11KeyProvider"
BlobStores: TypeAlias = "FileBlobStore | S3BlobStore"


def key_provider(config: Config) -> KeyProviders:
    """The HSM (PKCS#11), a key file, or the development key file (created if missing)."""
    if config.pkcs11 is not None:
        from vault.crypto.pkcs11.provider import Pkcs11KeyProvider  # python-pkcs11: only for an HSM

        return Pkcs11KeyProvider(config.pkcs11)
    if config.master_key_file is not None:
        if not config.master_key_file.exists():
            raise ConfigurationError(f"master key file {config.master_key_file} not found")
        return LocalKeyFileProvider(config.master_key_file)
    path = config.dev_master_key_file
    if not path.exists():
        config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        create_key_file(path)
        _log.warning("created a DEVELOPMENT master key at %s", path)
    _log.warning(
        "USING A DEVELOPMENT MASTER KEY from %s: NOT FOR PRODUCTION, NOT FOR REAL HEALTH "
        "DATA (set VAULT_MASTER_KEY_FILE or use an HSM)",
        path,
    )
    return LocalKeyFileProvider(path)


def close_keys(keys: KeyProviders) -> None:
    """Logs out of the HSM; the key file holds nothing open."""
    if not isinstance(keys, LocalKeyFileProvider):
        keys.close()


def blob_store(config: Config) -> BlobStores:
    """S3 when `VAULT_S3_BUCKET` is set, else the local directory under the data dir."""
    if config.s3 is not None:
        from vault.blobstore.s3.store import S3BlobStore  # boto3: only for S3

        return S3BlobStore(config.s3)
    return FileBlobStore(config.blob_dir)


def retainer(blobs: BlobStores) -> Retainer:
    """The store's WORM port: S3 Object Lock (its mode read from the bucket), or none."""
    return NoRetainer() if isinstance(blobs, FileBlobStore) else blobs.retainer()


def database_timeouts(config: Config) -> DatabaseTimeouts:
    return DatabaseTimeouts(
        connect=config.db_connect_timeout_seconds,
        statement=config.db_statement_timeout_seconds,
        checkout=config.db_pool_timeout_seconds,
        keepalive_idle=config.db_keepalive_idle_seconds,
    )


def open_index(config: Config) -> SqlIndex:
    """The index on its own engine; a schema behind the code stops here."""
    index = SqlIndex(make_engine(config.index_url, database_timeouts(config)))
    index.create_schema()
    return index


def open_journal(config: Config) -> SqlJournal:
    journal = SqlJournal(make_engine(config.journal_url, database_timeouts(config)))
    journal.create_schema()
    return journal


def build_checkpointer(config: Config, journal: SqlJournal, keys: KeyProviders) -> Checkpointer:
    signer = keys.checkpoint_signer()
    publisher: Publisher = DirectoryPublisher(config.checkpoint_dir)
    if config.journal_tiles:  # ADR 0043: the tiles beside the checkpoints
        key = VerifierKey(config.journal_origin, signer.public_key)
        publisher = TilingPublisher(publisher, config.checkpoint_dir, journal, key)
    return Checkpointer(
        journal,
        signer,
        config.journal_origin,
        publisher,
        SystemClock(),
        every_entries=config.checkpoint_every,
        every_seconds=config.checkpoint_seconds,
        cosigner=None if config.witness is None else Collector(config.witness),
    )


@dataclass
class Components:
    """Everything a running server holds, built once from the configuration."""

    vault: Vault
    appender: GroupCommitJournal
    checkpointer: Checkpointer
    sweeper: Sweeper
    keys: KeyProviders
    engines: tuple[Engine, ...] = ()
    blobs: BlobStores | None = None  # for the health probe (vault/server/probes.py)
    served_keys: KeyProvider | None = None  # `keys` as the service sees it (instrumented)

    def refresh_keys(self) -> int:
        """Rereads the master versions through the service's provider (so it is timed)."""
        return (self.served_keys or self.keys).refresh()

    def close_journal(self) -> None:
        self.appender.close()

    def close(self) -> None:
        """Last: the final checkpoint needs the key provider. The databases' pooled
        connections are closed too (an in-process server, in tests, would otherwise keep
        them open until its engines are collected)."""
        close_keys(self.keys)
        for engine in self.engines:
            engine.dispose()


def access_matrix(config: Config) -> AccessMatrix:
    return DEFAULT_MATRIX if config.access_matrix is None else load_matrix(config.access_matrix)


def build(config: Config, instruments: Instruments | None = None) -> Components:
    """The service over the configured adapters. An empty database gets its tables; a
    schema not at the newest revision stops the server here (`dossier-vault db upgrade`).
    With `instruments` (metrics on), the service and the sweeper see the blob store and
    the key provider through timers, and the group commit reports each transaction."""
    matrix = access_matrix(config)  # a bad file stops the server before anything is created
    config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    index = open_index(config)
    journal = open_journal(config)
    on_commit = instruments.journal_commit if instruments is not None else None
    appender = GroupCommitJournal(journal, on_commit=on_commit)
    keys = key_provider(config)
    blobs = blob_store(config)
    blobs.check()  # a missing bucket or wrong credentials stop the server here, clearly
    worm = retainer(blobs)
    _log.info("blob store WORM mode: %s", worm.mode())  # object-lock or none (ADR 0024)
    served_blobs: BlobStore = blobs
    served_keys: KeyProvider = keys
    if instruments is not None:
        served_blobs = InstrumentedBlobStore(blobs, instruments.blob_store)
        served_keys = InstrumentedKeyProvider(keys, instruments.key_provider)
    vault = Vault(
        index=index,
        blobs=served_blobs,
        keys=served_keys,
        journal=appender,
        journal_log=journal,
        journal_tree=SqlMerkleTree(journal.engine),
        clock=SystemClock(),
        segment_size=config.segment_size,
        matrix=matrix,
        rules=config.retention_rules,
        upload_lease=timedelta(seconds=config.upload_lease_seconds),
        retainer=worm,
        upload_quota=UploadQuota(
            int(config.max_document_mib * 2**20), int(config.max_dossier_gib * 2**30)
        ),
        consent_window=config.consent_window,
        watch=config.notification_watch,
    )
    checkpointer = build_checkpointer(config, journal, keys)
    sweeper = Sweeper(index, served_blobs, SystemClock())
    engines = (index.engine, journal.engine)
    return Components(vault, appender, checkpointer, sweeper, keys, engines, blobs, served_keys)


def build_sweeper(config: Config) -> Sweeper:
    """The sweeper alone, for `dossier-vault gc` on the server host."""
    return Sweeper(open_index(config), blob_store(config), SystemClock())


@dataclass
class RetentionAdapters:
    """What the retention commands work on: the server's own index and blob store."""

    config: Config
    index: SqlIndex
    blobs: BlobStores
    destroyer: Destroyer


@contextmanager
def open_retention(config: Config) -> Iterator[RetentionAdapters]:
    """The index, blob store, journal and signing key the server uses, for one command."""
    from retention.destroyer import Destroyer, Journal, SigningKey

    index = open_index(config)  # refuses a schema behind the code
    blobs = blob_store(config)
    journal = open_journal(config)
    keys = key_provider(config)
    try:
        destroyer = Destroyer(
            index,
            blobs,
            Journal(journal, journal),
            SigningKey(config.journal_origin, keys.checkpoint_signer()),
            SystemClock(),
            config.retention_rules,
            retainer(blobs),
        )
        try:
            yield RetentionAdapters(config, index, blobs, destroyer)
        finally:
            destroyer.close()
    finally:
        close_keys(keys)
        index.engine.dispose()
