"""Blocking: several keys per record, united, each block bounded in size.

A pair becomes a candidate when the two records share at least one key whose block is small enough.
Common names (Mohammed) make huge blocks that are dropped; their combinations with a birth-year window,
a second name or the father's name stay small and keep the pair. In large sets, where the bound is
tight, two names with a birth-year band split even a crowd of namesakes born in the same years.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from matching.records import Prepared, Vocabulary, bare_key, french_key, name_key

Ints = npt.NDArray[np.int64]
DEFAULT_MAX_BLOCK = 3000  # pairs a single key may contribute (left count x right count)
MIN_BLOCK = 500
PAIR_BUDGET = 30_000_000  # block bound x larger side: 3000 up to 10,000 records, 500 from 60,000


def block_bound(n_left: int, n_right: int) -> int:
    """Largest block kept for sets of these sizes."""
    return max(MIN_BLOCK, min(DEFAULT_MAX_BLOCK, PAIR_BUDGET // max(1, n_left, n_right)))


YEAR_WINDOW = 2  # a name+year key is emitted for each year of the birth interval widened by this
MAX_YEARS = 12
YEAR_KEYED_NAMES = 4  # names of a record (own names first) that get name + year keys
PAIR_YEAR_NAMES = 3  # names of a record whose pairs get keys with a birth-year band
PAIR_YEAR_SPAN = 2  # widest birth interval (years) that still gets them


def _parent_keys(rec: Prepared, vocab: Vocabulary, skels: list[str], profile: str) -> list[str]:
    keys: list[str] = []
    if rec.father and skels:
        f = vocab.tokens[rec.father[0]].skeleton
        # patronymic naming: the father's name is the other side's family name
        keys.extend(f"nn|{min(s, f)}|{max(s, f)}" for s in skels[:2] if s != f)
        keys.extend(f"f|{s}|{f}" for s in skels[:3])
        if profile:
            keys.extend(f"fp|{s}|{f}|{profile}" for s in skels[:3])
    if rec.mother and skels:
        mo = vocab.tokens[rec.mother[0]].skeleton
        keys.extend(f"mo|{s}|{mo}" for s in skels[:3])
    return keys


def _pair_year_keys(names: list[str], rec: Prepared) -> list[str]:
    """Two names and a two-year band: what splits a crowd of namesakes born in the same years.

    Each year y gives the bands y // 2 and (y + 1) // 2 (marked apart), so two records whose years
    differ by at most one share a band.
    """
    if rec.born is None or rec.born.year_hi - rec.born.year_lo > PAIR_YEAR_SPAN or len(names) < 2:
        return []
    bands = {f"e{y // 2}" for y in range(rec.born.year_lo, rec.born.year_hi + 1)}
    bands |= {f"o{(y + 1) // 2}" for y in range(rec.born.year_lo, rec.born.year_hi + 1)}
    return [f"ny|{a}|{b}|{band}" for i, a in enumerate(names) for b in names[i + 1 :] for band in bands]


def record_keys(rec: Prepared, vocab: Vocabulary, *, split_crowds: bool = False) -> list[str]:
    """The blocking keys of one record (strings; equal strings put two records in one block).

    ``split_crowds`` adds keys of two names with a birth-year band, for when blocks are bounded so
    tightly (large sets) that a common name with a year is too big a block to keep.
    """
    return [key for group in _keys_by_kind(rec, vocab, split_crowds) for key in group]


def _keys_by_kind(
    rec: Prepared, vocab: Vocabulary, split_crowds: bool
) -> tuple[list[str], list[str], list[str]]:
    """The record's keys of names alone (``NAME_ONLY``), the keys crowds are sorted in
    (``CROWD_KEYS``), and the rest."""
    toks = [vocab.tokens[t] for t in rec.names]
    named: list[str] = []
    crowd: list[str] = []
    keys: list[str] = []
    skels = [name_key(t) for t in toks]
    years: Sequence[int] = ()
    exact_years: Sequence[int] = ()
    if rec.born is not None:
        lo, hi = rec.born.year_lo - YEAR_WINDOW, rec.born.year_hi + YEAR_WINDOW
        if hi - lo <= MAX_YEARS:
            years = range(lo, hi + 1)
            exact_years = range(rec.born.year_lo - 1, rec.born.year_hi + 2)
    # for the commonest names: the same name, sex and nationality, born within a year or two
    profile = f"{rec.sex}|{rec.nationality}" if rec.sex and rec.nationality else ""
    for i, (tok, s) in enumerate(zip(toks, skels, strict=True)):
        named.append("n|" + s)
        named.append("m|" + tok.phonetic)
        named.append("l|" + tok.latin[:4])
        # the other readings of the name: ch as sh (Aicha meets Aisha), a joined prefix (Benali, Ali)
        readings = [k for k in (french_key(tok), bare_key(tok)) if k]
        named.extend("n|" + k for k in readings)
        if i < YEAR_KEYED_NAMES:
            keys.extend(f"y|{s}|{y}" for y in years)
            keys.extend(f"y|{k}|{y}" for k in readings for y in years)
            if profile:
                crowd.extend(f"yp|{s}|{profile}|{y}" for y in exact_years)
    # a birth month, or the very year, narrows even the commonest name: Mohamed born 1991-01
    if rec.born is not None and rec.born.year_lo == rec.born.year_hi:
        crowd.extend(f"yx|{s}|{rec.born.year_lo}" for s in skels[:2])
        if rec.born.month:
            crowd.extend(f"ym|{s}|{rec.born.year_lo}-{rec.born.month}" for s in skels[:2])
    head = sorted(set(skels[:5]))
    named.extend(f"nn|{a}|{b}" for i, a in enumerate(head) for b in head[i + 1 :])
    if split_crowds:
        crowd.extend(_pair_year_keys(sorted(set(skels[:PAIR_YEAR_NAMES])), rec))
    for key in _parent_keys(rec, vocab, skels, profile):  # the father's name beside one's own: names alone
        (named if key.startswith(NAME_ONLY) else keys).append(key)
    if rec.phone:
        keys.append("ph|" + rec.phone)
    if rec.document:
        keys.append("doc|" + rec.document)
    if rec.born is not None and rec.born.full:
        keys.append(f"dob|{rec.born.year_lo}-{rec.born.month}-{rec.born.day}")
    return named, crowd, keys


# Where a name is in each kind of key: the positions of "|"-separated parts that hold one.
NAME_PARTS: dict[str, tuple[int, ...]] = {
    "n": (1,),  # a name's skeleton
    "m": (1,),  # its phonetic key
    "l": (1,),  # the first letters of its Latin form
    "y": (1,),  # name, birth year
    "yp": (1,),  # name, sex, nationality, birth year
    "yx": (1,),  # name, the exact birth year
    "ym": (1,),  # name, birth year and month
    "nn": (1, 2),  # two names
    "ny": (1, 2),  # two names, a birth-year band
    "f": (1, 2),  # a name, the father's name
    "fp": (1, 2),  # a name, the father's name, sex and nationality
    "mo": (1, 2),  # a name, the mother's name
}
# Keys of one value alone that is no name: a phone number, a document number, a full birth date.
VALUE_ONLY = ("ph", "doc", "dob")
MIN_NAME_LETTERS = 2


def _holds_a_name(key: str) -> bool:
    parts = key.split("|")
    return any(
        i < len(parts) and sum(ch.isalpha() for ch in parts[i]) >= MIN_NAME_LETTERS
        for i in NAME_PARTS.get(parts[0], ())
    )


def name_keys(rec: Prepared, vocab: Vocabulary) -> list[str]:
    """The record's blocking keys that hold a name, distinct and sorted: what an application may keep
    as blind indexes (keyed hashes) of a record to find its candidates.

    Every key holds at least one name of two letters or more, so none is a low-entropy value on its
    own: a birth year, a date, a sex or a country appears only beside a name, and the keys of a value
    alone (``VALUE_ONLY``: phone, document, full birth date) are left out. The keys for splitting
    crowds of namesakes are included, since an application's index grows without bound.
    """
    return sorted({k for k in record_keys(rec, vocab, split_crowds=True) if _holds_a_name(k)})


NAME_ONLY = ("n|", "m|", "l|", "nn|")  # keys of names alone: their pairs agree on nothing else by choice
# Keys of names with a birth year, a year band or a profile: a crowd of namesakes too big for one of
# them is sorted by signature and its members meet their CROWD_WINDOW next neighbours instead of
# being dropped (under a tight bound only: large sets, where such crowds form).
CROWD_KEYS = ("yp|", "ny|", "ym|", "yx|")
CROWD_WINDOW = 3


@dataclass
class BlockingStats:
    keys: int
    blocks_dropped: int
    candidate_pairs: int
    max_block: int = DEFAULT_MAX_BLOCK  # the bound the blocks were kept under
    # per candidate pair: whether a key of names alone made it a candidate. Such pairs were not chosen
    # for agreeing on a date or a parent, so their namesakes show how often those agree by chance.
    by_name: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool), repr=False)


@dataclass
class KeyEntries:
    """Every distinct key of every record: its 64-bit hash, the record's position, and its kind.

    Keys are compared by their hash within this process: a collision would only merge two blocks,
    and at these sizes it practically never happens.
    """

    hashes: Ints
    records: Ints
    by_name: npt.NDArray[np.bool_]  # a key of names alone (NAME_ONLY)
    fine: npt.NDArray[np.bool_]  # a key a crowd is sorted in (CROWD_KEYS)


def _key_hashes(groups: Iterable[tuple[list[str], list[str], list[str]]], *, crowds: bool) -> KeyEntries:
    """``groups``: each record's keys by kind (see :func:`_keys_by_kind`). ``crowds``: mark the keys
    crowds are sorted in (else none is)."""
    hashes: list[int] = []
    recs: list[int] = []
    names: list[bool] = []
    fine: list[bool] = []
    for r, group in enumerate(groups):
        named, crowd, other = (set(keys) for keys in group)
        n_named, n_crowd, n_other = len(named), len(crowd), len(other)
        hashes.extend(map(hash, named))
        hashes.extend(map(hash, crowd))
        hashes.extend(map(hash, other))
        names.extend([True] * n_named + [False] * (n_crowd + n_other))
        if crowds:
            fine.extend([False] * n_named + [True] * n_crowd + [False] * n_other)
        recs.extend([r] * (n_named + n_crowd + n_other))
    return KeyEntries(
        np.asarray(hashes, dtype=np.int64),
        np.asarray(recs, dtype=np.int64),
        np.asarray(names, dtype=bool),
        np.asarray(fine, dtype=bool) if crowds else np.zeros(len(hashes), dtype=bool),
    )


def signature(rec: Prepared, vocab: Vocabulary) -> str:
    """What a crowd of namesakes is sorted by: all names, then the birth day, then the parents' first
    names. The same person's two records, alike in most of these, sort close together."""
    names = " ".join(sorted(vocab.tokens[t].latin for t in rec.names))
    day = f"{rec.born.month:02d}{rec.born.day:02d}" if rec.born else ""
    parents = [vocab.tokens[p[0]].latin if p else "" for p in (rec.father, rec.mother)]
    return "|".join((names, day, *parents))


