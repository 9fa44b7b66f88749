"""`Pkcs11Settings` (vault/crypto/pkcs11/settings.py): the documented variables, the PIN
never shown and read only from a private file, partial or ambiguous settings refused, and
key labels that belong to the prefix. No HSM needed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.crypto.conftest import fresh_prefix
from vault.crypto.pkcs11.settings import DEFAULT_KEY_LABEL_PREFIX, Pkcs11Settings
from vault.errors import ConfigurationError


def test_settings_from_env_read_the_documented_variables() -> None:
    settings = Pkcs11Settings.from_env(
        {
            "VAULT_PKCS11_MODULE": "/usr/lib/softhsm/libsofthsm2.so",
            "VAULT_PKCS11_TOKEN_LABEL": "vault",
            "VAULT_PKCS11_PIN": "5678",
        }
    )
    assert settings == Pkcs11Settings("/usr/lib/softhsm/libsofthsm2.so", "vault", "5678")
    assert settings.key_label_prefix == DEFAULT_KEY_LABEL_PREFIX == "dossier-vault"
    assert settings.master_label(3) == "dossier-vault-master-v3"
    assert settings.index_label == "dossier-vault-index"


@pytest.mark.parametrize(
    ("environ", "configured"),
    [
        ({}, False),
        ({"VAULT_MASTER_KEY_FILE": "/k.json", "VAULT_PKCS11_MODULE": ""}, False),
        (
            {
                "VAULT_PKCS11_MODULE": "/m.so",
                "VAULT_PKCS11_TOKEN_LABEL": "vault",
                "VAULT_PKCS11_PIN": "5678",
            },
            True,
        ),
    ],
    ids=["nothing", "empty-module", "complete"],
)
def test_hsm_is_used_only_when_configured(environ: dict[str, str], configured: bool) -> None:
    assert (Pkcs11Settings.from_env_if_set(environ) is not None) is configured


@pytest.mark.parametrize("name", ["VAULT_PKCS11_TOKEN_LABEL", "VAULT_PKCS11_PIN_FILE"])
def test_partial_hsm_settings_are_refused_not_ignored(name: str) -> None:
    with pytest.raises(ConfigurationError, match="VAULT_PKCS11_MODULE"):
        Pkcs11Settings.from_env_if_set({name: "x"})


def test_pin_never_appears_in_the_settings_repr() -> None:
    settings = Pkcs11Settings("/m.so", "vault", "s3cret-pin")
    assert "s3cret-pin" not in repr(settings)


def test_pin_is_read_from_a_private_pin_file(tmp_path: Path) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text("s3cret-pin\n")
    pin_file.chmod(0o600)
    environ = {
        "VAULT_PKCS11_MODULE": "/m.so",
        "VAULT_PKCS11_TOKEN_LABEL": "vault",
        "VAULT_PKCS11_PIN_FILE": str(pin_file),
        "VAULT_PKCS11_KEY_LABEL_PREFIX": "dmp-prod",
    }
    settings = Pkcs11Settings.from_env(environ)
    assert (settings.pin, settings.key_label_prefix) == ("s3cret-pin", "dmp-prod")


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_group_or_world_readable_pin_file_is_refused(tmp_path: Path, mode: int) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text("s3cret-pin\n")
    pin_file.chmod(mode)
    environ = {
        "VAULT_PKCS11_MODULE": "/m.so",
        "VAULT_PKCS11_TOKEN_LABEL": "vault",
        "VAULT_PKCS11_PIN_FILE": str(pin_file),
    }
    with pytest.raises(ConfigurationError, match="chmod 600") as caught:
        Pkcs11Settings.from_env(environ)
    assert "s3cret-pin" not in str(caught.value)


@pytest.mark.parametrize(
    "environ",
    [
        {"VAULT_PKCS11_TOKEN_LABEL": "vault", "VAULT_PKCS11_PIN": "5678"},
        {"VAULT_PKCS11_MODULE": "/m.so", "VAULT_PKCS11_PIN": "5678"},
        {"VAULT_PKCS11_MODULE": "/m.so", "VAULT_PKCS11_TOKEN_LABEL": "vault"},
        {
            "VAULT_PKCS11_MODULE": "/m.so",
            "VAULT_PKCS11_TOKEN_LABEL": "vault",
            "VAULT_PKCS11_PIN": "5678",
            "VAULT_PKCS11_PIN_FILE": "/run/secrets/pin",
        },
        {
            "VAULT_PKCS11_MODULE": "/m.so",
            "VAULT_PKCS11_TOKEN_LABEL": "vault",
            "VAULT_PKCS11_PIN": "5678",
            "VAULT_PKCS11_KEY_LABEL_PREFIX": "bad prefix/with-master-v1",
        },
    ],
    ids=["no-module", "no-token", "no-pin", "pin-and-pin-file", "bad-prefix"],
)
def test_incomplete_or_ambiguous_settings_are_refused(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Pkcs11Settings.from_env(environ)
    assert "5678" not in str(caught.value)


def test_master_labels_of_another_prefix_are_not_taken_for_versions() -> None:
    settings = Pkcs11Settings("/m.so", "vault", "5678", key_label_prefix="dmp")
    assert settings.master_version_of("dmp-master-v12") == 12
    for label in ["dmp-master-v0", "dmp-master-v01", "dmp2-master-v3", "dmp-master-v3x", "dmp"]:
        assert settings.master_version_of(label) is None, label
    assert fresh_prefix() != fresh_prefix()
