"""`S3Settings` (vault/blobstore/s3/settings.py): every VAULT_S3_* variable read, the
defaults, and bad values refused naming the variable, never the value.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vault.blobstore.s3.settings import DEFAULT_PART_SIZE, S3Settings
from vault.errors import ConfigurationError


def test_settings_read_every_variable() -> None:
    settings = S3Settings.from_env(
        {
            "VAULT_S3_BUCKET": "dmp-vault",
            "VAULT_S3_ENDPOINT_URL": "https://minio.internal:9000",
            "VAULT_S3_REGION": "eu-west-3",
            "VAULT_S3_PREFIX": "vault/",
            "VAULT_S3_ACCESS_KEY_ID": "AKIAEXAMPLE",
            "VAULT_S3_SECRET_ACCESS_KEY": "very-secret",
            "VAULT_S3_PATH_STYLE": "true",
            "VAULT_S3_VERIFY_TLS": "TRUE",
            "VAULT_S3_CA_BUNDLE": "/etc/vault/ca.pem",
            "VAULT_S3_PART_SIZE": str(16 * 1024 * 1024),
            "VAULT_S3_CONNECT_TIMEOUT": "1.5",
            "VAULT_S3_READ_TIMEOUT": "20",
            "VAULT_S3_MAX_ATTEMPTS": "3",
            "VAULT_S3_RETRY_MODE": "adaptive",
            "VAULT_S3_MAX_CONNECTIONS": "32",
            "VAULT_S3_PARTS_IN_FLIGHT": "3",
        }
    )
    assert settings == S3Settings(
        bucket="dmp-vault",
        endpoint_url="https://minio.internal:9000",
        region="eu-west-3",
        prefix="vault/",
        access_key_id="AKIAEXAMPLE",
        secret_access_key="very-secret",
        path_style=True,
        verify_tls=True,
        ca_bundle=Path("/etc/vault/ca.pem"),
        part_size=16 * 1024 * 1024,
        connect_timeout=1.5,
        read_timeout=20.0,
        max_attempts=3,
        retry_mode="adaptive",
        max_connections=32,
        parts_in_flight=3,
    )
    assert "very-secret" not in repr(settings)


def test_settings_default_to_aws_with_the_credential_chain() -> None:
    settings = S3Settings.from_env({"VAULT_S3_BUCKET": "dmp-vault"})
    assert settings.endpoint_url is None
    assert settings.access_key_id is None
    assert settings.secret_access_key is None
    assert settings.prefix == "objects/"
    assert settings.part_size == DEFAULT_PART_SIZE == 8 * 1024 * 1024
    assert settings.parts_in_flight == 4
    assert (settings.verify_tls, settings.path_style, settings.retry_mode) == (
        True,
        False,
        "standard",
    )


BAD_ENVIRONMENTS = [
    ({}, "VAULT_S3_BUCKET"),
    ({"VAULT_S3_PART_SIZE": str(5 * 1024 * 1024 - 1)}, "VAULT_S3_PART_SIZE"),
    ({"VAULT_S3_PART_SIZE": "8M"}, "VAULT_S3_PART_SIZE"),
    ({"VAULT_S3_PATH_STYLE": "perhaps"}, "VAULT_S3_PATH_STYLE"),
    ({"VAULT_S3_VERIFY_TLS": "nah"}, "VAULT_S3_VERIFY_TLS"),
    ({"VAULT_S3_READ_TIMEOUT": "0"}, "VAULT_S3_READ_TIMEOUT"),
    ({"VAULT_S3_CONNECT_TIMEOUT": "soon"}, "VAULT_S3_CONNECT_TIMEOUT"),
    ({"VAULT_S3_MAX_ATTEMPTS": "0"}, "VAULT_S3_MAX_ATTEMPTS"),
    ({"VAULT_S3_RETRY_MODE": "legacy"}, "VAULT_S3_RETRY_MODE"),
    ({"VAULT_S3_PARTS_IN_FLIGHT": "0"}, "VAULT_S3_PARTS_IN_FLIGHT"),
    ({"VAULT_S3_PREFIX": "objects"}, "VAULT_S3_PREFIX"),
    ({"VAULT_S3_ENDPOINT_URL": "minio:9000"}, "VAULT_S3_ENDPOINT_URL"),
    ({"VAULT_S3_SECRET_ACCESS_KEY": "very-secret"}, "VAULT_S3_ACCESS_KEY_ID"),
    ({"VAULT_S3_VERIFY_TLS": "false", "VAULT_S3_CA_BUNDLE": "/ca.pem"}, "VAULT_S3_CA_BUNDLE"),
]


@pytest.mark.parametrize(("overrides", "variable"), BAD_ENVIRONMENTS)
def test_bad_settings_are_refused_naming_the_variable_not_the_value(
    overrides: dict[str, str], variable: str
) -> None:
    environ = {"VAULT_S3_BUCKET": "dmp-vault", **overrides} if overrides else {}
    with pytest.raises(ConfigurationError, match=variable) as refused:
        S3Settings.from_env(environ)
    for value in overrides.values():
        assert value not in str(refused.value)
