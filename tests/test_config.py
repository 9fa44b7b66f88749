"""`Config.from_env`: the upload lease (the other settings are tested with their
features: TLS in tests/server/test_tls_config.py, S3 in tests/blobstore/test_s3_settings.py,
PKCS#11 in tests/crypto/test_pkcs11_settings.py); and reading the configuration loads no
adapter library."""

from __future__ import annotations

import subprocess
import sys

import pytest

from vault.config import Config
from vault.errors import ConfigurationError


def test_the_upload_lease_defaults_to_two_minutes_and_is_read_from_the_environment() -> None:
    assert Config.from_env({}).upload_lease_seconds == 120
    assert Config.from_env({"VAULT_UPLOAD_LEASE_SECONDS": "30"}).upload_lease_seconds == 30


@pytest.mark.parametrize("value", ["0", "0.5", "-1", "two minutes"])
def test_an_upload_lease_below_a_second_or_not_a_number_is_refused(value: str) -> None:
    with pytest.raises(ConfigurationError, match="VAULT_UPLOAD_LEASE_SECONDS"):
        Config.from_env({"VAULT_UPLOAD_LEASE_SECONDS": value})


def test_reading_the_configuration_loads_no_adapter_library() -> None:
    """The settings modules stand apart from their adapters: a tool that only reads the
    configuration loads neither the S3, PKCS#11, JWT, SQL nor gRPC libraries."""
    libraries = ("boto3", "botocore", "pkcs11", "jwt", "sqlalchemy", "grpc")
    script = (
        f"import sys, vault.config\nprint(','.join(m for m in {libraries!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == ""
