"""The offline verifiers' witness flags: `--witness-key` (repeatable) and `--witness-quorum`.

With at least one witness key, `journal verify` and `journal verify-proof` also require
the checkpoint they end on to carry valid cosignatures from `--witness-quorum` distinct
witnesses among the keys (default: all of them), and exit with EXIT_NO_QUORUM (34)
otherwise (vault/witness/quorum.py says which checkpoint). What it does not: verify the
journal or the proof itself (vault/cli/journal.py, journal_proofs.py do, first).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from dataclasses import dataclass

from vault.cli.exitcodes import EXIT_NO_QUORUM
from vault.cli.output import print_json
from vault.errors import InvalidArgumentError
from vault.witness.cosignature import QuorumNotMetError, WitnessKey, require_quorum
from vault.witness.quorum import proof_note, require_witnessed

QUORUM_KIND = "witness-quorum"


@dataclass(frozen=True, slots=True)
class WitnessPolicy:
    keys: tuple[WitnessKey, ...]
    quorum: int


def add_witness_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--witness-key",
        action="append",
        default=[],
        help="a witness's cosigner key (`witness public-key`); repeatable",
    )
    parser.add_argument(
        "--witness-quorum",
        type=int,
        help="distinct witness cosignatures required (default: every --witness-key)",
    )


def witness_policy(args: argparse.Namespace) -> WitnessPolicy | None:
    keys = tuple(WitnessKey.parse(text) for text in args.witness_key)
    if not keys:
        if args.witness_quorum is not None:
            raise InvalidArgumentError("--witness-quorum needs --witness-key")
        return None
    distinct = len({key.identity for key in keys})
    quorum = distinct if args.witness_quorum is None else args.witness_quorum
    if not 1 <= quorum <= distinct:
        raise InvalidArgumentError(f"--witness-quorum must be 1 to {distinct}")
    return WitnessPolicy(keys, quorum)


def _failed(args: argparse.Namespace, error: QuorumNotMetError) -> int:
    if args.json:
        print_json({"ok": False, "kind": QUORUM_KIND, "detail": str(error)}, compact=True)
    else:
        print(f"journal verification FAILED: {QUORUM_KIND}: {error}", file=sys.stderr)
    return EXIT_NO_QUORUM


def export_quorum_code(
    args: argparse.Namespace, policy: WitnessPolicy, notes: Iterable[str], matched: list[int]
) -> int:
    """0, or EXIT_NO_QUORUM (reported) if the largest matched checkpoint lacks it."""
    try:
        require_witnessed(notes, max(matched, default=None), policy.keys, policy.quorum)
    except QuorumNotMetError as error:
        return _failed(args, error)
    return 0


def proof_quorum_code(args: argparse.Namespace, policy: WitnessPolicy, data: bytes) -> int:
    """0, or EXIT_NO_QUORUM (reported) if the proof's (new) checkpoint lacks it."""
    return note_quorum_code(args, policy, proof_note(data))


def note_quorum_code(args: argparse.Namespace, policy: WitnessPolicy | None, note: str) -> int:
    """0, or EXIT_NO_QUORUM (reported) if the checkpoint `note` lacks the quorum;
    0 without a policy (no --witness-key)."""
    if policy is None:
        return 0
    try:
        require_quorum(note, policy.keys, policy.quorum)
    except QuorumNotMetError as error:
        return _failed(args, error)
    return 0
