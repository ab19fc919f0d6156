"""Vectorised comparisons of candidate pairs into discrete agreement levels.

Each comparison maps arrays of pairs to an ``int8`` level per pair (``MISSING`` = -1 when either side
lacks the field; higher levels = stronger agreement). Names are compared as bags of tokens: the token
similarity combines equality in the original script, the transliteration-aware consonant skeleton,
a phonetic key and Jaro-Winkler on the Latin forms, and the bags are aligned greedily, best pair first,
so name order, a missing family name or an extra patronymic cost little.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler

from matching.normalise import fits
from matching.records import Vocabulary

MISSING = -1
Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]
Columns = dict[str, npt.NDArray[Any]]

# Token similarity given by each kind of evidence (Jaro-Winkler gives the rest).
SIM_SAME = 1.0
SIM_SKELETON_LONG = 0.94
SIM_PHONETIC = 0.92
SIM_SKELETON_WEAK = 0.86
SKELETON_SUPPORT = 0.78  # Jaro-Winkler two Latin spellings need before their skeletons count as strong
STRONG = 0.92
WEAK = 0.85


@dataclass(frozen=True)
class Comparison:
    """One field comparison: its name and the labels of its levels, lowest first."""

    name: str
    levels: tuple[str, ...]
    tf: bool = False  # term-frequency adjusted on its matched token
    # Conditional u: when the pair agrees on this other comparison (level >= 2), u comes from random
    # pairs that agree on it too. Family names repeat given names in patronymic naming, so agreeing on
    # a second name is far less surprising once the first agreed.
    after: str = ""


NAME_LEVELS = ("disagree", "weak fuzzy", "strong fuzzy", "exact")
PARENT_LEVELS = ("disagree", "only a later name agrees", "first name agrees", "two names agree")
COMPARISONS = (
    Comparison("given_name", NAME_LEVELS, tf=True),
    Comparison("other_names", NAME_LEVELS, tf=True, after="given_name"),
    Comparison("third_name", ("disagree", "agree"), after="other_names"),
    Comparison(
        "birth_date",
        (
            "far apart",
            "precise dates differ",
            "within 3 years",
            "within a year",
            "same year",
            "day and month swapped or one typo",
            "exact",
        ),
    ),
    Comparison("sex", ("disagree", "agree")),
    Comparison("nationality", ("disagree", "agree")),
    Comparison("birth_place", ("disagree", "fuzzy", "exact")),
    Comparison("place", ("disagree", "fuzzy", "exact")),
    Comparison("address", ("disagree", "fuzzy", "exact")),
    # no TF on the father: in patronymic naming his name is the family name, already adjusted
    Comparison("father_name", PARENT_LEVELS),
    Comparison("mother_name", PARENT_LEVELS),
    Comparison("phone", ("disagree", "agree")),
    Comparison("document_id", ("disagree", "similar", "exact")),
)
COMPARISON_NAMES = tuple(c.name for c in COMPARISONS)


def _workers(n: int) -> int:
    """Both cores for big batches; one for small ones, where starting threads costs more than it saves."""
    return -1 if n >= 20_000 else 1


def token_similarity(
    vocab: Vocabulary, a: npt.NDArray[np.integer[Any]], b: npt.NDArray[np.integer[Any]]
) -> tuple[Floats, npt.NDArray[np.int8]]:
    """Similarity of token pairs (arrays of vocabulary ids) and the kind of evidence that gave it.

    Kinds: 0 Jaro-Winkler, 1 same token, 2 consonant skeleton, 3 phonetic key.
    """
    if a.size == 0:
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int8)
    n = np.int64(len(vocab))
    uniq, inv = np.unique(a.astype(np.int64) * n + b, return_inverse=True)
    ua, ub = uniq // n, uniq % n
    skel, phon, latin_id, latin, skel_len, is_latin, fold, raw_skel, pattern, is_arabic = vocab.arrays()
    scorer = JaroWinkler.normalized_similarity
    sim = np.asarray(
        process.cpdist(latin[ua], latin[ub], scorer=scorer, workers=_workers(len(ua)), dtype=np.float32)
    )
    same_skel = skel[ua] == skel[ub]
    cross = is_latin[ua] != is_latin[ub]
    raw_same = raw_skel[ua] == raw_skel[ub]
    # An Arabic-script name's long vowels must have a place in the other spelling (محمود is not
    # Mohammed): checked per distinct token pair, and only where consonants agree across scripts.
    check = np.nonzero((same_skel | raw_same) & (is_arabic[ua] != is_arabic[ub]))[0]
    if check.size:
        ar = np.where(is_arabic[ua[check]], ua[check], ub[check])
        other = np.where(is_arabic[ua[check]], ub[check], ua[check])
        ok = np.fromiter(
            (fits(pattern[x], pattern[y]) for x, y in zip(ar, other, strict=True)),
            dtype=bool,
            count=check.size,
        )
        same_skel[check[~ok]] = False
        raw_same[check[~ok]] = False
    # folded spellings (Chaled / Khalid -> haled / halid) support a skeleton match, they do not replace JW
    sim_folded = sim.copy()
    need = same_skel & ~cross & (sim < SKELETON_SUPPORT)
    if need.any():
        sim_folded[need] = process.cpdist(
            fold[ua[need]], fold[ub[need]], scorer=scorer, workers=_workers(int(need.sum())), dtype=np.float32
        )
    kind = np.zeros(len(uniq), dtype=np.int8)
    sl = np.minimum(skel_len[ua], skel_len[ub])
    # Arabic script writes no short vowels: its consonants are all there is to compare. Between two
    # Latin spellings the vowels are evidence too (Hassan is not Hussein), so the skeleton needs support.
    supported = cross | (np.maximum(sim, sim_folded) >= SKELETON_SUPPORT)
    candidates = (
        (same_skel & (sl >= 3) & supported, SIM_SKELETON_LONG, 2),
        # phonetic keys of vowel-less Arabic-script forms say little: Latin and Cyrillic spellings only
        ((phon[ua] == phon[ub]) & ~is_arabic[ua] & ~is_arabic[ub], SIM_PHONETIC, 3),
        (same_skel & (sl == 2) & supported, STRONG, 2),
        (same_skel & ~supported, SIM_SKELETON_WEAK, 2),
        (same_skel & (sl == 2) & cross, SIM_SKELETON_LONG, 2),
        (raw_same & (sl == 1) & cross, STRONG, 2),  # علي / Ali, عوض / Awed
        ((ua == ub) | (latin_id[ua] == latin_id[ub]), SIM_SAME, 1),
        # a name in Arabic script and a Latin spelling with the same consonants: as good as the same
        (same_skel & (sl >= 3) & cross, SIM_SAME, 2),
    )
    for mask, value, k in candidates:
        better = mask & (sim < value)
        sim[better] = value
        kind[better] = k
    return sim[inv], kind[inv]


@dataclass
class Alignment:
    """Greedy best alignment of two token bags, per pair: similarity and token ids of the k-th pair."""

    sims: Floats  # [pairs, k]
    left: npt.NDArray[np.int32]  # [pairs, k] token ids, -1 when none
    right: npt.NDArray[np.int32]
    kinds: npt.NDArray[np.int8]


def similarity_matrix(
    vocab: Vocabulary, bag_a: npt.NDArray[np.int32], bag_b: npt.NDArray[np.int32]
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int8]]:
    """Token similarities of two padded bags ([pairs, slots], -1 padded): [pairs, slots_a, slots_b], -1
    where a slot is empty, and the kind of evidence of each."""
    # only as many slots as this batch uses
    wa = max(1, int((bag_a >= 0).sum(axis=1).max(initial=0)))
    wb = max(1, int((bag_b >= 0).sum(axis=1).max(initial=0)))
    bag_a, bag_b = bag_a[:, :wa], bag_b[:, :wb]
    p = len(bag_a)
    valid = (bag_a >= 0)[:, :, None] & (bag_b >= 0)[:, None, :]
    sims = np.full((p, wa, wb), -1.0, dtype=np.float32)
    kinds = np.zeros((p, wa, wb), dtype=np.int8)
    aa = np.broadcast_to(bag_a[:, :, None], (p, wa, wb))[valid]
    bb = np.broadcast_to(bag_b[:, None, :], (p, wa, wb))[valid]
    sims[valid], kinds[valid] = token_similarity(vocab, aa, bb)
    return sims, kinds


def align(
    vocab: Vocabulary,
    bag_a: npt.NDArray[np.int32],
    bag_b: npt.NDArray[np.int32],
    k: int,
    matrix: tuple[npt.NDArray[np.float32], npt.NDArray[np.int8]] | None = None,
) -> Alignment:
    """Align two padded bags of token ids ([pairs, slots], -1 padded): k best disjoint token pairs."""
    sims, kinds = similarity_matrix(vocab, bag_a, bag_b) if matrix is None else matrix
    sims = sims.copy()
    p, ta, tb = sims.shape
    out_s = np.full((p, k), -1.0, dtype=np.float32)
    out_a = np.full((p, k), -1, dtype=np.int32)
    out_b = np.full((p, k), -1, dtype=np.int32)
    out_k = np.zeros((p, k), dtype=np.int8)
    rows = np.arange(p)
    flat = sims.reshape(p, ta * tb)
    flat_kinds = kinds.reshape(p, ta * tb)
    for j in range(min(k, ta, tb)):
        best = flat.argmax(axis=1)
        bs = flat[rows, best]
        i_a, i_b = best // tb, best % tb
        ok = bs >= 0
        out_s[:, j] = bs
        out_a[ok, j] = bag_a[rows[ok], i_a[ok]]
        out_b[ok, j] = bag_b[rows[ok], i_b[ok]]
        out_k[ok, j] = flat_kinds[rows[ok], best[ok]]
        sims[rows, i_a, :] = -1.0
        sims[rows, :, i_b] = -1.0
    return Alignment(out_s, out_a, out_b, out_k)


def _best_of_given(
    sims: npt.NDArray[np.float32],
    is_given: npt.NDArray[np.bool_],
    bag: npt.NDArray[np.int32],
    other: npt.NDArray[np.int32],
) -> tuple[Floats, npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    """Best similarity of any of one side's given names (rows of sims marked in is_given) to the other
    side's bag, the given token and the token it met."""
    p, ta, tb = sims.shape
    masked = np.where(is_given[:, :ta, None], sims, np.float32(-1.0)).reshape(p, ta * tb)
    best = masked.argmax(axis=1)
    rows = np.arange(p)
    s = masked[rows, best]
    tok = np.where(s >= 0, bag[rows, best // tb], -1).astype(np.int32)
    met = np.where(s >= 0, other[rows, best % tb], -1).astype(np.int32)
    return s, tok, met


def sim_level(s: Floats) -> npt.NDArray[np.int8]:
    lvl = np.full(s.shape, MISSING, dtype=np.int8)
    lvl[s >= 0] = 0
    lvl[s >= WEAK] = 1
    lvl[s >= STRONG] = 2
    lvl[s >= 0.999] = 3
    return lvl


def _string_level(a: npt.NDArray[np.object_], b: npt.NDArray[np.object_]) -> npt.NDArray[np.int8]:
    present = (a != "") & (b != "")
    lvl = np.full(a.shape, MISSING, dtype=np.int8)
    if present.any():
        s = np.asarray(
            process.cpdist(
                a[present],
                b[present],
                scorer=JaroWinkler.normalized_similarity,
                workers=_workers(int(present.sum())),
                dtype=np.float32,
            )
        )
        lvl[present] = (s >= 0.97).astype(np.int8) + (s >= 0.85).astype(np.int8)
    return lvl


def _equal_level(a: npt.NDArray[Any], b: npt.NDArray[Any], empty: Any) -> npt.NDArray[np.int8]:
    lvl: npt.NDArray[np.int8] = np.asarray(a == b, dtype=np.int8)
    lvl[(a == empty) | (b == empty)] = MISSING
    return lvl


def _date_level(ca: Columns, cb: Columns, ia: Ints, ib: Ints) -> npt.NDArray[np.int8]:
    lo_a, hi_a = ca["year_lo"][ia], ca["year_hi"][ia]
    lo_b, hi_b = cb["year_lo"][ib], cb["year_hi"][ib]
    mo_a, d_a, mo_b, d_b = ca["month"][ia], ca["day"][ia], cb["month"][ib], cb["day"][ib]
    gap = np.maximum(0, np.maximum(lo_a - hi_b, lo_b - hi_a))
    wide = ((hi_a - lo_a) > 1) | ((hi_b - lo_b) > 1)
    lvl = np.zeros(ia.shape, dtype=np.int8)
    lvl[gap <= 3] = 2
    lvl[gap <= 1] = 3
    lvl[(gap == 0) & ~wide] = 4
    full = (lo_a == hi_a) & (lo_b == hi_b) & (d_a > 0) & (d_b > 0)
    # two precise dates that differ are evidence against, unlike two estimates a year apart
    lvl[full & (gap <= 3)] = 1
    same_year = full & (lo_a == lo_b)
    swapped = same_year & (mo_a == d_b) & (d_a == mo_b)
    one_off = full & (
        ((lo_a == lo_b) & ((mo_a == mo_b) | (d_a == d_b)))
        | ((np.abs(lo_a - lo_b) <= 10) & (mo_a == mo_b) & (d_a == d_b))
    )
    lvl[swapped | one_off] = 5
    lvl[same_year & (mo_a == mo_b) & (d_a == d_b)] = 6
    lvl[(lo_a < 0) | (lo_b < 0)] = MISSING
    return lvl


def _parent_level(
    vocab: Vocabulary, pa: npt.NDArray[np.int32], pb: npt.NDArray[np.int32]
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int32]]:
    """Levels of a parent's name, and the matched token.

    A parent's first name is their own; the names after it are their father's and grandfather's
    (Robel Yonas is not Yonas), so the first names are compared in place, the rest as a bag.
    """
    al = align(vocab, pa, pb, 2)
    first = np.full(len(pa), -1.0, dtype=np.float32)
    both = (pa[:, 0] >= 0) & (pb[:, 0] >= 0)
    first[both], _ = token_similarity(vocab, pa[both, 0], pb[both, 0])
    lvl = np.full(len(pa), MISSING, dtype=np.int8)
    lvl[both] = 0
    lvl[both & (al.sims[:, 0] >= STRONG)] = 1  # only a later name agrees
    lvl[first >= STRONG] = 2
    lvl[(first >= STRONG) & (al.sims[:, 1] >= STRONG)] = 3
    return lvl, al.left[:, 0]


@dataclass
class PairComparison:
    """Levels of every comparison for a batch of pairs, with what the explanation and TF need."""

    levels: npt.NDArray[np.int8]  # [pairs, comparisons]
    tf_tokens: npt.NDArray[np.int32]  # [pairs, comparisons] matched token id for TF, -1 when none
    names: Alignment
    given_sim: Floats
    given_tokens: tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]


