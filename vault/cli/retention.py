"""`dossier-vault-retention` (also `dossier-vault retention`): the operators' retention
commands, run on the server host with the server's configuration (VAULT_*).

    plan               what is due now, or by a date: dossiers and bytes per reason
    run                destroys what is due (asks first; --yes, --dry-run, --limit),
                       then re-applies the store's Object Lock protection (as `protect`)
    protect            re-applies Object Lock protection from the index (ADR 0024)
    hold / release     legal holds, with a mandatory reason (journaled)
    deadlines          deletion requests approaching or past their legal deadline (3 months)
    report             destructions over a period, with their signed certificates
    verify-destroyed   proves that nothing of a destroyed dossier remains

Outputs name dossiers by opaque id only, never a patient. Exit codes: --help. The
adapters come from vault/composition.py and load when a command runs. What it does not:
decide what is due or destroy (retention/destroyer.py does).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict
from datetime import UTC, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from vault.cli import run
from vault.cli.exitcodes import (
    EXIT_NOT_CONFIRMED,
    EXIT_REMAINS,
    epilog,
    error_codes,
    retention_codes,
)
from vault.cli.output import add_dossier_argument, add_output_flags, dossier_of, rfc3339, show
from vault.cli.progress import Progress
from vault.domain import lifecycle
from vault.domain.clock import from_us, to_us
from vault.domain.model import Actor, ActorKind
from vault.errors import InvalidArgumentError, NotFoundError

if TYPE_CHECKING:
    from retention.destroyer import RunReport
    from retention.protector import ProtectReport
    from vault.composition import RetentionAdapters
    from vault.service import Call, Vault

T = TypeVar("T")
CONFIRMATION = "destroy"


def _epilog() -> str:
    return epilog("success", [*error_codes(), *retention_codes(CONFIRMATION)])


def _adapters() -> AbstractContextManager[RetentionAdapters]:
    """The server's adapters from its configuration (VAULT_*), for one command."""
    from vault.composition import open_retention
    from vault.config import Config

    return open_retention(Config.from_env())


def _moment(text: str, what: str) -> datetime:
    """A date (midnight UTC) or an ISO-8601 time."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArgumentError(f"{what}: expected a date like 2036-03-15") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if len(text) == 10:
        moment = datetime.combine(moment.date(), time(), UTC)
    return moment


# -- commands ---------------------------------------------------------------------------


def cmd_plan(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    by = now if args.by is None else _moment(args.by, "--by")
    if by < now.replace(hour=0, minute=0, second=0, microsecond=0):
        raise InvalidArgumentError("--by is in the past: what was due then is due now")
    with _adapters() as adapters:
        summary = adapters.index.due_summary(to_us(max(by, now)))
    rows = [asdict(s) for s in summary]
    total = sum(s.dossiers for s in summary), sum(s.bytes for s in summary)
    lines = [f"due by {rfc3339(by)}: {total[0]} dossiers, {total[1]} bytes"]
    lines += [f"  {s.reason:<20} {s.dossiers:>10} dossiers {s.bytes:>16} bytes" for s in summary]
    value = {"by": rfc3339(by), "dossiers": total[0], "bytes": total[1], "reasons": rows}
    show(args, value, "\n".join(lines))
    return 0


def _confirmed(args: argparse.Namespace, due: int) -> bool:
    if args.yes:
        return True
    if not sys.stdin.isatty():
        print("refusing to destroy without a terminal to confirm: pass --yes", file=sys.stderr)
        return False
    answer = input(f"destroy {due} dossiers for good? type '{CONFIRMATION}' to go on: ")
    return answer.strip() == CONFIRMATION


def cmd_run(args: argparse.Namespace) -> int:
    from retention.lock import single_run

    with _adapters() as adapters, single_run(adapters.index.engine):
        now = to_us(datetime.now(UTC))
        due = sum(s.dossiers for s in adapters.index.due_summary(now))  # unfinished included
        if args.limit is not None:
            due = min(due, args.limit)
        if args.dry_run:
            show(args, {"would_destroy": due}, f"would destroy {due} dossiers")
            return 0
        if due and not _confirmed(args, due):
            return EXIT_NOT_CONFIRMED
        progress = Progress(due, enabled=not args.json)
        report = adapters.destroyer.run(
            args.limit, lambda done: progress(done, f"{done:,} dossiers")
        )
        progress.close()
    if args.metrics_file is not None:
        from vault.observability.jobmetrics import write_last_run  # prometheus only if asked

        write_last_run(args.metrics_file, "retention", _figures(report))
    show(args, asdict(report), _report_text(report))
    return 0


def _figures(report: RunReport) -> dict[str, tuple[str, float]]:
    """The run's counts, for the textfile collector (docs/operations.md)."""
    protection = report.protection
    return {
        "destroyed_dossiers": ("dossiers destroyed", report.dossiers),
        "destroyed_objects": ("stored objects deleted", report.objects),
        "destroyed_object_versions": ("stored object versions deleted", report.object_versions),
        "destroyed_bytes": ("bytes deleted", report.bytes),
        "expired_documents": ("documents past their rolling window", report.expired_documents),
        "released_documents": ("held-back documents released", report.released_documents),
        "release_notices": ("notices of a coming release queued", report.release_notices),
        "deletion_notices": (
            "holders told their deletion was carried out",
            report.deletion_notices,
        ),
        "protection_retained": (
            "dossiers whose Object Lock retention was re-applied",
            protection.retained,
        ),
        "protection_held": ("dossiers whose legal hold was re-applied", protection.held),
        "protection_refused": ("dossiers whose protection the store refused", protection.refused),
    }


