"""The auditors' verifier: checks a journal export offline, in one pass, in constant memory.

Needs nothing of the vault but this module and the checkpoint verifier key: no database,
no blob store, no key provider. It reads export lines (vault/journal/export.py), and stops
at the first failure with its kind and sequence number:

| kind                | meaning                                                      |
|---------------------|--------------------------------------------------------------|
| malformed           | a line that is not an export line, or an entry not v1        |
| gap                 | a sequence number skipped                                     |
| reordering          | a sequence number repeated or going back                      |
| edited-entry        | an entry's bytes do not hash to its recorded entry hash       |
| broken-link         | an entry's `prev` is not the previous entry's chain hash      |
| time-backwards      | an entry is older than the one before it                      |
| bad-signature       | a checkpoint not validly signed by the verifier key           |
| rewritten-history   | a checkpoint's head differs from the chain at its size        |
| tail-cut            | a checkpoint covers entries the export does not have (*)      |
| certificate         | a destruction certificate whose signature fails, or whose     |
|                     | decision entry is not in the export as the certificate says   |

(*) An inline checkpoint must follow the entry whose sequence number is its size. A
published checkpoint newer than the export's last entry is normal for a live journal: it
is counted in `Summary.checkpoints_beyond_export`, and is a tail-cut only with
`expect_complete=True` (the export should reach every published checkpoint). Two
checkpoints of one size with different heads are rewritten history.

A chain that starts at sequence 1 is anchored at the genesis (32 zero bytes); an export of
a later range is anchored at its first entry's `prev`, and only checkpoints tie it to the
rest of the journal.

The verifier also builds the RFC 9162 Merkle tree of the entries (vault/journal/merkle.py)
when it can: from the genesis, or from a given `Frontier` of the entries before the range
(the checkpointer's replay). A v2 checkpoint's root is then checked too (its chain hash
always is); a v1 checkpoint has no root. Without the tree (a range export offline), v2
roots are left unchecked and `Summary.roots_matched` says how many were.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import orjson

from vault.errors import IntegrityError
from vault.journal.canonical import NotCanonicalError, parse_checked
from vault.journal.chain import ENTRY_DOMAIN, GENESIS_HASH, LINK_DOMAIN
from vault.journal.checkpoint import Checkpoint, VerifierKey, open_note, published_name
from vault.journal.export import (
    CANONICAL_OFFSET,
    CHECKPOINT_PREFIX,
    ENTRY_MIDDLE,
    ENTRY_PREFIX,
    HASH_HEX,
    checkpoint_line,
)
from vault.journal.merkle import Frontier

_PROGRESS_EVERY = 4096
_HEX_DIGITS = b"0123456789abcdef"
_HASH_START = len(ENTRY_PREFIX)
_HASH_END = _HASH_START + HASH_HEX
_ENTRY_HASHER = hashlib.sha256(ENTRY_DOMAIN)  # copied per entry: the prefix is hashed once
_LINK_HASHER = hashlib.sha256(LINK_DOMAIN)
_LEAF_HASHER = hashlib.sha256(b"\x00")  # RFC 9162 leaf: 0x00 || entry (merkle.leaf_hash)


class FailureKind(StrEnum):
    MALFORMED = "malformed"
    GAP = "gap"
    REORDERING = "reordering"
    EDITED_ENTRY = "edited-entry"
    BROKEN_LINK = "broken-link"
    TIME_BACKWARDS = "time-backwards"
    BAD_SIGNATURE = "bad-signature"
    REWRITTEN_HISTORY = "rewritten-history"
    TAIL_CUT = "tail-cut"
    CERTIFICATE = "certificate"
    NON_CANONICAL = "non-canonical"


class VerificationError(IntegrityError):
    """The first failure found in an export."""

    def __init__(self, kind: FailureKind, seq: int | None, detail: str) -> None:
        where = f" at sequence {seq}" if seq is not None else ""
        super().__init__(f"{kind.value}{where}: {detail}")
        self.kind, self.seq, self.detail = kind, seq, detail


@dataclass
class Summary:
    entries: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    first_time_us: int | None = None
    last_time_us: int | None = None
    head: str = GENESIS_HASH.hex()
    checkpoints_matched: list[int] = field(default_factory=list)
    anchored_at_genesis: bool = False
    checkpoints_beyond_export: int = 0
    certificates_matched: list[int] = field(default_factory=list)  # their decision entries
    roots_matched: list[int] = field(default_factory=list)  # v2 checkpoints' Merkle roots
    root: str | None = None  # the Merkle root at the last entry, when the tree was built


@dataclass(frozen=True, slots=True)
class Anchor:
    """What a destruction certificate says its decision entry is."""

    chain_hash: bytes
    dossier: str
    request_id: str  # the destruction's job id
    action: str = "dossier.destroy"


class _Verifier:
    def __init__(
        self,
        key: VerifierKey | None,
        checkpoints: Iterable[str | tuple[str, str]],
        expect_complete: bool,
        anchors: Mapping[int, Anchor],
        tree: Frontier | None,
    ) -> None:
        self.key = key
        self.tree = tree
        self.anchors = dict(anchors)
        self.expect_complete = expect_complete
        self.summary = Summary()
        self.expected_seq: int | None = None
        self.head = GENESIS_HASH
        self.head_hex = GENESIS_HASH.hex()  # as entries spell their `prev`
        self.last_time = 0
        self.after_entry = False  # the previous line was an entry: a checkpoint may follow
        self.pending: dict[int, Checkpoint] = {}  # published, by size (the earliest of a size)
        for note in checkpoints:
            self.add_published(note)

    def open(self, note: str, seq: int | None) -> Checkpoint:
        if self.key is None:
            raise VerificationError(
                FailureKind.BAD_SIGNATURE, seq, "a checkpoint was given but no verifier key"
            )
        try:
            return open_note(note, self.key)
        except IntegrityError as error:
            raise VerificationError(FailureKind.BAD_SIGNATURE, seq, str(error)) from None

    def add_published(self, published: str | tuple[str, str]) -> None:
        """A published checkpoint: a note, or (file name, note) to check the name too."""
        name, note = published if isinstance(published, tuple) else (None, published)
        checkpoint = self.open(note, None)
        if name is not None and name != published_name(checkpoint.size):
            raise VerificationError(
                FailureKind.MALFORMED,
                checkpoint.size,
                "a published checkpoint's file name is not its size",
            )
        known = self.pending.setdefault(checkpoint.size, checkpoint)
        roots = {c.root for c in (known, checkpoint) if c.root is not None}
        if known.chain_hash != checkpoint.chain_hash or len(roots) > 1:
            raise VerificationError(
                FailureKind.REWRITTEN_HISTORY,
                checkpoint.size,
                "two signed checkpoints of this size commit to different heads",
            )
        if checkpoint.time_us < known.time_us:  # the earliest one bounds the entry's time
            self.pending[checkpoint.size] = checkpoint

    def add_inline(self, note: str) -> None:
        """A checkpoint line: valid only right after the entry whose seq is its size."""
        seq = self.last_seq
        checkpoint = self.open(note, seq)
        if not self.after_entry or checkpoint.size != seq:
            raise VerificationError(
                FailureKind.MALFORMED, seq, f"checkpoint of size {checkpoint.size} out of place"
            )
        self.after_entry = False
        self.match(checkpoint)

    def match(self, checkpoint: Checkpoint) -> None:
        """`checkpoint` covers the entry just checked: same head, and not older than it."""
        size = checkpoint.size
        if checkpoint.chain_hash != self.head:
            raise VerificationError(
                FailureKind.REWRITTEN_HISTORY, size, "the chain differs from the signed checkpoint"
            )
        if checkpoint.root is not None and self.tree is not None:
            if checkpoint.root != self.tree.root():
                raise VerificationError(
                    FailureKind.REWRITTEN_HISTORY,
                    size,
                    "the Merkle root differs from the signed checkpoint's",
                )
            if size not in self.summary.roots_matched[-1:]:
                self.summary.roots_matched.append(size)
        if checkpoint.time_us < self.last_time:
            raise VerificationError(
                FailureKind.TIME_BACKWARDS, size, "a checkpoint is older than the entry it covers"
            )
        if size not in self.summary.checkpoints_matched[-1:]:  # inline and published
            self.summary.checkpoints_matched.append(size)

    def entry(self, line: bytes) -> None:
        """Checks one entry line, in the order docs/format.md fixes. The hot loop."""
        recorded = line[_HASH_START:_HASH_END]
        if (
            not line.endswith(b"}\n")
            or not line.startswith(ENTRY_MIDDLE, _HASH_END)
            or recorded.strip(_HEX_DIGITS)  # 64 bytes (the middle is in place), all hex
        ):
            raise VerificationError(FailureKind.MALFORMED, self.expected_seq, "bad entry line")
        canonical = line[CANONICAL_OFFSET:-2]
        try:
            fields = parse_checked(canonical)
        except NotCanonicalError as error:
            raise VerificationError(
                FailureKind.NON_CANONICAL, self.expected_seq, str(error)
            ) from None
        except ValueError:
            raise VerificationError(
                FailureKind.MALFORMED, self.expected_seq, "entry is not a v1 journal entry"
            ) from None
        seq: int = fields["seq"]
        time_us: int = fields["time_us"]
        prev = fields["prev"]
        if seq != self.expected_seq:
            self.check_position(seq, bytes.fromhex(prev), time_us)
        hasher = _ENTRY_HASHER.copy()
        hasher.update(canonical)
        if hasher.hexdigest().encode() != recorded:
            raise VerificationError(
                FailureKind.EDITED_ENTRY, seq, "the entry does not hash to its recorded hash"
            )
        if prev != self.head_hex:
            raise VerificationError(
                FailureKind.BROKEN_LINK, seq, "prev is not the previous entry's chain hash"
            )
        if time_us < self.last_time:
            raise VerificationError(
                FailureKind.TIME_BACKWARDS, seq, "older than the entry before it"
            )
        link = _LINK_HASHER.copy()
        link.update(self.head)
        link.update(hasher.digest())
        self.head = link.digest()
        self.head_hex = link.hexdigest()
        tree = self.tree
        if tree is not None:
            leaf = _LEAF_HASHER.copy()
            leaf.update(canonical)
            if type(tree) is Frontier:
                tree.push(leaf.digest())
            else:  # a subclass may record what `append` reports (tree.RecordingFrontier)
                tree.append(leaf.digest())
        self.last_time = time_us
        self.expected_seq = seq + 1
        self.after_entry = True
        if seq in self.pending:
            self.match(self.pending.pop(seq))
        if seq in self.anchors:
            self.check_anchor(seq, fields, self.anchors.pop(seq))

    def check_anchor(self, seq: int, fields: dict[str, object], anchor: Anchor) -> None:
        found = (self.head, fields.get("dossier"), fields.get("action"), fields.get("request_id"))
        if found != (anchor.chain_hash, anchor.dossier, anchor.action, anchor.request_id):
            raise VerificationError(
                FailureKind.CERTIFICATE, seq, "the entry is not the certificate's decision"
            )
        self.summary.certificates_matched.append(seq)

    def check_position(self, seq: int, prev: bytes, time_us: int) -> None:
        if self.expected_seq is None:  # the first entry anchors the chain
            self.expected_seq = seq
            self.summary.first_seq = seq
            self.summary.anchored_at_genesis = seq == 1
            self.head = GENESIS_HASH if seq == 1 else prev
            self.head_hex = self.head.hex()
            self.start_tree(seq)
            self.summary.first_time_us = time_us
            before = self.pending.pop(seq - 1, None)
            if before is not None and seq > 1:
                self.match_anchor(before)
            # checkpoints of sizes before this range cannot be checked against it
            self.pending = {size: c for size, c in self.pending.items() if size >= seq}
        if seq > self.expected_seq:
            raise VerificationError(FailureKind.GAP, self.expected_seq, f"the next entry is {seq}")
        if seq < self.expected_seq:
            raise VerificationError(FailureKind.REORDERING, seq, f"expected {self.expected_seq}")

    def start_tree(self, seq: int) -> None:
        """The tree from the genesis, or from the given frontier if it ends before `seq`;
        none otherwise (a range export without the tree before it)."""
        if self.tree is None and seq == 1:
            self.tree = Frontier()
        elif self.tree is not None and self.tree.size != seq - 1:
            self.tree = None

    def match_anchor(self, checkpoint: Checkpoint) -> None:
        """A range export's first `prev` against a published checkpoint of the size before."""
        if checkpoint.chain_hash != self.head:
            raise VerificationError(
                FailureKind.REWRITTEN_HISTORY,
                checkpoint.size,
                "the range does not start where the signed checkpoint ends",
            )
        self.summary.checkpoints_matched.append(checkpoint.size)

    @property
    def last_seq(self) -> int | None:
        return None if self.expected_seq is None else self.expected_seq - 1

    def finish(self) -> Summary:
        summary = self.summary
        if self.anchors:
            seq = min(self.anchors)
            raise VerificationError(
                FailureKind.CERTIFICATE, seq, "a certificate's decision entry is not in the export"
            )
        if self.pending and self.expect_complete:
            size = max(self.pending)
            raise VerificationError(
                FailureKind.TAIL_CUT,
                self.last_seq,
                f"a checkpoint covers {size} entries; the export ends before",
            )
        summary.checkpoints_beyond_export = len(self.pending)
        if summary.first_seq is not None and self.last_seq is not None:
            summary.last_seq = self.last_seq
            summary.entries = self.last_seq - summary.first_seq + 1  # contiguous, checked
            summary.last_time_us = self.last_time
        summary.head = self.head.hex()
        if self.tree is not None and summary.last_seq is not None:
            summary.root = self.tree.root().hex()
        return summary


