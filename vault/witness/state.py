"""The witness's durable state: the latest checkpoint it cosigned, per log origin.

One JSON file (docs/format.md, "Witness state file"), one line:

    {"logs":{"<origin>":{"checkpoint":"<note>","root":"<base64>","size":N}},"version":1}

written whole on every change: to a temporary file in the same directory, fsynced,
renamed over the old one, then the directory fsynced, so a crash leaves the old state or
the new one, never a mix. A missing file is the empty state (a new witness); a file that
cannot be read or parsed is an IntegrityError, never a silent reset to size 0 (which would
let the witness cosign a fork of what it had seen). What it does not: decide anything
(vault/witness/witness.py), or lock (the witness serialises its updates).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

from vault.durable import replace_atomically
from vault.errors import IntegrityError, UnavailableError

_VERSION = 1


@dataclass(frozen=True, slots=True)
class LogState:
    size: int
    root: bytes
    note: str


def encode_state(logs: dict[str, LogState]) -> bytes:
    document = {
        "logs": {
            origin: {
                "checkpoint": s.note,
                "root": base64.b64encode(s.root).decode(),
                "size": s.size,
            }
            for origin, s in sorted(logs.items())
        },
        "version": _VERSION,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode() + b"\n"


def decode_state(data: bytes) -> dict[str, LogState]:
    try:
        document = json.loads(data)
        if document["version"] != _VERSION:
            raise ValueError("unknown version")
        logs = {}
        for origin, log in document["logs"].items():
            size, root = log["size"], base64.b64decode(log["root"], validate=True)
            if type(size) is not int or size < 1 or len(root) != 32:
                raise ValueError("bad size or root")
            if not isinstance(log["checkpoint"], str):
                raise ValueError("bad checkpoint")
            logs[str(origin)] = LogState(size, root, log["checkpoint"])
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise IntegrityError("the witness state file is corrupt: refusing to start") from e
    return logs


class StateFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, LogState]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise UnavailableError("cannot read the witness state file") from e
        return decode_state(data)

    def save(self, logs: dict[str, LogState]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            replace_atomically(self.path, encode_state(logs))
        except OSError as e:
            raise UnavailableError("cannot write the witness state file") from e