def _report_text(report: RunReport) -> str:
    return (
        f"destroyed {report.dossiers} dossiers: {report.objects} objects "
        f"({report.object_versions} stored versions, {report.bytes} bytes); "
        f"{report.expired_documents} documents past their rolling window; "
        + _protect_text(report.protection)
    )


def _protect_text(report: ProtectReport) -> str:
    text = f"store protection re-applied: {report.retained} dossiers retained, {report.held} held"
    return text + (f", {report.refused} refused by the store" if report.refused else "")


def cmd_protect(args: argparse.Namespace) -> int:
    from retention.lock import single_run

    with _adapters() as adapters, single_run(adapters.index.engine):
        report = adapters.destroyer.protect()
    show(args, asdict(report), _protect_text(report))
    return 0


def _operator() -> Actor:
    return Actor(ActorKind.OPERATOR, f"cli:{getpass.getuser()}"[:80])


def _with_vault(use: Callable[[Vault, Call], T]) -> T:
    from vault.composition import build  # the whole service: holds are journaled decisions
    from vault.config import Config
    from vault.service import Call

    components = build(Config.from_env())
    try:
        return use(components.vault, Call(str(uuid.uuid4())))
    finally:
        components.close_journal()
        components.close()


def cmd_hold(args: argparse.Namespace) -> int:
    hold = _with_vault(
        lambda v, c: v.dossiers.place_hold(_operator(), args.dossier, args.reason, c)
    )
    show(args, {"hold_id": hold.hold_id}, f"hold {hold.hold_id} placed")
    return 0


def cmd_release(args: argparse.Namespace) -> int:
    _with_vault(
        lambda v, c: v.dossiers.release_hold(_operator(), args.dossier, args.hold, args.reason, c)
    )
    show(args, {"released": args.hold}, f"hold {args.hold} released")
    return 0


def cmd_deadlines(args: argparse.Namespace) -> int:
    """Deletion requests not carried out yet, against their legal deadline: those
    approaching it or past it (with --all, those on time too)."""
    now_us = to_us(datetime.now(UTC))
    with _adapters() as adapters:
        rules = adapters.config.retention_rules
        requests = adapters.index.deletion_requests()
    rows: list[dict[str, object]] = []
    lines = [""]
    for record in requests:
        status = lifecycle.deletion_status(record.lifecycle, now_us, rules)
        deadline = lifecycle.deletion_deadline_us(record.lifecycle, rules)
        if status is None or deadline is None:
            continue
        if status is lifecycle.DeadlineStatus.ON_TIME and not args.all:
            continue
        requested, held = record.lifecycle.destroy_after_us or 0, record.lifecycle.holds > 0
        rows.append(
            {
                "dossier": str(record.dossier_id),
                "requested": rfc3339(from_us(requested)),
                "deadline": rfc3339(from_us(deadline)),
                "status": status.value,
                "held": held,
            }
        )
        lines.append(
            f"  {record.dossier_id}  {status.value:<11} deadline {rfc3339(from_us(deadline))}"
            + ("  (legal hold)" if held else "")
        )
    lines[0] = f"{len(rows)} deletion requests {'pending' if args.all else 'to watch'}"
    show(args, rows, "\n".join(lines))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    since = _moment(args.since, "--since") if args.since else datetime(1970, 1, 1, tzinfo=UTC)
    until = _moment(args.until, "--until") if args.until else datetime.now(UTC)
    with _adapters() as adapters:
        done = adapters.index.destructions(to_us(since), to_us(until) + 1)
    if args.certificates:
        directory = Path(args.certificates)
        directory.mkdir(parents=True, exist_ok=True)
        for destruction in done:
            path = directory / f"destruction-{destruction.dossier_id}.txt"
            path.write_text(destruction.certificate or "")
    rows = [
        {
            "dossier": str(d.dossier_id),
            "reason": "deadline" if d.reason is None else d.reason.value,
            "started_us": d.started_us,
            "completed_us": d.completed_us,
            "objects": len(json.loads(d.manifest)["objects"]),
        }
        for d in done
    ]
    lines = [f"{len(rows)} destructions"]
    lines += [f"  {r['dossier']}  {r['reason']:<16} {r['objects']:>6} objects" for r in rows]
    show(args, rows, "\n".join(lines))
    return 0


