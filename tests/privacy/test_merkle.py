"""RFC 6962 Merkle maths against transparency-dev/merkle's vectors, plus generation and entry encoding."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privacy import (
    CanonicalEncodingError,
    CompactRange,
    NodeRoots,
    ProofError,
    canonical_entry,
    consistency_proof,
    consistency_proof_from,
    inclusion_proof,
    inclusion_proof_from,
    leaf_hash,
    tree_root,
    verify_consistency,
    verify_inclusion,
)
from privacy.merkle import EMPTY_ROOT, node_hash

VECTORS = Path(__file__).parent / "testdata" / "merkle" / "testdata"


def load(kind: str) -> list[tuple[str, dict[str, Any]]]:
    files = sorted((VECTORS / kind).rglob("*.json"))
    return [(str(f.relative_to(VECTORS)), json.loads(f.read_text())) for f in files]


INCLUSION = load("inclusion")
CONSISTENCY = load("consistency")


def b64(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def proof_of(vector: dict[str, Any]) -> list[bytes]:
    return [b64(p) for p in vector["proof"] or []]


def test_every_vector_file_is_loaded() -> None:
    # Guards the parametrised tests below from passing vacuously.
    assert len(INCLUSION) == len(list((VECTORS / "inclusion").rglob("*.json"))) == 98
    assert len(CONSISTENCY) == len(list((VECTORS / "consistency").rglob("*.json"))) == 98
    for vectors in (INCLUSION, CONSISTENCY):
        assert any(not v["wantErr"] for _, v in vectors)
        assert any(v["wantErr"] for _, v in vectors)


@pytest.mark.parametrize(("name", "vector"), INCLUSION, ids=[n for n, _ in INCLUSION])
def test_inclusion_vector(name: str, vector: dict[str, Any]) -> None:
    def verify() -> None:
        verify_inclusion(
            vector["leafIdx"],
            vector["treeSize"],
            b64(vector["leafHash"]),
            proof_of(vector),
            b64(vector["root"]),
        )

    if vector["wantErr"]:
        with pytest.raises(ProofError):
            verify()
    else:
        verify()


@pytest.mark.parametrize(("name", "vector"), CONSISTENCY, ids=[n for n, _ in CONSISTENCY])
def test_consistency_vector(name: str, vector: dict[str, Any]) -> None:
    def verify() -> None:
        verify_consistency(
            vector["size1"], vector["size2"], proof_of(vector), b64(vector["root1"]), b64(vector["root2"])
        )

    if vector["wantErr"]:
        with pytest.raises(ProofError):
            verify()
    else:
        verify()


# Leaves and roots of the 8-leaf reference tree of RFC 6962's test suite (as used by transparency-dev).
LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
ROOTS = [
    bytes.fromhex(h)
    for h in [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
]


def test_reference_tree_roots() -> None:
    hashes = [leaf_hash(leaf) for leaf in LEAVES]
    assert tree_root([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    for size in range(1, 9):
        assert tree_root(hashes, size) == ROOTS[size - 1]


def test_hashing_is_domain_separated() -> None:
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert node_hash(b"l", b"r") == hashlib.sha256(b"\x01lr").digest()


def test_reference_proofs() -> None:
    hashes = [leaf_hash(leaf) for leaf in LEAVES]
    assert [p.hex() for p in consistency_proof(hashes, 2, 5)] == [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ]
    assert [p.hex() for p in inclusion_proof(hashes, 5, 8)] == [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]


def test_generated_proofs_verify_for_every_index_and_size() -> None:
    hashes = [leaf_hash(i.to_bytes(2, "big")) for i in range(33)]
    roots = [tree_root(hashes, n) for n in range(len(hashes) + 1)]
    for size in range(1, len(hashes) + 1):
        for index in range(size):
            proof = inclusion_proof(hashes, index, size)
            verify_inclusion(index, size, hashes[index], proof, roots[size])
            with pytest.raises(ProofError):
                verify_inclusion(index, size, hashes[(index + 1) % len(hashes)], proof, roots[size])
        for size1 in range(1, size + 1):
            proof = consistency_proof(hashes, size1, size)
            verify_consistency(size1, size, proof, roots[size1], roots[size])
            if size1 < size:
                with pytest.raises(ProofError):
                    verify_consistency(size1, size, proof, roots[size1], roots[size - 1])


@settings(deadline=None)  # the machine is shared: no per-example deadline
@given(st.lists(st.binary(max_size=8), min_size=2, max_size=40), st.data())
def test_a_rewritten_history_is_not_consistent(entries: list[bytes], data: st.DataObject) -> None:
    # Given a log and a later log in which one old entry was altered
    size1 = data.draw(st.integers(1, len(entries) - 1))
    victim = data.draw(st.integers(0, size1 - 1))
    hashes = [leaf_hash(e) for e in entries]
    forged = list(hashes)
    forged[victim] = leaf_hash(entries[victim] + b"!")
    proof = consistency_proof(forged, size1)
    # Then the forged log's proof does not connect to the honest old root
    with pytest.raises(ProofError):
        verify_consistency(size1, len(entries), proof, tree_root(hashes, size1), tree_root(forged))


def test_proof_arguments_are_checked() -> None:
    hashes = [leaf_hash(b"a"), leaf_hash(b"b")]
    with pytest.raises(ValueError, match="range"):
        inclusion_proof(hashes, 2)
    with pytest.raises(ValueError, match="range"):
        consistency_proof(hashes, 0)
    with pytest.raises(ValueError, match="range"):
        tree_root(hashes, 3)


def test_canonical_entry() -> None:
    entry = {
        "seq": 7,
        "action": "disclosure.allowed",
        "fields": ["whereabouts", "contact"],
        "actor": "u-1",
        "ok": True,
        "note": None,
    }
    assert canonical_entry(entry) == (
        b'{"action":"disclosure.allowed","actor":"u-1","fields":["whereabouts","contact"],"note":null,"ok":true,"seq":7}'
    )
    assert canonical_entry({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()


@pytest.mark.parametrize(
    "bad", [{"x": 1.5}, {"x": float("nan")}, {"x": 2**60}, {"x": {1: "a"}}, {"x": b"raw"}, {"x": {"y"}}]
)
def test_canonical_entry_refuses_ambiguous_values(bad: dict[str, Any]) -> None:
    with pytest.raises(CanonicalEncodingError):
        canonical_entry(bad)


@pytest.mark.parametrize(("size1", "size2"), [(-1, 5), (-3, -1), (-1, -1)])
def test_negative_sizes_are_refused(size1: int, size2: int) -> None:
    with pytest.raises(ProofError):
        verify_consistency(size1, size2, [bytes(32)], bytes(32), bytes(32))
    with pytest.raises(ProofError):
        verify_inclusion(size1, size2, bytes(32), [bytes(32)], bytes(32))


def _leaves(count: int) -> list[bytes]:
    return [leaf_hash(f"entry {n}".encode()) for n in range(count)]


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 32, 33, 100])
def test_compact_range_root_equals_the_tree_root(size: int) -> None:
    compact = CompactRange()
    compact.extend(_leaves(size))

    assert compact.size == size
    assert compact.root() == tree_root(_leaves(size))
    assert len(compact.hashes) == size.bit_count()


@given(st.integers(0, 200), st.integers(0, 200))
@settings(max_examples=60, deadline=None)
def test_a_compact_range_resumes_from_its_stored_hashes(first: int, more: int) -> None:
    leaves = _leaves(first + more)
    earlier = CompactRange()
    earlier.extend(leaves[:first])

    resumed = CompactRange(earlier.size, earlier.hashes)
    resumed.extend(leaves[first:])

    assert resumed.root() == tree_root(leaves)


def test_a_compact_range_with_the_wrong_number_of_hashes_is_refused() -> None:
    with pytest.raises(ProofError):
        CompactRange(3, [EMPTY_ROOT])
    with pytest.raises(ProofError):
        CompactRange.from_bytes(3, EMPTY_ROOT)
    with pytest.raises(ProofError):
        CompactRange.from_bytes(1, EMPTY_ROOT + b"\x00")


def test_a_compact_range_is_stored_as_its_hashes() -> None:
    compact = CompactRange()
    compact.extend(_leaves(13))

    stored = CompactRange.from_bytes(13, compact.to_bytes())

    assert len(compact.to_bytes()) == 3 * 32
    assert (stored.size, stored.hashes, stored.root()) == (13, compact.hashes, compact.root())


def _largest_power_of_two_at_most(n: int) -> int:
    return 1 << (n.bit_length() - 1)


@given(st.integers(1, 300).flatmap(lambda size: st.tuples(st.just(size), st.integers(0, size - 1))))
@settings(max_examples=80, deadline=None)
def test_proofs_from_node_roots_ask_only_for_aligned_nodes(size_and_index: tuple[int, int]) -> None:
    size, index = size_and_index
    leaves = _leaves(size)
    asked: list[tuple[int, int]] = []

    def root_of(lo: int, hi: int) -> bytes:
        asked.append((lo, hi))
        return tree_root(leaves[lo:hi])

    inclusion = inclusion_proof_from(root_of, index, size)
    consistency = consistency_proof_from(root_of, index + 1, size)

    assert inclusion == inclusion_proof(leaves, index)
    assert consistency == consistency_proof(leaves, index + 1)
    assert all(lo % _largest_power_of_two_at_most(hi - lo) == 0 for lo, hi in asked)
    verify_inclusion(index, size, leaves[index], inclusion, tree_root(leaves))


@pytest.mark.parametrize(("index", "size"), [(-1, 3), (3, 3), (0, 0)])
def test_an_inclusion_proof_out_of_range_is_refused(index: int, size: int) -> None:
    with pytest.raises(ValueError, match="range"):
        inclusion_proof_from(lambda lo, hi: EMPTY_ROOT, index, size)


@pytest.mark.parametrize(("size1", "size2"), [(0, 3), (4, 3), (-1, 2)])
def test_a_consistency_proof_out_of_range_is_refused(size1: int, size2: int) -> None:
    with pytest.raises(ValueError, match="range"):
        consistency_proof_from(lambda lo, hi: EMPTY_ROOT, size1, size2)


@given(st.integers(0, 300))
@settings(max_examples=60, deadline=None)
def test_a_compact_range_names_the_perfect_subtrees_it_holds(size: int) -> None:
    leaves = _leaves(size)
    compact = CompactRange()
    compact.extend(leaves)
    held = {}
    start = 0
    for bit in (1 << s for s in range(size.bit_length() - 1, -1, -1)):
        if size & bit:
            held[(start, bit)] = tree_root(leaves[start : start + bit])
            start += bit

    for (begin, width), root in held.items():
        assert compact.subtree(begin, width) == root
    for begin in range(size):
        for width in (1, 2, 4, 8, 16, 32, 64, 128, 256):
            if (begin, width) not in held:
                assert compact.subtree(begin, width) is None


class _CountingLeaves:
    def __init__(self, leaves: list[bytes]) -> None:
        self.leaves = leaves
        self.read = 0

    def __call__(self, lo: int, hi: int) -> list[bytes]:
        self.read += hi - lo
        return self.leaves[lo:hi]


def _known_from_compact_ranges(leaves: list[bytes], every: int) -> Any:
    """Subtree roots as a log keeps them: the compact range of the tree at every ``every`` entries."""
    ranges = []
    compact = CompactRange()
    for leaf in leaves:
        compact.append(leaf)
        if compact.size % every == 0:
            ranges.append(CompactRange(compact.size, compact.hashes))

    def known(begin: int, width: int) -> bytes | None:
        return next((r.subtree(begin, width) for r in ranges if r.subtree(begin, width)), None)

    return known


@given(st.integers(1, 700).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1), st.integers(1, n))))
@settings(max_examples=80, deadline=None)
def test_node_roots_equal_the_roots_of_the_leaves(case: tuple[int, int, int]) -> None:
    size, lo, hi = case
    lo, hi = min(lo, hi - 1), max(lo + 1, hi)
    leaves = _leaves(size)
    roots = NodeRoots(_known_from_compact_ranges(leaves, 16), _CountingLeaves(leaves), leaf_block=8)

    assert roots(lo, hi) == tree_root(leaves[lo:hi])
    assert roots(0, size) == tree_root(leaves)


def test_node_roots_read_few_leaves_when_subtree_roots_are_known() -> None:
    leaves = _leaves(4096 + 77)
    counting = _CountingLeaves(leaves)
    roots = NodeRoots(_known_from_compact_ranges(leaves, 16), counting, leaf_block=16)

    proof = inclusion_proof_from(roots, 1234, len(leaves))

    verify_inclusion(1234, len(leaves), leaves[1234], proof, tree_root(leaves))
    # At most one block per level of the tree, not the 4173 leaves.
    assert counting.read <= 16 * len(leaves).bit_length()


def test_node_roots_refuse_a_range_with_missing_leaves() -> None:
    roots = NodeRoots(lambda begin, width: None, lambda lo, hi: _leaves(3))

    with pytest.raises(ProofError, match="missing"):
        roots(0, 4)
    with pytest.raises(ValueError, match="range"):
        roots(2, 2)