def verify_export(
    lines: Iterable[bytes],
    key: VerifierKey | None,
    checkpoints: Iterable[str | tuple[str, str]] = (),
    on_progress: Callable[[int, int], None] | None = None,
    *,
    expect_complete: bool = False,
    anchors: Mapping[int, Anchor] | None = None,
    tree: Frontier | None = None,
) -> Summary:
    """Verifies export lines (bytes, newline included); raises VerificationError only.

    `checkpoints` are notes published outside the database, each alone or with its file
    name (which must then be `checkpoint-<size, 20 digits>.txt`); the export's own are read
    inline; with `expect_complete`, one newer than the export's last entry is a tail-cut
    (otherwise it is counted in the summary); `anchors` are destruction certificates'
    decision entries, each of which must be in the export as stated; `tree` is the Merkle
    frontier of the entries before the export's first (extended in place; ignored if it
    does not end there); `on_progress(lines, bytes)` is called every few thousand lines."""
    verifier = _Verifier(key, checkpoints, expect_complete, anchors or {}, tree)
    check_entry = verifier.entry
    done_bytes = 0
    for done_lines, line in enumerate(lines, start=1):
        done_bytes += len(line)
        if on_progress is not None and not done_lines % _PROGRESS_EVERY:
            on_progress(done_lines, done_bytes)
        if line.startswith(ENTRY_PREFIX):
            check_entry(line)
        elif line.startswith(CHECKPOINT_PREFIX):
            verifier.add_inline(_checkpoint_note(line, verifier.last_seq))
        else:
            raise VerificationError(
                FailureKind.MALFORMED,
                verifier.last_seq,
                "neither an entry line nor a checkpoint line",
            )
    return verifier.finish()


def _checkpoint_note(line: bytes, seq: int | None) -> str:
    """The note of a checkpoint line, which must be byte for byte the line the exporter
    writes for it; hostile input raises VerificationError only."""
    try:
        note = orjson.loads(line)["checkpoint"]
    except (ValueError, KeyError, TypeError, RecursionError):
        note = None
    if not isinstance(note, str) or checkpoint_line(note) != line:
        raise VerificationError(FailureKind.MALFORMED, seq, "bad checkpoint line")
    return note
