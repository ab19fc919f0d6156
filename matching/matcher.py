"""The matcher an application uses: a saved model and the name frequencies it scores with.

An application finds candidates itself (through keyed hashes of :meth:`Matcher.blocking_keys`), then
asks the matcher to score them, explain them, rank search hits by name, and learn from officers::

    matcher = Matcher.default()                      # until there are enough records to fit one
    matcher = Matcher.fit(requests, sightings)       # unsupervised, from the data
    keys = matcher.blocking_keys(record)             # plaintext: the application hashes them
    for s in matcher.score(record, candidates): ...  # id, probability, weight, plaintext-free evidence
    matcher.explain(record, candidate)               # with the names aligned: for reviewing officers
    matcher.name_score("Mohammed Hassan", record)    # name-only evidence, for search
    matcher = matcher.refine([(record, candidate, True), ...])
    data = matcher.to_dict(); Matcher.from_dict(data)   # to store (encrypted) and load
    matcher.version                                  # stored beside each candidate it scored

A matcher does not change once made: ``refine`` returns a new one, and every method works on its own
scratch vocabulary, so one matcher may serve several threads. Records are plain mappings of the
canonical fields (``matching.FIELDS``) and are validated strictly: a value that is not valid raises
:class:`~matching.errors.InputError` naming the column (never the value).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache, cached_property
from importlib import resources
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from matching import saved
from matching.blocking import name_keys
from matching.compare import (
    COMPARISON_NAMES,
    COMPARISONS,
    GIVEN_NAME,
    MISSING,
    OTHER_NAMES,
    THIRD_NAME,
    Columns,
    align,
)
from matching.dates import DEFAULT_PLACEHOLDERS, Placeholders
from matching.errors import InputError
from matching.linker import (
    EXCLUSIVITY,
    Explanation,
    Linker,
    Progress,
    compare_all,
    explain_pair,
    field_evidence,
    score_candidates,
)
from matching.model import Model, probability
from matching.normalise import name_tokens
from matching.records import (
    NAME_SLOTS,
    ColumnStore,
    NameFrequencies,
    Parsed,
    Prepared,
    RecordTable,
    Vocabulary,
    own_names,
    parse,
)

Record = Mapping[str, Any]
DEFAULT_MODEL = "default_model.json"
COMPETITION = "other_candidates"  # the explanation's entry for what the other candidates took away
_NAMES = [COMPARISON_NAMES.index(c) for c in ("given_name", "other_names", "third_name")]


class FieldScore(NamedTuple):
    """What one comparison contributed, without any value: field, agreement level, weight in bits."""

    field: str
    level: str
    weight: float


class Score(NamedTuple):
    """One candidate scored against a record.

    ``match_weight`` is the log2 Bayes factor that, with the model's prior, gives ``match_probability``.
    ``explanation`` holds every comparison's (field, level, weight), and, when other candidates
    competed for the record, an ``other_candidates`` entry with what the competition took away, so
    the weights add up to ``match_weight`` (each rounded to 0.01 bit). It holds no name or value.
    """

    id: str
    match_probability: float
    match_weight: float
    explanation: tuple[FieldScore, ...]


# Ranking records by names alone, the closer fit among equally agreeing names (the first names meet,
# no name left over) adds this per point: far less than any difference of agreement level (a bit or
# more), so it orders only records whose names agree alike.
NAME_FIT_BITS = 0.05
# The weight of a record (or query) without any name: no evidence either way, ranked last.
NO_NAME_EVIDENCE = float("-inf")


class Matcher:
    """A fitted Fellegi-Sunter model with the name frequencies its term-frequency adjustment uses."""

    def __init__(
        self,
        model: Model,
        frequencies: NameFrequencies,
        *,
        exclusivity: float = EXCLUSIVITY,
        source: str = "",
        placeholders: Placeholders = DEFAULT_PLACEHOLDERS,
    ) -> None:
        self.model = model
        self.frequencies = frequencies
        self.exclusivity = exclusivity
        self.source = source
        # which written birth days stand for unknown ones in the records this matcher was fitted on
        self.placeholders = placeholders

    def __repr__(self) -> str:
        return f"Matcher(version={self.version!r})"

    # --- making one -------------------------------------------------------------------------
    @classmethod
    def default(cls) -> Matcher:
        """The model shipped with the package, for an installation with too few records to fit one.

        Fitted on synthetic data only (the development set of Restoring Family Links records, which
        is generated, not collected), so its name frequencies are no one's: see its ``source``.
        Rebuild it with ``python benchmarks/build_default_model.py``.
        """
        return cls.from_dict(_default_model_data())

    @classmethod
    def fit(
        cls,
        left: Sequence[Record],
        right: Sequence[Record],
        *,
        labels: Iterable[tuple[Record, Record, bool]] | None = None,
        seed: int = 0,
        progress: Progress | None = None,
        source: str = "",
    ) -> Matcher:
        """Estimate a model from two sets of records (requests and sightings), unsupervised.

        u comes from random pairs, m and the prior from blocked pairs by EM, the name frequencies
        from both sets: as ``python -m matching link`` does. ``labels`` (left record, right record,
        same person) are officers' decisions, applied afterwards as in :meth:`refine`.
        """
        linker = Linker(seed=seed, progress=progress)
        linker.link(left, right)
        matcher = cls(
            linker.model,
            linker.vocab.name_frequencies(),
            exclusivity=linker.exclusivity,
            source=source or f"fitted on {len(left)} x {len(right)} records",
            placeholders=Placeholders.judged(str(r.get("birth_date") or "") for r in (*left, *right)),
        )
        return matcher.refine(labels) if labels is not None else matcher

    # --- saving -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible data (see :mod:`matching.saved` for the format). It holds the name
        frequencies, personal data in aggregate: store it encrypted."""
        return saved.to_dict(
            saved.SavedModel(self.model, self.frequencies, self.exclusivity, self.source, self.placeholders)
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Matcher:
        """The matcher :meth:`to_dict` gave; raises :class:`~matching.errors.ModelFormatError`."""
        got = saved.from_dict(data)
        return cls(
            got.model,
            got.frequencies,
            exclusivity=got.exclusivity,
            source=got.source,
            placeholders=got.placeholders,
        )

    @cached_property
    def version(self) -> str:
        """A content hash of the saved form: equal for matchers that score alike, stable across runs."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return f"v{saved.FORMAT_VERSION}-{digest[:20]}"

    # --- blocking and scoring -----------------------------------------------------------------
    def blocking_keys(self, record: Record) -> list[str]:
        """The plaintext blocking keys of one record, distinct and sorted.

        Two records that share a key are candidates for each other, as in batch linkage. Every key
        holds a name of two letters or more, so none is a low-entropy value on its own (a birth
        year, a date, a sex, a country appear only beside a name); keys of a phone, a document or a
        full birth date alone are left out. The application stores keyed hashes of them, never the
        keys, and skips a key that too many records share (a common name alone).
        """
        return blocking_keys(record)

    def parse(self, record: Record | Parsed) -> Parsed:
        """The record validated and read for this matcher: what :meth:`score` does to each record it
        is given, but numbering its names. A job that scores a record in many calls (a candidate of
        hundreds of records) parses it once and passes the parsed record."""
        return _parsed(record, "record", None, self.placeholders)

    def score(
        self, record: Record | Parsed, candidates: Sequence[Record | Parsed], *, threshold: float = 0.0
    ) -> list[Score]:
        """Score ``record`` against candidate records from the other side: those with probability >=
        ``threshold``, best first.

        The candidates compete for the record, as in batch linkage and :class:`IncrementalIndex`: a
        person is usually one record on each side, so a candidate's probability falls when another
        fits as well (two near-certain candidates are taken for duplicates and keep theirs). The
        model's prior was estimated with that competition, so it is what gives calibrated
        probabilities. All candidates compete, also those below the threshold. Candidate ids must
        be distinct. Records may be given parsed (:meth:`parse`): the scores are the same.
        """
        [scores] = self.score_many([(record, candidates)], threshold=threshold)
        return scores

    def score_many(
        self,
        groups: Sequence[tuple[Record | Parsed, Sequence[Record | Parsed]]],
        *,
        threshold: float = 0.0,
    ) -> list[list[Score]]:
        """:meth:`score` for many records, each with its own candidates, compared in one pass: the
        same scores as a call per record (a job proposing for many records pays the comparison's
        fixed cost once). A record's candidates compete for it only, never with another record's."""
        vocab = self._vocabulary()
        return self._score_many(
            groups,
            threshold,
            vocab,
            lambda record, source, row: self._prepared(record, vocab, source, row),
            RecordTable._build,
        )

    def scoring(self) -> Scoring:
        """:meth:`score_many` for a job that scores in many calls, in one thread (see :class:`Scoring`)."""
        return Scoring(self, self._vocabulary())

    def _score_many(
        self,
        groups: Sequence[tuple[Record | Parsed, Sequence[Record | Parsed]]],
        threshold: float,
        vocab: Vocabulary,
        prepare: Callable[[Record | Parsed, str, int], Prepared],
        candidate_columns: Callable[[Sequence[Prepared]], Columns],
    ) -> list[list[Score]]:
        """:meth:`score_many` in ``vocab``, each record prepared (in it) by ``prepare``, the candidates
        made columns by ``candidate_columns``."""
        records: list[Prepared] = []
        others: list[Prepared] = []  # each record given once, however many records it is a candidate of
        other_ids: list[str] = []  # theirs, in order
        row_of: dict[int, int] = {}  # by the given object's identity
        record_of: list[int] = []
        candidate_of: list[int] = []
        for g, (record, candidates) in enumerate(groups):
            records.append(prepare(record, "record", g))
            rows = []
            for n, candidate in enumerate(candidates):
                row = row_of.get(id(candidate))
                if row is None:
                    row = row_of[id(candidate)] = len(others)
                    others.append(prepare(candidate, "candidates", n))
                    other_ids.append(others[-1].id)
                rows.append(row)
            if len(set(map(other_ids.__getitem__, rows))) != len(rows):  # the common case, in C
                _check_distinct([others[row] for row in rows])  # which row repeats an id
            record_of.extend([g] * len(rows))
            candidate_of.extend(rows)
        found: list[list[Score]] = [[] for _ in groups]
        if not candidate_of:
            return found
        s = score_candidates(
            self.model,
            vocab,
            RecordTable._build(records),
            candidate_columns(others),
            self.exclusivity,
            pairs=(np.asarray(record_of, dtype=np.int64), np.asarray(candidate_of, dtype=np.int64)),
        )
        for i in np.nonzero(s.probability >= threshold)[0].tolist():
            found[record_of[i]].append(
                Score(
                    others[candidate_of[i]].id,
                    float(s.probability[i]),
                    float(s.weight[i]),
                    _explanation(
                        s.levels[i], s.fields[i], float(s.weight[i] - s.evidence[i]), bool(s.competed[i])
                    ),
                )
            )
        return [sorted(scores, key=lambda score: -score.match_weight) for scores in found]

    def explain(self, record: Record, candidate: Record) -> Explanation:
        """Every comparison's level and weight for one pair, with the values compared and the names
        aligned token by token. It holds plaintext: for officers reviewing the pair. The weights are
        the pair's own evidence, before other candidates competed (see :meth:`score`)."""
        vocab = self._vocabulary()
        a = self._prepared(record, vocab, "record")
        return explain_pair(self.model, vocab, a, self._prepared(candidate, vocab, "candidate"))

    # --- names alone --------------------------------------------------------------------------
    def name_score(self, query: str, record: Record) -> float:
        """Name-only evidence that ``record`` is the person ``query`` names: see :meth:`name_scores`."""
        return self.name_scores(query, [record])[0]

    def name_scores(self, query: str, records: Sequence[Record]) -> list[float]:
        """Name-only evidence, per record, that it is the person the free-text ``query`` names.

        The probability that :meth:`name_weights` gives with the model's prior: small for one name
        alone, since a name alone says little, but it ranks records by how well their names answer
        the query. A query without a name, or a record without one, scores 0.
        """
        weights = self.name_weights(query, records)
        prob = probability(np.asarray(weights, dtype=np.float64), self.model.prior)
        return [0.0 if w == NO_NAME_EVIDENCE else float(p) for w, p in zip(weights, prob, strict=True)]

    def name_weights(self, query: str, records: Sequence[Record]) -> list[float]:
        """Name-only match weight (log2 Bayes factor), per record, for the free-text ``query``.

        The query's names are aligned with each record's own names (given, family, full and
        alternate names) as batch linkage aligns two records' names, in any order and across
        scripts; the best, second and third pairs weigh as the given name, the other names and the
        third name do, term-frequency adjusted (a rare name agreeing counts more). Among records whose
        names agree equally, the closer fit ranks first (see ``NAME_FIT_BITS``): the query's first
        name meeting the record's first name, and no name of the record's left unmatched. A query
        without a name, or a record without one, gets ``NO_NAME_EVIDENCE``.
        """
        vocab = self._vocabulary()
        query_ids = list(dict.fromkeys(vocab.add(t) for t in name_tokens(query)))[:NAME_SLOTS]
        if not query_ids or not records:
            return [NO_NAME_EVIDENCE] * len(records)
        bags = [own_names(r, vocab)[0][:NAME_SLOTS] for r in records]
        bag_a = np.full((len(records), NAME_SLOTS), -1, dtype=np.int32)
        bag_a[:, : len(query_ids)] = query_ids
        bag_b = np.full((len(records), NAME_SLOTS), -1, dtype=np.int32)
        for i, bag in enumerate(bags):
            bag_b[i, : len(bag)] = bag
        levels, tokens, fit = _name_levels(vocab, bag_a, bag_b, len(query_ids), [len(b) for b in bags])
        weight = field_evidence(self.model, vocab, levels, tokens).sum(axis=1) + NAME_FIT_BITS * fit
        weight[levels[:, _NAMES[0]] == MISSING] = NO_NAME_EVIDENCE  # a record without names answers no query
        return [float(w) for w in weight]

    # --- learning from officers -----------------------------------------------------------------
    def refine(self, labels: Iterable[tuple[Record, Record, bool]], *, strength: float = 50.0) -> Matcher:
        """A new matcher whose m and u moved towards officers' decisions: (record, candidate, same
        person). The current estimates count as ``strength`` pseudo-observations per comparison, so
        a few decisions nudge the model and many dominate it (see :meth:`matching.Model.refine`)."""
        vocab = self._vocabulary()
        left: list[Prepared] = []
        right: list[Prepared] = []
        outcome: list[bool] = []
        for n, (record, candidate, same) in enumerate(labels):
            left.append(self._prepared(record, vocab, "labels", n))
            right.append(self._prepared(candidate, vocab, "labels", n))
            outcome.append(bool(same))
        if not outcome:
            return self
        pairs = np.arange(len(outcome), dtype=np.int64)
        levels, _ = compare_all(vocab, RecordTable._build(left), RecordTable._build(right), pairs, pairs)
        model = copy.deepcopy(self.model)
        model.refine(levels, np.asarray(outcome, dtype=bool), strength=strength)
        source = f"{self.source}; refined with {len(outcome)} officer decisions".lstrip("; ")
        return Matcher(
            model,
            self.frequencies,
            exclusivity=self.exclusivity,
            source=source,
            placeholders=self.placeholders,
        )

    # --- forgetting -------------------------------------------------------------------------------
    def without(self, records: Sequence[Record]) -> Matcher:
        """A matcher whose name frequencies no longer count ``records`` (persons erased): each record's
        names and pairs of names are subtracted exactly as fitting counted them, and a name no other
        record holds leaves the tables. m, u and the prior stay as fitted (they hold no name).

        Only records the frequencies counted may be given: they are the caller's to know (a record
        added after the fit was never counted). Counts never go below zero."""
        if not records:
            return self
        vocab = Vocabulary()
        for n, record in enumerate(records):
            vocab.count(_prepared(record, vocab, "erased", n).names)
        gone = vocab.name_frequencies()
        names = {
            name: count - gone.names.get(name, 0)
            for name, count in self.frequencies.names.items()
            if count - gone.names.get(name, 0) > 0
        }
        pairs = {  # a pair holding a name no record holds any more goes too
            pair: count - gone.pairs.get(pair, 0)
            for pair, count in self.frequencies.pairs.items()
            if count - gone.pairs.get(pair, 0) > 0 and pair[0] in names and pair[1] in names
        }
        frequencies = NameFrequencies(max(0, self.frequencies.records - gone.records), names, pairs)
        return Matcher(
            self.model,
            frequencies,
            exclusivity=self.exclusivity,
            source=self.source,
            placeholders=self.placeholders,
        )

    def _vocabulary(self) -> Vocabulary:
        return Vocabulary(self.frequencies)

    def _prepared(
        self, record: Record | Parsed, vocab: Vocabulary, source: str, row: int | None = None
    ) -> Prepared:
        return _prepared(record, vocab, source, row, self.placeholders)


UNBUILT = -1  # a kept prepared record not yet built into a job's columns (see Scoring)


class Scoring:
    """A matcher's scoring for one job that scores in many calls (a re-scoring run's chunks), in one
    thread: the names it has read are kept, with their comparable forms and the similarities computed
    between them, and so are the records given parsed (:meth:`Matcher.parse`), prepared; a record
    met in every call is prepared once, as batch linkage does. The scores are those of the matcher's
    own calls: the vocabulary of a saved model scores against fixed frequencies and counts nothing,
    so what it has seen changes no score."""

    KEPT = 250_000  # parsed records kept prepared (a few KB each); beyond, the job starts anew

    def __init__(self, matcher: Matcher, vocab: Vocabulary) -> None:
        self.matcher = matcher
        self._vocab = vocab
        self._prepared: dict[int, tuple[Parsed, Prepared]] = {}  # by the parsed record's identity
        # The candidates' columns, each built once: a candidate of many records (a common name is one
        # of hundreds) was built into columns anew for every call it is a candidate in.
        self._columns = ColumnStore()
        # Each kept prepared record's row in the columns (UNBUILT until it is a candidate), by identity.
        self._row: dict[int, int] = {}

    def score_many(
        self,
        groups: Sequence[tuple[Record | Parsed, Sequence[Record | Parsed]]],
        *,
        threshold: float = 0.0,
    ) -> list[list[Score]]:
        """:meth:`Matcher.score_many`."""
        return self.matcher._score_many(
            groups, threshold, self._vocab, self._prepare, self._candidate_columns
        )

    def _prepare(self, record: Record | Parsed, source: str, row: int) -> Prepared:
        if not isinstance(record, Parsed):
            return self.matcher._prepared(record, self._vocab, source, row)
        kept = self._prepared.get(id(record))
        if kept is not None and kept[0] is record:  # the entry keeps it alive: its id is not reused
            return kept[1]
        if kept is not None:  # the record kept under this identity is gone: so goes its prepared one,
            # whose identity may now be reused too
            del self._row[id(kept[1])]
        if len(self._prepared) >= self.KEPT:
            self._prepared.clear()
            self._columns, self._row = ColumnStore(), {}
        prepared = self.matcher._prepared(record, self._vocab, source, row)
        self._prepared[id(record)] = (record, prepared)
        self._row[id(prepared)] = UNBUILT
        return prepared

    def _candidate_columns(self, candidates: Sequence[Prepared]) -> Columns:
        """The candidates' columns, gathered from the rows of those built before (candidates given
        unparsed are not kept: a call with any of them builds its own)."""
        rows = [self._row.get(id(candidate)) for candidate in candidates]
        if None in rows:
            return RecordTable._build(candidates)
        unbuilt = [candidate for candidate, row in zip(candidates, rows, strict=True) if row == UNBUILT]
        for row, candidate in enumerate(unbuilt, start=len(self._columns)):
            self._row[id(candidate)] = row
        self._columns.append(unbuilt)
        built = np.fromiter((self._row[id(c)] for c in candidates), dtype=np.int64, count=len(candidates))
        return self._columns.gather(built)


@cache
def _default_model_text() -> str:
    return resources.files("matching").joinpath(DEFAULT_MODEL).read_text(encoding="utf-8")


def _default_model_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_default_model_text())
    return data


