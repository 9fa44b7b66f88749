"""`S3Settings`: where the S3 store's bucket is and how to reach it, read from the
VAULT_S3_* variables and checked (ConfigurationError names the variable, never its value).

Imports neither boto3 nor botocore, so `vault.config` can read it without them; the
client is built from these settings by `client.make_client`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from vault.errors import ConfigurationError

MIB = 1024 * 1024
MIN_PART_SIZE = 5 * MIB  # S3's minimum for every part but the last
MAX_PART_SIZE = 5 * 1024 * MIB
DEFAULT_PART_SIZE = 8 * MIB
RetryMode = Literal["standard", "adaptive"]


def _text(environ: Mapping[str, str], name: str) -> str | None:
    return environ.get(name, "").strip() or None


def _flag(environ: Mapping[str, str], name: str, default: bool) -> bool:
    value = (_text(environ, name) or "").lower()
    if not value:
        return default
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise ConfigurationError(f"{name} must be true or false")


def _number(environ: Mapping[str, str], name: str, default: float) -> float:
    value = _text(environ, name)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number") from None


def _integer(environ: Mapping[str, str], name: str, default: int) -> int:
    value = _text(environ, name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigurationError(f"{name} must be an integer") from None


def _retry_mode(environ: Mapping[str, str]) -> RetryMode:
    value = (_text(environ, "VAULT_S3_RETRY_MODE") or "standard").lower()
    if value == "standard":
        return "standard"
    if value == "adaptive":
        return "adaptive"
    raise ConfigurationError("VAULT_S3_RETRY_MODE must be standard or adaptive")


@dataclass(frozen=True)
class S3Settings:
    """Where and how to reach the bucket; `from_env` documents the variables."""

    bucket: str
    endpoint_url: str | None = None
    region: str | None = None
    prefix: str = "objects/"
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    path_style: bool = False
    verify_tls: bool = True
    ca_bundle: Path | None = None
    part_size: int = DEFAULT_PART_SIZE
    connect_timeout: float = 2.0
    read_timeout: float = 10.0
    max_attempts: int = 2
    retry_mode: RetryMode = "standard"
    max_connections: int = 16
    parts_in_flight: int = 4

    def __post_init__(self) -> None:
        for problem in self._problems():
            raise ConfigurationError(problem)

    def _problems(self) -> Iterator[str]:
        if not self.bucket:
            yield "VAULT_S3_BUCKET is required"
        if self.prefix.startswith("/") or (self.prefix and not self.prefix.endswith("/")):
            yield "VAULT_S3_PREFIX must end with '/' and not start with one"
        if (self.access_key_id is None) != (self.secret_access_key is None):
            yield "VAULT_S3_ACCESS_KEY_ID and VAULT_S3_SECRET_ACCESS_KEY go together"
        if self.endpoint_url and not self.endpoint_url.startswith(("http://", "https://")):
            yield "VAULT_S3_ENDPOINT_URL must be an http:// or https:// URL"
        if self.ca_bundle is not None and not self.verify_tls:
            yield "VAULT_S3_CA_BUNDLE needs TLS verification (VAULT_S3_VERIFY_TLS)"
        if not MIN_PART_SIZE <= self.part_size <= MAX_PART_SIZE:
            yield "VAULT_S3_PART_SIZE must be between 5 MiB and 5 GiB (in bytes)"
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            yield "VAULT_S3_CONNECT_TIMEOUT and VAULT_S3_READ_TIMEOUT must be positive"
        if self.max_attempts < 1:
            yield "VAULT_S3_MAX_ATTEMPTS must be at least 1"
        if self.max_connections < 1:
            yield "VAULT_S3_MAX_CONNECTIONS must be at least 1"
        if self.parts_in_flight < 1:
            yield "VAULT_S3_PARTS_IN_FLIGHT must be at least 1"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> S3Settings:
        """Reads the settings; ConfigurationError names the variable, never its value.

        | variable                     | default                                  |
        |------------------------------|------------------------------------------|
        | VAULT_S3_BUCKET              | (required)                               |
        | VAULT_S3_ENDPOINT_URL        | AWS S3 (set it for MinIO and others)     |
        | VAULT_S3_REGION              | the AWS configuration's region           |
        | VAULT_S3_PREFIX              | objects/                                 |
        | VAULT_S3_ACCESS_KEY_ID       | (both unset: the AWS credential chain)   |
        | VAULT_S3_SECRET_ACCESS_KEY   |                                          |
        | VAULT_S3_PATH_STYLE          | false (true for MinIO)                   |
        | VAULT_S3_VERIFY_TLS          | true                                     |
        | VAULT_S3_CA_BUNDLE           | the system's CA certificates             |
        | VAULT_S3_PART_SIZE           | 8388608 (8 MiB; at least 5 MiB)          |
        | VAULT_S3_CONNECT_TIMEOUT     | 2 seconds                                |
        | VAULT_S3_READ_TIMEOUT        | 10 seconds (per socket read)             |
        | VAULT_S3_MAX_ATTEMPTS        | 2 (first try included)                   |
        | VAULT_S3_RETRY_MODE          | standard (or adaptive)                   |
        | VAULT_S3_MAX_CONNECTIONS     | 16 (keep it >= VAULT_BLOB_WORKERS)       |
        | VAULT_S3_PARTS_IN_FLIGHT     | 4 (parts uploading at once per document) |
        """
        ca_bundle = _text(environ, "VAULT_S3_CA_BUNDLE")
        return cls(
            bucket=_text(environ, "VAULT_S3_BUCKET") or "",
            endpoint_url=_text(environ, "VAULT_S3_ENDPOINT_URL"),
            region=_text(environ, "VAULT_S3_REGION"),
            prefix=environ.get("VAULT_S3_PREFIX", "objects/").strip(),
            access_key_id=_text(environ, "VAULT_S3_ACCESS_KEY_ID"),
            secret_access_key=_text(environ, "VAULT_S3_SECRET_ACCESS_KEY"),
            path_style=_flag(environ, "VAULT_S3_PATH_STYLE", False),
            verify_tls=_flag(environ, "VAULT_S3_VERIFY_TLS", True),
            ca_bundle=Path(ca_bundle) if ca_bundle else None,
            part_size=_integer(environ, "VAULT_S3_PART_SIZE", DEFAULT_PART_SIZE),
            connect_timeout=_number(environ, "VAULT_S3_CONNECT_TIMEOUT", 2.0),
            read_timeout=_number(environ, "VAULT_S3_READ_TIMEOUT", 10.0),
            max_attempts=_integer(environ, "VAULT_S3_MAX_ATTEMPTS", 2),
            retry_mode=_retry_mode(environ),
            max_connections=_integer(environ, "VAULT_S3_MAX_CONNECTIONS", 16),
            parts_in_flight=_integer(environ, "VAULT_S3_PARTS_IN_FLIGHT", 4),
        )
