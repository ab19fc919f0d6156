"""Fellegi-Sunter model: m and u probabilities per comparison level, prior, weights, probabilities.

u (how often a level occurs between two different people) comes from random pairs; m (how often it
occurs for the same person) from expectation-maximisation on blocked pairs, unsupervised; the prior
(share of blocked pairs that match) from EM as well. Labelled pairs (an officer's confirmations and
rejections) refine m and u afterwards. Missing fields weigh nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from matching.compare import COMPARISONS, MISSING, Comparison
from matching.errors import MatchingError, ModelFormatError

Levels = npt.NDArray[np.int8]
Floats = npt.NDArray[np.float64]
_EPS = 1e-6
TF_CLIP = (-3.0, 3.0)  # bits a term-frequency adjustment may add or remove
NAMESAKE_PSEUDO = 200.0  # random pairs the u of namesakes (see EMStage.free_u) counts as
MAX_STAGE_PRIOR = 0.99  # share of matches EM may find among pairs selected for agreeing names
T = TypeVar("T")


@dataclass
class EMStage:
    """One stage of fitting m by EM: pairs selected by ``rows``; m estimated for ``active`` comparisons.

    (Splink calls these training sessions; "stage" keeps them apart from a database session.)
    ``used`` comparisons (default: ``active``) enter the likelihood; ``free_u`` lets the stage fit
    its own u for non-matches that are not random pairs (e.g. namesakes among name-agreeing pairs), and
    ``keep_u`` keeps that u for scoring: P(evidence | non-match) = P(names agree) * P(rest | names agree),
    so fields that go with names (nationality, birth place, the father of a patronymic) are not counted
    as if they were independent of them.
    """

    rows: npt.NDArray[np.bool_]
    active: Sequence[int]
    used: Sequence[int] | None = None
    free_u: bool = False
    keep_u: bool = False
    direct: bool = False  # the rows are (nearly) all matches: m of the active comparisons is their share


@dataclass
class EMResult:
    iterations: int
    converged: bool
    prior: float


def _normalised(v: Floats) -> Floats:
    v = np.maximum(v, _EPS)
    return np.asarray(v / v.sum(), dtype=np.float64)


def _default_m(n_levels: int) -> Floats:
    """A starting point for EM: a match usually agrees at the highest level."""
    base = np.geomspace(0.02, 1.0, n_levels)
    base[-1] *= 4
    return _normalised(base)


@dataclass
class Model:
    """m and u per level of each comparison, and the prior probability that a candidate pair matches."""

    comparisons: Sequence[Comparison] = COMPARISONS
    m: list[Floats] = field(default_factory=list)
    u: list[Floats] = field(default_factory=list)
    prior: float = 0.01
    u_after: dict[int, Floats] = field(default_factory=dict)  # conditional u, see Comparison.after
    tf_mean: list[float] = field(default_factory=list)  # mean matched-token frequency under u, per comparison
    em: EMResult | None = None

    def __post_init__(self) -> None:
        if not self.m:
            self.m = [_default_m(len(c.levels)) for c in self.comparisons]
        if not self.u:
            self.u = [_normalised(np.geomspace(1.0, 0.01, len(c.levels))) for c in self.comparisons]
        if not self.tf_mean:
            self.tf_mean = [0.0 for _ in self.comparisons]

    # --- estimation -------------------------------------------------------------------------
    def _counts(self, levels: Levels, weights: Floats | None = None) -> list[Floats]:
        out = []
        for c, comp in enumerate(self.comparisons):
            col = levels[:, c]
            present = col != MISSING
            w = None if weights is None else weights[present]
            out.append(np.bincount(col[present], weights=w, minlength=len(comp.levels)).astype(np.float64))
        return out

    def estimate_u(
        self,
        levels: Levels,
        tf_freq: Sequence[float] | None = None,
        *,
        non_match: Floats | None = None,
    ) -> None:
        """u from the levels of random pairs (nearly all of which are non-matches).

        ``non_match`` weighs each pair by the probability that it is no match: where duplicates are
        dense (a registration list with families of five records each) random pairs hold enough of
        them to make agreeing look common, above all on a second name once the first agreed.
        """
        if len(levels) == 0:
            raise MatchingError("no random pairs to estimate u from")
        self.u = [_normalised(c + 0.5) for c in self._counts(levels, non_match)]
        names = [c.name for c in self.comparisons]
        self.u_after = {}
        for c, comp in enumerate(self.comparisons):
            if comp.after:
                rows = levels[:, names.index(comp.after)] >= 2
                counts = self._counts(levels[rows], None if non_match is None else non_match[rows])[c]
                if counts.sum() >= 50:
                    self.u_after[c] = _normalised(counts + 0.5)
        if tf_freq is not None:
            self.tf_mean = [float(x) for x in tf_freq]

    def _em(
        self,
        levels: Levels,
        active: Sequence[int],
        lam: float,
        *,
        max_iter: int,
        tol: float,
        used: Sequence[int] | None = None,
        free_u: bool = False,
        keep_u: bool = False,
    ) -> tuple[float, int, bool]:
        """EM for m of the ``active`` comparisons and the prior.

        Only the ``used`` comparisons (default: the active ones) enter the likelihood. With ``free_u``
        the non-matches of this subset get their own u, put back afterwards unless ``keep_u``.
        """
        used = list(active) if used is None else list(used)
        sub = np.full(levels.shape, MISSING, dtype=np.int8)
        sub[:, used] = levels[:, used]
        saved_u = self.u
        converged = False
        it = 0
        for it in range(1, max_iter + 1):  # noqa: B007 - the count is reported
            post = self.posterior(sub, lam)
            counts = self._counts(sub, post)
            new_m = list(self.m)
            for c in active:
                new_m[c] = _normalised(counts[c] + 0.1)
            if free_u:
                # a few namesakes say little: their u leans on random pairs' as on NAMESAKE_PSEUDO pairs
                u_counts = self._counts(sub, 1.0 - post)
                self.u = [
                    _normalised(u_counts[c] + NAMESAKE_PSEUDO * saved_u[c]) if c in used else self.u[c]
                    for c in range(len(self.u))
                ]
            # pairs selected for agreeing (on names) may be nearly all matches: a registration list's
            # duplicates, unlike requests and sightings, mostly share their names
            new_lam = float(np.clip(post.mean(), 1e-6, MAX_STAGE_PRIOR if free_u else 0.5))
            delta = max(float(np.abs(a - b).max()) for a, b in zip(new_m, self.m, strict=True))
            delta = max(delta, abs(new_lam - lam))
            self.m, lam = new_m, new_lam
            if delta < tol:
                converged = True
                break
        if free_u and not keep_u:
            self.u = saved_u
        return lam, it, converged

    def fit_em(
        self,
        levels: Levels,
        *,
        stages: Sequence[EMStage] = (),
        max_iter: int = 100,
        tol: float = 1e-4,
        prior: float | None = None,
        population: int | None = None,
        n_pairs: int | None = None,
    ) -> EMResult:
        """Estimate m and the prior by EM on the levels of blocked pairs, u fixed from random pairs.

        Blocked pairs agree on names far more often than random ones, and EM left alone would call
        every namesake a match. As Splink does, m is therefore estimated in stages: each stage
        takes a subset of pairs (rows) selected by agreement on some comparisons and estimates m only
        for the other comparisons (``active``), whose levels the selection did not condition on. A
        final pass over all pairs estimates the prior with m held. ``population`` is the number of
        pairs the blocks were drawn from, so the prior becomes the share of matches among all pairs,
        which is what random-pair u calls for.
        """
        if len(levels) == 0:
            raise MatchingError("no candidate pairs to estimate the model from")
        lam = self.prior if prior is None else prior
        iterations = 0
        converged = True
        for stage in stages or [EMStage(np.ones(len(levels), dtype=bool), range(len(self.comparisons)))]:
            if stage.rows.sum() < 20:
                continue
            if stage.direct:
                counts = self._counts(levels[stage.rows])
                for c in stage.active:
                    if counts[c].sum() >= 20:
                        self.m[c] = _normalised(counts[c] + 0.1)  # as EM smooths m
                continue
            _, it, ok = self._em(
                levels[stage.rows],
                list(stage.active),
                lam,
                max_iter=max_iter,
                tol=tol,
                used=stage.used,
                free_u=stage.free_u,
                keep_u=stage.keep_u,
            )
            iterations += it
            converged = converged and ok
        lam, it, ok = self._em(levels, [], lam, max_iter=max_iter, tol=tol, used=range(len(self.comparisons)))
        # levels may be a sample of n_pairs blocked pairs
        self.prior = lam * (n_pairs or len(levels)) / population if population else lam
        self.em = EMResult(iterations + it, converged and ok, lam)
        return self.em

    def refine(
        self, levels: Levels, is_match: Sequence[bool] | npt.NDArray[np.bool_], *, strength: float = 50.0
    ) -> None:
        """Refine m and u from labelled pairs (officers' confirmations and rejections).

        The current estimates count as ``strength`` pseudo-observations, so a handful of labels nudges
        the model and many labels dominate it.
        """
        labels = np.asarray(is_match, dtype=bool)
        if len(labels) != len(levels):
            raise MatchingError("one label per pair is needed")
        for which, sel in (("m", labels), ("u", ~labels)):
            if not sel.any():
                continue
            counts = self._counts(levels[sel])
            current = self.m if which == "m" else self.u
            updated = [_normalised(cnt + strength * cur) for cnt, cur in zip(counts, current, strict=True)]
            if which == "m":
                self.m = updated
            else:
                self.u = updated

    # --- scoring ----------------------------------------------------------------------------
    def level_weights(self) -> list[Floats]:
        """log2(m/u) per level of each comparison (the Bayes factor of that level, in bits).

        For a graded comparison a level weighs at least as much as the one below it: u of a close
        agreement is estimated from few pairs (an address nearly the same, never seen among random
        pairs, would otherwise outweigh the same address, seen among a few namesakes)."""
        weights = [np.log2(m / u) for m, u in zip(self.m, self.u, strict=True)]
        return [
            np.maximum.accumulate(w) if comp.graded else w
            for comp, w in zip(self.comparisons, weights, strict=True)
        ]

    def field_weights(self, levels: Levels) -> Floats:
        """[pairs, comparisons] weight of each comparison, 0 where missing."""
        weights = self.level_weights()
        # one gather from a [comparison, level + 1] table; column 0 is "missing" and weighs nothing
        table = np.zeros((len(weights), 1 + max(len(w) for w in weights)), dtype=np.float64)
        for c, w in enumerate(weights):
            table[c, 1 : 1 + len(w)] = w
        out: Floats = table[np.arange(len(weights))[None, :], levels.astype(np.intp) + 1]
        names = [c.name for c in self.comparisons]
        for c, u_after in self.u_after.items():
            col = levels[:, c]
            cond = (col != MISSING) & (levels[:, names.index(self.comparisons[c].after)] >= 2)
            after = np.log2(self.m[c] / u_after)
            if self.comparisons[c].graded:
                after = np.maximum.accumulate(after)
            out[cond, c] = after[col[cond]]
        return out

    def tf_adjustments(self, levels: Levels, token_freq: Floats) -> Floats:
        """Term-frequency adjustment in bits: agreeing on a rare name counts more than on a common one.

        ``token_freq`` holds the frequency of the matched token per pair and comparison (0 where none).
        """
        out = np.zeros(levels.shape, dtype=np.float64)
        for c, comp in enumerate(self.comparisons):
            if not comp.tf or self.tf_mean[c] <= 0:
                continue
            top = len(comp.levels) - 1
            agree = (levels[:, c] >= top - 1) & (token_freq[:, c] > 0)
            adj = np.log2(self.tf_mean[c] / np.maximum(token_freq[agree, c], _EPS))
            out[agree, c] = np.clip(adj, *TF_CLIP)
        return out

    def posterior(self, levels: Levels, prior: float | None = None) -> Floats:
        lam = self.prior if prior is None else prior
        w = self.field_weights(levels).sum(axis=1)
        return probability(w, lam)

    def to_dict(self) -> dict[str, Any]:
        """Every fitted parameter as plain JSON data (lists of floats); see :mod:`matching.saved`."""
        return {
            "prior": self.prior,
            "comparisons": [
                {
                    "name": c.name,
                    "levels": list(c.levels),
                    "tf": c.tf,
                    "after": c.after,
                    "m": self.m[i].tolist(),
                    "u": self.u[i].tolist(),
                    "u_after": self.u_after[i].tolist() if i in self.u_after else None,
                    "tf_mean": self.tf_mean[i],
                }
                for i, c in enumerate(self.comparisons)
            ],
            "em": None if self.em is None else asdict(self.em),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], comparisons: Sequence[Comparison] = COMPARISONS) -> Model:
        """The model :meth:`to_dict` gave, checked against this version's ``comparisons``.

        A model fitted for other comparisons (renamed, other levels) would weigh the wrong evidence,
        so it is refused with :class:`ModelFormatError` rather than loaded.
        """
        saved = _field(data, "comparisons", list, "model")
        if [_field(c, "name", str, "comparison") for c in saved] != [c.name for c in comparisons]:
            raise ModelFormatError("the saved model's comparisons are not this version's comparisons")
        m: list[Floats] = []
        u: list[Floats] = []
        u_after: dict[int, Floats] = {}
        tf_mean: list[float] = []
        for i, (item, comp) in enumerate(zip(saved, comparisons, strict=True)):
            where = f"comparison {comp.name}"
            spec = (_field(item, "levels", list, where), _field(item, "tf", bool, where))
            if spec != (list(comp.levels), comp.tf) or _field(item, "after", str, where) != comp.after:
                raise ModelFormatError(f"{where}: levels or options differ from this version's")
            n = len(comp.levels)
            m.append(_probabilities(item, "m", n, where))
            u.append(_probabilities(item, "u", n, where))
            if item.get("u_after") is not None:
                u_after[i] = _probabilities(item, "u_after", n, where)
            tf_mean.append(_number(item, "tf_mean", where, low=0.0))
        em = data.get("em")
        result = None
        if em is not None:
            if not isinstance(em, Mapping):
                raise ModelFormatError("model: em is not an object")
            result = EMResult(
                int(_number(em, "iterations", "em", low=0.0)),
                _field(em, "converged", bool, "em"),
                _number(em, "prior", "em", low=0.0, high=1.0),
            )
        prior = _number(data, "prior", "model", low=0.0, high=1.0)
        if not 0.0 < prior < 1.0:
            raise ModelFormatError("model: prior must be strictly between 0 and 1")
        return cls(comparisons, m, u, prior, u_after, tf_mean, result)


def _field(data: Any, key: str, kind: type[T], where: str) -> T:
    if not isinstance(data, Mapping):
        raise ModelFormatError(f"{where}: not an object")
    value = data.get(key)
    # bool is an int in Python, and JSON true is no count of iterations
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ModelFormatError(f"{where}: {key} is missing or not a {kind.__name__}")
    return value


def _number(data: Any, key: str, where: str, *, low: float, high: float = math.inf) -> float:
    if not isinstance(data, Mapping):
        raise ModelFormatError(f"{where}: not an object")
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ModelFormatError(f"{where}: {key} is missing or out of range")
    return float(value)


def _probabilities(data: Mapping[str, Any], key: str, n: int, where: str) -> Floats:
    """A probability per level: n finite positive numbers summing to one."""
    values = data.get(key)
    if not isinstance(values, list) or len(values) != n:
        raise ModelFormatError(f"{where}: {key} needs one probability per level")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        raise ModelFormatError(f"{where}: {key} holds something that is not a number")
    out = np.asarray(values, dtype=np.float64)
    if not (np.isfinite(out).all() and (out > 0).all() and abs(out.sum() - 1.0) < 1e-6):
        raise ModelFormatError(f"{where}: {key} is not a probability distribution")
    return out


def probability(weight: Floats, prior: float) -> Floats:
    """Match probability from the evidence's log2 Bayes factor and the prior."""
    logit = weight + np.log2(prior / (1.0 - prior))
    return np.asarray(1.0 / (1.0 + np.exp2(-np.clip(logit, -60, 60))), dtype=np.float64)
