"""Declared settings: each field of a settings dataclass says, in one place, its variable,
its file key, how its text is parsed, whether it is a secret, and what it means.

A field declared with `setting(default, meaning, parser)` is read from `VAULT_<KEY>`
(`VAULT_<SECTION>_<KEY>` inside a group such as `s3`) and from the configuration file's
key `<key>` (`[<section>] <key>`): the two names are the same words, so either gives the
other. `group(...)` nests a settings dataclass under a section. `read` builds a dataclass
from a mapping of variables (the environment, or the environment laid over a file's
values by vault/config.py); an empty value is an unset one. A secret (`secret=True`) is
read from `VAULT_X` or from the file `VAULT_X_FILE` names (first line, mode 0600), never
from the configuration file itself; `secret="url"` is a URL whose password is the secret.
Error messages name the variable and the file key, never the value.

What it does not: read the TOML file or the process environment (vault/config.py), know
any particular setting, or print (vault/cli/config.py shows them, redacted).
"""

from __future__ import annotations

import math
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from vault.errors import ConfigurationError

PREFIX = "VAULT_"
FILE_SUFFIX = "_FILE"
Parser = Callable[[str], Any]  # raises ValueError(reason) for a bad text
Secret = Literal[False, True, "url"]
URL: Secret = "url"  # a URL whose password (only) is the secret
REQUIRED: Any = MISSING  # as a setting's default: it has none (a group's required key)


@dataclass(frozen=True)
class Setting:
    """What a field's metadata says about it (see the module docstring)."""

    meaning: str
    parse: Parser
    key: str = ""  # "": the field's name
    secret: Secret = False
    shown_default: str = ""  # the default as the table shows it; "": from the value


@dataclass(frozen=True)
class Group:
    """A nested settings dataclass: its section, and which key, set, turns it on."""

    section: str
    meaning: str
    enabled_by: str | None = None  # None: any of its keys
    build: Callable[[dict[str, Any]], Any] | None = None  # None: the class itself


def setting(
    default: Any,
    meaning: str,
    parse: Parser,
    *,
    key: str = "",
    secret: Secret = False,
    shown_default: str = "",
) -> Any:
    """A dataclass field that is a setting; `REQUIRED` as the default: no default."""
    meta = {"setting": Setting(meaning, parse, key, secret, shown_default)}
    if default is REQUIRED:
        return field(metadata=meta, repr=not secret)
    return field(default=default, metadata=meta, repr=not secret)


def group(kind: type, meaning: str, section: str, **options: Any) -> Any:
    """A field holding `kind`'s settings under `[section]`, None while it is not enabled."""
    return field(default=None, metadata={"group": (kind, Group(section, meaning, **options))})


# -- parsers: each gets a non-empty, stripped text ------------------------------------


def text(value: str) -> str:
    return value


def path(value: str) -> Path:
    return Path(value)


def paths(value: str) -> tuple[Path, ...]:
    return tuple(Path(p.strip()) for p in value.split(",") if p.strip())