def _ranks(records: Sequence[Prepared], vocab: Vocabulary) -> Ints:
    """Each record's signature's place among the distinct signatures (equal signatures, equal rank)."""
    _, ranks = np.unique(np.asarray([signature(r, vocab) for r in records], dtype=str), return_inverse=True)
    return np.asarray(ranks, dtype=np.int64)


def crowd_neighbours(
    keys: Ints, side: npt.NDArray[np.bool_] | None, rank: Ints, record: Ints, window: int
) -> tuple[Ints, Ints]:
    """Pairs of records that meet within a crowded block once its members are sorted by signature:
    each meets the ``window`` next members (sorted neighbourhood). ``side`` marks right-side members
    (None when deduplicating: any two members pair). Returns (left, right) record positions."""
    dedupe = side is None
    # equal signatures: by position within their side, so that the two sides interleave
    order = np.lexsort((np.zeros(len(keys), dtype=bool) if side is None else side, record, rank, keys))
    keys, record = keys[order], record[order]
    side = np.zeros(len(keys), dtype=bool) if side is None else side[order]
    lefts: list[Ints] = []
    rights: list[Ints] = []
    for d in range(1, window + 1):
        same = keys[:-d] == keys[d:]
        a, b = record[:-d], record[d:]
        if dedupe:
            pair = same & (a != b)
            lefts.append(np.minimum(a, b)[pair])
            rights.append(np.maximum(a, b)[pair])
            continue
        pair = same & (side[:-d] != side[d:])
        lefts.append(np.where(side[:-d], b, a)[pair])
        rights.append(np.where(side[:-d], a, b)[pair])
    return np.concatenate(lefts), np.concatenate(rights)