def blocking_keys(record: Record | Parsed) -> list[str]:
    """The plaintext blocking keys of one record (see :meth:`Matcher.blocking_keys`).

    They depend on the record alone, never on a fitted model: keys stored for a record stay valid
    when the model is refitted. (So a 1 January birth date is read by the usual convention here, not
    by the placeholders a model judged from its data.)
    """
    vocab = Vocabulary()
    return name_keys(_prepared(record, vocab, "record"), vocab)


def _prepared(
    record: Record | Parsed,
    vocab: Vocabulary,
    source: str,
    row: int | None = None,
    placeholders: Placeholders = DEFAULT_PLACEHOLDERS,
) -> Prepared:
    return _parsed(record, source, row, placeholders).numbered(vocab)


def _parsed(record: Record | Parsed, source: str, row: int | None, placeholders: Placeholders) -> Parsed:
    """The record parsed with ``placeholders`` (a record parsed with others is read again)."""
    if isinstance(record, Parsed):
        if record.placeholders == placeholders:
            return record
        record = record.own.raw
    try:
        return parse(record, placeholders=placeholders)
    except InputError as exc:
        raise InputError(exc.message, source=source, row=row, column=exc.column) from None


def _check_distinct(candidates: Sequence[Prepared]) -> None:
    seen: set[str] = set()
    for n, other in enumerate(candidates):
        if other.id in seen:
            raise InputError("duplicate candidate id", source="candidates", row=n, column="id")
        seen.add(other.id)


