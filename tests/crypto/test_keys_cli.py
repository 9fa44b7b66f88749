"""`dossier-vault keys …` run in-process: provision, add a master version, status.

Handlers are called as vault.cli.run calls them (a `VaultError` becomes its exit code),
on the session's SoftHSM2 token under a key label prefix of each test's own, or on a
local key file in tmp_path. Each test is named after the mistake it stops.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from pkcs11.constants import Attribute
from pkcs11.types import Session

from tests.crypto.conftest import SoftHsm
from vault.cli.keys import register
from vault.crypto.localkeys import FORMAT, create_key_file
from vault.crypto.pkcs11.admin import TokenKeys, provision, token_keys
from vault.crypto.pkcs11.provider import Pkcs11KeyProvider
from vault.crypto.pkcs11.settings import Pkcs11Settings
from vault.errors import ConfigurationError, FailedPreconditionError, UnavailableError, VaultError


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str


Keys = Callable[..., Outcome]


@pytest.fixture(autouse=True)
def _no_key_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets: none of the caller's VAULT_* key settings leak in."""
    for name in list(os.environ):
        if name.startswith("VAULT_PKCS11_"):
            monkeypatch.delenv(name)
    for name in ("VAULT_MASTER_KEY_FILE", "VAULT_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def keys(capsys: pytest.CaptureFixture[str]) -> Keys:
    """Runs `dossier-vault keys ARGS…` in-process; returns exit code, stdout, stderr."""

    def run(*argv: str) -> Outcome:
        parser = argparse.ArgumentParser(prog="dossier-vault")
        register(parser.add_subparsers(dest="command", required=True))
        args = parser.parse_args(["keys", *argv])
        try:
            code = args.handler(args)
        except VaultError as error:  # as vault.cli.run does
            print(f"dossier-vault: {error}", file=sys.stderr)
            code = error.exit_code
        out, err = capsys.readouterr()
        return Outcome(code, out, err)

    return run


@pytest.fixture
def hsm_env(softhsm: SoftHsm, monkeypatch: pytest.MonkeyPatch) -> Pkcs11Settings:
    """The environment of a server on the test token, under a fresh, empty prefix."""
    settings = softhsm.settings()
    monkeypatch.setenv("VAULT_PKCS11_MODULE", settings.module)
    monkeypatch.setenv("VAULT_PKCS11_TOKEN_LABEL", settings.token_label)
    monkeypatch.setenv("VAULT_PKCS11_PIN", settings.pin)
    monkeypatch.setenv("VAULT_PKCS11_KEY_LABEL_PREFIX", settings.key_label_prefix)
    return settings


def _public_key_texts(settings: Pkcs11Settings) -> list[str]:
    with Pkcs11KeyProvider(settings) as provider:
        raw = provider.checkpoint_signer().public_key.public_bytes_raw()
    return [raw.hex(), base64.b64encode(raw).decode()]


# -- provision -----------------------------------------------------------------------------


def test_provision_creates_every_key_and_prints_labels_only(
    keys: Keys, hsm_env: Pkcs11Settings
) -> None:
    done = keys("provision")
    assert done.code == 0, done.err
    assert token_keys(hsm_env) == TokenKeys((1,), index=True, checkpoint=True)
    labels = [hsm_env.index_label, hsm_env.checkpoint_label, hsm_env.master_label(1)]
    assert f"created: {', '.join(labels)}" in done.out
    assert f"key labels: {', '.join(labels)}" in done.out
    assert "master key versions: 1 (current: 1)" in done.out
    assert "provider: pkcs11" in done.out
    for secret in [hsm_env.pin, *_public_key_texts(hsm_env)]:
        assert secret not in done.out + done.err


def test_provisioning_twice_creates_nothing_the_second_time(
    keys: Keys, hsm_env: Pkcs11Settings
) -> None:
    assert keys("provision").code == 0
    again = keys("provision")
    assert again.code == 0
    assert "created: nothing" in again.out
    assert token_keys(hsm_env) == TokenKeys((1,), index=True, checkpoint=True)


def test_provision_adds_the_checkpoint_key_to_a_token_provisioned_without_it(
    keys: Keys, hsm_env: Pkcs11Settings, token_session: Session
) -> None:
    provision(hsm_env)
    assert keys("add-master-version").code == 0
    for obj in token_session.get_objects({Attribute.LABEL: hsm_env.checkpoint_label}):
        obj.destroy()
    done = keys("provision")
    assert done.code == 0, done.err
    assert f"created: {hsm_env.checkpoint_label}\n" in done.out
    assert "master key versions: 1, 2 (current: 2)" in done.out
    assert token_keys(hsm_env) == TokenKeys((1, 2), index=True, checkpoint=True)


@pytest.mark.parametrize("command", ["provision", "add-master-version"])
def test_hsm_commands_without_an_hsm_explain_the_local_key_file(
    keys: Keys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.setenv("VAULT_DATA_DIR", str(tmp_path / "data"))
    done = keys(command)
    assert done.code == ConfigurationError.exit_code
    assert "VAULT_PKCS11_MODULE is not set" in done.err
    assert "creates the local key file" in done.err
    assert str(tmp_path / "data" / "master-keys.json") in done.err
    assert not (tmp_path / "data").exists()  # nothing created behind the operator's back


# -- add-master-version --------------------------------------------------------------------


def test_add_master_version_prints_the_next_number(keys: Keys, hsm_env: Pkcs11Settings) -> None:
    assert keys("provision").code == 0
    first, second = keys("add-master-version"), keys("add-master-version")
    assert (first.code, first.out, second.code, second.out) == (0, "2\n", 0, "3\n")
    assert token_keys(hsm_env).master_versions == (1, 2, 3)
    with Pkcs11KeyProvider(hsm_env) as provider:
        assert provider.current_version == 3


def test_add_master_version_on_an_unprovisioned_token_is_refused(
    keys: Keys, hsm_env: Pkcs11Settings
) -> None:
    done = keys("add-master-version")
    assert done.code == FailedPreconditionError.exit_code
    assert "keys provision" in done.err
    assert token_keys(hsm_env) == TokenKeys((), index=False, checkpoint=False)


def test_add_master_version_help_says_dossier_keys_are_not_rewrapped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = argparse.ArgumentParser(prog="dossier-vault")
    register(parser.add_subparsers(dest="command", required=True))
    with pytest.raises(SystemExit):
        parser.parse_args(["keys", "add-master-version", "--help"])
    assert "not rewrapped" in " ".join(capsys.readouterr().out.split())


# -- status --------------------------------------------------------------------------------


def test_status_of_the_token_shows_versions_and_presence_only(
    keys: Keys, hsm_env: Pkcs11Settings
) -> None:
    assert keys("provision").code == 0
    assert keys("add-master-version").code == 0
    done = keys("status")
    assert done.code == 0
    assert done.out.splitlines()[:3] == [
        "provider: pkcs11",
        f"token: {hsm_env.token_label!r}",
        f"module: {hsm_env.module}",
    ]
    assert "master key versions: 1, 2 (current: 2)" in done.out
    assert "index key: present" in done.out
    assert "checkpoint key: present" in done.out
    for secret in [hsm_env.pin, *_public_key_texts(hsm_env)]:
        assert secret not in done.out + done.err


def test_status_of_an_unprovisioned_token_says_so(keys: Keys, hsm_env: Pkcs11Settings) -> None:
    done = keys("status")
    assert done.code == 0
    assert "master key versions: none" in done.out
    assert "index key: absent" in done.out
    assert "checkpoint key: absent" in done.out
    assert "key labels: none" in done.out


def test_wrong_pin_is_unavailable_and_not_echoed(
    keys: Keys, hsm_env: Pkcs11Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_PKCS11_PIN", "wrong-pin-0000")
    done = keys("status")
    assert done.code == UnavailableError.exit_code
    assert "wrong-pin-0000" not in done.out + done.err
    assert hsm_env.pin not in done.out + done.err


def test_status_of_the_local_key_file_shows_no_key(
    keys: Keys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_DATA_DIR", str(tmp_path))
    create_key_file(tmp_path / "master-keys.json")
    done = keys("status")
    assert done.code == 0, done.err
    assert done.out.splitlines() == [
        "provider: local key file (not for production)",
        f"key file: {tmp_path / 'master-keys.json'}",
        "master key versions: 1 (current: 1)",
        "index key: present",
        "checkpoint key: present",
    ]
    document = json.loads((tmp_path / "master-keys.json").read_text())
    for key in [document["master"]["1"], document["index"], document["checkpoint"]]:
        assert key not in done.out + done.err


def test_status_reads_the_configured_key_file_with_several_versions(
    keys: Keys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "prod-keys.json"
    key = base64.b64encode(bytes(32)).decode()
    path.write_text(
        json.dumps({"format": FORMAT, "current": 2, "master": {"2": key, "1": key}, "index": key})
    )
    path.chmod(0o600)
    monkeypatch.setenv("VAULT_MASTER_KEY_FILE", str(path))
    done = keys("status")
    assert done.code == 0, done.err
    assert "master key versions: 1, 2 (current: 2)" in done.out
    assert "checkpoint key: absent" in done.out


def test_status_before_the_servers_first_start_says_the_file_is_absent(
    keys: Keys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_DATA_DIR", str(tmp_path / "data"))
    done = keys("status")
    assert done.code == 0
    assert "absent: the server creates it at first start" in done.out
    assert "master key versions: none" in done.out
    assert not (tmp_path / "data").exists()


def test_missing_configured_key_file_is_a_configuration_error(
    keys: Keys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_MASTER_KEY_FILE", str(tmp_path / "missing.json"))
    done = keys("status")
    assert done.code == ConfigurationError.exit_code
    assert "not found" in done.err


def test_group_readable_key_file_is_refused(
    keys: Keys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_DATA_DIR", str(tmp_path))
    create_key_file(tmp_path / "master-keys.json")
    (tmp_path / "master-keys.json").chmod(0o640)
    done = keys("status")
    assert done.code == ConfigurationError.exit_code
    assert "chmod 600" in done.err


def test_hsm_and_key_file_configured_together_are_refused(
    keys: Keys, hsm_env: Pkcs11Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_MASTER_KEY_FILE", str(tmp_path / "keys.json"))
    for command in ("status", "provision", "add-master-version"):
        done = keys(command)
        assert done.code == ConfigurationError.exit_code, command
        assert "not both" in done.err
    assert token_keys(hsm_env) == TokenKeys((), index=False, checkpoint=False)


def test_partial_hsm_settings_do_not_fall_back_to_the_key_file(
    keys: Keys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_DATA_DIR", str(tmp_path))
    create_key_file(tmp_path / "master-keys.json")
    monkeypatch.setenv("VAULT_PKCS11_TOKEN_LABEL", "vault")
    done = keys("status")
    assert done.code == ConfigurationError.exit_code
    assert "VAULT_PKCS11_MODULE is not set" in done.err
