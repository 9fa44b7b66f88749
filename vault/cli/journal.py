"""`dossier-vault journal …`: export, verify, checkpoint, public-key, history, consents.

`verify` is the auditors' tool: it needs only an export and the checkpoint verifier key
(no database, no blob store, no vault key), streams the export in constant memory, shows
progress on a terminal, and exits with a code per failure kind (see `--help`).
`export`, `history` and `consents` (the consents each professional declared on one day,
vault/journal/consents.py) talk to the server over gRPC (auditor or patient token);
`checkpoint` and `public-key` are for operators on the server host (they read the
server's configuration and key provider, built by vault/composition.py). What it does
not: write to the journal (only the server appends) or trust an export it verifies.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from vault.cli import journal_proofs, journal_tiles
from vault.cli.connect import client_from_args
from vault.cli.exitcodes import (
    EXIT_NO_CHECKPOINT,
    VERIFY_EXIT_CODES,
    epilog,
    tile_codes,
    verify_codes,
)
from vault.cli.journal_files import add_key_flags, read_text, verifier_key
from vault.cli.journal_witness import add_witness_flags, export_quorum_code, witness_policy
from vault.cli.output import print_json, rfc3339
from vault.cli.progress import Progress
from vault.errors import IntegrityError, InvalidArgumentError
from vault.journal.certificate import open_certificate
from vault.journal.checkpoint import VerifierKey
from vault.journal.consents import day_bounds, declared_consents
from vault.journal.verify import (
    Anchor,
    FailureKind,
    Summary,
    VerificationError,
    verify_export,
)
from vault.witness.quorum import NoteCapture

if TYPE_CHECKING:  # the verifier must not load the server's adapters
    from vault.journal.checkpointer import Checkpointer


@contextlib.contextmanager
def _open_export(name: str) -> Iterator[tuple[BinaryIO, int | None]]:
    """The export to read, and its size when it has one (for the progress display)."""
    if name == "-":
        yield sys.stdin.buffer, None
        return
    path = Path(name)
    with path.open("rb") as source:
        yield source, path.stat().st_size


def _time(time_us: int | None) -> str:
    if time_us is None:
        return "-"
    return rfc3339(datetime.fromtimestamp(time_us / 1e6, UTC))


def _summary_text(summary: Summary) -> str:
    anchor = "from the genesis" if summary.anchored_at_genesis else "from a later entry"
    matched = summary.checkpoints_matched
    text = (
        f"journal verified: {summary.entries} entries (sequence {summary.first_seq} to "
        f"{summary.last_seq}, {anchor}), {_time(summary.first_time_us)} to "
        f"{_time(summary.last_time_us)}\n"
        f"checkpoints matched: {len(matched)}"
        + (f" (last at size {matched[-1]})" if matched else "")
        + f"\nhead: {summary.head}"
        + (f"\nmerkle root: {summary.root}" if summary.root else "")
        + f"\nv2 checkpoints whose Merkle root matched: {len(summary.roots_matched)}"
    )
    if summary.checkpoints_beyond_export:
        text += (
            f"\npublished checkpoints beyond the export: {summary.checkpoints_beyond_export}"
            " (newer than its last entry; --expect-complete makes this a tail-cut)"
        )
    if not matched:
        text += "\nwarning: no signed checkpoint matched: this proves internal consistency only"
    return text


def _certificate_anchors(paths: list[str], key: VerifierKey | None) -> dict[int, Anchor]:
    """Each certificate's decision entry, once its signature is checked."""
    anchors: dict[int, Anchor] = {}
    for path in paths:
        if key is None:
            raise InvalidArgumentError("checking a certificate needs the verifier key")
        try:
            certificate = open_certificate(read_text(Path(path), "certificate"), key)
        except IntegrityError as error:
            raise VerificationError(FailureKind.CERTIFICATE, None, str(error)) from None
        if certificate.decision_seq in anchors:
            raise VerificationError(
                FailureKind.CERTIFICATE, certificate.decision_seq, "two certificates, one decision"
            )
        anchors[certificate.decision_seq] = Anchor(
            certificate.decision_chain_hash, str(certificate.dossier_id), str(certificate.job_id)
        )
    return anchors


def _published_notes(directory: str | None) -> list[tuple[str, str]]:
    if directory is None:
        return []
    path = Path(directory)
    if not path.is_dir():
        raise InvalidArgumentError(f"checkpoint directory {path} does not exist")
    files = sorted(path.glob("checkpoint-*.txt"))
    return [(file.name, read_text(file, "checkpoint file")) for file in files]


