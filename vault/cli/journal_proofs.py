"""`dossier-vault journal prove` and `journal verify-proof`: Merkle proofs of the journal.

`prove` asks the server (auditor token) for an inclusion proof of one entry, or a
consistency proof between two checkpoints, and writes the proof file
(docs/format.md, "Journal proofs v1"). `verify-proof` is the auditors' offline check: it
needs the proof file and the checkpoint verifier key, nothing of the vault, and exits
with a code per failure kind (see `--help`). What it does not: trust the server that
made the proof (the signed checkpoint inside it is what is checked).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from vault.cli import journal_tiles
from vault.cli.connect import client_from_args
from vault.cli.exitcodes import PROOF_EXIT_CODES, epilog, proof_codes
from vault.cli.journal_files import (
    add_key_flags,
    read_proof_file,
    verifier_key,
    write_atomically,
)
from vault.cli.journal_witness import add_witness_flags, proof_quorum_code, witness_policy
from vault.cli.output import print_json
from vault.errors import InvalidArgumentError
from vault.journal.proofs import ProofFailedError, verify_proof


def cmd_verify_proof(args: argparse.Namespace) -> int:
    key = verifier_key(args)
    if key is None:
        raise InvalidArgumentError(
            "no verifier key given: pass --key or --key-file (`dossier-vault journal public-key`)"
        )
    witnesses = witness_policy(args)
    data = read_proof_file(args.proof)
    try:
        claim = verify_proof(data, key)
    except ProofFailedError as failure:
        if args.json:
            print_json({"ok": False, "kind": failure.kind.value, "detail": failure.detail})
        else:
            print(f"journal proof FAILED: {failure}", file=sys.stderr)
        return PROOF_EXIT_CODES[failure.kind]
    if witnesses and (code := proof_quorum_code(args, witnesses, data)):
        return code
    if args.json:
        print_json({"ok": True, "proof": claim.proof, "size": claim.size, "seq": claim.seq,
                    "old_size": claim.old_size})  # fmt: skip
    elif claim.proof == "inclusion":
        print(f"proof verified: entry {claim.seq} is in the signed journal of {claim.size} entries")
    else:
        print(
            f"proof verified: the signed journal of {claim.size} entries extends the signed "
            f"journal of {claim.old_size}"
        )
    return 0


def cmd_prove(args: argparse.Namespace) -> int:
    if (args.seq is None) == (args.old_size is None):
        raise InvalidArgumentError("give --seq (inclusion) or --old-size (consistency)")
    if args.tiles:  # from a tiles directory alone (ADR 0043)
        document = journal_tiles.proof_from_tiles(
            Path(args.tiles), args.seq, args.old_size, args.size
        )
    else:
        with client_from_args(args) as client:
            if args.seq is not None:
                document = client.inclusion_proof(args.seq, args.size)
            else:
                document = client.consistency_proof(args.old_size, args.size)
    write_atomically(Path(args.output), document)
    if args.json:
        print_json({"output": args.output})
    else:
        print(f"wrote the proof to {args.output}", file=sys.stderr)
    return 0


def register(journal: Any) -> None:
    """Adds `prove` and `verify-proof` to the `journal` subparsers."""
    verify = journal.add_parser(
        "verify-proof",
        help="verify an inclusion or consistency proof offline (auditors)",
        epilog=epilog("the proof verified", proof_codes()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Checks a proof file's signed checkpoints and its Merkle proof.",
    )
    verify.add_argument("proof", help="proof file (`journal prove`), or - for standard input")
    add_key_flags(verify)
    add_witness_flags(verify)
    verify.add_argument("--json", action="store_true", help="machine-readable result")
    verify.set_defaults(handler=cmd_verify_proof)

    prove = journal.add_parser("prove", help="fetch a Merkle proof from the server (auditors)")
    prove.add_argument("-o", "--output", required=True, help="the proof file to write")
    prove.add_argument("--seq", type=int, help="inclusion: the entry's sequence number")
    prove.add_argument("--old-size", type=int, help="consistency: the older checkpoint's size")
    prove.add_argument(
        "--size", type=int, default=0, help="the checkpoint's size (default: the newest v2 one)"
    )
    prove.add_argument(
        "--tiles",
        help="make the proof from a tiles directory (a mirror of the checkpoint directory) "
        "instead of asking the server",
    )
    prove.add_argument("--json", action="store_true", help="machine-readable output")
    prove.set_defaults(handler=cmd_prove)
