"""`dossier-vault config check`: the effective configuration, and whether every
dependency answers.

It prints each setting with its value and where the value came from (`default`, `file`,
`environment`), secrets redacted (a URL's password as ***, a key or PIN as `<secret>`),
then one line per check: each database reachable with its schema at head (or empty, to be
created at head by `serve`), the blob store writable (a probe object written and
deleted) and its WORM mode (S3 Object Lock or none, ADR 0024), the key provider usable
(a key wrapped and unwrapped, a checkpoint signed), the
checkpoint directory writable. Exit code: 0 when all pass, else the first failing check's
(10 unavailable, 11 configuration, 12 a schema not at head); a configuration that does not
read exits 11 before any check. Like `serve`, it creates the data directory; it does not
create the development key (`serve` does, on first start).

What it does not: start a server, migrate (`db upgrade`), or print a secret: values are
redacted here, and the checks' messages are the errors' own, which carry no value.
"""

from __future__ import annotations

import argparse
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vault.blobstore.base import OBJECT_LOCK, Retainer
from vault.cli.output import print_json
from vault.errors import ConfigurationError, UnavailableError, VaultError

if TYPE_CHECKING:
    from vault.config import Config, Sources
    from vault.settings import Declared

REDACTED = "<secret>"


@dataclass(frozen=True)
class Shown:
    setting: str  # the variable
    file_key: str
    value: str
    origin: str


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    exit_code: int = 0


def shown_settings(config: Config, sources: Sources) -> list[Shown]:
    """Every declared setting's effective value, redacted, with its origin."""
    from vault import settings as s
    from vault.config import Config

    sections = {grp.section: (name, grp) for name, _, grp in s.groups(Config)}
    rows, off = [], set()
    for one in s.declared(Config):
        holder: Any = getattr(config, sections[one.section][0]) if one.section else config
        if holder is None and one.section not in off:  # a group not enabled: one line
            off.add(one.section)
            meaning = sections[one.section][1].meaning
            rows.append(Shown(f"VAULT_{one.section.upper()}_*", f"[{one.section}]", meaning, "off"))
        if holder is not None:
            value = _redacted(one, getattr(holder, one.name))
            rows.append(Shown(one.variable, s.shown_key(one.file_key), value, sources.origin(one)))
    return rows


def _redacted(one: Declared, value: object) -> str:
    from vault import settings as s

    if one.spec.secret == s.URL and isinstance(value, str):
        return s.redacted_url(value) if value else f"unset: {s.default_text(one)}"
    if one.spec.secret:
        return REDACTED if value else "unset"
    text = s.shown(value)
    return (
        f"unset: {one.spec.shown_default}" if text == "unset" and one.spec.shown_default else text
    )


# -- the checks -----------------------------------------------------------------------


def _run(name: str, check: Callable[[], str]) -> Check:
    """One check: its detail, or the error's own message (never a value) and exit code."""
    try:
        return Check(name, True, check())
    except VaultError as error:
        return Check(name, False, str(error), error.exit_code)
    except OSError as error:
        return Check(
            name, False, error.strerror or type(error).__name__, UnavailableError.exit_code
        )
    except Exception as error:  # a library's own: its class, not its text (it may hold a URL)
        return Check(name, False, type(error).__name__, UnavailableError.exit_code)


def _database_checks(config: Config) -> Iterator[Check]:
    from vault import migrations
    from vault.composition import database_timeouts
    from vault.server.probes import select_one
    from vault.sqlstore import make_engine

    engines: dict[str, Any] = {}
    for schema, url in (
        (migrations.INDEX, config.index_url),
        (migrations.JOURNAL, config.journal_url),
    ):

        def check(schema: migrations.Schema = schema, url: str = url) -> str:
            if url not in engines:
                engines[url] = make_engine(url, database_timeouts(config))
            select_one(engines[url])()
            return _schema_state(migrations.status(engines[url], schema))

        yield _run(f"{schema.name} database", check)
    for engine in engines.values():
        engine.dispose()


def _schema_state(status: Any) -> str:
    from vault.errors import SchemaVersionError
    from vault.migrations import State

    if status.state is State.CURRENT:
        return f"reachable, schema at head ({status.revision})"
    if status.state is State.EMPTY:
        return "reachable, empty: created at head when the server starts"
    raise SchemaVersionError(
        f"schema {status.state.value}, not at head {status.head}: run `dossier-vault db upgrade`"
    )


def _blob_store(config: Config) -> str:
    from vault.composition import blob_store, retainer

    store = blob_store(config)
    store.check()
    key = secrets.token_hex(16)
    writer = store.create(key)
    writer.write(b"dossier-vault config check")
    writer.commit()
    store.delete(key)
    where = f"bucket {config.s3.bucket}" if config.s3 is not None else str(config.blob_dir)
    return f"{where}: probe object written and deleted; {worm_mode(retainer(store))}"


def worm_mode(port: Retainer) -> str:
    """The mode line: whether the store itself enforces conservation (ADR 0024)."""
    if port.mode() == OBJECT_LOCK:
        return "Object Lock: closed dossiers retained (GOVERNANCE) until their deadline"
    return "no Object Lock: deletions are the vault's decision alone"


def _key_provider(config: Config) -> str:
    from vault.composition import close_keys, key_provider

    development = config.pkcs11 is None and config.master_key_file is None
    if development and not config.dev_master_key_file.exists():
        return "development key, created when the server first starts (not for production)"
    keys = key_provider(config)
    try:
        probe = secrets.token_bytes(32)
        if keys.unwrap(keys.wrap(probe, b"config-check"), b"config-check") != probe:
            raise ConfigurationError("the key provider did not unwrap what it wrapped")
        keys.checkpoint_signer().sign(b"config-check")
        kind = "PKCS#11 token" if config.pkcs11 is not None else "key file"
        return f"{kind}: master version {keys.current_version} wraps and unwraps, signs"
    finally:
        close_keys(keys)


def _checkpoint_dir(config: Config) -> str:
    directory = config.checkpoint_dir
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".config-check-"):
            pass
    except OSError as e:
        raise ConfigurationError(f"checkpoint directory {directory} is not writable") from e
    return f"{directory}: writable"


def checks(config: Config) -> list[Check]:
    """Every dependency's check, in order; the data directory created as `serve` does."""
    config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return [
        *_database_checks(config),
        _run("blob store", lambda: _blob_store(config)),
        _run("key provider", lambda: _key_provider(config)),
        _run("checkpoint directory", lambda: _checkpoint_dir(config)),
    ]


def cmd_check(args: argparse.Namespace) -> int:
    from vault.config import Config, resolve

    sources = resolve(os.environ)
    config = Config.from_sources(sources)
    rows = shown_settings(config, sources)
    done = checks(config)
    if args.json:
        print_json({"file": sources.file, "settings": rows, "checks": done})
    else:
        print(f"configuration file: {sources.file or 'none'}")
        width = max(len(row.file_key) for row in rows)
        for row in rows:
            print(f"  {row.file_key:<{width}}  {row.value}  ({row.origin}: {row.setting})")
        for check in done:
            print(f"{'ok  ' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
    failed = [check for check in done if not check.ok]
    return failed[0].exit_code if failed else 0


def register(commands: Any) -> None:
    """Adds `config check` to the top-level parser's subparsers."""
    config = commands.add_parser("config", help="the server's configuration (server host)")
    actions = config.add_subparsers(dest="action", required=True)
    check = actions.add_parser(
        "check",
        help="print the effective configuration, secrets redacted, and check every dependency",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.set_defaults(handler=cmd_check)
