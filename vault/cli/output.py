"""How every command prints: JSON (`--json`), the bare id (`-q`), or a line of text.

Commands print through `print_json` and `show`, so the same value is written the same
way whichever command returns it; every time is printed by `rfc3339`. What it does
not: decide what a command shows, or print anything about health data beyond what the
caller asked for.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from typing import Any


def rfc3339(moment: datetime) -> str:
    """The one time format of every output: RFC 3339 in UTC, to the second
    (`2026-12-07T18:27:51Z`); a naive time is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def jsonable(value: object) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {k: jsonable(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, datetime):
        return rfc3339(value)
    return str(value)  # UUID, datetime, enums


def print_json(value: object, *, compact: bool = False) -> None:
    """Indented, or on one line with `compact` (`gc` and `journal verify` results)."""
    print(json.dumps(jsonable(value), indent=None if compact else 2, default=str))


def show(args: argparse.Namespace, value: object, text: str, quiet: str = "") -> None:
    """`value` as JSON with `--json`, `quiet` with `-q`, else `text`."""
    if args.json:
        print_json(value)
    elif quiet and args.quiet:
        print(quiet)
    else:
        print(text)


def add_output_flags(parser: argparse.ArgumentParser, quiet: bool = True) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    if quiet:
        parser.add_argument("-q", "--quiet", action="store_true", help="print only the id")


def add_dossier_argument(parser: argparse.ArgumentParser) -> None:
    """`--dossier ID`, as every command names a dossier; the positional ID the command
    took first still works (`dossier_of` reads either)."""
    parser.add_argument("dossier_positional", nargs="?", metavar="DOSSIER", help=argparse.SUPPRESS)
    parser.add_argument("--dossier", help="the dossier's id")


def dossier_of(args: argparse.Namespace) -> str:
    """The dossier named by `--dossier` or positionally (neither, or both: refused)."""
    from vault.errors import InvalidArgumentError

    named = [value for value in (args.dossier, args.dossier_positional) if value]
    if len(named) != 1:
        raise InvalidArgumentError("name the dossier once, with --dossier")
    return str(named[0])