def _explanation(
    levels: npt.NDArray[np.int8], weights: npt.NDArray[np.float64], competition: float, competed: bool
) -> tuple[FieldScore, ...]:
    fields = [
        FieldScore(comp.name, "missing" if lvl == MISSING else comp.levels[lvl], round(float(w), 2))
        for comp, lvl, w in zip(COMPARISONS, levels.tolist(), weights.tolist(), strict=True)
    ]
    if competed:
        fields.append(FieldScore(COMPETITION, "other candidates fit", round(competition, 2)))
    return tuple(fields)


def _name_levels(
    vocab: Vocabulary,
    bag_a: npt.NDArray[np.int32],
    bag_b: npt.NDArray[np.int32],
    n_query: int,
    n_record: Sequence[int],
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int32], npt.NDArray[np.float64]]:
    """Levels of the name comparisons (the rest missing), TF tokens of aligned name bags, and how
    closely the names fit beyond their levels: +1 when the first names meet each other, -1 for each
    name of the record that meets none of the query's."""
    al = align(vocab, bag_a, bag_b, NAME_SLOTS)
    agreed = al.sims >= OTHER_NAMES.strong_at
    in_place = (agreed & (al.left == bag_a[:, :1]) & (al.right == bag_b[:, :1])).any(axis=1)
    unmatched = np.maximum(np.asarray(n_record) - agreed.sum(axis=1), 0)
    fit = in_place.astype(np.float64) - unmatched
    n_min = np.minimum(n_query, np.asarray(n_record, dtype=np.int32))
    levels = np.full((len(bag_a), len(COMPARISONS)), MISSING, dtype=np.int8)
    tokens = np.full((len(bag_a), len(COMPARISONS)), -1, dtype=np.int32)
    given, other, third = _NAMES
    # the best pair weighs as the given name, the next two as the other names and the third name
    levels[:, given] = GIVEN_NAME.level_of(al.sims[:, 0])
    levels[:, other] = OTHER_NAMES.level_of_alignment(al.sims, n_min)
    levels[:, third] = THIRD_NAME.level_of_alignment(al.sims, n_min)
    tokens[:, given], tokens[:, other] = al.left[:, 0], al.left[:, 1]
    return levels, tokens, fit
