"""The saved form of a fitted model: versioned JSON-compatible data that loads to score identically.

``to_dict`` gives plain data (dicts, lists, strings, numbers, booleans, ``None``) that ``json.dumps``
writes and ``json.loads`` reads back exactly (Python writes each float as the shortest text that
reads back as the same float); ``from_dict`` refuses anything else with
:class:`~matching.errors.ModelFormatError`. Format version 2 (version 1 had no "dates")::

    {
      "format": "rfl-matching-model",
      "format_version": 1,
      "source": "how and from what the model was made (free text, no personal data)",
      "scoring": {"exclusivity": 0.5},     # how strongly the candidates of one record compete
      "dates": {                           # written birth days that stand for unknown ones
        "new_year_placeholder": true,      # 1 January: day and month unknown
        "first_of_month_placeholder": false  # the 1st of a month: day unknown
      },
      "model": {
        "prior": 5.4e-05,                    # probability that a pair of records is the same person
        "comparisons": [                     # one per comparison, in this version's order
          {
            "name": "given_name",
            "levels": ["disagree", "weak fuzzy", "strong fuzzy", "exact"],
            "tf": true,                      # term-frequency adjusted
            "after": "",                     # comparison its conditional u depends on, if any
            "m": [...], "u": [...],          # P(level | match), P(level | non-match), one per level
            "u_after": [...] or null,        # u when the "after" comparison agrees
            "tf_mean": 0.0012                # mean frequency of an agreeing name under u
          }, ...
        ],
        "em": {"iterations": 41, "converged": true, "prior": 0.0021} or null
      },
      "name_frequencies": {                  # PERSONAL DATA IN AGGREGATE: store it encrypted
        "records": 11000,                    # records counted
        "names": ["mhmd", "=ali", ...],      # name keys (skeleton, or "=" + Latin form)
        "counts": [812, 95, ...],            # records holding each name
        "pairs": {"first": [0, ...], "second": [1, ...], "counts": [40, ...]}
                                             # records holding both names (indexes into "names")
      }
    }

A reader refuses a format version it does not know rather than guess what its fields mean; a change
to what any field means needs a new version. The comparisons must be this version's comparisons
(names, levels, options): a model fitted for others would weigh the wrong evidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from matching.dates import DEFAULT_PLACEHOLDERS, Placeholders
from matching.errors import ModelFormatError
from matching.model import Model
from matching.records import NameFrequencies

FORMAT = "rfl-matching-model"
FORMAT_VERSION = 2
_PLACEHOLDER_KEYS = ("new_year_placeholder", "first_of_month_placeholder")


@dataclass(frozen=True)
class SavedModel:
    """What a saved model holds: the fitted model, the name frequencies it scores with, and settings."""

    model: Model
    frequencies: NameFrequencies
    exclusivity: float
    source: str = ""
    placeholders: Placeholders = DEFAULT_PLACEHOLDERS


def to_dict(saved: SavedModel) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "source": saved.source,
        "scoring": {"exclusivity": saved.exclusivity},
        "dates": {
            "new_year_placeholder": saved.placeholders.new_year,
            "first_of_month_placeholder": saved.placeholders.first_of_month,
        },
        "model": saved.model.to_dict(),
        "name_frequencies": _frequencies_to_dict(saved.frequencies),
    }


def from_dict(data: Mapping[str, Any]) -> SavedModel:
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        raise ModelFormatError(f"not a saved matching model (format must be {FORMAT!r})")
    version = data.get("format_version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise ModelFormatError(
            f"unknown saved-model format version {version!r}; this version reads {FORMAT_VERSION} only"
        )
    source = data.get("source", "")
    if not isinstance(source, str):
        raise ModelFormatError("source is not a text")
    scoring = data.get("scoring")
    exclusivity = scoring.get("exclusivity") if isinstance(scoring, Mapping) else None
    if isinstance(exclusivity, bool) or not isinstance(exclusivity, int | float) or not 0 <= exclusivity <= 1:
        raise ModelFormatError("scoring: exclusivity must be a number between 0 and 1")
    model = data.get("model")
    if not isinstance(model, Mapping):
        raise ModelFormatError("model is missing or not an object")
    frequencies = _frequencies_from_dict(data.get("name_frequencies"))
    return SavedModel(
        Model.from_dict(model), frequencies, float(exclusivity), source, _placeholders(data.get("dates"))
    )


def _placeholders(data: Any) -> Placeholders:
    new_year, first_of_month = (data.get(k) if isinstance(data, Mapping) else None for k in _PLACEHOLDER_KEYS)
    if not isinstance(new_year, bool) or not isinstance(first_of_month, bool):
        raise ModelFormatError("dates: " + " and ".join(_PLACEHOLDER_KEYS) + " must be true or false")
    return Placeholders(new_year, first_of_month)


def _frequencies_to_dict(freq: NameFrequencies) -> dict[str, Any]:
    names = list(freq.names)
    position = {name: i for i, name in enumerate(names)}
    return {
        "records": freq.records,
        "names": names,
        "counts": list(freq.names.values()),
        "pairs": {
            "first": [position[a] for a, _ in freq.pairs],
            "second": [position[b] for _, b in freq.pairs],
            "counts": list(freq.pairs.values()),
        },
    }


def _counts(values: Any, where: str) -> list[int]:
    if not isinstance(values, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values
    ):
        raise ModelFormatError(f"name_frequencies: {where} must be a list of counts")
    return values


def _frequencies_from_dict(data: Any) -> NameFrequencies:
    if not isinstance(data, Mapping):
        raise ModelFormatError("name_frequencies is missing or not an object")
    records = data.get("records")
    names = data.get("names")
    if isinstance(records, bool) or not isinstance(records, int) or records < 0:
        raise ModelFormatError("name_frequencies: records must be a count")
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise ModelFormatError("name_frequencies: names must be a list of non-empty texts")
    counts = _counts(data.get("counts"), "counts")
    if len(counts) != len(names) or len(set(names)) != len(names):
        raise ModelFormatError("name_frequencies: one count per distinct name is needed")
    pairs = data.get("pairs")
    if not isinstance(pairs, Mapping):
        raise ModelFormatError("name_frequencies: pairs is missing or not an object")
    first, second = _counts(pairs.get("first"), "pairs.first"), _counts(pairs.get("second"), "pairs.second")
    pair_counts = _counts(pairs.get("counts"), "pairs.counts")
    if not len(first) == len(second) == len(pair_counts):
        raise ModelFormatError("name_frequencies: pairs need first, second and counts of one length")
    if any(i >= len(names) for i in (*first, *second)):
        raise ModelFormatError("name_frequencies: a pair refers to a name that is not there")
    keyed = {}
    for a, b, c in zip(first, second, pair_counts, strict=True):
        if not names[a] < names[b]:
            raise ModelFormatError("name_frequencies: a pair's names must be distinct and in sorted order")
        keyed[(names[a], names[b])] = c
    if len(keyed) != len(pair_counts):
        raise ModelFormatError("name_frequencies: a pair of names is listed twice")
    return NameFrequencies(records, dict(zip(names, counts, strict=True)), keyed)
