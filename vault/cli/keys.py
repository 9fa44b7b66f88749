"""`dossier-vault keys …`: provision the HSM, add a master key version, show the keys.

For operators on the server host. The commands read the key provider's settings from
the environment the server reads: any VAULT_PKCS11_* variable selects the PKCS#11 token
(vault/crypto/pkcs11.py), otherwise the local key file (VAULT_MASTER_KEY_FILE, or
<VAULT_DATA_DIR or ./var>/master-keys.json). They print provider kinds, key labels,
versions and presence only: never key material, never the PIN.
`rotate-master` adds a master version (unless a rotation is already under way), then
rewraps every dossier key onto it in batches while the servers keep serving (they pick
the new version up within a minute); killed, it is finished by running it again.
`retire-master-version N` refuses while N still wraps a dossier key, then destroys N.
What it does not: create tokens (operators; tools/softhsm_setup.sh for tests) or create
the local key file (the server creates it at its first start). python-pkcs11 and the
index load when a command runs, not for `--help`.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vault.cli.output import add_dossier_argument, dossier_of, print_json
from vault.crypto.localkeys import LocalKeyFileProvider
from vault.errors import ConfigurationError, FailedPreconditionError

if TYPE_CHECKING:
    from vault.composition import KeyProviders
    from vault.crypto.pkcs11.admin import TokenKeys
    from vault.crypto.pkcs11.settings import Pkcs11Settings
    from vault.index.sql import SqlIndex

_ADD_MASTER_DESCRIPTION = (
    "Generates master key version N+1 in the PKCS#11 token and prints N+1. Servers wrap "
    "new dossier keys under it within VAULT_KEY_REFRESH_SECONDS, and every earlier version "
    "stays available to unwrap. Existing dossier keys are not rewrapped: "
    "`keys rotate-master` does both. Run it once at a time."
)


@dataclass(frozen=True, slots=True)
class _Status:
    """What a provider holds, as printed: names and versions, never values."""

    provider: str
    location: tuple[tuple[str, str], ...]
    master_versions: tuple[int, ...]
    index: bool
    checkpoint: bool

    def lines(self) -> list[str]:
        versions = ", ".join(map(str, self.master_versions)) or "none"
        if self.master_versions:
            versions += f" (current: {self.master_versions[-1]})"
        return [
            f"provider: {self.provider}",
            *(f"{name}: {value}" for name, value in self.location),
            f"master key versions: {versions}",
            f"index key: {_presence(self.index)}",
            f"checkpoint key: {_presence(self.checkpoint)}",
        ]


def _presence(present: bool) -> str:
    return "present" if present else "absent"


# -- which provider ------------------------------------------------------------------------


def _value(environ: Mapping[str, str], name: str) -> str:
    return environ.get(name, "").strip()


def _local_key_file(environ: Mapping[str, str]) -> Path:
    """The key file the server uses when no HSM is configured."""
    from vault.config import Config

    config = Config.from_env(environ)
    return config.master_key_file or config.dev_master_key_file


def _pkcs11_settings(environ: Mapping[str, str]) -> Pkcs11Settings | None:
    """The HSM settings, or None when the local key file is the provider."""
    from vault.crypto.pkcs11.settings import Pkcs11Settings

    settings = Pkcs11Settings.from_env_if_set(environ)
    if settings is not None and _value(environ, "VAULT_MASTER_KEY_FILE"):
        raise ConfigurationError("set VAULT_MASTER_KEY_FILE or VAULT_PKCS11_*, not both")
    return settings


def _require_pkcs11(environ: Mapping[str, str], command: str) -> Pkcs11Settings:
    settings = _pkcs11_settings(environ)
    if settings is None:
        raise ConfigurationError(
            f"`keys {command}` administers a PKCS#11 token, and VAULT_PKCS11_MODULE is not "
            f"set. Without an HSM the server creates the local key file "
            f"{_local_key_file(environ)} itself at its first start (development only)."
        )
    return settings


# -- status of each provider ---------------------------------------------------------------


def _pkcs11_status(settings: Pkcs11Settings, keys: TokenKeys) -> _Status:
    present = [settings.index_label] if keys.index else []
    present += [settings.checkpoint_label] if keys.checkpoint else []
    present += [settings.master_label(version) for version in keys.master_versions]
    return _Status(
        provider="pkcs11",
        location=(
            ("token", repr(settings.token_label)),
            ("module", settings.module),
            ("key labels", ", ".join(present) or "none"),
        ),
        master_versions=keys.master_versions,
        index=keys.index,
        checkpoint=keys.checkpoint,
    )


def _local_status(environ: Mapping[str, str]) -> _Status:
    path = _local_key_file(environ)
    location = (("key file", str(path)),)
    provider = "local key file (not for production)"
    if not path.exists():
        if _value(environ, "VAULT_MASTER_KEY_FILE"):
            raise ConfigurationError(f"master key file {path} not found")
        location = (("key file", f"{path} (absent: the server creates it at first start)"),)
        return _Status(provider, location, (), index=False, checkpoint=False)
    LocalKeyFileProvider(path)  # refuses an unsafe or malformed file, as the server does
    document = _read_key_file(path)
    return _Status(
        provider,
        location,
        master_versions=tuple(sorted(int(version) for version in document["master"])),
        index="index" in document,
        checkpoint="checkpoint" in document,
    )


def _read_key_file(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except ValueError as e:
        raise ConfigurationError(f"key file {path} is malformed") from e
    if not isinstance(document, dict):
        raise ConfigurationError(f"key file {path} is malformed")
    return document


def _print(status: _Status) -> None:
    print("\n".join(status.lines()))


# -- commands ------------------------------------------------------------------------------


def cmd_provision(_args: argparse.Namespace) -> int:
    from vault.crypto.pkcs11.admin import provision, token_keys

    settings = _require_pkcs11(os.environ, "provision")
    before = token_keys(settings)
    provision(settings)
    after = token_keys(settings)
    _print(_pkcs11_status(settings, after))
    created = _created(settings, before, after)
    print(f"created: {', '.join(created)}" if created else "created: nothing (all present)")
    return 0


def _created(settings: Pkcs11Settings, before: TokenKeys, after: TokenKeys) -> list[str]:
    created = [settings.index_label] if after.index and not before.index else []
    created += [settings.checkpoint_label] if after.checkpoint and not before.checkpoint else []
    new_versions = sorted(set(after.master_versions) - set(before.master_versions))
    return created + [settings.master_label(version) for version in new_versions]


def cmd_add_master_version(_args: argparse.Namespace) -> int:
    from vault.crypto.pkcs11.admin import add_master_version, token_keys

    settings = _require_pkcs11(os.environ, "add-master-version")
    if not token_keys(settings).master_versions:
        raise FailedPreconditionError(
            "the token holds no master key yet: run `dossier-vault keys provision` first"
        )
    print(add_master_version(settings))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from vault.crypto.pkcs11.admin import token_keys

    settings = _pkcs11_settings(os.environ)
    if settings is None:
        status = _local_status(os.environ)
    else:
        status = _pkcs11_status(settings, token_keys(settings))
    counts = _index().master_version_counts() if args.with_index else None
    if args.json:
        value: dict[str, Any] = {
            "provider": status.provider,
            **dict(status.location),
            "master_versions": list(status.master_versions),
            "index_key": status.index,
            "checkpoint_key": status.checkpoint,
        }
        if counts is not None:
            value["dossier_keys_by_master_version"] = {str(v): n for v, n in counts.items()}
        print_json(value)
        return 0
    _print(status)
    if counts is not None:
        for version, count in sorted(counts.items()):
            print(f"dossier keys under master version {version}: {count}")
        if len(counts) > 1:
            print("a rotation is under way: run `dossier-vault keys rotate-master`")
    return 0


def _index() -> SqlIndex:
    from vault.composition import open_index
    from vault.config import Config

    return open_index(Config.from_env())


def _provider() -> KeyProviders:
    from vault.composition import key_provider
    from vault.config import Config

    return key_provider(Config.from_env())


def _master_versions() -> tuple[int, ...]:
    settings = _pkcs11_settings(os.environ)
    if settings is not None:
        from vault.crypto.pkcs11.admin import token_keys

        return token_keys(settings).master_versions
    return LocalKeyFileProvider(_local_key_file(os.environ)).master_versions


def _new_master_version() -> int:
    settings = _pkcs11_settings(os.environ)
    if settings is not None:
        from vault.crypto.pkcs11.admin import add_master_version

        return add_master_version(settings)
    from vault.crypto.localkeys import add_master_version as add_local_version

    return add_local_version(_local_key_file(os.environ))


def cmd_rotate_master(args: argparse.Namespace) -> int:
    from vault.rotation import rewrap_all

    index, keys = _index(), _provider()
    current = keys.refresh()
    under_way = any(version != current for version in index.master_version_counts())
    if not under_way or args.new_version:
        current = _new_master_version()
        print(f"new master key version: {current}")
    else:
        print(f"resuming the rotation onto master key version {current}")
    report = rewrap_all(index, keys, on_batch=lambda done: print(f"rewrapped {done}"))
    print(f"rewrapped {report.rewrapped} dossier keys onto version {report.master_version}")
    if report.remaining:
        print(
            f"{report.remaining} dossier keys were wrapped meanwhile by servers that had "
            "not yet seen the new version: run this again in a minute"
        )
        return 0
    old = [v for v in _master_versions() if v != current]
    if old:
        print(
            f"safe to retire: master key version(s) {', '.join(map(str, old))} "
            "(`dossier-vault keys retire-master-version N`)"
        )
    return 0


def cmd_rotate_dossier(args: argparse.Namespace) -> int:
    from vault.composition import blob_store
    from vault.config import Config
    from vault.domain.ids import parse_id
    from vault.rotation import rotate_dossier_key

    config = Config.from_env()
    report = rotate_dossier_key(
        _index(),
        blob_store(config),
        _provider(),
        parse_id(dossier_of(args), "dossier id"),
        config.segment_size,
    )
    print(
        f"dossier key version {report.key_version}: {report.reencrypted} document versions "
        f"re-encrypted, {report.destroyed_key_versions} old key versions destroyed"
    )
    if report.waiting_for_uploads:
        print(
            f"{report.waiting_for_uploads} uploads begun under an old key are in progress: "
            "run this again once they ended, to destroy the old key versions"
        )
    return 0


def cmd_retire_master_version(args: argparse.Namespace) -> int:
    from vault.config import Config
    from vault.rotation import retire_allowed

    index, keys = _index(), _provider()
    retire_allowed(index, keys, args.version)
    # a server that has not refreshed yet may still wrap under the old version: wait until
    # every server has seen the new one, then count again
    wait = Config.from_env().key_refresh_seconds + 5
    print(f"waiting {wait:g} s for every server to use the current master version")
    time.sleep(wait)
    retire_allowed(index, keys, args.version)
    settings = _pkcs11_settings(os.environ)
    if settings is not None:
        from vault.crypto.pkcs11.admin import retire_master_version as retire_pkcs11_version

        retire_pkcs11_version(settings, args.version)
    else:
        from vault.crypto.localkeys import retire_master_version as retire_local_version

        retire_local_version(_local_key_file(os.environ), args.version)
    print(
        f"retired master key version {args.version}: what it wrapped, in the index or in "
        "any backup, can no longer be unwrapped"
    )
    return 0


def register(commands: Any) -> None:
    """Adds `keys` and its subcommands to the top-level parser's subparsers."""
    keys = commands.add_parser(
        "keys", help="the vault's keys: provision the HSM, add a master version, status"
    ).add_subparsers(dest="keys_command", required=True)

    provision_parser = keys.add_parser(
        "provision",
        help="create the index, master v1 and checkpoint keys in the HSM if absent",
        description="Generates, inside the PKCS#11 token (VAULT_PKCS11_*), each of the "
        "index key, master key version 1 and the checkpoint key pair that is absent, then "
        "prints the labels and versions the token holds. Idempotent.",
    )
    provision_parser.set_defaults(handler=cmd_provision)

    add_master = keys.add_parser(
        "add-master-version",
        help="add the next master key version in the HSM (dossier keys not rewrapped yet)",
        description=_ADD_MASTER_DESCRIPTION,
    )
    add_master.set_defaults(handler=cmd_add_master_version)

    status = keys.add_parser(
        "status",
        help="show the key provider, its master versions and which keys exist",
        description="Prints the provider kind, the master key versions and the current "
        "one, and whether the index and checkpoint keys exist. Never key material.",
    )
    status.add_argument(
        "--with-index",
        action="store_true",
        help="also count the dossier keys each master version wraps",
    )
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=cmd_status)

    rotate = keys.add_parser(
        "rotate-master",
        help="new master version, then rewrap every dossier key onto it (online, resumable)",
    )
    rotate.add_argument(
        "--new-version", action="store_true", help="start a new rotation even if one is under way"
    )
    rotate.set_defaults(handler=cmd_rotate_master)

    rotate_dossier = keys.add_parser(
        "rotate-dossier",
        help="new key for one dossier: re-encrypt its documents, destroy the old key",
    )
    add_dossier_argument(rotate_dossier)
    rotate_dossier.set_defaults(handler=cmd_rotate_dossier)

    retire = keys.add_parser(
        "retire-master-version",
        help="destroy an old master version once it wraps nothing (refuses otherwise)",
    )
    retire.add_argument("version", type=int)
    retire.set_defaults(handler=cmd_retire_master_version)