def compare(vocab: Vocabulary, ca: Columns, cb: Columns, ia: Ints, ib: Ints) -> PairComparison:
    """Levels of all comparisons for pairs (ia[i], ib[i]) of rows of column sets ca and cb."""
    p = len(ia)
    levels = np.full((p, len(COMPARISONS)), MISSING, dtype=np.int8)
    tf_tokens = np.full((p, len(COMPARISONS)), -1, dtype=np.int32)
    bag_a, bag_b = ca["names"][ia], cb["names"][ib]
    matrix = similarity_matrix(vocab, bag_a, bag_b)
    # fathers' names meet the other's own names only; father against father is the father comparison
    wa, wb = matrix[0].shape[1:]
    matrix[0][ca["father_slots"][ia, :wa, None] & cb["father_slots"][ib, None, :wb]] = -1.0
    names = align(vocab, bag_a, bag_b, 3, matrix)

    # given name: the given names of either side (as written, transliterated) against the other's bag
    sims = matrix[0]
    s_ab, ga, t_ab = _best_of_given(sims, ca["given_slots"][ia], bag_a, bag_b)
    s_ba, gb, t_ba = _best_of_given(sims.transpose(0, 2, 1), cb["given_slots"][ib], bag_b, bag_a)
    # both given names must find a partner: a sibling's family name meeting our given name is no match
    use_ab = s_ab <= s_ba
    given_sim = np.where(use_ab, s_ab, s_ba)
    one_sided = (s_ab < 0) | (s_ba < 0)
    given_sim[one_sided] = np.maximum(s_ab, s_ba)[one_sided]
    levels[:, 0] = sim_level(given_sim)
    tf_tokens[:, 0] = np.where(use_ab, ga, gb)
    given_pair = (np.where(use_ab, ga, t_ba), np.where(use_ab, t_ab, gb))

    n_min = np.minimum(ca["n_names"][ia], cb["n_names"][ib])
    second = sim_level(names.sims[:, 1])
    second[n_min < 2] = MISSING
    levels[:, 1] = second
    tf_tokens[:, 1] = names.left[:, 1]
    third = (names.sims[:, 2] >= STRONG).astype(np.int8)
    third[(n_min < 3) | (names.sims[:, 2] < 0)] = MISSING
    levels[:, 2] = third

    levels[:, 3] = _date_level(ca, cb, ia, ib)
    levels[:, 4] = _equal_level(ca["sex"][ia], cb["sex"][ib], 0)
    levels[:, 5] = _equal_level(ca["nationality"][ia], cb["nationality"][ib], "")
    levels[:, 6] = _string_level(ca["birth_place"][ia], cb["birth_place"][ib])
    # the same consonants across scripts (كسلا / Kassala) count as a fuzzy agreement
    key_a, key_b = ca["birth_place_key"][ia], cb["birth_place_key"][ib]
    levels[(levels[:, 6] == 0) & (key_a == key_b) & (key_a != ""), 6] = 1
    levels[:, 7] = _string_level(ca["place"][ia], cb["place"][ib])
    levels[:, 8] = _string_level(ca["address"][ia], cb["address"][ib])
    for col, name in ((9, "father"), (10, "mother")):
        levels[:, col], tf_tokens[:, col] = _parent_level(vocab, ca[name][ia], cb[name][ib])
    levels[:, 11] = _equal_level(ca["phone"][ia], cb["phone"][ib], "")
    da, db = ca["document"][ia], cb["document"][ib]
    doc = _string_level(da, db)
    doc[doc == 2] = 1
    doc[(doc >= 0) & (da == db)] = 2
    levels[:, 12] = doc
    return PairComparison(levels, tf_tokens, names, given_sim, given_pair)
