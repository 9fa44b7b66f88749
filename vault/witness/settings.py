"""The vault's witness settings (`[witness]`, VAULT_WITNESS_*): who cosigns, and how many must.

Unset (no `urls`): the vault publishes checkpoints signed by its own key alone, as before
ADR 0044. Set: `urls` and `keys` list the witnesses in the same order (comma-separated:
each URL is the witness's submission prefix, http or https; each key its cosigner vkey,
`dossier-vault witness public-key`), `quorum` is how many distinct witnesses must cosign
a checkpoint before it is published (1 to their number), `timeout_seconds` the time one
publication waits for them all. What it does not: talk to witnesses
(vault/witness/collector.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vault import settings as s
from vault.errors import ConfigurationError, InvalidArgumentError
from vault.witness.cosignature import WitnessKey


@dataclass(frozen=True, slots=True)
class WitnessEndpoint:
    url: str
    key: WitnessKey


def _urls(text: str) -> tuple[str, ...]:
    urls = tuple(part.strip() for part in text.split(","))
    if not all(u.startswith(("http://", "https://")) and len(u) > 8 for u in urls):
        raise ValueError("each witness URL must be http:// or https://")
    return urls


def _keys(text: str) -> tuple[WitnessKey, ...]:
    try:
        return tuple(WitnessKey.parse(part) for part in text.split(","))
    except InvalidArgumentError as e:
        raise ValueError(str(e)) from None


@dataclass(frozen=True)
class Witnessing:
    urls: tuple[str, ...] = s.setting(
        s.REQUIRED, "the witnesses' add-checkpoint URL prefixes, comma-separated", _urls
    )
    keys: tuple[WitnessKey, ...] = s.setting(
        s.REQUIRED,
        "their cosigner keys (vkeys, `dossier-vault witness public-key`), comma-separated, "
        "in the same order",
        _keys,
    )
    quorum: int = s.setting(
        1, "distinct cosignatures a checkpoint needs to be published", s.integer()
    )
    timeout_seconds: float = s.setting(
        5.0, "a publication waits that long for the witnesses, then retries later", s.number()
    )

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> Witnessing:
        if "urls" not in values or "keys" not in values:
            raise ConfigurationError(
                "witnesses need both VAULT_WITNESS_URLS and VAULT_WITNESS_KEYS"
            )
        witnessing = cls(**values)
        if len(witnessing.urls) != len(witnessing.keys):
            raise ConfigurationError("VAULT_WITNESS_URLS and VAULT_WITNESS_KEYS differ in length")
        if witnessing.quorum > len({k.identity for k in witnessing.keys}):
            raise ConfigurationError("VAULT_WITNESS_QUORUM exceeds the number of witnesses")
        return witnessing

    @property
    def witnesses(self) -> tuple[WitnessEndpoint, ...]:
        return tuple(WitnessEndpoint(u, k) for u, k in zip(self.urls, self.keys, strict=True))