_NO_KEY = "no verifier key given: pass --key or --key-file (`dossier-vault journal public-key`)"


def cmd_verify(args: argparse.Namespace) -> int:
    key = verifier_key(args)
    if journal_tiles.is_tiles(args.export):  # a tiles directory (ADR 0043)
        return journal_tiles.cmd_verify_tiles(
            args, key, lambda: _certificate_anchors(args.certificate, key), _summary_text
        )
    if args.checkpoint:
        raise InvalidArgumentError("--checkpoint is for a tiles directory: use --checkpoints DIR")
    notes = _published_notes(args.checkpoints)
    witnesses = witness_policy(args)
    if key is None and (notes or args.require_checkpoint or witnesses):
        raise InvalidArgumentError(_NO_KEY)
    with _open_export(args.export) as (export, total):
        source = NoteCapture(export)  # the inline notes, for the witnesses' quorum
        progress = Progress(total, enabled=not args.json)
        try:
            anchors = _certificate_anchors(args.certificate, key)
            summary = verify_export(
                source,
                key,
                notes,
                on_progress=lambda lines, done: progress(done, f"{lines:,} lines"),
                expect_complete=args.expect_complete,
                anchors=anchors,
            )
        except VerificationError as failure:
            progress.close()
            if key is None and failure.kind is FailureKind.BAD_SIGNATURE:
                # without a key, the only bad signature is a checkpoint the export holds
                raise InvalidArgumentError(
                    f"the export holds signed checkpoints: {_NO_KEY}"
                ) from None
            if args.json:
                failed = {"kind": failure.kind.value, "seq": failure.seq, "detail": failure.detail}
                print_json({"ok": False, **failed}, compact=True)
            else:
                print(f"journal verification FAILED: {failure}", file=sys.stderr)
            return VERIFY_EXIT_CODES[failure.kind]
    progress.close()
    inline, matched = source.notes, summary.checkpoints_matched
    if witnesses and (
        code := export_quorum_code(args, witnesses, [*inline, *dict(notes).values()], matched)
    ):
        return code
    if args.json:
        print_json({"ok": True, **summary.__dict__}, compact=True)
    else:
        print(_summary_text(summary))
    if args.require_checkpoint and not summary.checkpoints_matched:
        return EXIT_NO_CHECKPOINT
    return 0


