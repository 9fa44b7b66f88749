"""`S3Settings`: where the S3 store's bucket is and how to reach it, declared
field by field (vault/settings.py: `[s3] bucket` is VAULT_S3_BUCKET) and checked
(ConfigurationError names the variable, never its value). The optional governance key
pair is a second principal, allowed to bypass Object Lock governance (retention.py): the
serving client never carries it.

Imports neither boto3 nor botocore, so `vault.config` can read it without them; the
client is built from these settings by `client.make_client`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from vault import settings as s
from vault.errors import ConfigurationError

MIB = 1024 * 1024
MIN_PART_SIZE = 5 * MIB  # S3's minimum for every part but the last
MAX_PART_SIZE = 5 * 1024 * MIB
DEFAULT_PART_SIZE = 8 * MIB
RetryMode = Literal["standard", "adaptive"]


@dataclass(frozen=True)
class S3Settings:
    """Where and how to reach the bucket; `from_env` documents the variables."""

    bucket: str = s.setting(s.REQUIRED, "the bucket; set: blobs in S3", s.text)
    endpoint_url: str | None = s.setting(
        None, "the S3 endpoint (set it for MinIO and others)", s.text, shown_default="AWS S3"
    )
    region: str | None = s.setting(
        None, "the bucket's region", s.text, shown_default="the AWS configuration's"
    )
    prefix: str = s.setting("objects/", "the object keys' prefix (ends with /)", s.text)
    access_key_id: str | None = s.setting(
        None, "the vault's own access key", s.text, secret=True, shown_default="the AWS chain"
    )
    secret_access_key: str | None = s.setting(
        None, "its secret, with access_key_id", s.text, secret=True, shown_default="the AWS chain"
    )
    governance_access_key_id: str | None = s.setting(
        None,
        "a second access key, allowed to bypass Object Lock governance (reopen, early"
        " deletion, legal holds); never used to serve",
        s.text,
        secret=True,
        shown_default="none: protection is only ever extended",
    )
    governance_secret_access_key: str | None = s.setting(
        None, "its secret, with governance_access_key_id", s.text, secret=True, shown_default="none"
    )
    path_style: bool = s.setting(False, "path-style addressing (true for MinIO)", s.flag)
    verify_tls: bool = s.setting(True, "verify the endpoint's certificate", s.flag)
    ca_bundle: Path | None = s.setting(
        None, "the CA bundle it is verified with", s.path, shown_default="the system's"
    )
    part_size: int = s.setting(
        DEFAULT_PART_SIZE, "multipart part size in bytes (5 MiB to 5 GiB)", s.integer(0)
    )
    connect_timeout: float = s.setting(2.0, "seconds to connect", s.number(-math.inf))
    read_timeout: float = s.setting(10.0, "seconds per socket read", s.number(-math.inf))
    max_attempts: int = s.setting(2, "attempts per call, the first included", s.integer(-1))
    retry_mode: RetryMode = s.setting(
        "standard", "botocore's retry mode", s.choice("standard", "adaptive")
    )
    max_connections: int = s.setting(
        16, "pooled connections (keep it >= blob_workers)", s.integer(-1)
    )
    parts_in_flight: int = s.setting(4, "parts uploading at once per document", s.integer(-1))

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
        if (self.governance_access_key_id is None) != (self.governance_secret_access_key is None):
            yield (
                "VAULT_S3_GOVERNANCE_ACCESS_KEY_ID and VAULT_S3_GOVERNANCE_SECRET_ACCESS_KEY"
                " go together"
            )
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
        """Reads the VAULT_S3_* variables (docs/configuration.md); ConfigurationError names
        the variable, never its value."""
        settings: S3Settings = s.read(cls, environ, "s3")
        return settings
