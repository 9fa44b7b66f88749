"""The RFC 9162 Merkle tree (§2.1) over the journal's entries: hashes, proofs, frontier.

Pure: SHA-256 from hashlib, no I/O. What it does:

    leaf hash  = SHA-256(0x00 || entry bytes)          (the entry's canonical bytes)
    node hash  = SHA-256(0x01 || left || right)
    MTH({})    = SHA-256("")

- `Frontier`, the compact range [0, n): the perfect subtrees that make up the tree of n
  leaves, at most one per level, O(log n) hashes. Appending a leaf merges equal levels
  and reports each perfect subtree it completes (the storage keeps some of them);
  `root()` is MTH of the n leaves.
- `inclusion_ranges` and `consistency_ranges`: which leaf ranges the RFC's PATH
  (§2.1.3.1) and PROOF (§2.1.4.1) hash, in the RFC's order; a `Source` gives the MTH of
  each range (every such range [a, b) starts at a multiple of the smallest power of two
  not below b - a, so it is a few perfect subtrees: `perfect_nodes`).
- `verify_inclusion` and `verify_consistency`: the RFC's iterative algorithms (§2.1.3.2,
  §2.1.4.2), which raise `ProofError` (an `IntegrityError`) on any mismatch.

What it does not do: store nodes (vault/journal/tree.py), read entries, or check
signatures (vault/journal/checkpoint.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Protocol

from vault.errors import IntegrityError, InvalidArgumentError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
_LEAF = hashlib.sha256(b"\x00")  # copied per leaf: the prefix is hashed once
_NODE = b"\x01"


class ProofError(IntegrityError):
    """A Merkle proof that does not prove what it claims."""


def leaf_hash(entry: bytes) -> bytes:
    hasher = _LEAF.copy()
    hasher.update(entry)
    return hasher.digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE + left + right).digest()


def fold(hashes: Sequence[bytes]) -> bytes:
    """MTH of consecutive perfect subtrees of decreasing sizes (a range's `perfect_nodes`),
    combined from the right, as RFC 9162 builds an incomplete tree."""
    if not hashes:
        return EMPTY_ROOT
    root = hashes[-1]
    for left in reversed(hashes[:-1]):
        root = node_hash(left, root)
    return root


def perfect_root(hashes: Sequence[bytes]) -> bytes:
    """MTH of 2^k hashes of one level (a perfect subtree from its lowest stored level)."""
    level = list(hashes)
    if not level or len(level) & (len(level) - 1):
        raise InvalidArgumentError("a perfect subtree has a power of two of children")
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_nodes(start: int, end: int) -> list[tuple[int, int]]:
    """The perfect subtrees (level, index) whose leaves, left to right, are [start, end):
    at most one per level, sizes decreasing. `start` must be a multiple of the smallest
    power of two not below end - start (true of every range the RFC's proofs hash)."""
    size = end - start
    if size <= 0 or start % (1 << (size - 1).bit_length()):
        raise InvalidArgumentError("not a Merkle subtree range")
    nodes = []
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            nodes.append((level, start >> level))
            start += 1 << level
    return nodes


def frontier_nodes(size: int) -> list[tuple[int, int]]:
    """The perfect subtrees that make up the tree of `size` leaves (its compact range)."""
    return perfect_nodes(0, size) if size else []


class Frontier:
    """The compact range [0, size): appends leaf hashes, gives the root; O(log n) memory."""

    __slots__ = ("_hashes", "_levels", "size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        """The frontier of a tree of `size` leaves, from the hashes of its
        `frontier_nodes(size)`, left to right."""
        levels = [level for level, _ in frontier_nodes(size)]
        if len(hashes) != len(levels) or any(len(h) != HASH_SIZE for h in hashes):
            raise InvalidArgumentError("a frontier needs one hash per perfect subtree")
        self.size = size
        self._levels = levels
        self._hashes = list(hashes)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Adds a leaf hash; the perfect subtrees (level, index, hash) it completes above
        the leaves, lowest first."""
        levels, hashes = self._levels, self._hashes
        levels.append(0)
        hashes.append(leaf)
        self.size += 1
        completed = []
        while len(levels) > 1 and levels[-1] == levels[-2]:
            right, level = hashes.pop(), levels.pop() + 1
            hashes[-1] = node_hash(hashes[-1], right)
            levels[-1] = level
            completed.append((level, (self.size >> level) - 1, hashes[-1]))
        return completed

    def push(self, leaf: bytes) -> None:
        """`append` without the completed subtrees (the verifier's hot path): leaf number
        size + 1 merges as many subtrees as size + 1 has trailing zero bits."""
        levels, hashes = self._levels, self._hashes
        self.size += 1
        size, level = self.size, 0
        while not size & 1:
            leaf = hashlib.sha256(_NODE + hashes.pop() + leaf).digest()
            levels.pop()
            size >>= 1
            level += 1
        hashes.append(leaf)
        levels.append(level)

    def root(self) -> bytes:
        return fold(self._hashes)

    def copy(self) -> Frontier:
        return Frontier(self.size, self._hashes)


class Source(Protocol):
    """Where a proof's hashes come from: MTH of leaves [start, end), a subtree range."""

    def mth(self, start: int, end: int) -> bytes: ...


class TreeStore(Protocol):
    """The stored tree, as proofs read it (vault/journal/tree.py)."""

    def size(self) -> int:
        """The number of leaves the stored tree covers."""
        ...

    def prove(self, ranges: Iterable[tuple[int, int]]) -> list[bytes]:
        """The MTH of each subtree range (`inclusion_ranges`, `consistency_ranges`)."""
        ...


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs are PATH(index, D[size]) (RFC 9162 §2.1.3.1), from the
    leaf's sibling up."""
    if not 0 <= index < size:
        raise InvalidArgumentError("the leaf is not in the tree")
    path: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append((start + k, end))
            end = start + k
        else:
            path.append((start, start + k))
            start += k
    return path[::-1]


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs are PROOF(old_size, D[new_size]) (RFC 9162 §2.1.4.1);
    empty when the sizes are equal."""
    if not 0 < old_size <= new_size:
        raise InvalidArgumentError("a consistency proof needs 0 < old size <= new size")
    proof: list[tuple[int, int]] = []
    start, end, m, whole = 0, new_size, old_size, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            proof.append((start + k, end))
            end = start + k
        else:
            proof.append((start, start + k))
            start, m, whole = start + k, m - k, False
    if not whole:
        proof.append((start, end))
    return proof[::-1]


def prove(ranges: Iterable[tuple[int, int]], source: Source) -> list[bytes]:
    return [source.mth(start, end) for start, end in ranges]


def _check_hashes(hashes: Iterable[bytes]) -> None:
    if any(len(h) != HASH_SIZE for h in hashes):
        raise ProofError("a proof hash is not 32 bytes")


def _shift_while_even(fn: int, sn: int) -> tuple[int, int]:
    """Right-shifts both until fn's least significant bit is set or fn is 0."""
    while fn and not fn & 1:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 §2.1.3.2: `leaf` is leaf `index` (from 0) of the tree of `size` whose
    root is `root`; raises ProofError otherwise."""
    _check_hashes([leaf, root, *proof])
    if not 0 <= index < size:
        raise ProofError("the leaf index is not within the tree size")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                fn, sn = _shift_while_even(fn, sn)
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or r != root:
        raise ProofError("the inclusion proof does not lead to the root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 §2.1.4.2: the tree of `new_size` whose root is `new_root` extends the
    tree of `old_size` whose root is `old_root`; raises ProofError otherwise. Equal sizes
    need equal roots and an empty proof."""
    _check_hashes([old_root, new_root, *proof])
    if not 0 < old_size <= new_size:
        raise ProofError("a consistency proof needs 0 < old size <= new size")
    if old_size == new_size:
        if proof or old_root != new_root:
            raise ProofError("two trees of one size with different roots")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    path = list(proof)
    if not old_size & (old_size - 1):  # a power of two: the old root is a node of the new
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                fn, sn = _shift_while_even(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or fr != old_root or sr != new_root:
        raise ProofError("the consistency proof does not lead to both roots")