def _when(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArgumentError(f"expected an RFC 3339 time, not {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cmd_export(args: argparse.Namespace) -> int:
    destination = Path(args.output)
    partial = destination.with_name(destination.name + ".partial")
    count = 0
    try:
        with client_from_args(args) as client, partial.open("wb") as out:
            for line in client.export_journal(
                from_seq=args.from_seq,
                to_seq=args.to_seq,
                since=_when(args.since),
                until=_when(args.until),
            ):
                out.write(line)
                count += 1
        partial.replace(destination)
    finally:
        partial.unlink(missing_ok=True)
    if args.json:
        print_json({"output": str(destination), "lines": count})
    else:
        print(f"wrote {count} lines to {destination}", file=sys.stderr)
    return 0


def _local_checkpointer() -> Checkpointer:
    from vault.composition import build_checkpointer, key_provider, open_journal
    from vault.config import Config

    config = Config.from_env()
    return build_checkpointer(config, open_journal(config), key_provider(config))


def cmd_checkpoint(args: argparse.Namespace) -> int:
    note = _local_checkpointer().checkpoint()
    if args.json:
        print_json({"signed": note is not None, "note": note})
    else:
        print(note if note is not None else "no new entries since the last checkpoint")
    return 0


def cmd_public_key(args: argparse.Namespace) -> int:
    key = _local_checkpointer().verifier_key.encode()
    if args.json:
        print_json({"verifier_key": key})
    else:
        print(key)
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    with client_from_args(args) as client:
        records, token = client.query_journal(
            dossier_id=args.dossier or "",
            actor_ref=args.actor or "",
            emergency_only=args.emergency,
            denials_only=args.denials,
            page_size=args.page_size,
        )
    if args.json:
        print_json(
            [
                {"seq": seq, "time": _time(event.time_us), **dataclasses.asdict(event)}
                for seq, event in records
            ]
        )
    else:
        for seq, event in records:
            print(
                f"{seq:>10}  {_time(event.time_us)}  {event.actor_kind:<12} "
                f"{event.actor_ref or '-':<12} {event.actor_profession or '-':<10} "
                f"{event.action:<16} {event.decision:<5} {event.reason}"
                + ("  EMERGENCY" if event.emergency else "")
            )
        if token:
            print("(more entries: narrow the query or raise --page-size)", file=sys.stderr)
    return 0


def cmd_consents(args: argparse.Namespace) -> int:
    try:
        day = date.fromisoformat(args.day)
    except ValueError:
        raise InvalidArgumentError(f"expected a day (YYYY-MM-DD), not {args.day!r}") from None
    since, until = day_bounds(day)
    with client_from_args(args) as client:
        found = declared_consents(client.export_journal(since=since, until=until))
    shown = [d for d in found if d.dossiers >= args.at_least]
    if args.json:
        print_json([{"day": day.isoformat(), **dataclasses.asdict(d)} for d in shown])
    else:
        for d in shown:
            print(
                f"{day.isoformat()}  {d.professional:<12} {d.profession or '-':<12} "
                f"{d.declarations:>6} declarations  {d.dossiers:>6} dossiers"
            )
    return 0


def register(commands: Any) -> None:
    """Adds `journal` and its subcommands to the top-level parser's subparsers."""
    journal = commands.add_parser("journal", help="the access journal").add_subparsers(
        dest="journal_command", required=True
    )

    verify = journal.add_parser(
        "verify",
        help="verify an export offline (auditors)",
        epilog=epilog("the export (or tiles) verified", verify_codes() + tile_codes()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Checks a journal export, or a tiles directory: chain, sequence, times, "
        "signed checkpoints, and the tiles against the entries and the signed root.",
    )
    verify.add_argument(
        "export",
        help="export file (JSON Lines), - for standard input, or a tiles directory (a mirror "
        "of the published checkpoint directory: tile/..., checkpoint)",
    )
    add_key_flags(verify)
    add_witness_flags(verify)
    verify.add_argument(
        "--checkpoint",
        help="tiles: the signed checkpoint to verify the tiles against (default: DIR/checkpoint)",
    )
    verify.add_argument("--checkpoints", help="directory of published checkpoint files")
    verify.add_argument(
        "--certificate",
        action="append",
        default=[],
        help="a destruction certificate to check against the export (repeatable; needs "
        "the verifier key)",
    )
    verify.add_argument(
        "--expect-complete",
        action="store_true",
        help="the export should reach every published checkpoint: one newer than its last "
        "entry is a tail-cut (by default it is only counted: a live journal grows)",
    )
    verify.add_argument(
        "--require-checkpoint",
        action="store_true",
        help=f"exit {EXIT_NO_CHECKPOINT} unless a signed checkpoint matched",
    )
    verify.add_argument("--json", action="store_true", help="machine-readable result")
    verify.set_defaults(handler=cmd_verify)

    export = journal.add_parser("export", help="export a range of the journal (auditors)")
    export.add_argument("-o", "--output", required=True)
    export.add_argument("--from-seq", type=int, default=0)
    export.add_argument("--to-seq", type=int, default=0)
    export.add_argument("--since", help="ISO 8601 time (UTC if no offset)")
    export.add_argument("--until", help="ISO 8601 time (UTC if no offset)")
    export.add_argument("--json", action="store_true", help="machine-readable output")
    export.set_defaults(handler=cmd_export)

    checkpoint = journal.add_parser("checkpoint", help="sign a checkpoint now (operators)")
    checkpoint.add_argument("--json", action="store_true", help="machine-readable output")
    checkpoint.set_defaults(handler=cmd_checkpoint)
    public_key = journal.add_parser("public-key", help="print the checkpoint verifier key")
    public_key.add_argument("--json", action="store_true", help="machine-readable output")
    public_key.set_defaults(handler=cmd_public_key)

    history = journal.add_parser("history", help="access history: a dossier's, or filtered")
    history.add_argument("--dossier")
    history.add_argument("--actor", help="auditors: an actor reference")
    history.add_argument("--emergency", action="store_true", help="emergency accesses only")
    history.add_argument("--denials", action="store_true", help="denied requests only")
    history.add_argument("--page-size", type=int, default=100)
    history.add_argument("--json", action="store_true")
    history.set_defaults(handler=cmd_history)

    consents = journal.add_parser(
        "consents",
        help="consents each professional declared on a day, most dossiers first (auditors)",
    )
    consents.add_argument("--day", required=True, help="YYYY-MM-DD, the day in France")
    consents.add_argument(
        "--at-least", type=int, default=1, help="only professionals with that many dossiers"
    )
    consents.add_argument("--json", action="store_true")
    consents.set_defaults(handler=cmd_consents)
    journal_proofs.register(journal)
