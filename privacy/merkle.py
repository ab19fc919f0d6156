"""Tamper-evident log maths: canonical entries and RFC 6962 / RFC 9162 Merkle trees and proofs.

leaf hash = SHA-256(0x00 || entry), node hash = SHA-256(0x01 || left || right), the root of the empty
tree is SHA-256(""). Proof generation takes the list of leaf hashes, or (``inclusion_proof_from``,
``consistency_proof_from``) a function giving the root of any node, so a large log can answer from
stored subtree roots (:class:`NodeRoots`) without reading every leaf. Verification needs only hashes,
sizes and the proof; it follows transparency-dev/merkle, whose test vectors it passes, including the
edge cases: a consistency proof from size 0 is refused as meaningless, and equal sizes need an empty
proof and equal roots.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Mapping, Sequence

from privacy.errors import CanonicalEncodingError, ProofError

HASH_BYTES = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
_MAX_SAFE_INT = 2**53 - 1

JsonValue = None | bool | int | str | Sequence["JsonValue"] | Mapping[str, "JsonValue"]


def canonical_entry(entry: Mapping[str, JsonValue]) -> bytes:
    """Canonical serialisation of a log entry: compact JSON, keys sorted, UTF-8, no floats.

    Floats, NaN, non-string keys and integers beyond +-(2**53 - 1) are refused, so one entry has
    exactly one encoding (a subset of RFC 8785 that needs no number formatting rules). Entries carry
    ids, actions and field names, never plaintext personal data: that is the caller's duty.
    """
    _check_json(entry)
    return _ENCODER.encode(entry).encode("utf-8")


# One encoder for every entry: verification encodes each of a million entries again.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


# Values that need no check: nearly every value of an entry.
_PLAIN_TYPES = frozenset((str, type(None), bool))


def _check_json(value: object) -> None:
    # Exact types first: verification checks every entry of the log again, so the common cases
    # (strings, None, plain dicts and lists) are settled without a call or an isinstance chain.
    if type(value) is dict or isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalEncodingError("entry keys must be strings")
            if type(item) not in _PLAIN_TYPES:
                _check_json(item)
        return
    if isinstance(value, (list, tuple)):
        for item in value:
            if type(item) not in _PLAIN_TYPES:
                _check_json(item)
        return
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INT:
            raise CanonicalEncodingError("integer out of the exactly representable range")
        return
    raise CanonicalEncodingError(f"no canonical encoding for {type(value).__name__}")


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def tree_root(leaf_hashes: Sequence[bytes], size: int | None = None) -> bytes:
    """Root of the tree of the first ``size`` leaves (all of them by default)."""
    n = len(leaf_hashes) if size is None else size
    if not 0 <= n <= len(leaf_hashes):
        raise ValueError("size out of range")
    if n == 0:
        return EMPTY_ROOT
    level = list(leaf_hashes[:n])
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


SubtreeRoot = Callable[[int, int], bytes]
"""``root_of(lo, hi)``: the root of the tree of leaves ``lo`` to ``hi - 1`` (RFC 6962 MTH of that range)."""


def _root_of_list(leaf_hashes: Sequence[bytes]) -> SubtreeRoot:
    def root_of(lo: int, hi: int) -> bytes:
        return tree_root(leaf_hashes[lo:hi])

    return root_of


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, size: int | None = None) -> list[bytes]:
    """Audit path of leaf ``index`` in the tree of the first ``size`` leaves (RFC 6962 PATH)."""
    n = len(leaf_hashes) if size is None else size
    if not 0 <= index < n <= len(leaf_hashes):
        raise ValueError("index or size out of range")
    return inclusion_proof_from(_root_of_list(leaf_hashes), index, n)


def inclusion_proof_from(root_of: SubtreeRoot, index: int, size: int) -> list[bytes]:
    """Audit path of leaf ``index`` in the tree of ``size`` leaves, asking ``root_of`` for each node.

    Every range asked for is a node of the tree: ``lo`` is a multiple of the largest power of two not
    above ``hi - lo``, so a caller can answer from stored subtree roots instead of every leaf.
    """
    if not 0 <= index < size:
        raise ValueError("index or size out of range")
    proof: list[bytes] = []
    lo, hi, m = 0, size, index
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            proof.append(root_of(lo + k, hi))
            hi = lo + k
        else:
            proof.append(root_of(lo, lo + k))
            lo, m = lo + k, m - k
    proof.reverse()
    return proof


class NodeRoots:
    """Roots of the nodes of a large tree, from the subtree roots a caller has and blocks of leaves.

    ``known(begin, width)`` returns the root of the perfect subtree of leaves [begin, begin + width) if
    the caller has it (say from a stored compact range, see :meth:`CompactRange.subtree`), else None;
    ``leaves(lo, hi)`` returns the leaf hashes lo..hi-1. A perfect subtree that is not known is hashed
    from its leaves if it has at most ``leaf_block`` of them, else built from its two halves.
    Roots are cached. Pass an instance as ``root_of`` to :func:`inclusion_proof_from` and
    :func:`consistency_proof_from`.
    """

    def __init__(
        self,
        known: Callable[[int, int], bytes | None],
        leaves: Callable[[int, int], Sequence[bytes]],
        *,
        leaf_block: int = 256,
    ) -> None:
        if leaf_block < 1:
            raise ValueError("leaf_block must be positive")
        self._known = known
        self._leaves = leaves
        self._leaf_block = leaf_block
        self._cache: dict[tuple[int, int], bytes] = {}

    def __call__(self, lo: int, hi: int) -> bytes:
        width = hi - lo
        if lo < 0 or width < 1:
            raise ValueError("empty or negative range")
        if width & (width - 1) == 0 and lo % width == 0:
            return self._perfect(lo, width)
        k = _split(width)
        if lo % k:
            return self._from_leaves(lo, hi)  # not a node of the tree: only its leaves can tell
        return node_hash(self(lo, lo + k), self(lo + k, hi))

    def _perfect(self, begin: int, width: int) -> bytes:
        cached = self._cache.get((begin, width))
        if cached is not None:
            return cached
        root = self._known(begin, width)
        if root is None and width <= self._leaf_block:
            root = self._from_leaves(begin, begin + width)
        elif root is None:
            half = width // 2
            root = node_hash(self._perfect(begin, half), self._perfect(begin + half, half))
        self._cache[(begin, width)] = root
        return root

    def _from_leaves(self, lo: int, hi: int) -> bytes:
        leaves = self._leaves(lo, hi)
        if len(leaves) != hi - lo:
            raise ProofError("leaves are missing from the range")
        return tree_root(leaves)


def consistency_proof(leaf_hashes: Sequence[bytes], size1: int, size2: int | None = None) -> list[bytes]:
    """Proof that the tree of ``size1`` leaves is a prefix of the tree of ``size2`` (RFC 6962 PROOF)."""
    n = len(leaf_hashes) if size2 is None else size2
    if not 0 < size1 <= n <= len(leaf_hashes):
        raise ValueError("sizes out of range")
    return consistency_proof_from(_root_of_list(leaf_hashes), size1, n)


def consistency_proof_from(root_of: SubtreeRoot, size1: int, size2: int) -> list[bytes]:
    """Consistency proof from ``size1`` to ``size2``, asking ``root_of`` for each node of the tree."""
    if not 0 < size1 <= size2:
        raise ValueError("sizes out of range")
    proof: list[bytes] = []
    lo, hi, m, complete = 0, size2, size1, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            proof.append(root_of(lo + k, hi))
            hi = lo + k
        else:
            proof.append(root_of(lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    if not complete:
        proof.append(root_of(lo, hi))
    proof.reverse()
    return proof


def _check_hashes(proof: Sequence[bytes]) -> None:
    if any(len(h) != HASH_BYTES for h in proof):
        raise ProofError("proof element of the wrong size")


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """Recompute the root from a leaf hash and its audit path (RFC 9162 section 2.1.3.2)."""
    if not 0 <= index < size:
        raise ProofError("index out of range")
    if len(leaf) != HASH_BYTES:
        raise ProofError("leaf hash of the wrong size")
    _check_hashes(proof)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("proof too short")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raise :class:`ProofError` unless ``leaf`` is at ``index`` in the tree of ``size`` with ``root``."""
    if not hmac.compare_digest(root_from_inclusion_proof(index, size, leaf, proof), root):
        raise ProofError("root mismatch")


