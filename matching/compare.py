"""Vectorised comparisons of candidate pairs into discrete agreement levels.

Each comparison is one object (see :class:`FieldComparison`, modelled on Splink's comparison library):
its name, the labels of its levels (lowest first), its named thresholds and the function that maps a
batch of pairs to an ``int8`` level per pair (``MISSING`` = -1 when either side lacks the field;
higher levels = stronger agreement). ``COMPARISONS`` lists them; adding a comparison is adding one
object there (and a saved-model format version, since saved models list their comparisons).

Names are compared as bags of tokens. The similarity of two tokens is Jaro-Winkler on their Latin
forms, raised by named rules (:data:`SIMILARITY_RULES`) when other evidence says they are one name:
the same token, the transliteration-aware consonant skeleton, a phonetic key. The bags are aligned
greedily, best pair first, so name order, a missing family name or an extra patronymic cost little.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
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
Bools = npt.NDArray[np.bool_]
Levels = npt.NDArray[np.int8]
TokenIds = npt.NDArray[np.int32]
Columns = dict[str, npt.NDArray[Any]]

# Token similarity given by each kind of evidence (Jaro-Winkler gives the rest).
SIM_SAME = 1.0
SIM_SKELETON_LONG = 0.94
SIM_PHONETIC = 0.92
SIM_SKELETON_WEAK = 0.86
SKELETON_SUPPORT = 0.78  # Jaro-Winkler two Latin spellings need before their skeletons count as strong
# Name similarity thresholds of the name levels (and of a parent's name agreeing).
EXACT = 0.999
STRONG = 0.92
WEAK = 0.85

# What made two tokens similar (shown to officers in explanations).
BY_SPELLING, BY_SAME_TOKEN, BY_SKELETON, BY_SOUND, BY_PREFIX = 0, 1, 2, 3, 4
EVIDENCE_KINDS = {
    BY_SPELLING: "similar spelling",
    BY_SAME_TOKEN: "same",
    BY_SKELETON: "same consonants",
    BY_SOUND: "sounds alike",
    BY_PREFIX: "same name, prefix apart",
}


def _workers(n: int) -> int:
    """Both cores for big batches; one for small ones, where starting threads costs more than it saves."""
    return -1 if n >= 20_000 else 1


def jaro_winkler(a: npt.NDArray[np.object_], b: npt.NDArray[np.object_]) -> Floats:
    """Jaro-Winkler similarity of two arrays of strings, pair by pair."""
    if len(a) == 0:
        return np.zeros(0, dtype=np.float32)
    return np.asarray(
        process.cpdist(
            a, b, scorer=JaroWinkler.normalized_similarity, workers=_workers(len(a)), dtype=np.float32
        )
    )


# --- token similarity ----------------------------------------------------------------------------
@dataclass
class TokenEvidence:
    """What is known about distinct token pairs (a[i], b[i]) before the similarity rules weigh it."""

    jw: Floats  # Jaro-Winkler of the Latin forms
    jw_folded: Floats  # of the folded forms (Chaled / Khalid -> haled / halid), where a skeleton needs it
    same_token: Bools  # one token, or the same Latin form
    same_skeleton: Bools  # same name key (skeleton of >= 2 letters, or the same short Latin form)
    same_raw_skeleton: Bools  # same skeleton, however short (علي / Ali are both "l")
    skeleton_length: npt.NDArray[np.int32]  # the shorter of the two
    cross_script: Bools  # one Latin token, one of another script
    any_arabic: Bools
    same_sound: Bools  # same phonetic key
    prefix_apart: Bools  # one is the other with a prefix joined (Benali / Ali, بن علي / Benali)
    same_back_vowels: Bools  # two spellings outside Arabic script with u or o in the same places

    @property
    def supported(self) -> Bools:
        """Arabic script writes no short vowels: its consonants are all there is to compare. Between two
        Latin spellings the vowels are evidence too (Hassan is not Hussein), so a skeleton needs their
        support: a Jaro-Winkler (of the spellings or their folded forms) of at least SKELETON_SUPPORT, or
        their u and o vowels in the same places (Umer / Omar: spellings vary a and e, not where u is)."""
        spelling = np.maximum(self.jw, self.jw_folded) >= SKELETON_SUPPORT
        return self.cross_script | spelling | self.same_back_vowels


@dataclass(frozen=True)
class SimilarityRule:
    """A floor on the similarity of two tokens when ``applies``: a named piece of evidence.

    The rules are applied in order; a rule raises the similarity to its value when it applies and the
    similarity is lower, and the kind of evidence is the last rule's that raised it.
    """

    name: str
    similarity: float
    kind: int
    applies: Callable[[TokenEvidence], Bools]


SIMILARITY_RULES = (
    # Khaled / Chaled, Osman / Uthman: the consonants of a name of three or more, the spelling agreeing
    SimilarityRule(
        "same consonants, spelling agrees",
        SIM_SKELETON_LONG,
        BY_SKELETON,
        lambda e: e.same_skeleton & (e.skeleton_length >= 3) & e.supported,
    ),
    # Tesfaye / Tesfai; the phonetic keys of vowel-less Arabic-script forms say little: Latin and Cyrillic
    SimilarityRule("sounds alike", SIM_PHONETIC, BY_SOUND, lambda e: e.same_sound & ~e.any_arabic),
    # Ali / Aly: two consonants are less of a name than three
    SimilarityRule(
        "same two consonants, spelling agrees",
        STRONG,
        BY_SKELETON,
        lambda e: e.same_skeleton & (e.skeleton_length == 2) & e.supported,
    ),
    # Hassan / Hussein: the same consonants with other vowels are weak evidence only
    SimilarityRule(
        "same consonants, other vowels",
        SIM_SKELETON_WEAK,
        BY_SKELETON,
        lambda e: e.same_skeleton & ~e.supported,
    ),
    SimilarityRule(
        "same two consonants across scripts",
        SIM_SKELETON_LONG,
        BY_SKELETON,
        lambda e: e.same_skeleton & (e.skeleton_length == 2) & e.cross_script,
    ),
    # علي / Ali, عوض / Awed: one consonant, but in Arabic script it is all the name writes
    SimilarityRule(
        "same one consonant across scripts",
        STRONG,
        BY_SKELETON,
        lambda e: e.same_raw_skeleton & (e.skeleton_length == 1) & e.cross_script,
    ),
    # Ben Ali / Benali, Bou Ziane / Bouziane: written apart, the prefix is dropped or joined to the name
    SimilarityRule("same name, prefix apart", SIM_SKELETON_LONG, BY_PREFIX, lambda e: e.prefix_apart),
    SimilarityRule("same token", SIM_SAME, BY_SAME_TOKEN, lambda e: e.same_token),
    # محمد / Mohamed: a name in Arabic script and a Latin spelling with the same consonants
    SimilarityRule(
        "same consonants across scripts",
        SIM_SAME,
        BY_SKELETON,
        lambda e: e.same_skeleton & (e.skeleton_length >= 3) & e.cross_script,
    ),
)


def arabic_long_vowels_missing(vocab: Vocabulary, ua: Ints, ub: Ints) -> Bools:
    """Per token pair: one is in Arabic script and its long vowels have no place in the other spelling.

    Arabic script writes long vowels (و, ي) and no short ones, so محمود (mhmWd) is Mahmoud and not
    Mohammed (mWhmYd): its pattern must be found, in order, in the other's (see ``normalise.fits``).
    """
    t = vocab.arrays()
    out = np.zeros(len(ua), dtype=bool)
    check = np.nonzero(t.is_arabic[ua] != t.is_arabic[ub])[0]
    if check.size:
        first_arabic = t.is_arabic[ua[check]]
        ar = np.where(first_arabic, ua[check], ub[check])
        other = np.where(first_arabic, ub[check], ua[check])
        # the other spelling's French reading of ch counts too (Aicha: عائشة)
        out[check] = ~np.fromiter(
            (
                fits(t.pattern[x], t.pattern[y])
                or (t.french_pattern[y] and fits(t.pattern[x], t.french_pattern[y]))
                for x, y in zip(ar, other, strict=True)
            ),
            dtype=bool,
            count=check.size,
        )
    return out


def latin_back_vowels_apart(vocab: Vocabulary, ua: Ints, ub: Ints) -> Bools:
    """Per token pair: two spellings outside Arabic script whose u/o vowels stand between different
    consonants (Mahmoud, Mahmud: after the second m; Mohammed, Muhammad: after the first).

    Latin spellings of one Arabic name keep its u where it is, though they vary its a, i and e
    (Mohammed / Muhammad / Mohamad, Yusuf / Yousef); a u in different places is another name with the
    same consonants. Spellings without a u or o (Mhd) say nothing either way.
    """
    t = vocab.arrays()
    a, b = t.back_vowels[ua], t.back_vowels[ub]
    apart: Bools = ~t.is_arabic[ua] & ~t.is_arabic[ub] & (a != 0) & (b != 0) & ((a & b) == 0)
    return apart


def token_evidence(vocab: Vocabulary, ua: Ints, ub: Ints) -> TokenEvidence:
    """The evidence about distinct token pairs the similarity rules read."""
    t = vocab.arrays()
    jw = jaro_winkler(t.latin[ua], t.latin[ub])
    # either spelling read the French way (ch as sh: Aicha, Rachid) may give the other's consonants
    same_skel = (t.skeleton[ua] == t.skeleton[ub]) | (t.french_skeleton[ua] == t.skeleton[ub])
    same_skel |= t.skeleton[ua] == t.french_skeleton[ub]
    raw_same = (t.raw_skeleton[ua] == t.raw_skeleton[ub]) | (t.french_raw_skeleton[ua] == t.raw_skeleton[ub])
    raw_same |= t.raw_skeleton[ua] == t.french_raw_skeleton[ub]
    candidates = np.nonzero(same_skel | raw_same)[0]
    if candidates.size:  # vowels that tell two names with one skeleton apart
        ca, cb = ua[candidates], ub[candidates]
        other_name = arabic_long_vowels_missing(vocab, ca, cb) | latin_back_vowels_apart(vocab, ca, cb)
        same_skel[candidates[other_name]] = False
        raw_same[candidates[other_name]] = False
    cross = t.is_latin[ua] != t.is_latin[ub]
    jw_folded = jw.copy()
    need = same_skel & ~cross & (jw < SKELETON_SUPPORT)
    if need.any():
        jw_folded[need] = jaro_winkler(t.folded[ua[need]], t.folded[ub[need]])
    return TokenEvidence(
        jw=jw,
        jw_folded=jw_folded,
        same_token=(ua == ub) | (t.latin_id[ua] == t.latin_id[ub]),
        same_skeleton=same_skel,
        same_raw_skeleton=raw_same,
        skeleton_length=np.minimum(t.skeleton_length[ua], t.skeleton_length[ub]),
        cross_script=cross,
        any_arabic=t.is_arabic[ua] | t.is_arabic[ub],
        same_sound=t.phonetic[ua] == t.phonetic[ub],
        prefix_apart=prefix_apart(vocab, ua, ub, cross),
        same_back_vowels=~t.is_arabic[ua]
        & ~t.is_arabic[ub]
        & (t.back_vowels[ua] == t.back_vowels[ub])
        & (t.back_vowels[ua] != 0),
    )


def prefix_apart(vocab: Vocabulary, ua: Ints, ub: Ints, cross: Bools) -> Bools:
    """Per token pair: one is the other with a prefix joined (Benali / Ali), in Latin letters, or
    across scripts by their consonants (Benali / علي, where Arabic script writes بن apart)."""
    t = vocab.arrays()
    latin = (t.bare[ua] == t.latin_id[ub]) | (t.latin_id[ua] == t.bare[ub])
    consonants = (t.bare_raw_skeleton[ua] == t.raw_skeleton[ub]) | (
        t.raw_skeleton[ua] == t.bare_raw_skeleton[ub]
    )
    found: Bools = latin | (cross & consonants)
    return found


def token_similarity(
    vocab: Vocabulary, a: npt.NDArray[np.integer[Any]], b: npt.NDArray[np.integer[Any]]
) -> tuple[Floats, npt.NDArray[np.int8]]:
    """Similarity of token pairs (arrays of vocabulary ids) and the kind of evidence that gave it
    (``EVIDENCE_KINDS``): Jaro-Winkler, raised by the first of ``SIMILARITY_RULES`` that applies."""
    if a.size == 0:
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int8)
    uniq, inv = np.unique((a.astype(np.int64) << 32) | b.astype(np.int64), return_inverse=True)
    known, sim, kind = vocab.similarities.lookup(uniq)
    new = uniq[~known]
    if new.size:
        evidence = token_evidence(vocab, new >> 32, new & 0xFFFFFFFF)
        new_sim = evidence.jw.copy()
        new_kind = np.full(len(new), BY_SPELLING, dtype=np.int8)
        for rule in SIMILARITY_RULES:
            better = rule.applies(evidence) & (new_sim < rule.similarity)
            new_sim[better] = rule.similarity
            new_kind[better] = rule.kind
        sim[~known], kind[~known] = new_sim, new_kind
        vocab.similarities.add(new, new_sim, new_kind)
    return sim[inv], kind[inv]


# --- aligning bags of names ------------------------------------------------------------------------
@dataclass
class Alignment:
    """Greedy best alignment of two token bags, per pair: similarity and token ids of the k-th pair."""

    sims: Floats  # [pairs, k]
    left: TokenIds  # [pairs, k] token ids, -1 when none
    right: TokenIds
    kinds: npt.NDArray[np.int8]


def similarity_matrix(
    vocab: Vocabulary, bag_a: TokenIds, bag_b: TokenIds
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
    bag_a: TokenIds,
    bag_b: TokenIds,
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
    sims: npt.NDArray[np.float32], is_given: Bools, bag: TokenIds, other: TokenIds
) -> tuple[Floats, TokenIds, TokenIds]:
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


@dataclass(frozen=True)
class GivenMatch:
    """The given name's best match, per pair: its similarity, the token term frequency counts, and the
    two tokens that met (for explanations)."""

    sim: Floats
    tf_token: TokenIds
    pair: tuple[TokenIds, TokenIds]


class Pairs:
    """A batch of candidate pairs (row ``ia[i]`` of ``ca`` against row ``ib[i]`` of ``cb``) and what
    several comparisons share, computed once on first use: the names' similarities and alignment."""

    def __init__(self, vocab: Vocabulary, ca: Columns, cb: Columns, ia: Ints, ib: Ints) -> None:
        self.vocab, self.ca, self.cb, self.ia, self.ib = vocab, ca, cb, ia, ib

    def __len__(self) -> int:
        return len(self.ia)

    def left(self, column: str) -> npt.NDArray[Any]:
        return self.ca[column][self.ia]

    def right(self, column: str) -> npt.NDArray[Any]:
        return self.cb[column][self.ib]

    @cached_property
    def name_matrix(self) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int8]]:
        matrix = similarity_matrix(self.vocab, self.left("names"), self.right("names"))
        # fathers' names meet the other's own names only; father against father is the father comparison
        wa, wb = matrix[0].shape[1:]
        fathers = self.left("father_slots")[:, :wa, None] & self.right("father_slots")[:, None, :wb]
        matrix[0][fathers] = -1.0
        return matrix

    @cached_property
    def names(self) -> Alignment:
        """The three best disjoint pairs of names."""
        return align(self.vocab, self.left("names"), self.right("names"), 3, self.name_matrix)

    @cached_property
    def fewest_names(self) -> npt.NDArray[np.int32]:
        """How many names the side written with fewer has: a second or third name can agree only then."""
        fewest: npt.NDArray[np.int32] = np.minimum(self.left("n_names"), self.right("n_names"))
        return fewest

    @cached_property
    def given(self) -> GivenMatch:
        """The given names of either side (as written, transliterated) against the other's bag."""
        bag_a, bag_b = self.left("names"), self.right("names")
        sims = self.name_matrix[0]
        s_ab, ga, t_ab = _best_of_given(sims, self.left("given_slots"), bag_a, bag_b)
        s_ba, gb, t_ba = _best_of_given(sims.transpose(0, 2, 1), self.right("given_slots"), bag_b, bag_a)
        # both given names must find a partner: a sibling's family name meeting our given name is no match
        use_ab = s_ab <= s_ba
        sim = np.where(use_ab, s_ab, s_ba)
        one_sided = (s_ab < 0) | (s_ba < 0)
        sim[one_sided] = np.maximum(s_ab, s_ba)[one_sided]
        return GivenMatch(
            sim, np.where(use_ab, ga, gb), (np.where(use_ab, ga, t_ba), np.where(use_ab, t_ab, gb))
        )


