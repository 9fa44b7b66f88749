"""The RFC 9162 Merkle tree: known answers, and proofs against a naive recursive MTH.

The known answers are the RFC 6962 reference vectors as published in
transparency-dev/merkle (`testonly/constants.go`: leaf inputs, roots for sizes 1 to 8;
`proof/verify_test.go`: inclusion and consistency proofs), themselves taken from the
certificate-transparency reference implementation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vault.errors import InvalidArgumentError
from vault.journal.merkle import (
    EMPTY_ROOT,
    Frontier,
    ProofError,
    consistency_ranges,
    fold,
    frontier_nodes,
    inclusion_ranges,
    leaf_hash,
    node_hash,
    perfect_nodes,
    perfect_root,
    prove,
    verify_consistency,
    verify_inclusion,
)

LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    bytes.fromhex(h)
    for h in (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]
INCLUSION = [  # (leaf index from 0, tree size, proof)
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
CONSISTENCY = [  # (old size, new size, proof)
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]  # fmt: skip


def naive_mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1, word for word."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + naive_mth(leaves[:k]) + naive_mth(leaves[k:])).digest()


class ListSource:
    def __init__(self, leaves: list[bytes]) -> None:
        self.leaves = leaves

    def mth(self, start: int, end: int) -> bytes:
        return naive_mth(self.leaves[start:end])


def test_empty_tree_root_is_the_hash_of_nothing() -> None:
    assert Frontier().root() == EMPTY_ROOT == naive_mth([])


def test_reference_roots_for_every_size() -> None:
    frontier = Frontier()
    for size, leaf in enumerate(LEAVES, start=1):
        frontier.append(leaf_hash(leaf))
        assert frontier.root() == ROOTS[size - 1] == naive_mth(LEAVES[:size])


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_reference_inclusion_proofs(index: int, size: int, proof: list[str]) -> None:
    expected = [bytes.fromhex(h) for h in proof]
    assert prove(inclusion_ranges(index, size), ListSource(LEAVES[:size])) == expected
    verify_inclusion(index, size, leaf_hash(LEAVES[index]), expected, ROOTS[size - 1])


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_reference_consistency_proofs(old: int, new: int, proof: list[str]) -> None:
    expected = [bytes.fromhex(h) for h in proof]
    assert prove(consistency_ranges(old, new), ListSource(LEAVES[:new])) == expected
    verify_consistency(old, new, ROOTS[old - 1], ROOTS[new - 1], expected)


leaf_lists = st.lists(st.binary(max_size=8), min_size=1, max_size=70, unique=True)  # distinct: a
# wrong index would otherwise prove an equal leaf


@settings(max_examples=150, deadline=None)
@given(leaf_lists)
def test_frontier_root_is_the_naive_root_at_every_size(leaves: list[bytes]) -> None:
    frontier = Frontier()
    for size, leaf in enumerate(leaves, start=1):
        for level, index, digest in frontier.append(leaf_hash(leaf)):
            assert digest == naive_mth(leaves[index << level : (index + 1) << level])
        assert frontier.root() == naive_mth(leaves[:size])


@settings(max_examples=150, deadline=None)
@given(leaf_lists, st.data())
def test_a_frontier_rebuilt_from_its_nodes_carries_on(
    leaves: list[bytes], data: st.DataObject
) -> None:
    cut = data.draw(st.integers(0, len(leaves)))
    hashes = [naive_mth(leaves[i << lv : (i + 1) << lv]) for lv, i in frontier_nodes(cut)]
    frontier = Frontier(cut, hashes)
    for leaf in leaves[cut:]:
        frontier.append(leaf_hash(leaf))
    assert frontier.root() == naive_mth(leaves)


@settings(max_examples=200, deadline=None)
@given(leaf_lists, st.data())
def test_every_inclusion_proof_verifies_and_no_tampered_one_does(
    leaves: list[bytes], data: st.DataObject
) -> None:
    size = len(leaves)
    index = data.draw(st.integers(0, size - 1))
    root, leaf = naive_mth(leaves), leaf_hash(leaves[index])
    proof = prove(inclusion_ranges(index, size), ListSource(leaves))
    verify_inclusion(index, size, leaf, proof, root)
    # transparency-dev/merkle's probes: a size of the same height may prove the same path
    # (leaf 0 of 3 or of 4 leaves); the signed root tells those apart
    for wrong_index, wrong_size in ((index + 1, size), (index - 1, size), (index ^ 2, size),
                                    (index, size * 2), (index, size // 2)):  # fmt: skip
        if (wrong_index, wrong_size) != (index, size) and 0 <= wrong_index < wrong_size:
            _refused(verify_inclusion, wrong_index, wrong_size, leaf, proof, root)
    for flipped in _single_bit_flips(data, [leaf, root, *proof]):
        f_leaf, f_root, *f_proof = flipped
        _refused(verify_inclusion, index, size, f_leaf, f_proof, f_root)
    if proof:
        _refused(verify_inclusion, index, size, leaf, proof[:-1], root)
    _refused(verify_inclusion, index, size, leaf, [*proof, root], root)


@settings(max_examples=200, deadline=None)
@given(leaf_lists, st.data())
def test_every_consistency_proof_verifies_and_no_tampered_one_does(
    leaves: list[bytes], data: st.DataObject
) -> None:
    new = len(leaves)
    old = data.draw(st.integers(1, new))
    old_root, new_root = naive_mth(leaves[:old]), naive_mth(leaves)
    proof = prove(consistency_ranges(old, new), ListSource(leaves))
    verify_consistency(old, new, old_root, new_root, proof)
    if old == new:
        assert proof == []
        return
    for wrong_old, wrong_new in ((old - 1, new), (old + 1, new), (old ^ 2, new), (old, new * 2),
                                 (old, new // 2)):  # fmt: skip
        if 0 < wrong_old <= wrong_new and (wrong_old, wrong_new) != (old, new):
            _refused(verify_consistency, wrong_old, wrong_new, old_root, new_root, proof)
    for flipped in _single_bit_flips(data, [old_root, new_root, *proof]):
        f_old, f_new, *f_proof = flipped
        _refused(verify_consistency, old, new, f_old, f_new, f_proof)
    _refused(verify_consistency, old, new, old_root, new_root, proof[:-1])
    _refused(verify_consistency, old, new, old_root, new_root, [*proof, new_root])


def _single_bit_flips(data: st.DataObject, hashes: list[bytes]) -> list[list[bytes]]:
    """One copy per hash, with one bit of that hash flipped (the bit drawn)."""
    flips = []
    for i in range(len(hashes)):
        bit = data.draw(st.integers(0, 255))
        changed = bytearray(hashes[i])
        changed[bit // 8] ^= 1 << (bit % 8)
        flips.append([*hashes[:i], bytes(changed), *hashes[i + 1 :]])
    return flips


def _refused(check: Callable[..., None], *arguments: object) -> None:
    with pytest.raises(ProofError):
        check(*arguments)


def test_a_hash_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ProofError):
        verify_inclusion(0, 1, b"short", [], ROOTS[0])


def test_a_leaf_is_never_taken_for_a_node() -> None:
    """The 0x00/0x01 prefixes: the hash of two leaves' hashes as one leaf differs."""
    left, right = leaf_hash(b"a"), leaf_hash(b"b")
    assert leaf_hash(left + right) != node_hash(left, right)


