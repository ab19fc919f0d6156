"""A fitted model saved as JSON data loads back and scores bit for bit as before."""

import copy
import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from matching.compare import COMPARISON_NAMES
from matching.dates import Placeholders
from matching.errors import MatchingError, ModelFormatError
from matching.linker import EXCLUSIVITY, Linker, compare_all, tf_bits, weigh
from matching.model import Model
from matching.records import NameFrequencies, RecordTable, Vocabulary, prepare
from matching.saved import FORMAT_VERSION, SavedModel, from_dict, to_dict

Record = dict[str, str]


def fitted(left: list[Record], right: list[Record]) -> tuple[Linker, SavedModel]:
    linker = Linker()
    linker.link(left, right)
    return linker, SavedModel(linker.model, linker.vocab.name_frequencies(), EXCLUSIVITY, "test records")


def score_all(
    model: Model, vocab: Vocabulary, left: list[Record], right: list[Record]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weight, probability and TF bits of every left x right pair, records prepared into ``vocab``."""
    ca = RecordTable._build([prepare(r, vocab) for r in left])
    cb = RecordTable._build([prepare(r, vocab) for r in right])
    ia = np.repeat(np.arange(len(left)), len(right))
    ib = np.tile(np.arange(len(right)), len(left))
    levels, tokens = compare_all(vocab, ca, cb, ia, ib)
    weight, prob = weigh(model, vocab, levels, tokens)
    return weight, prob, tf_bits(model, vocab, levels, tokens)


def round_trip(data: Mapping[str, Any]) -> SavedModel:
    return from_dict(json.loads(json.dumps(data)))


def test_a_loaded_model_scores_bit_for_bit_as_the_fitted_one(left: list[Record], right: list[Record]) -> None:
    # Given a model fitted by batch linkage, with the vocabulary that counted the records
    linker, saved = fitted(left, right)
    weight, prob, tf = score_all(linker.model, linker.vocab, left, right)
    # and the pairs exercise both name frequencies and the joint frequency of two names
    assert (tf != 0).any()
    g, o = COMPARISON_NAMES.index("given_name"), COMPARISON_NAMES.index("other_names")
    assert ((tf[:, g] != 0) & (tf[:, o] == 0)).any()
    # When it is saved as JSON text and loaded into a fresh process's objects
    loaded = round_trip(to_dict(saved))
    weight2, prob2, _ = score_all(loaded.model, Vocabulary(loaded.frequencies), left, right)
    # Then every pair scores exactly as before
    assert np.array_equal(prob, prob2)
    assert np.array_equal(weight, weight2)
    assert loaded.exclusivity == EXCLUSIVITY
    assert loaded.source == "test records"


def test_the_name_frequencies_are_what_makes_the_scores_equal(
    left: list[Record], right: list[Record]
) -> None:
    linker, saved = fitted(left, right)
    _, prob, _ = score_all(linker.model, linker.vocab, left, right)
    for elsewhere in (
        NameFrequencies(1000, {"mhmd": 400, "vnnk": 1}, {("mhmd", "vnnk"): 1}),
        NameFrequencies(1000, {"mhmd": 400}, {}),  # no pair of names counted
    ):
        _, other, _ = score_all(saved.model, Vocabulary(elsewhere), left, right)
        assert not np.array_equal(prob, other)


def test_every_fitted_parameter_is_kept(left: list[Record], right: list[Record]) -> None:
    _, saved = fitted(left, right)
    # these few records give no conditional u of their own: a large set would
    saved.model.u_after[1] = np.array([0.7, 0.1, 0.1, 0.1])
    model = round_trip(to_dict(saved)).model
    assert model.prior == saved.model.prior
    assert model.em == saved.model.em is not None
    assert model.tf_mean == saved.model.tf_mean
    assert model.u_after.keys() == saved.model.u_after.keys()
    for mine, theirs in ((model.m, saved.model.m), (model.u, saved.model.u)):
        assert all(np.array_equal(a, b) for a, b in zip(mine, theirs, strict=True))
    assert all(np.array_equal(model.u_after[c], saved.model.u_after[c]) for c in model.u_after)


def test_frequencies_round_trip_in_their_counting_order(left: list[Record], right: list[Record]) -> None:
    _, saved = fitted(left, right)
    freq = round_trip(to_dict(saved)).frequencies
    assert freq.records == len(left) + len(right)
    assert list(freq.names.items()) == list(saved.frequencies.names.items())
    assert list(freq.pairs.items()) == list(saved.frequencies.pairs.items())
    assert freq.pair_mean == saved.frequencies.pair_mean


def test_an_unknown_format_version_is_refused(left: list[Record], right: list[Record]) -> None:
    data = to_dict(fitted(left, right)[1])
    for version in (FORMAT_VERSION + 1, 0, "1", True, None):
        data["format_version"] = version
        with pytest.raises(ModelFormatError, match="format version"):
            from_dict(data)


def _corrupt(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    *parents, last = path.split(".")
    target: Any = out
    for p in parents:
        target = target[int(p)] if p.isdigit() else target[p]
    target[int(last) if last.isdigit() else last] = value
    return out


CORRUPTIONS = {
    "not a model": ("format", "something-else", "not a saved matching model"),
    "renamed comparison": ("model.comparisons.0.name", "first_name", "comparisons"),
    "other levels": ("model.comparisons.3.levels", ["far", "near"], "levels"),
    "m of another length": ("model.comparisons.0.m", [0.5, 0.5], "one probability per level"),
    "u not a distribution": ("model.comparisons.4.u", [0.9, 0.9], "not a probability distribution"),
    "u with text": ("model.comparisons.4.u", ["0.5", 0.5], "not a number"),
    "prior of one": ("model.prior", 1.0, "prior"),
    "exclusivity above one": ("scoring.exclusivity", 2, "exclusivity"),
    "negative count": ("name_frequencies.counts.0", -1, "counts"),
    "pair out of range": ("name_frequencies.pairs.first.0", 10_000, "not there"),
    "records missing": ("name_frequencies.records", None, "records"),
    "placeholder not a flag": ("dates.new_year_placeholder", "yes", "dates"),
    "dates missing": ("dates", None, "dates"),
}


@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_a_corrupted_model_is_refused_with_the_part_at_fault(
    case: str, left: list[Record], right: list[Record]
) -> None:
    path, value, message = CORRUPTIONS[case]
    data = to_dict(fitted(left, right)[1])
    with pytest.raises(ModelFormatError, match=message) as err:
        from_dict(_corrupt(data, path, value))
    # the error names the part at fault, never a name from the model
    assert not any(name in str(err.value) for name in data["name_frequencies"]["names"] if len(name) > 2)


def test_pairs_must_be_in_sorted_order(left: list[Record], right: list[Record]) -> None:
    data = to_dict(fitted(left, right)[1])
    pairs = data["name_frequencies"]["pairs"]
    assert pairs["first"]
    pairs["first"][0], pairs["second"][0] = pairs["second"][0], pairs["first"][0]
    with pytest.raises(ModelFormatError, match="sorted order"):
        from_dict(data)


def test_frequencies_show_only_their_size() -> None:
    freq = NameFrequencies(10, {"mhmd": 4, "hsn": 2}, {("hsn", "mhmd"): 2})
    assert repr(freq) == "NameFrequencies(records=10, names=2, pairs=1)"


def test_a_vocabulary_with_fixed_frequencies_counts_nothing() -> None:
    vocab = Vocabulary(NameFrequencies(10, {"mhmd": 4}, {}))
    rec = prepare({"id": "1", "given_name": "Mohammed"}, vocab)
    with pytest.raises(MatchingError):
        vocab.count(rec.names)
    assert vocab.frequencies()[rec.names[0]] == (4 + 5) / 10


def test_the_placeholder_judgement_round_trips(left: list[Record], right: list[Record]) -> None:
    saved = fitted(left, right)[1]
    judged = SavedModel(saved.model, saved.frequencies, saved.exclusivity, "", Placeholders(False, True))
    assert from_dict(json.loads(json.dumps(to_dict(judged)))).placeholders == Placeholders(False, True)