# --- comparisons -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Comparison:
    """What the model knows of a comparison: its name and the labels of its levels, lowest first."""

    name: str
    levels: tuple[str, ...]
    tf: bool = False  # term-frequency adjusted on its matched token
    # Conditional u: when the pair agrees on this other comparison (level >= 2), u comes from random
    # pairs that agree on it too. Family names repeat given names in patronymic naming, so agreeing on
    # a second name is far less surprising once the first agreed.
    after: str = ""
    # Levels in order of agreement: a closer agreement never weighs less than a looser one (see
    # Model.level_weights), whatever few pairs estimated the rarer level.
    graded: bool = False


Compared = tuple[Levels, TokenIds | None]  # levels, and the matched token for TF (None: no TF token)


@dataclass(frozen=True)
class FieldComparison(Comparison, ABC):
    """A comparison that computes its own levels from a batch of pairs."""

    graded: bool = True

    @abstractmethod
    def compare(self, pairs: Pairs) -> Compared:
        """The level of every pair (``MISSING`` where either side lacks the field)."""


NAME_LEVELS = ("disagree", "weak fuzzy", "strong fuzzy", "exact")


@dataclass(frozen=True)
class NameSimilarity(FieldComparison):
    """A name's similarity in levels: exact, strong fuzzy (one name spelled otherwise), weak fuzzy."""

    levels: tuple[str, ...] = NAME_LEVELS
    exact_at: float = EXACT
    strong_at: float = STRONG
    weak_at: float = WEAK

    def level_of(self, sim: Floats) -> Levels:
        """Levels of similarities (negative: no name to compare, missing)."""
        lvl = np.full(sim.shape, MISSING, dtype=np.int8)
        lvl[sim >= 0] = 0
        lvl[sim >= self.weak_at] = 1
        lvl[sim >= self.strong_at] = 2
        lvl[sim >= self.exact_at] = 3
        return lvl