@settings(deadline=None)
@given(st.integers(0, 2**20), st.integers(1, 2**20))
def test_perfect_nodes_cover_a_subtree_range_exactly(start: int, size: int) -> None:
    step = 1 << (size - 1).bit_length()
    start -= start % step
    nodes = perfect_nodes(start, start + size)
    assert sum(1 << level for level, _ in nodes) == size
    position = start
    for level, index in nodes:
        assert index << level == position
        position += 1 << level


def test_a_range_that_is_no_subtree_is_refused() -> None:
    with pytest.raises(InvalidArgumentError):
        perfect_nodes(1, 3)


def test_perfect_root_and_fold_agree_with_the_naive_root() -> None:
    hashes = [leaf_hash(leaf) for leaf in LEAVES]
    assert perfect_root(hashes) == ROOTS[7]
    assert fold([perfect_root(hashes[:4]), hashes[4]]) == ROOTS[4]


@settings(max_examples=100, deadline=None)
@given(leaf_lists, st.data())
def test_push_and_append_build_the_same_frontier(leaves: list[bytes], data: st.DataObject) -> None:
    """The verifier's `push` (no completed subtrees reported), mixed with `append`."""
    frontier = Frontier()
    for size, leaf in enumerate(leaves, start=1):
        if data.draw(st.booleans()):
            frontier.push(leaf_hash(leaf))
        else:
            frontier.append(leaf_hash(leaf))
        assert frontier.root() == naive_mth(leaves[:size])
