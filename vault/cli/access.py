"""`dossier-vault access ...`: who may access a dossier, from the command line.

The patient side authorises, revokes, blocks and unblocks professionals, manages legal
representatives, care teams (`access team add/ls/rm`) and the patient's overrides of the
authorisation matrix (`access class open/close/clear/ls`), allows or refuses
break-the-glass and the SAMU regulator's access (together or apart), grants an
occupational physician access, and reads the access rules and the notification outbox; a
professional records consent or breaks the glass; the national insurer sets the treating
physician. Each command is one gRPC call through `VaultClient`; the server decides
(docs/access-control.md) and journals it. What it does not: decide anything, or show
more than the rules and notices asked for.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeAlias

from vault.cli.connect import client_from_args
from vault.cli.output import add_output_flags, print_json, rfc3339
from vault.domain.model import (
    AccessRules,
    CareTeam,
    DocumentCategory,
    EmergencyReason,
    MatrixOverride,
    Notification,
    Relationship,
)

if TYPE_CHECKING:
    from vault.client import VaultClient

Command: TypeAlias = "Callable[[VaultClient, argparse.Namespace], object]"


def _time(time_us: int | None) -> str:
    if time_us is None:
        return "-"
    return rfc3339(datetime.fromtimestamp(time_us / 1e6, UTC))


def _entry_line(entry: Relationship) -> str:
    extra = f"  reason={entry.detail}" if entry.detail else ""  # `consent`: declared
    return (
        f"{entry.relation.value:<15} {entry.subject:<40} since {_time(entry.created_us)}"
        f"  until {_time(entry.expires_us)}{extra}"
    )


def _notification_line(notice: Notification) -> str:
    reason = f"  reason={notice.detail}" if notice.detail else ""
    return (
        f"{notice.notification_id:>8}  {_time(notice.created_us)}  {notice.kind.value:<16} "
        f"{notice.subject} ({notice.profession or '-'}){reason}"
    )


def _team_line(team: CareTeam) -> str:
    """A care team: its id, expiry, members and name (the patient's own label)."""
    return (
        f"team {team.team_id}  until {_time(team.expires_us)}  "
        f"members={','.join(team.members)}  {team.name}"
    )


def _override_line(override: MatrixOverride) -> str:
    """An override: the professional, the category, opened or closed, since when."""
    effect = "opened" if override.opened else "closed"
    since = _time(override.created_us)
    return f"class {override.category.value} {effect} to {override.subject}  since {since}"


def _line(item: object) -> str:
    if isinstance(item, CareTeam):
        return _team_line(item)
    if isinstance(item, MatrixOverride):
        return _override_line(item)
    assert isinstance(item, Notification)
    return _notification_line(item)


def _show(args: argparse.Namespace, result: object) -> None:
    if args.json:
        print_json(result)
    elif isinstance(result, Relationship):
        print(_entry_line(result))
    elif isinstance(result, CareTeam | MatrixOverride):
        print(_line(result))
    elif isinstance(result, list):
        for item in result:
            print(_line(item))
    elif isinstance(result, AccessRules):
        print(f"break-the-glass: {'refused' if result.emergency_refused else 'allowed'}")
        print(f"SAMU regulation: {'refused' if result.regulation_refused else 'allowed'}")
        for entry in result.entries:
            print(_entry_line(entry))
        for team in result.teams:
            print(_team_line(team))
        for override in result.overrides:
            print(_override_line(override))


def _run(command: Command) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        with client_from_args(args) as client:
            _show(args, command(client, args))
        return 0

    return handler


_COMMANDS: list[tuple[str, str, str | None, Command]] = [
    (
        "ls",
        "the dossier's access rules (patient side)",
        None,
        lambda c, a: c.list_access(a.dossier),
    ),
    (
        "authorise",
        "authorise a professional for a year",
        "--rpps",
        lambda c, a: c.authorise(a.dossier, a.rpps),
    ),
    (
        "revoke",
        "end a professional's authorisation",
        "--rpps",
        lambda c, a: c.revoke(a.dossier, a.rpps),
    ),
    ("block", "block a professional", "--rpps", lambda c, a: c.block(a.dossier, a.rpps)),
    ("unblock", "unblock a professional", "--rpps", lambda c, a: c.unblock(a.dossier, a.rpps)),
    (
        "remove-representative",
        "remove a legal representative",
        "--ins",
        lambda c, a: c.remove_representative(a.dossier, a.ins),
    ),
    (
        "consent",
        "a professional records the patient's consent",
        None,
        lambda c, a: c.record_consent(a.dossier),
    ),
    (
        "treating",
        "the national insurer sets the treating physician",
        "--rpps",
        lambda c, a: c.set_treating_physician(a.dossier, a.rpps),
    ),
    (
        "clear-treating",
        "the national insurer clears the treating physician",
        None,
        lambda c, a: c.set_treating_physician(a.dossier, None),
    ),
    (
        "allow-emergency",
        "allow both emergency accesses (the default)",
        None,
        lambda c, a: c.set_emergency_access(a.dossier, allowed=True),
    ),
    (
        "refuse-emergency",
        "refuse both emergency accesses (closes open windows)",
        None,
        lambda c, a: c.set_emergency_access(a.dossier, allowed=False),
    ),
    (
        "allow-break-glass",
        "allow break-the-glass only",
        None,
        lambda c, a: c.set_break_glass(a.dossier, allowed=True),
    ),
    (
        "refuse-break-glass",
        "refuse break-the-glass only (closes open windows for good)",
        None,
        lambda c, a: c.set_break_glass(a.dossier, allowed=False),
    ),
    (
        "allow-regulation",
        "allow the SAMU regulator's access only",
        None,
        lambda c, a: c.set_regulation_access(a.dossier, allowed=True),
    ),
    (
        "refuse-regulation",
        "refuse the SAMU regulator's access only (closes open windows for good)",
        None,
        lambda c, a: c.set_regulation_access(a.dossier, allowed=False),
    ),
    (
        "grant-occupational",
        "the holder's express consent to an occupational physician",
        "--rpps",
        lambda c, a: c.grant_occupational(a.dossier, a.rpps),
    ),
    (
        "revoke-occupational",
        "end an occupational physician's grant",
        "--rpps",
        lambda c, a: c.revoke_occupational(a.dossier, a.rpps),
    ),
]


def register(commands: Any) -> None:
    """Adds `access` and its subcommands to the top-level parser's subparsers."""
    access = commands.add_parser(
        "access", help="who may access a dossier (consent, blocks, emergency)"
    ).add_subparsers(dest="access_command", required=True)
    for name, help_text, argument, command in _COMMANDS:
        parser = access.add_parser(name, help=help_text)
        parser.add_argument("--dossier", required=True)
        if argument is not None:
            parser.add_argument(argument, required=True)
        add_output_flags(parser, quiet=False)
        parser.set_defaults(handler=_run(command))
    glass = access.add_parser("break-glass", help="an emergency professional opens the dossier")
    glass.add_argument("--dossier", required=True)
    glass.add_argument("--reason", required=True, choices=[r.value for r in EmergencyReason])
    add_output_flags(glass, quiet=False)
    glass.set_defaults(
        handler=_run(lambda c, a: c.break_glass(a.dossier, EmergencyReason(a.reason)))
    )
    representative = access.add_parser(
        "add-representative",
        help="add a legal representative (a protected adult's: --until the measure ends)",
    )
    representative.add_argument("--dossier", required=True)
    representative.add_argument("--ins", required=True)
    representative.add_argument("--until", help="ISO 8601 time (UTC if no offset); default: none")
    add_output_flags(representative, quiet=False)
    representative.set_defaults(
        handler=_run(lambda c, a: c.add_representative(a.dossier, a.ins, until=_expiry(a.until)))
    )
    _register_teams(access)
    _register_classes(access)
    notices = access.add_parser("notifications", help="the patient's notification outbox")
    notices.add_argument("--dossier", required=True)
    notices.add_argument("--after", type=int, default=0, help="the last id already read")
    add_output_flags(notices, quiet=False)
    notices.set_defaults(
        handler=_run(lambda c, a: c.notifications(a.dossier, after_id=a.after, page_size=1000))
    )


def _expiry(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _register_teams(access: Any) -> None:
    """`access team add/ls/rm`: the patient side's care teams."""
    teams = access.add_parser("team", help="care teams (patient side)").add_subparsers(
        dest="team_command", required=True
    )
    add = teams.add_parser("add", help="let a care team in (a year, or until --expires)")
    add.add_argument("--name", required=True, help="your label for the team (kept sealed)")
    add.add_argument(
        "--member",
        action="append",
        required=True,
        help="an RPPS number, a FINESS or a SIRET (repeatable)",
    )
    add.add_argument("--expires", help="ISO 8601 time (UTC if no offset); default: a year")
    add.set_defaults(
        handler=_run(
            lambda c, a: c.add_care_team(a.dossier, a.name, a.member, expires=_expiry(a.expires))
        )
    )
    listed = teams.add_parser("ls", help="the care teams let in")
    listed.set_defaults(handler=_run(lambda c, a: list(c.list_access(a.dossier).teams)))
    remove = teams.add_parser("rm", help="refuse a care team as a whole")
    remove.add_argument("--team", required=True, help="the team's id (`access team ls`)")
    remove.set_defaults(handler=_run(lambda c, a: c.remove_care_team(a.dossier, a.team)))
    for parser in (add, listed, remove):
        parser.add_argument("--dossier", required=True)
        add_output_flags(parser, quiet=False)


def _register_classes(access: Any) -> None:
    """`access class open/close/clear/ls`: the patient's overrides of the matrix."""
    classes = access.add_parser(
        "class", help="open or close a document class to a professional (patient side)"
    ).add_subparsers(dest="class_command", required=True)
    changes: list[tuple[str, str, Command]] = [
        (
            "open",
            "open a class to a professional, beyond their profession's row",
            lambda c, a: c.open_category(a.dossier, a.rpps, DocumentCategory(a.category)),
        ),
        (
            "close",
            "close a class to a professional (not the treating physician's)",
            lambda c, a: c.close_category(a.dossier, a.rpps, DocumentCategory(a.category)),
        ),
        (
            "clear",
            "let the matrix decide the class for the professional again",
            lambda c, a: c.clear_category(a.dossier, a.rpps, DocumentCategory(a.category)),
        ),
    ]
    parsers = []
    for name, help_text, command in changes:
        parser = classes.add_parser(name, help=help_text)
        parser.add_argument("--rpps", required=True)
        parser.add_argument(
            "--category", required=True, choices=[c.value for c in DocumentCategory]
        )
        parser.set_defaults(handler=_run(command))
        parsers.append(parser)
    listed = classes.add_parser("ls", help="the overrides in force")
    listed.set_defaults(handler=_run(lambda c, a: list(c.list_access(a.dossier).overrides)))
    for parser in (*parsers, listed):
        parser.add_argument("--dossier", required=True)
        add_output_flags(parser, quiet=False)