def _verify_trivial_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> bool:
    """Handle the cases without tree maths; return True if verified, raise if refused."""
    if size1 < 0 or size2 < 0:
        raise ProofError("negative tree size")
    if size2 < size1:
        raise ProofError("the later tree is smaller")
    if size1 == 0:
        raise ProofError("a consistency proof from the empty tree is meaningless")
    if size1 == size2:
        if proof:
            raise ProofError("equal sizes need an empty proof")
        if not hmac.compare_digest(root1, root2):
            raise ProofError("root mismatch")
        return True
    if not proof:
        raise ProofError("empty proof")
    return False


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Raise :class:`ProofError` unless the tree (size2, root2) extends the tree (size1, root1)
    (RFC 9162 section 2.1.4.2)."""
    if _verify_trivial_consistency(size1, size2, proof, root1, root2):
        return
    _check_hashes(proof)
    path = [root1, *proof] if size1 & (size1 - 1) == 0 else list(proof)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("proof too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("proof too short")
    if not (hmac.compare_digest(fr, root1) and hmac.compare_digest(sr, root2)):
        raise ProofError("root mismatch")


class CompactRange:
    """The right edge of a Merkle tree: the roots of the perfect subtrees that cover leaves [0, size).

    Enough to append leaves and compute the RFC 6962 root without the earlier leaves, so a log can sign
    a new tree head in O(new leaves + log size) instead of rehashing everything. One hash per set bit
    of ``size``, largest subtree first.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if size < 0 or len(hashes) != size.bit_count():
            raise ProofError("a compact range holds one hash per set bit of its size")
        _check_hashes(hashes)
        self._size = size
        self._hashes = list(hashes)

    @classmethod
    def from_bytes(cls, size: int, blob: bytes) -> CompactRange:
        """The range of ``size`` leaves stored as its hashes concatenated (:meth:`to_bytes`)."""
        if len(blob) % HASH_BYTES:
            raise ProofError("a stored compact range is a whole number of hashes")
        return cls(size, [blob[i : i + HASH_BYTES] for i in range(0, len(blob), HASH_BYTES)])

    def to_bytes(self) -> bytes:
        return b"".join(self._hashes)

    @property
    def size(self) -> int:
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        return tuple(self._hashes)

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash: merge equal-sized subtrees on the right edge, as a binary counter carries."""
        node = leaf
        size = self._size
        while size & 1:
            node = node_hash(self._hashes.pop(), node)
            size >>= 1
        self._hashes.append(node)
        self._size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def subtree(self, begin: int, size: int) -> bytes | None:
        """The root of the perfect subtree of leaves [begin, begin + size) if it is one of this range's
        hashes, else None. (Those are the subtrees with ``begin`` a multiple of ``2 * size`` and
        ``begin + size <= self.size < begin + 2 * size``.)"""
        start = 0
        for index, bit in enumerate(_set_bits_high_to_low(self._size)):
            if start == begin and bit == size:
                return self._hashes[index]
            start += bit
        return None

    def root(self) -> bytes:
        if not self._hashes:
            return EMPTY_ROOT
        root = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            root = node_hash(left, root)
        return root


def _set_bits_high_to_low(n: int) -> list[int]:
    return [1 << shift for shift in range(n.bit_length() - 1, -1, -1) if n >> shift & 1]
