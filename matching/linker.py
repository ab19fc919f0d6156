"""Batch linkage of two record sets (or deduplication of one): block, compare, fit, score, explain."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from matching.blocking import DEFAULT_MAX_BLOCK, BlockingStats, candidate_pairs
from matching.compare import COMPARISON_NAMES, COMPARISONS, EVIDENCE_KINDS, MISSING, Columns, compare
from matching.dates import Placeholders
from matching.errors import InputError, MatchingError
from matching.model import TF_CLIP, EMStage, Model, probability
from matching.records import Prepared, RecordTable, Vocabulary, prepare

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Progress = Callable[[str], None]
CHUNK = 100_000
RANDOM_PAIRS = 200_000
RIVAL_CAP = 10.0  # odds (p = 0.91) above which a rival candidate weighs no more
EXCLUSIVITY = 0.5  # how strongly candidates of one record compete (0: not at all, 1: one match at most)
EM_PAIRS = 500_000
DUPLICATES_IN_RANDOM_PAIRS = 20.0  # expected matches among the random pairs worth a second fit
NAMESAKES_MIN = 1000  # name-agreeing pairs from keys of names alone enough to learn u from


@dataclass(frozen=True)
class TokenMatch:
    left: str
    right: str
    similarity: float
    how: str


@dataclass(frozen=True)
class FieldEvidence:
    """What one comparison contributed: an officer reads ``field``, ``level`` and ``weight`` (bits)."""

    field: str
    level: str
    weight: float
    left: str = ""
    right: str = ""
    alignment: tuple[TokenMatch, ...] = ()


@dataclass(frozen=True)
class Explanation:
    match_weight: float
    match_probability: float
    fields: tuple[FieldEvidence, ...]

    def as_text(self) -> str:
        lines = [f"match probability {self.match_probability:.3f} (weight {self.match_weight:+.1f} bits)"]
        for f in self.fields:
            line = f"  {f.field}: {f.level} ({f.weight:+.1f})"
            if f.alignment:
                line += "  " + ", ".join(f"{t.left} = {t.right} ({t.how})" for t in f.alignment)
            elif f.left or f.right:
                line += f"  {f.left!r} / {f.right!r}"
            lines.append(line)
        return "\n".join(lines)


def _token_freq(vocab: Vocabulary, tokens: npt.NDArray[np.int32]) -> Floats:
    freq = vocab.frequencies()
    out = np.zeros(tokens.shape, dtype=np.float64)
    ok = tokens >= 0
    out[ok] = freq[tokens[ok]]
    return out


def tf_bits(
    model: Model, vocab: Vocabulary, levels: npt.NDArray[np.int8], tokens: npt.NDArray[np.int32]
) -> Floats:
    """Term-frequency adjustments in bits, per pair and comparison.

    When both the given name and another name agree, the pair of names is what a namesake would have
    to share, so its joint frequency (records holding both) replaces the two single-name adjustments.
    """
    tf = model.tf_adjustments(levels, _token_freq(vocab, tokens))
    g, o = COMPARISON_NAMES.index("given_name"), COMPARISON_NAMES.index("other_names")
    both = (levels[:, g] >= 2) & (levels[:, o] >= 2) & (tokens[:, g] >= 0) & (tokens[:, o] >= 0)
    if both.any():
        f, mean = vocab.pair_frequencies(tokens[both, g], tokens[both, o])
        if mean > 0:  # no pair of names was ever counted (fixed frequencies of single names only)
            tf[both, g] = np.clip(np.log2(mean / f), *TF_CLIP)
            tf[both, o] = 0.0
    return tf


def compare_all(
    vocab: Vocabulary, ca: Columns, cb: Columns, ia: Ints, ib: Ints
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int32]]:
    """Levels and matched tokens (for TF) of all pairs, computed in chunks to bound memory."""
    levels = np.empty((len(ia), len(COMPARISONS)), dtype=np.int8)
    tokens = np.empty((len(ia), len(COMPARISONS)), dtype=np.int32)
    for s in range(0, len(ia), CHUNK):
        cmp = compare(vocab, ca, cb, ia[s : s + CHUNK], ib[s : s + CHUNK])
        levels[s : s + CHUNK] = cmp.levels
        tokens[s : s + CHUNK] = cmp.tf_tokens
    return levels, tokens


def field_evidence(
    model: Model, vocab: Vocabulary, levels: npt.NDArray[np.int8], tokens: npt.NDArray[np.int32]
) -> Floats:
    """[pairs, comparisons] weight of each comparison in bits, TF adjusted; 0 where missing."""
    return model.field_weights(levels) + tf_bits(model, vocab, levels, tokens)


def weigh(
    model: Model, vocab: Vocabulary, levels: npt.NDArray[np.int8], tokens: npt.NDArray[np.int32]
) -> tuple[Floats, Floats]:
    """Match weight (log2 Bayes factor, TF adjusted) and match probability of compared pairs."""
    weight = field_evidence(model, vocab, levels, tokens).sum(axis=1)
    return weight, probability(weight, model.prior)


@dataclass(frozen=True)
class Scored:
    """Records compared with their candidates: per candidate the levels, each comparison's weight,
    the evidence (their sum), and the weight and probability once the candidates competed."""

    levels: npt.NDArray[np.int8]
    fields: Floats
    evidence: Floats
    weight: Floats
    probability: Floats
    competed: npt.NDArray[np.bool_]  # whether other candidates of the same record competed


def score_candidates(
    model: Model,
    vocab: Vocabulary,
    records: Columns,
    candidates: Columns,
    exclusivity: float,
    *,
    pairs: tuple[Ints, Ints] | None = None,
) -> Scored:
    """Score records (columns) against candidates (columns): each pair (record row, candidate row) of
    ``pairs``, or, when not given, the one record against every candidate.

    The candidates of one record compete for it (see :func:`compete`) when it has several; candidates
    of different records never compete (also when they are one row of ``candidates``), so scoring many
    records in one call scores each as a call of its own would.
    """
    if pairs is None:
        n = len(candidates["names"])
        ia, ib = np.zeros(n, dtype=np.int64), np.arange(n, dtype=np.int64)
    else:
        ia, ib = pairs
    levels, tokens = compare_all(vocab, records, candidates, ia, ib)
    fields = field_evidence(model, vocab, levels, tokens)
    evidence = fields.sum(axis=1)
    weight, prob = evidence, probability(evidence, model.prior)
    rivalled = np.bincount(ia, minlength=int(ia.max(initial=-1)) + 1)[ia] > 1
    if exclusivity > 0 and rivalled.any():
        each = np.arange(len(ia), dtype=np.int64)  # a candidate competes for its own record only
        competed_weight, competed_prob = compete(ia, each, prob, model.prior, exclusivity)
        # a record's only candidate keeps its own evidence exactly
        weight = np.where(rivalled, competed_weight, weight)
        prob = np.where(rivalled, competed_prob, prob)
    return Scored(levels, fields, evidence, weight, prob, rivalled & (exclusivity > 0))


def compete(left: Ints, right: Ints, prob: Floats, prior: float, beta: float) -> tuple[Floats, Floats]:
    """Candidates of one record compete for it: a person is usually one record on each side.

    With odds o_i of pair i, its probability becomes o_i / (1 + o_i + beta * (sum of the odds of the
    other candidates of its left record and of its right record)). beta = 1 is the exact posterior when
    each record matches at most one on the other side; a smaller beta leaves room for the duplicates
    real data has (two requests for one person, two sightings of one person). The order of a left
    record's candidates is unchanged by its own competition. Returns the match weight (log2 Bayes factor
    consistent with the new probability) and the probability.
    """
    odds = np.minimum(prob / np.maximum(1.0 - prob, 1e-300), 1e30)
    # a rival counts at most as a near-certain match: two overwhelming candidates are duplicates of
    # one another (two sightings of one person), not rivals, and both keep their probability
    capped = np.minimum(odds, RIVAL_CAP)
    n_left = int(left.max(initial=-1)) + 1
    n_right = int(right.max(initial=-1)) + 1
    rivals = np.bincount(left, weights=capped, minlength=n_left)[left] - capped
    rivals += np.bincount(right, weights=capped, minlength=n_right)[right] - capped
    new = odds / (1.0 + odds + beta * np.maximum(rivals, 0.0))
    new_odds = new / np.maximum(1.0 - new, 1e-300)
    weight = np.log2(np.maximum(new_odds, 1e-300)) - np.log2(prior / (1.0 - prior))
    return weight, new


def explain_pair(model: Model, vocab: Vocabulary, a: Prepared, b: Prepared) -> Explanation:
    """Per-field evidence for one pair of prepared records, with the token alignment of names."""
    ca, cb = RecordTable._build([a]), RecordTable._build([b])
    zero = np.zeros(1, dtype=np.int64)
    cmp = compare(vocab, ca, cb, zero, zero)
    fw = model.field_weights(cmp.levels)[0]
    tf = tf_bits(model, vocab, cmp.levels, cmp.tf_tokens)[0]
    toks = vocab.tokens
    alignment = tuple(
        TokenMatch(
            toks[int(cmp.names.left[0, k])].original,
            toks[int(cmp.names.right[0, k])].original,
            round(float(cmp.names.sims[0, k]), 3),
            EVIDENCE_KINDS[int(cmp.names.kinds[0, k])],
        )
        for k in range(cmp.names.sims.shape[1])
        if cmp.names.sims[0, k] >= 0.85
    )
    raw_fields = {
        "given_name": "given_name",
        "birth_place": "birth_place",
        "place": "place",
        "address": "address",
        "father_name": "father_name",
        "mother_name": "mother_name",
        "phone": "phone",
        "document_id": "document_id",
        "sex": "sex",
        "nationality": "nationality",
    }
    fields = []
    for c, comp in enumerate(COMPARISONS):
        lvl = int(cmp.levels[0, c])
        label = "missing" if lvl == MISSING else comp.levels[lvl]
        if comp.name == "birth_date":
            left = a.raw["birth_date"] or (f"age {a.raw['age']}" if a.raw["age"] else "")
            right = b.raw["birth_date"] or (f"age {b.raw['age']}" if b.raw["age"] else "")
        elif comp.name in ("other_names", "third_name"):
            left = " ".join(x for x in (a.raw["given_name"], a.raw["family_name"]) if x) or a.raw["full_name"]
            right = (
                " ".join(x for x in (b.raw["given_name"], b.raw["family_name"]) if x) or b.raw["full_name"]
            )
        else:
            key = raw_fields.get(comp.name, comp.name)
            left, right = a.raw.get(key, ""), b.raw.get(key, "")
        align = alignment if comp.name == "other_names" else ()
        if comp.name == "given_name" and cmp.given_sim[0] >= 0:
            ga, gb = (int(x[0]) for x in cmp.given_tokens)
            if ga >= 0 and gb >= 0:
                align = (
                    TokenMatch(
                        toks[ga].original, toks[gb].original, round(float(cmp.given_sim[0]), 3), "best match"
                    ),
                )
        fields.append(FieldEvidence(comp.name, label, round(float(fw[c] + tf[c]), 2), left, right, align))
    w = float(fw.sum() + tf.sum())
    return Explanation(round(w, 2), float(probability(np.asarray([w]), model.prior)[0]), tuple(fields))


@dataclass
class Links:
    """Scored candidate pairs of a batch linkage, best first within each left record."""

    left_ids: list[str]
    right_ids: list[str]
    left_pos: Ints
    right_pos: Ints
    match_weight: Floats
    match_probability: Floats
    model: Model
    blocking: BlockingStats
    _left: Sequence[Prepared] = field(repr=False, default=())
    _right: Sequence[Prepared] = field(repr=False, default=())
    _vocab: Vocabulary | None = field(repr=False, default=None)

    def __len__(self) -> int:
        return len(self.left_pos)

    def selected(self, threshold: float = 0.5, top_k: int | None = None) -> Ints:
        """Indices of pairs with probability >= threshold, at most top_k per left record, ranked."""
        keep = np.nonzero(self.match_probability >= threshold)[0]
        order = np.lexsort((-self.match_weight[keep], self.left_pos[keep]))
        keep = keep[order]
        if top_k is not None and len(keep):
            lp = self.left_pos[keep]
            first = np.r_[0, np.nonzero(np.diff(lp))[0] + 1]
            rank = np.arange(len(keep)) - np.repeat(first, np.diff(np.r_[first, len(keep)]))
            keep = keep[rank < top_k]
        return keep

    def rows(
        self, threshold: float = 0.5, top_k: int | None = None
    ) -> Iterator[tuple[str, str, float, float]]:
        for i in self.selected(threshold, top_k):
            yield (
                self.left_ids[self.left_pos[i]],
                self.right_ids[self.right_pos[i]],
                float(self.match_probability[i]),
                float(self.match_weight[i]),
            )

    def explain(self, i: int) -> Explanation:
        """The evidence of pair i on its own (before its record's other candidates compete with it)."""
        if self._vocab is None:
            raise MatchingError("these links carry no records to explain")
        return explain_pair(
            self.model, self._vocab, self._left[self.left_pos[i]], self._right[self.right_pos[i]]
        )


def prepare_all(
    records: Sequence[Mapping[str, Any]],
    vocab: Vocabulary,
    source: str = "records",
    first_row: int = 1,
    *,
    strict_dates: bool = True,
    placeholders: Placeholders | None = None,
) -> list[Prepared]:
    """Prepare records, checking ids are unique; errors name the source, row and column.

    ``strict_dates``: see :func:`matching.records.prepare`. ``placeholders``: which written birth
    days stand for unknown ones; by default judged from these records' own dates (one source, one
    convention).
    """
    if placeholders is None:
        placeholders = Placeholders.judged(str(r.get("birth_date") or "") for r in records)
    out: list[Prepared] = []
    seen: set[str] = set()
    for n, rec in enumerate(records):
        try:
            p = prepare(rec, vocab, strict_dates=strict_dates, placeholders=placeholders)
        except InputError as exc:
            raise InputError(exc.message, source=source, row=n + first_row, column=exc.column) from None
        if p.id in seen:
            raise InputError(f"duplicate id {p.id!r}", source=source, row=n + first_row, column="id")
        seen.add(p.id)
        out.append(p)
    return out


class Linker:
    """Batch linkage with an unsupervised model (or a given one).

    ``fit`` decides whether m and the prior are re-estimated by EM on the blocked pairs of this run;
    u always comes from random pairs of the data unless a fitted model is given with ``fit=False``.
    """

    def __init__(
        self,
        model: Model | None = None,
        *,
        fit: bool = True,
        max_block: int | None = None,
        random_pairs: int = RANDOM_PAIRS,
        seed: int = 0,
        exclusivity: float = EXCLUSIVITY,
        progress: Progress | None = None,
    ) -> None:
        self.model = model if model is not None else Model()
        self.exclusivity = exclusivity
        self.fit = fit or model is None
        self.max_block = max_block
        self.random_pairs = random_pairs
        self.seed = seed
        self.progress = progress or (lambda _msg: None)
        self.vocab = Vocabulary()

    def link(
        self,
        left: Sequence[Mapping[str, Any]] | Sequence[Prepared],
        right: Sequence[Mapping[str, Any]] | Sequence[Prepared],
    ) -> Links:
        a = self._prepared(left, "left")
        b = self._prepared(right, "right")
        return self._run(a, b)

    def dedupe(self, records: Sequence[Mapping[str, Any]] | Sequence[Prepared]) -> Links:
        return self._run(self._prepared(records, "input"), None)

    def _prepared(
        self, records: Sequence[Mapping[str, Any]] | Sequence[Prepared], source: str
    ) -> list[Prepared]:
        if records and isinstance(records[0], Prepared):
            return [r for r in records if isinstance(r, Prepared)]
        return prepare_all([r for r in records if not isinstance(r, Prepared)], self.vocab, source)

    def _run(self, a: list[Prepared], b: list[Prepared] | None) -> Links:
        vocab = self.vocab
        ta = RecordTable(vocab, a)
        tb = ta if b is None else RecordTable(vocab, b)
        self.progress(f"blocking {len(a)} x {len(tb)} records")
        ia, ib, stats = candidate_pairs(a, b, vocab, max_block=self.max_block)
        self.progress(f"{stats.candidate_pairs} candidate pairs from {stats.keys} keys")
        ca, cb = ta.columns(), tb.columns()
        self.progress(f"comparing {len(ia)} pairs")
        levels, tokens = compare_all(vocab, ca, cb, ia, ib)
        if self.fit and len(ia):  # nothing to learn from when nothing can match
            # Under a tight bound (large sets) the blocks of names alone are dropped and most
            # namesakes meet through a name with a birth year; at the default bound they do not.
            tight = stats.max_block < DEFAULT_MAX_BLOCK
            by_name = stats.by_name if tight else None
            self._fit(ca, cb, len(ta), len(tb), levels, by_name=by_name, dedupe=b is None)
        evidence, prob = weigh(self.model, vocab, levels, tokens)
        weight = evidence
        if self.exclusivity > 0 and b is not None:
            weight, prob = compete(ia, ib, prob, self.model.prior, self.exclusivity)
            if self.fit and len(ia):  # the prior is the expected share of matches: re-estimate it
                population = len(ta) * len(tb)
                for _ in range(3):
                    self.model.prior = float(np.clip(prob.sum() / population, 1e-9, self.model.prior))
                    prob = probability(evidence, self.model.prior)
                    weight, prob = compete(ia, ib, prob, self.model.prior, self.exclusivity)
        bb = a if b is None else b
        return Links(ta.ids, tb.ids, ia, ib, weight, prob, self.model, stats, a, bb, vocab)

    def _fit(
        self,
        ca: Columns,
        cb: Columns,
        na: int,
        nb: int,
        blocked: npt.NDArray[np.int8],
        *,
        by_name: npt.NDArray[np.bool_] | None,
        dedupe: bool,
    ) -> None:
        rng = np.random.default_rng(self.seed)
        n = min(self.random_pairs, na * nb)
        ra = rng.integers(0, na, n)
        rb = rng.integers(0, nb, n)
        if dedupe:
            keep = ra != rb
            ra, rb = ra[keep], rb[keep]
        self.progress(f"estimating u from {len(ra)} random pairs")
        random_levels, _ = compare_all(self.vocab, ca, cb, ra, rb)
        mean = self.vocab.mean_frequency()
        tf_mean = [mean if c.tf else 0.0 for c in self.model.comparisons]
        self.model.estimate_u(random_levels, tf_mean)
        n_blocked = len(blocked)
        if len(blocked) > EM_PAIRS:  # a random sample estimates m as well and bounds the time
            sample = rng.choice(len(blocked), EM_PAIRS, replace=False)
            blocked = blocked[sample]
            by_name = None if by_name is None else by_name[sample]
        if not len(blocked):
            return
        population = (na * (na - 1) // 2) if dedupe else na * nb
        self.progress(f"estimating m by EM on {len(blocked)} candidate pairs")
        self._fit_m(blocked, by_name, min(na, nb), population, n_blocked, dedupe=dedupe)
        # Random pairs of a list dense with duplicates hold some of them: weigh each by the chance
        # that it is no match and fit again, once, when they hold more than a few.
        non_match = 1.0 - self.model.posterior(random_levels)
        if len(non_match) - non_match.sum() >= DUPLICATES_IN_RANDOM_PAIRS:
            self.progress("random pairs hold matches: estimating u and m again without them")
            self.model.estimate_u(random_levels, tf_mean, non_match=non_match)
            self._fit_m(blocked, by_name, min(na, nb), population, n_blocked, dedupe=dedupe)

    def _fit_m(
        self,
        blocked: npt.NDArray[np.int8],
        by_name: npt.NDArray[np.bool_] | None,
        smaller: int,
        population: int,
        n_blocked: int,
        *,
        dedupe: bool,
    ) -> None:
        """m and the prior by EM in stages on (a sample of) the blocked pairs' levels."""
        prior = min(0.5, max(smaller / len(blocked), 1e-4))
        names = [COMPARISON_NAMES.index(c) for c in ("given_name", "other_names", "third_name")]
        born = COMPARISON_NAMES.index("birth_date")
        exact_date = len(COMPARISONS[born].levels) - 1
        everything = range(len(COMPARISON_NAMES))
        others = [c for c in everything if c not in names]
        col = {name: COMPARISON_NAMES.index(name) for name in COMPARISON_NAMES}
        names_agree = (blocked[:, names[0]] >= 2) & (blocked[:, names[1]] >= 2)
        # not the father: in patronymic naming his name is the family name, so it agrees with it
        corroborated = names_agree & ((blocked[:, col["phone"]] == 1) | (blocked[:, col["document_id"]] == 2))
        if corroborated.sum() < 30:
            corroborated |= names_agree & (blocked[:, col["mother_name"]] == 3)
        namesakes = names_agree
        if by_name is not None and (names_agree & by_name).sum() >= NAMESAKES_MIN:
            namesakes = names_agree & by_name
        stages = [
            # Same full birth date: the non-matches are random pairs; m of everything but the date.
            EMStage(blocked[:, born] == exact_date, [c for c in everything if c != born]),
            # Names and a phone or a document (failing enough of those, the mother's full name)
            # agree: nearly all the same person; m of the date is its distribution there.
            EMStage(corroborated, [born], direct=True),
            # Names agree: the non-matches are namesakes; their u for the other fields, kept for scoring.
            # Given ``by_name``, only namesakes that a key of names alone brought together:
            # those that met through a name with a birth year agree on the year by choice, which
            # made the date weigh too little in large sets.
            EMStage(namesakes, [], others, free_u=True, keep_u=True),
        ]
        self.model.fit_em(blocked, stages=stages, prior=prior, population=population, n_pairs=n_blocked)
        if not dedupe:
            # A person is on each side at most about once: no more matches than the smaller side has
            # records. EM with correlated evidence overestimates the prior; this bounds it. (A list
            # being deduplicated may hold a person many times: its prior is EM's.)
            self.model.prior = min(self.model.prior, smaller / population)


def link(left: Sequence[Mapping[str, Any]], right: Sequence[Mapping[str, Any]], **kwargs: Any) -> Links:
    """Link two sets of records (plain mappings of the canonical fields) with an unsupervised model."""
    return Linker(**kwargs).link(left, right)


def dedupe(records: Sequence[Mapping[str, Any]], **kwargs: Any) -> Links:
    """Find pairs of records in one set that are the same person."""
    return Linker(**kwargs).dedupe(records)