def flag(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("0", "false", "no", "off"):
        return False
    if lowered in ("1", "true", "yes", "on"):
        return True
    raise ValueError("must be true or false (1 or 0)")


def number(minimum: float = 1e-9) -> Parser:
    """A finite number at least `minimum` (the default: positive)."""

    def parse(value: str) -> float:
        try:
            read = float(value)
        except ValueError:
            raise ValueError("must be a number") from None
        if not math.isfinite(read):
            raise ValueError("must be a number")
        if read < minimum:
            raise ValueError(
                "must be positive" if minimum == 1e-9 else f"must be at least {minimum:g}"
            )
        return read

    return parse


def integer(minimum: int = 1) -> Parser:
    def parse(value: str) -> int:
        try:
            read = int(value)
        except ValueError:
            raise ValueError("must be an integer") from None
        if read < minimum:
            raise ValueError(f"must be at least {minimum}")
        return read

    return parse


def choice(*options: str) -> Parser:
    def parse(value: str) -> str:
        if value.lower() not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return value.lower()

    return parse


# -- the declared settings ------------------------------------------------------------


@dataclass(frozen=True)
class Declared:
    """One setting as declared: where it sits, its names, its default."""

    name: str  # the field's name in its dataclass
    variable: str  # VAULT_S3_BUCKET
    file_key: str  # s3.bucket (shown `[s3] bucket`)
    spec: Setting
    default: Any  # MISSING: required
    section: str = ""  # "" at the top level

    @property
    def label(self) -> str:
        """How messages name it: the variable and the file key."""
        return f"{self.variable} (file key {shown_key(self.file_key)})"

    @property
    def secret_file_variable(self) -> str:
        return self.variable + FILE_SUFFIX


def shown_key(file_key: str) -> str:
    section, _, key = file_key.rpartition(".")
    return f"[{section}] {key}" if section else key


def declared(kind: type, section: str = "") -> Iterator[Declared]:
    """Every setting of `kind` and of its groups, in declaration order."""
    for item in fields(kind):
        if "group" in item.metadata:
            nested, grp = item.metadata["group"]
            yield from declared(nested, grp.section)
        elif "setting" in item.metadata:
            yield _declared(item, section)


def groups(kind: type) -> Iterator[tuple[str, type, Group]]:
    for item in fields(kind):
        if "group" in item.metadata:
            nested, grp = item.metadata["group"]
            yield item.name, nested, grp


def _declared(item: Field[Any], section: str) -> Declared:
    spec: Setting = item.metadata["setting"]
    key = spec.key or item.name
    variable = PREFIX + (f"{section}_{key}" if section else key).upper()
    file_key = f"{section}.{key}" if section else key
    return Declared(item.name, variable, file_key, spec, item.default, section)


# -- reading --------------------------------------------------------------------------


def read(kind: type, values: Mapping[str, str], section: str = "") -> Any:
    """`kind` built from `values` (variables to text); its groups when enabled."""
    arguments = _settings(kind, values, section, required=True)
    for name, nested, grp in groups(kind):
        if enabled(nested, grp, values):
            arguments[name] = read_group(nested, grp, values)
    return kind(**arguments)


def enabled(kind: type, grp: Group, values: Mapping[str, str]) -> bool:
    """Whether the group's switch (`enabled_by`, else any of its keys) is set."""
    names = list(declared(kind, grp.section))
    if grp.enabled_by is not None:
        names = [d for d in names if d.file_key == f"{grp.section}.{grp.enabled_by}"]
    return any(_present(d, values) for d in names)


def read_group(kind: type, grp: Group, values: Mapping[str, str]) -> Any:
    """The group's settings; its `build` checks what is missing, when it has one."""
    if grp.build is None:
        return read(kind, values, grp.section)
    return grp.build(_settings(kind, values, grp.section, required=False))


def _settings(
    kind: type, values: Mapping[str, str], section: str, *, required: bool
) -> dict[str, Any]:
    """The values set for `kind`'s own settings, parsed, by field name."""
    arguments: dict[str, Any] = {}
    for item in fields(kind):
        if "setting" not in item.metadata:
            continue
        one = _declared(item, section)
        raw = _value(one, values)
        if raw is not None:
            arguments[item.name] = _parse(one, raw)
        elif required and one.default is MISSING:
            raise ConfigurationError(_either(one))
    return arguments


def _either(one: Declared) -> str:
    """`VAULT_X is not set (file key x)`; a secret's two variables, and its file's key."""
    if one.spec.secret:
        names, key = f"{one.variable} or {one.secret_file_variable}", one.file_key + "_file"
    else:
        names, key = one.variable, one.file_key
    return f"{names} is not set (file key {shown_key(key)})"


def _present(one: Declared, values: Mapping[str, str]) -> bool:
    names = [one.variable] + ([one.secret_file_variable] if one.spec.secret else [])
    return any(values.get(name, "").strip() for name in names)


def _value(one: Declared, values: Mapping[str, str]) -> str | None:
    """The text of the setting, a secret read from its file; None when unset."""
    direct = values.get(one.variable, "").strip()
    if not one.spec.secret:
        return direct or None
    from_file = values.get(one.secret_file_variable, "").strip()
    if direct and from_file:
        raise ConfigurationError(f"set {one.variable} or {one.secret_file_variable}, not both")
    if from_file:
        return read_secret_file(Path(from_file), one.secret_file_variable)
    return direct or None


def _parse(one: Declared, raw: str) -> Any:
    try:
        return one.spec.parse(raw)
    except ValueError as e:
        raise ConfigurationError(f"{one.label} {e}") from None


def read_secret_file(where: Path, variable: str) -> str:
    """The secret on the file's first line; the file must be private, like a key file."""
    try:
        if where.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigurationError(
                f"{variable}: {where} is accessible to group or others; run chmod 600 on it"
            )
        lines = where.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigurationError(f"{variable}: {where} cannot be read") from e
    if not lines or not lines[0].strip():
        raise ConfigurationError(f"{variable}: {where} is empty")
    return lines[0].strip()


def url_has_password(url: str) -> bool:
    try:
        return urlsplit(url).password is not None
    except ValueError:
        return False


def redacted_url(url: str) -> str:
    """The URL with its password replaced by ***."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparsable URL, not shown>"
    if password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{user}:***@{host}").geturl()


def shown(value: Any) -> str:
    """A setting's value as the table and `config check` write it."""
    if value is None or value == "" or value == ():
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def default_text(one: Declared) -> str:
    """The default as docs/configuration.md shows it."""
    if one.spec.shown_default:
        return one.spec.shown_default
    return "(required)" if one.default is MISSING else shown(one.default)