@dataclass
class _Side:
    records: Sequence[Prepared]
    entries: KeyEntries
    keys: Ints  # index of each entry's key among the distinct keys


def _crowds(
    a: _Side, b: _Side | None, vocab: Vocabulary, crowded: npt.NDArray[np.bool_]
) -> tuple[Ints, Ints]:
    """Sorted-neighbourhood pairs of the crowded fine keys (see ``CROWD_KEYS``); ``b`` None: dedupe."""
    left, ea, ka = a.records, a.entries, a.keys
    rank = _ranks(list(left) if b is None else [*left, *b.records], vocab)
    in_a = crowded[ka] & ea.fine
    if b is None:
        return crowd_neighbours(ka[in_a], None, rank[ea.records[in_a]], ea.records[in_a], CROWD_WINDOW)
    eb, kb = b.entries, b.keys
    in_b = crowded[kb] & eb.fine
    keys = np.concatenate([ka[in_a], kb[in_b]])
    side = np.r_[np.zeros(int(in_a.sum()), dtype=bool), np.ones(int(in_b.sum()), dtype=bool)]
    rank_c = np.concatenate([rank[ea.records[in_a]], rank[len(left) + eb.records[in_b]]])
    recs = np.concatenate([ea.records[in_a], eb.records[in_b]])
    return crowd_neighbours(keys, side, rank_c, recs, CROWD_WINDOW)