@dataclass(frozen=True)
class GivenName(NameSimilarity):
    """The given name against the other's names: the weaker of the two sides' best matches."""

    def compare(self, pairs: Pairs) -> Compared:
        return self.level_of(pairs.given.sim), pairs.given.tf_token


@dataclass(frozen=True)
class AlignedName(NameSimilarity):
    """The ``rank``-th best pair of the two bags of names (0 = the best), when both sides are written
    with more than ``rank`` names; missing otherwise (one name cannot agree or disagree twice)."""

    rank: int = 1

    def level_of_alignment(self, sims: Floats, fewest_names: npt.NDArray[np.int32]) -> Levels:
        lvl = self.level_of(sims[:, self.rank])
        lvl[fewest_names <= self.rank] = MISSING
        return lvl

    def compare(self, pairs: Pairs) -> Compared:
        level = self.level_of_alignment(pairs.names.sims, pairs.fewest_names)
        return level, pairs.names.left[:, self.rank]


@dataclass(frozen=True)
class AlignedNameAgrees(AlignedName):
    """The ``rank``-th best pair of names agrees (strong fuzzy or better) or not."""

    levels: tuple[str, ...] = ("disagree", "agree")
    rank: int = 2

    def level_of_alignment(self, sims: Floats, fewest_names: npt.NDArray[np.int32]) -> Levels:
        s = sims[:, self.rank]
        lvl = (s >= self.strong_at).astype(np.int8)
        lvl[(fewest_names <= self.rank) | (s < 0)] = MISSING
        return lvl

    def compare(self, pairs: Pairs) -> Compared:
        return self.level_of_alignment(pairs.names.sims, pairs.fewest_names), None


