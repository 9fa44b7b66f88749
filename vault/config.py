"""The service's configuration: one frozen dataclass, read from the environment.

| variable                    | default                                  |
|-----------------------------|------------------------------------------|
| VAULT_LISTEN                | 127.0.0.1:50051 (host:port, this process's alone) |
| VAULT_REUSE_PORT            | 0; 1: the port is shared within the deployment |
| VAULT_PROCESSES             | 1: `serve` starts N processes on the port (ADR 0012) |
| VAULT_DATA_DIR              | ./var                                    |
| VAULT_DATABASE_URL          | sqlite:///<data dir>/index.sqlite3       |
| VAULT_JOURNAL_DATABASE_URL  | the index database                       |
| VAULT_MASTER_KEY_FILE       | <data dir>/master-keys.json (dev: created)|
| VAULT_PKCS11_MODULE, _TOKEN_LABEL, _PIN or _PIN_FILE, _KEY_LABEL_PREFIX | unset: a key file |
| VAULT_TOKEN_PUBLIC_KEYS     | (none: the dev issuer in the data dir)   |
| VAULT_TOKEN_ISSUER          | dossier-vault-dev                        |
| VAULT_TOKEN_AUDIENCE        | dossier-vault                            |
| VAULT_WORKERS               | 16 threads for blocking work (metadata calls) |
| VAULT_WORKER_QUEUE          | 1024 calls waiting for them; beyond: UNAVAILABLE |
| VAULT_BLOB_WORKERS          | 8 threads for calls that touch the blob store (docs/adr/0010) |
| VAULT_BLOB_QUEUE            | 512 such calls waiting; beyond: UNAVAILABLE |
| VAULT_DB_CONNECT_TIMEOUT_SECONDS   | 5: opening a PostgreSQL connection      |
| VAULT_DB_STATEMENT_TIMEOUT_SECONDS | 30: PostgreSQL statement_timeout (0: none) |
| VAULT_DB_POOL_TIMEOUT_SECONDS      | 5: waiting for a pooled connection      |
| VAULT_DB_KEEPALIVE_IDLE_SECONDS    | 30: TCP keepalives (then 3 probes 10 s apart) |
| VAULT_HEALTH_PROBE_SECONDS  | 5: dependency probes (0: health never probes) |
| VAULT_HEALTH_PROBE_TIMEOUT_SECONDS | 2: a probe slower than this fails: NOT_SERVING |
| VAULT_JOURNAL_ORIGIN        | dossier-vault/journal (checkpoint origin)|
| VAULT_CHECKPOINT_DIR        | <data dir>/checkpoints                   |
| VAULT_CHECKPOINT_EVERY      | 1000 entries                             |
| VAULT_CHECKPOINT_SECONDS    | 60                                       |
| VAULT_KEY_REFRESH_SECONDS   | 60: servers see a new master version within |
| VAULT_GC_INTERVAL_SECONDS   | 3600 (0: the server never sweeps)       |
| VAULT_GC_GRACE_SECONDS      | 86400: what a sweep leaves alone         |
| VAULT_UPLOAD_LEASE_SECONDS  | 120: an upload's hold on its version number (ADR 0008) |
| VAULT_STREAM_IDLE_SECONDS   | 30: an upload that sends nothing that long ends, DEADLINE_EXCEEDED |
| VAULT_UPLOAD_BUDGET_MIB     | 256: upload bytes received, not yet written, per server (ADR 0011) |
| VAULT_UPLOAD_CONNECTION_BUDGET_MIB | 64: the same, per client connection |
| VAULT_UPLOAD_BUDGET_WAIT_SECONDS | 5: a stream's wait for budget, then RESOURCE_EXHAUSTED |
| VAULT_S3_BUCKET (and VAULT_S3_*: vault/blobstore/s3/settings.py) | unset: <data dir>/blobs |
| VAULT_TLS_CERT, VAULT_TLS_KEY | unset: plaintext (a warning off loopback) |
| VAULT_TLS_CLIENT_CA, VAULT_TLS_CLIENT_KINDS | unset: no client certificates asked |
| VAULT_ACCESS_MATRIX         | unset: the default authorisation matrix (vault/matrix.py) |
| VAULT_CONSERVATION_YEARS    | 10: a closed dossier's conservation (set on it at closure) |
| VAULT_HELD_BACK_RELEASE_MONTHS | 1: a document held back from the patient is released then |
| VAULT_HELD_BACK_NOTICE_DAYS | 14: after its deposit, the holder is told of its release |
| VAULT_DELETION_DELAY_DAYS   | 90: a deletion request's legal deadline (3 months) |
| VAULT_DELETION_WARNING_DAYS | 14: reported as approaching this long before it |

Defaults are the embedded, development setup: everything under one data directory, with
keys generated on first start (and a loud warning that they are development keys).

TLS (`TlsSettings`): the server's certificate chain and key (PEM). With a client CA
bundle, every client must present a certificate that CA issued (mutual TLS), and the
client kinds file (TOML, `vault.tls_material.ClientKinds`) says which actor kinds each client
certificate may assert; one is never set without the other. This module only reads the
variables; the files are read and checked when the server starts (vault/server/tls_credentials.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from vault.auth_settings import DEFAULT_AUDIENCE, DEV_ISSUER
from vault.blobstore.s3.settings import S3Settings
from vault.crypto.objectformat import DEFAULT_SEGMENT_SIZE
from vault.crypto.pkcs11.settings import Pkcs11Settings
from vault.domain.lifecycle import RetentionRules
from vault.errors import ConfigurationError

DEFAULT_LISTEN = "127.0.0.1:50051"


@dataclass(frozen=True)
class TlsSettings:
    """The server's TLS files; with `client_ca_file`, mutual TLS."""

    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None  # None: clients present no certificate
    client_kinds_file: Path | None = None  # with client_ca_file, and only with it

    def __post_init__(self) -> None:
        if (self.client_ca_file is None) != (self.client_kinds_file is None):
            raise ConfigurationError(
                "set VAULT_TLS_CLIENT_CA and VAULT_TLS_CLIENT_KINDS together: with client "
                "certificates, the vault must know which actor kinds each may assert"
            )

    @property
    def mutual(self) -> bool:
        return self.client_ca_file is not None

    @classmethod
    def from_env_if_set(cls, environ: Mapping[str, str]) -> TlsSettings | None:
        """The settings when any VAULT_TLS_* variable is set, else None (plaintext). A
        partial configuration is a ConfigurationError, never a silent plaintext server."""

        def path(name: str) -> Path | None:
            value = environ.get(name, "").strip()
            return Path(value) if value else None

        cert, key = path("VAULT_TLS_CERT"), path("VAULT_TLS_KEY")
        client_ca, client_kinds = path("VAULT_TLS_CLIENT_CA"), path("VAULT_TLS_CLIENT_KINDS")
        if cert is None and key is None and client_ca is None and client_kinds is None:
            return None
        if cert is None or key is None:
            raise ConfigurationError("TLS needs both VAULT_TLS_CERT and VAULT_TLS_KEY")
        return cls(cert, key, client_ca, client_kinds)