def candidate_pairs(
    left: Sequence[Prepared],
    right: Sequence[Prepared] | None,
    vocab: Vocabulary,
    *,
    max_block: int | None = None,
) -> tuple[Ints, Ints, BlockingStats]:
    """Candidate pairs (left positions, right positions), sorted and unique.

    With ``right=None`` (deduplication) the pairs are within ``left`` and each appears once (i < j).
    ``max_block`` bounds the pairs one key may contribute; by default it shrinks as the sets grow
    (:func:`block_bound`) so that candidate pairs grow about linearly with the data.
    """
    if max_block is None:
        max_block = block_bound(len(left), len(left) if right is None else len(right))
    # Large sets bound blocks tightly and drop the blocks of a common name with a year: keys of two
    # names with a year band split those crowds. At the default bound they are not used, which keeps
    # the candidates (and the model fitted on them) of small sets as they were.
    split = max_block < DEFAULT_MAX_BLOCK
    ea = _key_hashes((_keys_by_kind(r, vocab, split) for r in left), crowds=split)
    eb = ea if right is None else _key_hashes((_keys_by_kind(r, vocab, split) for r in right), crowds=split)
    ha, ra, name_a, hb, rb = ea.hashes, ea.records, ea.by_name, eb.hashes, eb.records
    distinct, inverse = np.unique(np.concatenate([ha, hb]), return_inverse=True)
    ka, kb = inverse[: len(ha)], inverse[len(ha) :]
    n_keys = len(distinct)
    count_a = np.bincount(ka, minlength=n_keys)
    count_b = np.bincount(kb, minlength=n_keys)
    size = count_a * count_b
    keep = (size > 0) & (size <= max_block)
    dropped = int((size > max_block).sum())
    order_b = np.argsort(kb, kind="stable")
    kb_sorted, rb_sorted = kb[order_b], rb[order_b]
    sel = keep[ka]
    ka_k, ra_k = ka[sel], ra[sel]
    start = np.searchsorted(kb_sorted, ka_k, side="left")
    cnt = count_b[ka_k]
    total = int(cnt.sum())
    li = np.repeat(ra_k, cnt)
    by_name = np.repeat(name_a[sel], cnt)
    offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    ri = rb_sorted[np.repeat(start, cnt) + offsets]
    if right is None:
        lo, hi = np.minimum(li, ri), np.maximum(li, ri)
        mask = lo != hi
        li, ri, by_name = lo[mask], hi[mask], by_name[mask]
    if split:  # crowds too big for a fine key meet their nearest neighbours instead
        side_b = None if right is None else _Side(right, eb, kb)
        cl, cr = _crowds(_Side(left, ea, ka), side_b, vocab, size > max_block)
        li, ri = np.concatenate([li, cl]), np.concatenate([ri, cr])
        by_name = np.concatenate([by_name, np.zeros(len(cl), dtype=bool)])
    n_right = np.int64(len(left) if right is None else len(right))
    # the lowest bit sorts a pair's name-key occurrence first, so the one kept says if there was any
    codes = (li * n_right + ri) * 2 + ~by_name
    codes.sort()
    pair = codes // 2
    codes = codes[np.r_[True, pair[1:] != pair[:-1]]] if len(codes) else codes
    pair = codes // 2
    li, ri = pair // n_right, pair % n_right
    return li, ri, BlockingStats(n_keys, dropped, len(li), max_block, (codes % 2) == 0)
