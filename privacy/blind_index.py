"""Blind indexes: truncated HMAC-SHA256 of normalised terms, for finding records without plaintext.

What an index leaks, to anyone who can read the index table (a DBA, a stolen backup):

* equality: two rows with the same value in one index (name, version) probably share the term, with
  deliberate false positives from truncation (on average 2 or more distinct terms per value when the
  truncation is planned with :func:`plan_index_bits`);
* frequencies: how many rows share a value, so the most common values can be guessed to be the most
  common names (frequency analysis), and how many values each record has (its token count);
* over time, which values are queried and which rows are returned together.

It does not reveal a term without the index key, and the key is separate from every data key: shredding
a subject's DEK does not remove its index rows, so the application deletes them in the same transaction.
To limit the equality leak, a low-entropy value (a birth year, a date, a sex, a number) is never indexed
alone: it must be combined with a name key, e.g. ``("tesfay", year_band(1994))``.

Index keys are per key ring (society): to search across societies, compute the query's values once per
ring. A new index version (new key, new truncation) is built beside the old one, then swapped in.
"""

from __future__ import annotations

import math
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from privacy._encoding import lp, text, u32
from privacy.errors import BlindIndexError, IndexPlanningError
from privacy.keys import KeyProvider

_INDEX_KEY_LABEL = b"rfl/blind-index-key/v1"
_LOW_ENTROPY_WORDS = frozenset(
    {"m", "f", "x", "u", "male", "female", "other", "unknown", "man", "woman", "boy", "girl", "yes", "no"}
)
MIN_BITS = 1
MAX_BITS = 256

Term = str | Sequence[str]
"""One index term: a single text (a name token or phonetic key) or a compound tuple of texts."""


@dataclass(frozen=True, slots=True)
class BlindIndexSpec:
    """A named, versioned index: its truncation in bits and the ring's index-key version it uses."""

    name: str
    version: int
    bits: int
    key_version: int = 1

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("an index needs a name")
        if not MIN_BITS <= self.bits <= MAX_BITS:
            raise ValueError("bits must be between 1 and 256")
        if self.version < 1 or self.key_version < 1:
            raise ValueError("versions start at 1")


@dataclass(frozen=True, slots=True, order=True)
class BlindIndexValue:
    """One row of the application's index table: (index name, index version, value)."""

    index: str
    version: int
    value: bytes


def year_band(year: int, width: int = 5) -> str:
    """A birth-year band such as ``"1990-1994"``: low entropy, so index it only with a name key."""
    if width < 1:
        raise ValueError("band width must be positive")
    start = year - year % width
    return f"{start}-{start + width - 1}"


def is_low_entropy(part: str) -> bool:
    """True for a part that is trivially enumerated on its own: shorter than two characters, without
    any letter (years, bands, dates, ages, phone numbers), or a small-domain word such as a sex."""
    stripped = part.strip()
    if len(stripped) < 2:
        return True
    if not any(ch.isalpha() for ch in stripped):
        return True
    return stripped.casefold() in _LOW_ENTROPY_WORDS


def _parts(term: Term) -> tuple[str, ...]:
    parts = (term,) if isinstance(term, str) else tuple(term)
    if not parts or any(not isinstance(p, str) for p in parts):
        raise BlindIndexError("an index term is a text or a non-empty sequence of texts")
    normalised = tuple(unicodedata.normalize("NFC", p.strip()) for p in parts)
    if any(not p for p in normalised):
        raise BlindIndexError("an index term may not have an empty part")
    if all(is_low_entropy(p) for p in normalised):
        raise BlindIndexError("refusing to index a low-entropy value on its own; combine it with a name key")
    return normalised


class BlindIndexer:
    """Computes blind-index values of one key ring.

    Callers pass terms already normalised by the matching library (case folding, transliteration,
    phonetic keys); the indexer only applies Unicode NFC and strips surrounding spaces.
    """

    def __init__(self, provider: KeyProvider, ring_id: str) -> None:
        self._provider = provider
        self._ring_id = ring_id
        self._macs: dict[tuple[str, int, int], hmac.HMAC] = {}
        self._lock = threading.Lock()

    def _mac(self, spec: BlindIndexSpec) -> hmac.HMAC:
        key = (spec.name, spec.version, spec.key_version)
        mac = self._macs.get(key)
        if mac is None:
            root = self._provider.index_key(self._ring_id, spec.key_version)
            info = lp(_INDEX_KEY_LABEL, text(spec.name), u32(spec.version))
            index_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(root)
            mac = hmac.HMAC(index_key, hashes.SHA256())
            with self._lock:
                self._macs[key] = mac
        return mac

    def value(self, spec: BlindIndexSpec, term: Term) -> BlindIndexValue:
        """The index value of one term; raises :class:`BlindIndexError` for a refused term."""
        parts = _parts(term)
        mac = self._mac(spec).copy()
        mac.update(lp(*(p.encode("utf-8") for p in parts)))
        return BlindIndexValue(spec.name, spec.version, _truncate(mac.finalize(), spec.bits))

    def values(self, spec: BlindIndexSpec, terms: Iterable[Term]) -> tuple[BlindIndexValue, ...]:
        """All distinct index values of one record (e.g. one per name token and per phonetic key)."""
        return tuple(sorted({self.value(spec, term) for term in terms}))


def _truncate(digest: bytes, bits: int) -> bytes:
    nbytes = (bits + 7) // 8
    out = bytearray(digest[:nbytes])
    spare = nbytes * 8 - bits
    if spare:
        out[-1] &= (0xFF << spare) & 0xFF
    return bytes(out)


@dataclass(frozen=True, slots=True)
class IndexPlan:
    """Truncation chosen by :func:`plan_index_bits` and the safe range it came from."""

    bits: int
    min_bits: int
    max_bits: int
    expected_coincidences: float


def plan_index_bits(expected_rows: int, *, other_index_bits: int = 0) -> IndexPlan:
    """Choose a truncation length by the CipherSweet rule.

    With R expected index rows and L bits in total over the same data (this index plus
    ``other_index_bits`` of the other indexes on it), the expected coincidences per value are
    C = R / 2**L. The rule asks 2 <= C <= sqrt(R): at least two candidate terms behind every value
    (so a value never pins one term), and no more than sqrt(R) rows per value (so the index still
    filters). The largest such L is chosen: the fewest false positives the rule allows.
    """
    if expected_rows < 4:
        raise IndexPlanningError("at least 4 expected rows are needed to plan a truncation")
    if other_index_bits < 0:
        raise ValueError("other_index_bits must not be negative")
    # Integer arithmetic: C >= 2  <=>  R >= 2 * 2**L ;  C <= sqrt(R)  <=>  R <= 4**L  (L = total bits).
    max_total = expected_rows.bit_length() - 2  # 2**(bit_length-1) <= R, so L + 1 <= bit_length - 1
    min_total = 0
    while expected_rows > 4**min_total:
        min_total += 1
    min_bits = max(MIN_BITS, min_total - other_index_bits)
    max_bits = min(MAX_BITS, max_total - other_index_bits)
    if min_bits > max_bits:
        raise IndexPlanningError("the other indexes already use up the safe range of bits")
    total = max_bits + other_index_bits
    return IndexPlan(max_bits, min_bits, max_bits, expected_rows / math.ldexp(1.0, total))
