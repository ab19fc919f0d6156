"""Incremental mode: an in-memory index of existing records answering "candidates for this new one"."""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from matching.blocking import record_keys
from matching.errors import InputError
from matching.linker import EXCLUSIVITY, Explanation, compare_all, explain_pair, score_candidates
from matching.model import Model
from matching.records import Prepared, RecordTable, Vocabulary, prepare

DEFAULT_MAX_POSTINGS = 2000  # a key shared by more indexed records than this is too common to use
DEFAULT_MAX_CANDIDATES = 1500  # records scored per query, those sharing the most keys first


@dataclass(frozen=True)
class Candidate:
    id: str
    match_probability: float
    match_weight: float


class IncrementalIndex:
    """Indexed records by blocking key; adding one is a few dictionary appends.

    The model is usually one fitted by a batch run (``Links.model``) or refined from officers' labels.
    """

    def __init__(
        self,
        model: Model,
        *,
        max_postings: int = DEFAULT_MAX_POSTINGS,
        max_candidates: int = DEFAULT_MAX_CANDIDATES,
        exclusivity: float = EXCLUSIVITY,
        vocab: Vocabulary | None = None,
    ) -> None:
        self.model = model
        self.max_postings = max_postings
        self.max_candidates = max_candidates
        self.exclusivity = exclusivity
        self.vocab = vocab if vocab is not None else Vocabulary()
        self.table = RecordTable(self.vocab)
        self._postings: dict[str, array[int]] = {}
        self._positions: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.table)

    def _prepare(self, record: Mapping[str, Any] | Prepared) -> Prepared:
        if isinstance(record, Prepared):
            return record
        return prepare(record, self.vocab)

    def add(self, record: Mapping[str, Any] | Prepared) -> None:
        """Index one record (a mapping of the canonical fields); its id must be new."""
        rec = self._prepare(record)
        if rec.id in self._positions:
            raise InputError(f"duplicate id {rec.id!r}", column="id")
        pos = len(self.table)
        self._positions[rec.id] = pos
        self.table.extend([rec])
        for key in set(record_keys(rec, self.vocab)):
            postings = self._postings.get(key)
            if postings is None:
                self._postings[key] = array("i", (pos,))
            elif len(postings) <= self.max_postings:  # beyond the cap the key is never used again
                postings.append(pos)

    def candidates(
        self, record: Mapping[str, Any] | Prepared, k: int = 10, threshold: float = 0.0
    ) -> list[Candidate]:
        """The k best indexed records for ``record`` with probability >= threshold, best first."""
        rec = self._prepare(record)
        lists = [
            p
            for key in set(record_keys(rec, self.vocab))
            if (p := self._postings.get(key)) is not None and len(p) <= self.max_postings
        ]
        if not lists:
            return []
        positions, shared = np.unique(
            np.concatenate([np.frombuffer(p, dtype=np.int32) for p in lists]), return_counts=True
        )
        if len(positions) > self.max_candidates:  # score those sharing the most keys with the query
            positions = np.sort(
                positions[np.argpartition(-shared, self.max_candidates)[: self.max_candidates]]
            )
        own = self._positions.get(rec.id)
        if own is not None:
            positions = positions[positions != own]
        # the candidates compete for the new record, as in batch linkage
        scored = score_candidates(
            self.model,
            self.vocab,
            RecordTable._build([rec]),
            self.table.columns_for(positions),
            self.exclusivity,
        )
        weight, prob = scored.weight, scored.probability
        order = np.argsort(-weight, kind="stable")[:k]
        return [
            Candidate(self.table.records[int(positions[i])].id, float(prob[i]), float(weight[i]))
            for i in order
            if prob[i] >= threshold
        ]

    def refine(
        self, labels: Iterable[tuple[Mapping[str, Any] | Prepared, str, bool]], *, strength: float = 50.0
    ) -> int:
        """Refine the model from officers' decisions: (record, indexed candidate id, is the same person).

        Returns the number of labelled pairs used. See :meth:`matching.Model.refine`.
        """
        rows: list[npt.NDArray[np.int8]] = []
        outcome: list[bool] = []
        for record, candidate_id, same in labels:
            pos = self._positions.get(candidate_id)
            if pos is None:
                raise InputError(f"no indexed record {candidate_id!r}", column="id")
            zero = np.zeros(1, dtype=np.int64)
            levels, _ = compare_all(
                self.vocab,
                RecordTable._build([self._prepare(record)]),
                self.table.columns_for(np.asarray([pos])),
                zero,
                zero,
            )
            rows.append(levels[0])
            outcome.append(same)
        if rows:
            self.model.refine(np.stack(rows), np.asarray(outcome, dtype=bool), strength=strength)
        return len(rows)

    def explain(self, record: Mapping[str, Any] | Prepared, candidate_id: str) -> Explanation:
        """Per-field evidence for ``record`` against one indexed record."""
        pos = self._positions.get(candidate_id)
        if pos is None:
            raise InputError(f"no indexed record {candidate_id!r}", column="id")
        return explain_pair(self.model, self.vocab, self._prepare(record), self.table.records[pos])
