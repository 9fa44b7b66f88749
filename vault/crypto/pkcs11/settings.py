"""`Pkcs11Settings`: which PKCS#11 module, token, user PIN (never shown) and key label
prefix, declared field by field (vault/settings.py: `[pkcs11] module` is VAULT_PKCS11_MODULE; the
PIN from VAULT_PKCS11_PIN or the private file VAULT_PKCS11_PIN_FILE, never the TOML file)
and checked; the token's key labels.

Imports no python-pkcs11, so `vault.config` can read it without loading the library.
What it does not: load the module or check that the token exists (session.py does, when
a provider opens).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from vault import settings as s
from vault.errors import ConfigurationError

DEFAULT_KEY_LABEL_PREFIX = "dossier-vault"
MAX_VERSION = 0xFFFFFFFF  # a master version is a uint32 in the wrapped keys' AAD
_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True, slots=True)
class Pkcs11Settings:
    """Where the keys are: module, token, user PIN (never shown) and key label prefix."""

    module: str = s.setting(s.REQUIRED, "the HSM's PKCS#11 library; set: keys in the HSM", s.text)
    token_label: str = s.setting(s.REQUIRED, "the token holding the keys", s.text)
    pin: str = s.setting(s.REQUIRED, "the token's user PIN", s.text, secret=True)
    key_label_prefix: str = s.setting(DEFAULT_KEY_LABEL_PREFIX, "the keys' label prefix", s.text)

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
        settings: Pkcs11Settings = s.read(cls, environ, "pkcs11")
        return settings

    @classmethod
    def from_env_if_set(cls, environ: Mapping[str, str]) -> Pkcs11Settings | None:
        """`from_env` when any VAULT_PKCS11_* variable is set, else None (no HSM).

        A partial configuration is a ConfigurationError, never a silent fallback to the
        local key file.
        """
        if s.enabled(cls, s.Group("pkcs11", ""), environ):
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