DATE_LEVELS = (
    "far apart",
    "precise dates differ",
    "within 3 years",
    "within a year",
    "same year",
    "day and month swapped or one typo",
    "exact",
)


@dataclass(frozen=True)
class BirthDate(FieldComparison):
    """Birth dates as intervals of years (estimates, ages) with month and day when known."""

    levels: tuple[str, ...] = DATE_LEVELS
    graded: bool = False  # two precise dates that differ weigh against, below estimates years apart
    near_years: int = 3  # "within 3 years" of two intervals
    close_years: int = 1  # "within a year"
    typo_years: int = 10  # the same day and month this many years apart: one typo in the year

    def compare(self, pairs: Pairs) -> Compared:
        lo_a, hi_a = pairs.left("year_lo"), pairs.left("year_hi")
        lo_b, hi_b = pairs.right("year_lo"), pairs.right("year_hi")
        mo_a, d_a, mo_b, d_b = (
            pairs.left("month"),
            pairs.left("day"),
            pairs.right("month"),
            pairs.right("day"),
        )
        gap = np.maximum(0, np.maximum(lo_a - hi_b, lo_b - hi_a))
        wide = ((hi_a - lo_a) > 1) | ((hi_b - lo_b) > 1)
        lvl = np.zeros(len(pairs), dtype=np.int8)
        lvl[gap <= self.near_years] = 2
        lvl[gap <= self.close_years] = 3
        lvl[(gap == 0) & ~wide] = 4
        full = (lo_a == hi_a) & (lo_b == hi_b) & (d_a > 0) & (d_b > 0)
        # two precise dates that differ are evidence against, unlike two estimates a year apart
        lvl[full & (gap <= self.near_years)] = 1
        same_year = full & (lo_a == lo_b)
        swapped = same_year & (mo_a == d_b) & (d_a == mo_b)
        one_off = full & (
            ((lo_a == lo_b) & ((mo_a == mo_b) | (d_a == d_b)))
            | ((np.abs(lo_a - lo_b) <= self.typo_years) & (mo_a == mo_b) & (d_a == d_b))
        )
        lvl[swapped | one_off] = 5
        lvl[same_year & (mo_a == mo_b) & (d_a == d_b)] = 6
        lvl[(lo_a < 0) | (lo_b < 0)] = MISSING
        return lvl, None