def cmd_verify_destroyed(args: argparse.Namespace) -> int:
    from retention.destroyer import verify_destroyed

    try:
        dossier_id = uuid.UUID(dossier_of(args))
    except ValueError:
        raise InvalidArgumentError("malformed dossier id") from None
    with _adapters() as adapters:
        destruction = adapters.index.destruction(dossier_id)
        if destruction is None:
            raise NotFoundError("no destruction of this dossier is recorded")
        left = verify_destroyed(adapters.index, adapters.blobs, destruction)
    show(
        args, {"dossier": str(dossier_id), "remaining": left}, "\n".join(left) or "nothing remains"
    )
    return EXIT_REMAINS if left else 0


# -- parser -----------------------------------------------------------------------------


def _add_commands(commands: Any) -> None:
    plan = commands.add_parser("plan", help="what is due for destruction (now, or by a date)")
    plan.add_argument("--by", help="a date (YYYY-MM-DD) or ISO time, not in the past")
    plan.set_defaults(handler=cmd_plan)
    run = commands.add_parser("run", help="destroy what is due (resumable, one run at a time)")
    run.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    run.add_argument("--dry-run", action="store_true", help="count, destroy nothing")
    run.add_argument("--limit", type=int, help="destroy at most this many dossiers")
    run.add_argument(
        "--metrics-file",
        type=Path,
        help="write the run's counts there for a textfile collector (a .prom path)",
    )
    run.set_defaults(handler=cmd_run)
    protect = commands.add_parser(
        "protect", help="re-apply the store's Object Lock protection from the index"
    )
    protect.set_defaults(handler=cmd_protect)
    hold = commands.add_parser("hold", help="place a legal hold on a dossier")
    hold.add_argument("--dossier", required=True)
    hold.add_argument("--reason", required=True, help="a court or case reference")
    hold.set_defaults(handler=cmd_hold)
    release = commands.add_parser("release", help="release a legal hold")
    release.add_argument("--dossier", required=True)
    release.add_argument("--hold", required=True, type=int, help="the hold's id")
    release.add_argument("--reason", required=True)
    release.set_defaults(handler=cmd_release)
    deadlines = commands.add_parser(
        "deadlines", help="deletion requests approaching or past their legal deadline"
    )
    deadlines.add_argument("--all", action="store_true", help="those on time too")
    deadlines.set_defaults(handler=cmd_deadlines)
    report = commands.add_parser("report", help="destructions over a period")
    report.add_argument("--since", help="date or ISO time (default: the beginning)")
    report.add_argument("--until", help="date or ISO time (default: now)")
    report.add_argument("--certificates", help="write each signed certificate into this directory")
    report.set_defaults(handler=cmd_report)
    verify = commands.add_parser("verify-destroyed", help="prove nothing of a dossier remains")
    add_dossier_argument(verify)
    verify.set_defaults(handler=cmd_verify_destroyed)
    for parser in (plan, run, protect, hold, release, deadlines, report, verify):
        add_output_flags(parser, quiet=False)


def build_parser(prog: str = "dossier-vault-retention") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Dossier Vault retention: closure deadlines, legal holds, destruction.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_commands(parser.add_subparsers(dest="command", required=True))
    return parser


def register(commands: Any) -> None:
    """`dossier-vault retention ...`: the same commands."""
    retention = commands.add_parser(
        "retention",
        help="closure deadlines, legal holds, destruction (operators, server host)",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_commands(retention.add_subparsers(dest="retention_command", required=True))


def main(argv: Sequence[str] | None = None) -> int:
    """`dossier-vault-retention`."""
    return run(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
