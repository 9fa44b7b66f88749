"""`Pkcs11Settings`: which PKCS#11 module, token, user PIN (never shown) and key label
prefix, read from the VAULT_PKCS11_* variables and checked; the token's key labels.

Imports no python-pkcs11, so `vault.config` can read it without loading the library.
What it does not: load the module or check that the token exists (session.py does, when
a provider opens).
"""

from __future__ import annotations

import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from vault.errors import ConfigurationError

DEFAULT_KEY_LABEL_PREFIX = "dossier-vault"
MAX_VERSION = 0xFFFFFFFF  # a master version is a uint32 in the wrapped keys' AAD
_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True, slots=True)
class Pkcs11Settings:
    """Where the keys are: module, token, user PIN (never shown) and key label prefix."""

    module: str
    token_label: str
    pin: str = field(repr=False)
    key_label_prefix: str = DEFAULT_KEY_LABEL_PREFIX

    def __post_init__(self) -> None:
        if not self.module or not self.token_label:
            raise ConfigurationError("PKCS#11: the module path and the token label are required")
        if not self.pin:
            raise ConfigurationError("PKCS#11: the user PIN is empty")
        if not _PREFIX.fullmatch(self.key_label_prefix):
            raise ConfigurationError(
                "PKCS#11: the key label prefix must be 1 to 64 of A-Z a-z 0-9 . _ -"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Pkcs11Settings:
        """Reads VAULT_PKCS11_MODULE, _TOKEN_LABEL, _PIN or _PIN_FILE, _KEY_LABEL_PREFIX."""
        return cls(
            module=_required(environ, "VAULT_PKCS11_MODULE"),
            token_label=_required(environ, "VAULT_PKCS11_TOKEN_LABEL"),
            pin=_pin_from_env(environ),
            key_label_prefix=environ.get("VAULT_PKCS11_KEY_LABEL_PREFIX")
            or DEFAULT_KEY_LABEL_PREFIX,
        )

    @classmethod
    def from_env_if_set(cls, environ: Mapping[str, str]) -> Pkcs11Settings | None:
        """`from_env` when any VAULT_PKCS11_* variable is set, else None (no HSM).

        A partial configuration is a ConfigurationError, never a silent fallback to the
        local key file.
        """
        if any(name.startswith("VAULT_PKCS11_") and value for name, value in environ.items()):
            return cls.from_env(environ)
        return None

    def master_label(self, version: int) -> str:
        return f"{self.key_label_prefix}-master-v{version}"

    @property
    def index_label(self) -> str:
        return f"{self.key_label_prefix}-index"

    @property
    def checkpoint_label(self) -> str:
        return f"{self.key_label_prefix}-checkpoint"

    def master_version_of(self, label: str) -> int | None:
        """The version a master key label names, or None for any other label."""
        prefix = f"{self.key_label_prefix}-master-v"
        digits = label[len(prefix) :] if label.startswith(prefix) else ""
        if not re.fullmatch(r"[1-9][0-9]{0,9}", digits) or int(digits) > MAX_VERSION:
            return None
        return int(digits)


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "")
    if not value:
        raise ConfigurationError(f"{name} is not set")
    return value


def _pin_from_env(environ: Mapping[str, str]) -> str:
    pin, pin_file = environ.get("VAULT_PKCS11_PIN"), environ.get("VAULT_PKCS11_PIN_FILE")
    if pin and pin_file:
        raise ConfigurationError("set VAULT_PKCS11_PIN or VAULT_PKCS11_PIN_FILE, not both")
    if pin:
        return pin
    if pin_file:
        return _read_pin_file(Path(pin_file))
    raise ConfigurationError("VAULT_PKCS11_PIN or VAULT_PKCS11_PIN_FILE is required")


def _read_pin_file(path: Path) -> str:
    """The PIN on the file's first line; the file must be private, like a key file."""
    try:
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigurationError(
                f"PIN file {path} is accessible to group or others; run chmod 600 on it"
            )
        pin = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigurationError(f"PIN file {path} cannot be read") from e
    if not pin or not pin[0]:
        raise ConfigurationError(f"PIN file {path} is empty")
    return pin[0]
