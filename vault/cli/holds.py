"""`dossier-vault hold …`: a dossier's legal holds through the gRPC client, for operators
(place, release) and auditors (list): `hold ls` gives the id `hold release` needs.

What it does not: decide who may (the server does), or work without a server (the
operators' `retention hold`/`release` on the server host do, built on the vault itself).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from vault.cli.connect import client_from_args
from vault.cli.output import add_output_flags, rfc3339, show
from vault.domain.clock import from_us

if TYPE_CHECKING:
    from vault.domain.lifecycle import LegalHold


def _shown(hold: LegalHold) -> dict[str, Any]:
    """A hold as printed: its id, dates and court references; who placed or released it
    is the journal's."""
    released = None if hold.released_us is None else rfc3339(from_us(hold.released_us))
    return {
        "hold_id": hold.hold_id,
        "placed_at": rfc3339(from_us(hold.placed_us)),
        "reason": hold.reason,
        "in_force": released is None,
        "released_at": released,
        "release_reason": hold.release_reason,
    }


def _line(shown: dict[str, Any]) -> str:
    text = f"hold {shown['hold_id']}  placed={shown['placed_at']}  reason={shown['reason']!r}"
    if shown["in_force"]:
        return text + "  in force"
    return text + f"  released={shown['released_at']} ({shown['release_reason']!r})"


def cmd_ls(args: argparse.Namespace) -> int:
    with client_from_args(args) as client:
        holds = [_shown(h) for h in client.list_holds(args.dossier)]
    text = "\n".join(_line(h) for h in holds) or "no legal hold"
    show(args, holds, text, quiet="\n".join(str(h["hold_id"]) for h in holds if h["in_force"]))
    return 0


def cmd_place(args: argparse.Namespace) -> int:
    with client_from_args(args) as client:
        hold_id = client.place_hold(args.dossier, args.reason)
    show(args, {"hold_id": hold_id}, f"hold {hold_id} placed", quiet=str(hold_id))
    return 0


def cmd_release(args: argparse.Namespace) -> int:
    with client_from_args(args) as client:
        client.release_hold(args.dossier, args.hold, args.reason)
    show(args, {"released": args.hold}, f"hold {args.hold} released", quiet=str(args.hold))
    return 0


def register(commands: Any) -> None:
    """Adds `hold` and its subcommands to the top-level parser's subparsers."""
    hold = commands.add_parser(
        "hold", help="a dossier's legal holds (operators; auditors list them)"
    ).add_subparsers(dest="hold_command", required=True)
    ls = hold.add_parser("ls", help="the dossier's holds, in force or released, oldest first")
    ls.add_argument("--dossier", required=True)
    ls.set_defaults(handler=cmd_ls)
    place = hold.add_parser("place", help="place a legal hold: nothing is destroyed while it holds")
    place.add_argument("--dossier", required=True)
    place.add_argument("--reason", required=True, help="a court or case reference")
    place.set_defaults(handler=cmd_place)
    release = hold.add_parser("release", help="release a hold in force (its id: `hold ls`)")
    release.add_argument("--dossier", required=True)
    release.add_argument("--hold", required=True, type=int, help="the hold's id")
    release.add_argument("--reason", required=True, help="why: a court or case reference")
    release.set_defaults(handler=cmd_release)
    for parser in (ls, place, release):
        add_output_flags(parser)