@dataclass(frozen=True)
class Equal(FieldComparison):
    """A code that agrees or not (sex, nationality, a phone number's last digits)."""

    levels: tuple[str, ...] = ("disagree", "agree")
    column: str = ""
    empty: Any = ""  # the column's missing value

    def compare(self, pairs: Pairs) -> Compared:
        a, b = pairs.left(self.column), pairs.right(self.column)
        lvl: Levels = np.asarray(a == b, dtype=np.int8)
        lvl[(a == self.empty) | (b == self.empty)] = MISSING
        return lvl, None


def string_similarity_levels(
    a: npt.NDArray[np.object_], b: npt.NDArray[np.object_], at: tuple[float, ...]
) -> Levels:
    """Per pair of texts, how many of the Jaro-Winkler thresholds ``at`` they reach; missing if either
    is empty."""
    present = (a != "") & (b != "")
    lvl = np.full(a.shape, MISSING, dtype=np.int8)
    if present.any():
        s = jaro_winkler(a[present], b[present])
        lvl[present] = sum(
            ((s >= t).astype(np.int8) for t in at), np.zeros(int(present.sum()), dtype=np.int8)
        )
    return lvl


@dataclass(frozen=True)
class FuzzyText(FieldComparison):
    """Free text (places, addresses): exact or nearly, fuzzy, or not; the same ``key_column`` (a place's
    consonants, to meet كسلا and Kassala across scripts) counts as fuzzy."""

    levels: tuple[str, ...] = ("disagree", "fuzzy", "exact")
    column: str = ""
    exact_at: float = 0.97
    fuzzy_at: float = 0.85
    key_column: str = ""

    def compare(self, pairs: Pairs) -> Compared:
        lvl = string_similarity_levels(
            pairs.left(self.column), pairs.right(self.column), (self.fuzzy_at, self.exact_at)
        )
        if self.key_column:
            key_a, key_b = pairs.left(self.key_column), pairs.right(self.key_column)
            lvl[(lvl == 0) & (key_a == key_b) & (key_a != "")] = 1
        return lvl, None