@dataclass(frozen=True)
class Config:
    listen: str = DEFAULT_LISTEN
    data_dir: Path = Path("var")
    database_url: str = ""  # empty: SQLite in the data directory
    journal_database_url: str = ""  # empty: the index database
    master_key_file: Path | None = None  # None: the development key in the data directory
    token_public_keys: tuple[Path, ...] = ()  # empty: the development issuer
    token_issuer: str = DEV_ISSUER
    token_audience: str = DEFAULT_AUDIENCE
    workers: int = 16
    worker_queue: int = 1024
    blob_workers: int = 8
    blob_queue: int = 512
    db_connect_timeout_seconds: float = 5.0
    db_statement_timeout_seconds: float = 30.0  # 0: none
    db_pool_timeout_seconds: float = 5.0
    db_keepalive_idle_seconds: float = 30.0
    health_probe_seconds: float = 5.0  # 0: no probes, health stays SERVING
    health_probe_timeout_seconds: float = 2.0
    segment_size: int = DEFAULT_SEGMENT_SIZE
    journal_origin: str = "dossier-vault/journal"
    checkpoint_directory: Path | None = None  # None: <data dir>/checkpoints
    checkpoint_every: int = 1000
    checkpoint_seconds: float = 60.0
    s3: S3Settings | None = None  # None: the local directory store
    pkcs11: Pkcs11Settings | None = None  # None: a key file (VAULT_MASTER_KEY_FILE or dev)
    key_refresh_seconds: float = 60.0
    gc_interval_seconds: float = 3600.0  # 0: no periodic sweep in the server
    gc_grace_seconds: float = 86400.0
    upload_lease_seconds: float = 120.0
    stream_idle_seconds: float = 30.0
    upload_budget_mib: float = 256.0
    upload_connection_budget_mib: float = 64.0
    upload_budget_wait_seconds: float = 5.0
    tls: TlsSettings | None = None  # None: plaintext (loopback or behind a TLS proxy)
    access_matrix: Path | None = None  # None: the policy's default matrix
    conservation_years: int = 10
    held_back_release_months: int = 1
    held_back_notice_days: int = 14
    deletion_delay_days: int = 90
    deletion_warning_days: int = 14
    reuse_port: bool = False  # True: SO_REUSEPORT, the port shared within one deployment
    processes: int = 1  # server processes `serve` starts on the port (ADR 0012)

    @property
    def retention_rules(self) -> RetentionRules:
        return RetentionRules(
            conservation_years=self.conservation_years,
            deletion_delay_days=self.deletion_delay_days,
            deletion_warning_days=self.deletion_warning_days,
            held_back_release_months=self.held_back_release_months,
            held_back_notice_days=self.held_back_notice_days,
        )

    @property
    def index_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'index.sqlite3'}"

    @property
    def journal_url(self) -> str:
        return self.journal_database_url or self.index_url

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def checkpoint_dir(self) -> Path:
        return self.checkpoint_directory or self.data_dir / "checkpoints"

    @property
    def dev_master_key_file(self) -> Path:
        return self.data_dir / "master-keys.json"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Config:
        def get(name: str) -> str:
            return environ.get(name, "").strip()

        def number(name: str, default: float, minimum: float = 1e-9) -> float:
            try:
                value = float(get(name) or default)
            except ValueError:
                raise ConfigurationError(f"{name} must be a number") from None
            if value < minimum:
                raise ConfigurationError(f"{name} must be at least {minimum:g}")
            return value

        def flag(name: str) -> bool:
            value = get(name).lower()
            if value in ("", "0", "false", "no", "off"):
                return False
            if value in ("1", "true", "yes", "on"):
                return True
            raise ConfigurationError(f"{name} must be 1 or 0")

        checkpoint_dir = get("VAULT_CHECKPOINT_DIR")
        pkcs11 = Pkcs11Settings.from_env_if_set(environ)
        if pkcs11 is not None and get("VAULT_MASTER_KEY_FILE"):
            raise ConfigurationError("set VAULT_MASTER_KEY_FILE or VAULT_PKCS11_*, not both")
        key_file = get("VAULT_MASTER_KEY_FILE")
        public_keys = tuple(Path(p) for p in get("VAULT_TOKEN_PUBLIC_KEYS").split(",") if p)
        return cls(
            listen=get("VAULT_LISTEN") or DEFAULT_LISTEN,
            data_dir=Path(get("VAULT_DATA_DIR") or "var"),
            database_url=get("VAULT_DATABASE_URL"),
            journal_database_url=get("VAULT_JOURNAL_DATABASE_URL"),
            master_key_file=Path(key_file) if key_file else None,
            token_public_keys=public_keys,
            token_issuer=get("VAULT_TOKEN_ISSUER") or DEV_ISSUER,
            token_audience=get("VAULT_TOKEN_AUDIENCE") or DEFAULT_AUDIENCE,
            workers=int(number("VAULT_WORKERS", 16)),
            worker_queue=int(number("VAULT_WORKER_QUEUE", 1024, minimum=0)),
            blob_workers=int(number("VAULT_BLOB_WORKERS", 8)),
            blob_queue=int(number("VAULT_BLOB_QUEUE", 512, minimum=0)),
            db_connect_timeout_seconds=number("VAULT_DB_CONNECT_TIMEOUT_SECONDS", 5),
            db_statement_timeout_seconds=number(
                "VAULT_DB_STATEMENT_TIMEOUT_SECONDS", 30, minimum=0
            ),
            db_pool_timeout_seconds=number("VAULT_DB_POOL_TIMEOUT_SECONDS", 5),
            db_keepalive_idle_seconds=number("VAULT_DB_KEEPALIVE_IDLE_SECONDS", 30),
            health_probe_seconds=number("VAULT_HEALTH_PROBE_SECONDS", 5, minimum=0),
            health_probe_timeout_seconds=number("VAULT_HEALTH_PROBE_TIMEOUT_SECONDS", 2),
            journal_origin=get("VAULT_JOURNAL_ORIGIN") or "dossier-vault/journal",
            checkpoint_directory=Path(checkpoint_dir) if checkpoint_dir else None,
            checkpoint_every=int(number("VAULT_CHECKPOINT_EVERY", 1000)),
            checkpoint_seconds=number("VAULT_CHECKPOINT_SECONDS", 60),
            s3=S3Settings.from_env(environ) if get("VAULT_S3_BUCKET") else None,
            pkcs11=pkcs11,
            key_refresh_seconds=number("VAULT_KEY_REFRESH_SECONDS", 60),
            gc_interval_seconds=number("VAULT_GC_INTERVAL_SECONDS", 3600, minimum=0),
            gc_grace_seconds=number("VAULT_GC_GRACE_SECONDS", 86400, minimum=0),
            upload_lease_seconds=number("VAULT_UPLOAD_LEASE_SECONDS", 120, minimum=1),
            stream_idle_seconds=number("VAULT_STREAM_IDLE_SECONDS", 30, minimum=0.1),
            upload_budget_mib=number("VAULT_UPLOAD_BUDGET_MIB", 256, minimum=1),
            upload_connection_budget_mib=number(
                "VAULT_UPLOAD_CONNECTION_BUDGET_MIB", 64, minimum=1
            ),
            upload_budget_wait_seconds=number("VAULT_UPLOAD_BUDGET_WAIT_SECONDS", 5, minimum=0),
            tls=TlsSettings.from_env_if_set(environ),
            access_matrix=Path(matrix) if (matrix := get("VAULT_ACCESS_MATRIX")) else None,
            conservation_years=int(number("VAULT_CONSERVATION_YEARS", 10)),
            held_back_release_months=int(number("VAULT_HELD_BACK_RELEASE_MONTHS", 1, minimum=1)),
            held_back_notice_days=int(number("VAULT_HELD_BACK_NOTICE_DAYS", 14, minimum=0)),
            deletion_delay_days=int(number("VAULT_DELETION_DELAY_DAYS", 90, minimum=1)),
            deletion_warning_days=int(number("VAULT_DELETION_WARNING_DAYS", 14, minimum=0)),
            reuse_port=flag("VAULT_REUSE_PORT"),
            processes=int(number("VAULT_PROCESSES", 1, minimum=1)),
        )
