"""`[witness]` settings: unset is today's behaviour; a half or inconsistent setup refuses
to start rather than publishing unwitnessed checkpoints."""

from __future__ import annotations

import pytest

from tests.witness.fixtures import WITNESS_KEY
from vault.config import Config
from vault.errors import ConfigurationError


def config(**variables: str) -> Config:
    return Config.from_env({"VAULT_DATA_DIR": "/tmp/unused", **variables})


def test_no_witness_settings_means_no_witnesses() -> None:
    assert config().witness is None


def test_witnesses_read_from_the_environment() -> None:
    witness = config(
        VAULT_WITNESS_URLS="http://127.0.0.1:7380, http://127.0.0.1:7381/w",
        VAULT_WITNESS_KEYS=f"{WITNESS_KEY.encode()},{WITNESS_KEY.encode()}",
        VAULT_WITNESS_QUORUM="1",
        VAULT_WITNESS_TIMEOUT_SECONDS="0.5",
    ).witness
    assert witness is not None
    assert [w.url for w in witness.witnesses] == [
        "http://127.0.0.1:7380",
        "http://127.0.0.1:7381/w",
    ]
    assert witness.keys == (WITNESS_KEY, WITNESS_KEY)
    assert witness.timeout_seconds == 0.5


@pytest.mark.parametrize(
    "variables",
    [
        {"VAULT_WITNESS_URLS": "http://127.0.0.1:7380"},  # no keys
        {"VAULT_WITNESS_URLS": "http://a:1,http://b:2", "VAULT_WITNESS_KEYS": WITNESS_KEY.encode()},
        {  # the same witness twice cannot make a quorum of two
            "VAULT_WITNESS_URLS": "http://a:1,http://b:2",
            "VAULT_WITNESS_KEYS": f"{WITNESS_KEY.encode()},{WITNESS_KEY.encode()}",
            "VAULT_WITNESS_QUORUM": "2",
        },
        {"VAULT_WITNESS_URLS": "ftp://a", "VAULT_WITNESS_KEYS": WITNESS_KEY.encode()},
        {"VAULT_WITNESS_URLS": "http://a:1", "VAULT_WITNESS_KEYS": "not-a-key"},
    ],
)
def test_inconsistent_witness_settings_refuse_to_start(variables: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        config(**variables)