@dataclass(frozen=True)
class Document(FieldComparison):
    """A document number: the same, similar (one digit misread or mistyped), or another."""

    levels: tuple[str, ...] = ("disagree", "similar", "exact")
    column: str = "document"
    similar_at: float = 0.85

    def compare(self, pairs: Pairs) -> Compared:
        a, b = pairs.left(self.column), pairs.right(self.column)
        lvl = string_similarity_levels(a, b, (self.similar_at,))
        lvl[(lvl >= 0) & (a == b)] = 2
        return lvl, None


PARENT_LEVELS = ("disagree", "only a later name agrees", "first name agrees", "two names agree")


@dataclass(frozen=True)
class ParentName(FieldComparison):
    """A parent's name. Their first name is their own; the names after it are their father's and
    grandfather's (Robel Yonas is not Yonas), so the first names are compared in place, the rest as a
    bag."""

    levels: tuple[str, ...] = PARENT_LEVELS
    column: str = ""
    agree_at: float = STRONG

    def compare(self, pairs: Pairs) -> Compared:
        pa, pb = pairs.left(self.column), pairs.right(self.column)
        lvl = np.full(len(pa), MISSING, dtype=np.int8)
        token = np.full(len(pa), -1, dtype=np.int32)
        both = np.nonzero((pa[:, 0] >= 0) & (pb[:, 0] >= 0))[0]  # most pairs lack a parent on one side
        if both.size == 0:
            return lvl, token
        pa, pb = pa[both], pb[both]
        al = align(pairs.vocab, pa, pb, 2)
        first, _ = token_similarity(pairs.vocab, pa[:, 0], pb[:, 0])
        sub = np.zeros(len(both), dtype=np.int8)
        sub[al.sims[:, 0] >= self.agree_at] = 1  # only a later name agrees
        sub[first >= self.agree_at] = 2
        sub[(first >= self.agree_at) & (al.sims[:, 1] >= self.agree_at)] = 3
        lvl[both] = sub
        token[both] = al.left[:, 0]
        return lvl, token


