"""`dossier-vault dossier …`: create (for oneself, `--for-minor` as a legal
representative, `--assisted` as a professional or the insurer's office), show, export,
close, reopen a dossier, or ask for its deletion; set or correct the holder's date of
birth (`born`); a deceased holder's heirs (`heir-access
grant`, operators) and the holder's objection to it (`posthumous-objection`); the notices
the holder asks for (`notices --new-documents`), through the gRPC client.

What it does not: decide who may (the server does), legal holds (vault/cli/holds.py),
or touch the documents themselves (vault/cli/documents.py).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vault.cli.connect import client_from_args
from vault.cli.output import add_output_flags, rfc3339, show
from vault.cli.progress import Progress
from vault.domain.heirs import HeirPurpose
from vault.domain.majority import parse_birth_date
from vault.domain.model import ClosureReason, CreationMode, ExportSummary
from vault.errors import InvalidArgumentError

if TYPE_CHECKING:
    from vault.domain.model import Dossier


def _show_dossier(args: argparse.Namespace, dossier: Dossier) -> None:
    text = f"dossier {dossier.dossier_id}  state={dossier.state.value}  "
    text += f"created={rfc3339(dossier.created_at)}"
    if dossier.closed_at is not None:
        reason = "" if dossier.closure_reason is None else f" ({dossier.closure_reason.value})"
        text += f"  closed={rfc3339(dossier.closed_at)}{reason}"
    if dossier.destroy_after is not None:
        text += f"  destroy-after={rfc3339(dossier.destroy_after)}"
    show(args, dossier, text, quiet=str(dossier.dossier_id))


def _birth_date(text: str) -> date:
    try:
        born = parse_birth_date(text)
    except InvalidArgumentError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if born is None:
        raise argparse.ArgumentTypeError("a date of birth is YYYY-MM-DD")
    return born


def _moment(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cmd_create(args: argparse.Namespace) -> int:
    mode = CreationMode.OWN
    if args.for_minor:
        mode = CreationMode.FOR_REPRESENTED
    elif args.assisted:
        mode = CreationMode.ASSISTED
    with client_from_args(args) as client:
        until = _moment(args.until)
        dossier = client.create_dossier(args.ins, mode, args.born, representative_until=until)
        _show_dossier(args, dossier)
    return 0


def cmd_heir_grant(args: argparse.Namespace) -> int:
    expires = datetime.fromisoformat(args.expires.replace("Z", "+00:00"))
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    with client_from_args(args) as client:
        grant = client.grant_heir_access(
            args.dossier, args.heir_ins, HeirPurpose(args.purpose), args.reference, expires
        )
    text = f"heir access {grant.grant_id} on {grant.dossier_id}  purpose={args.purpose}  "
    text += f"until={rfc3339(grant.expires_at.ToDatetime(tzinfo=UTC))}"
    shown = {
        "grant_id": grant.grant_id,
        "dossier_id": grant.dossier_id,
        "heir": grant.heir,
        "purpose": args.purpose,
        "request_reference": grant.request_reference,
        "expires_at": rfc3339(grant.expires_at.ToDatetime(tzinfo=UTC)),
    }
    show(args, shown, text, quiet=str(grant.grant_id))
    return 0


def cmd_notices(args: argparse.Namespace) -> int:
    with client_from_args(args) as client:
        client.set_notification_preferences(args.dossier, new_documents=args.new_documents)
    text = f"new documents: {'notified' if args.new_documents else 'not notified'}"
    show(args, {"dossier_id": args.dossier, "new_documents": args.new_documents}, text)
    return 0


def cmd_born(args: argparse.Namespace) -> int:
    with client_from_args(args) as client:
        client.set_birth_date(args.dossier, args.date)
    born = args.date.isoformat()  # the caller's own input, echoed to them only
    show(args, {"dossier_id": args.dossier, "birth_date": born}, "date of birth recorded")
    return 0


def cmd_objection(args: argparse.Namespace) -> int:
    with client_from_args(args) as client:
        client.set_posthumous_objection(args.dossier, args.objects)
    state = "recorded" if args.objects else "withdrawn"
    show(args, {"dossier_id": args.dossier, "objects": args.objects}, f"objection {state}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    with client_from_args(args) as client:
        _show_dossier(args, client.get_dossier(dossier_id=args.dossier or "", ins=args.ins or ""))
    return 0


def cmd_close(args: argparse.Namespace) -> int:
    with client_from_args(args) as client:
        _show_dossier(args, client.close_dossier(args.dossier, ClosureReason(args.reason)))
    return 0


def cmd_reopen(args: argparse.Namespace) -> int:
    with client_from_args(args) as client:
        _show_dossier(args, client.reopen_dossier(args.dossier))
    return 0


def cmd_request_deletion(args: argparse.Namespace) -> int:
    with client_from_args(args) as client:
        _show_dossier(args, client.request_deletion(args.dossier))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    destination = sys.stdout.buffer if args.output == "-" else Path(args.output)
    progress = Progress(None, enabled=not args.json)

    def size_from(summary: ExportSummary) -> None:  # the archive is a little larger
        progress.total = summary.content_bytes or None

    with client_from_args(args) as client:
        try:
            client.export_dossier(args.dossier, destination, size_from, progress)
        finally:
            progress.close()
    if args.output == "-":
        return 0
    written = {"dossier_id": args.dossier, "output": args.output}
    if args.json:
        show(args, written, "")
    else:
        print(f"wrote the patient's copy to {args.output}", file=sys.stderr)
    return 0


def _lifecycle(dossier: Any, name: str, help_text: str, handler: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = dossier.add_parser(name, help=help_text)
    parser.add_argument("--dossier", required=True)
    add_output_flags(parser)
    parser.set_defaults(handler=handler)
    return parser


def register(commands: Any) -> None:
    """Adds `dossier` and its subcommands to the top-level parser's subparsers."""
    dossier = commands.add_parser(
        "dossier", help="create, show, export, close or reopen a dossier"
    ).add_subparsers(dest="dossier_command", required=True)
    create = dossier.add_parser("create", help="open the dossier of a patient")
    create.add_argument("--ins", required=True, help="the holder's INS")
    who = create.add_mutually_exclusive_group()
    who.add_argument(
        "--for-minor",
        action="store_true",
        help="as the holder's legal representative (a minor, a protected adult)",
    )
    who.add_argument(
        "--assisted",
        action="store_true",
        help="as a professional or the insurer's office, on the holder's behalf",
    )
    create.add_argument(
        "--born",
        type=_birth_date,
        help="the holder's date of birth, YYYY-MM-DD: a representative's rights end at 18",
    )
    create.add_argument(
        "--until",
        help="with --for-minor, for a protected adult: ISO 8601 time the measure ends "
        "(UTC if no offset)",
    )
    add_output_flags(create)
    create.set_defaults(handler=cmd_create)
    show_parser = dossier.add_parser("show", help="show a dossier")
    which = show_parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--dossier")
    which.add_argument("--id", dest="dossier", help=argparse.SUPPRESS)  # deprecated: --dossier
    which.add_argument("--ins")
    add_output_flags(show_parser)
    show_parser.set_defaults(handler=cmd_show)
    close = _lifecycle(dossier, "close", "close a dossier (it is kept, read-only)", cmd_close)
    close.add_argument(
        "--reason",
        choices=[r.value for r in ClosureReason if r is not ClosureReason.DELETION_REQUEST],
        default=ClosureReason.PATIENT_REQUEST.value,
    )
    _lifecycle(dossier, "reopen", "reopen a closed dossier", cmd_reopen)
    _lifecycle(
        dossier,
        "request-deletion",
        "the patient asks for the dossier's early destruction (closes it)",
        cmd_request_deletion,
    )
    heirs = dossier.add_parser(
        "heir-access", help="a deceased holder's heirs: operators grant read access"
    ).add_subparsers(dest="heir_command", required=True)
    grant = heirs.add_parser("grant", help="grant an heir read access, on a recorded request")
    grant.add_argument("--dossier", required=True)
    grant.add_argument("--heir-ins", required=True, help="the heir's, partner's or cohabitant's")
    grant.add_argument("--purpose", required=True, choices=[p.value for p in HeirPurpose])
    grant.add_argument("--reference", required=True, help="the request's reference (case no.)")
    grant.add_argument("--expires", required=True, help="RFC 3339 time the access ends")
    add_output_flags(grant)
    grant.set_defaults(handler=cmd_heir_grant)
    objection = _lifecycle(
        dossier,
        "posthumous-objection",
        "the holder objects to their heirs' access after their death (--withdraw: no more)",
        cmd_objection,
    )
    objection.add_argument("--withdraw", dest="objects", action="store_false")
    born = _lifecycle(
        dossier,
        "born",
        "set or correct the holder's date of birth (a representative's rights end at 18)",
        cmd_born,
    )
    born.add_argument("--date", required=True, type=_birth_date, help="YYYY-MM-DD")
    notices = _lifecycle(
        dossier, "notices", "the notices the holder asks for beyond those always sent", cmd_notices
    )
    notices.add_argument(
        "--new-documents",
        action=argparse.BooleanOptionalAction,
        required=True,
        help="be told of each new document someone else deposits",
    )
    export = dossier.add_parser(
        "export", help="the patient's copy: a zip of every document, its metadata and history"
    )
    export.add_argument("--dossier", required=True)
    export.add_argument("-o", "--output", required=True, help="path, or - for standard output")
    add_output_flags(export, quiet=False)
    export.set_defaults(handler=cmd_export)