GIVEN_NAME = GivenName("given_name", tf=True)
OTHER_NAMES = AlignedName("other_names", tf=True, after="given_name", rank=1)
THIRD_NAME = AlignedNameAgrees("third_name", after="other_names", rank=2)
COMPARISONS: tuple[FieldComparison, ...] = (
    GIVEN_NAME,
    OTHER_NAMES,
    THIRD_NAME,
    BirthDate("birth_date"),
    Equal("sex", column="sex", empty=0),
    Equal("nationality", column="nationality"),
    FuzzyText("birth_place", column="birth_place", key_column="birth_place_key"),
    FuzzyText("place", column="place"),
    FuzzyText("address", column="address"),
    # no TF on the father: in patronymic naming his name is the family name, already adjusted
    ParentName("father_name", column="father"),
    ParentName("mother_name", column="mother"),
    Equal("phone", column="phone"),
    Document("document_id"),
)
COMPARISON_NAMES = tuple(c.name for c in COMPARISONS)


@dataclass
class PairComparison:
    """Levels of every comparison for a batch of pairs, with what the explanation and TF need."""

    levels: Levels  # [pairs, comparisons]
    tf_tokens: TokenIds  # [pairs, comparisons] matched token id for TF, -1 when none
    names: Alignment
    given_sim: Floats
    given_tokens: tuple[TokenIds, TokenIds]


def compare(
    vocab: Vocabulary,
    ca: Columns,
    cb: Columns,
    ia: Ints,
    ib: Ints,
    *,
    comparisons: tuple[FieldComparison, ...] = COMPARISONS,
) -> PairComparison:
    """Levels of all comparisons for pairs (ia[i], ib[i]) of rows of column sets ca and cb."""
    pairs = Pairs(vocab, ca, cb, ia, ib)
    levels = np.full((len(pairs), len(comparisons)), MISSING, dtype=np.int8)
    tf_tokens = np.full((len(pairs), len(comparisons)), -1, dtype=np.int32)
    for c, comparison in enumerate(comparisons):
        level, token = comparison.compare(pairs)
        levels[:, c] = level
        if token is not None:
            tf_tokens[:, c] = token
    return PairComparison(levels, tf_tokens, pairs.names, pairs.given.sim, pairs.given.pair)
