"""Person-record matching across scripts: normalisation, blocking, Fellegi-Sunter scoring, explanations.

Pure library: records in (plain mappings of the canonical fields), scored pairs out.

    links = link(left_records, right_records)           # batch, unsupervised
    for left_id, right_id, p, w in links.rows(0.5): ...
    links.explain(i).fields                              # per-field level and weight, name alignment
    index = IncrementalIndex(links.model); index.add(record); index.candidates(new_record, k=10)
    links.model.refine(levels, is_match)                 # officers' confirmations and rejections

An application uses :class:`Matcher` (see :mod:`matching.matcher`): a saved model with its name
frequencies, a default one shipped with the package, blocking keys, scores without plaintext,
explanations for reviewers, name-only scores for search, and refinement from officers' decisions.
"""

from matching.dates import Placeholders, parse_age, parse_partial_date
from matching.errors import InputError, MatchingError, ModelFormatError
from matching.index import Candidate, IncrementalIndex
from matching.linker import Explanation, FieldEvidence, Linker, Links, TokenMatch, dedupe, link
from matching.matcher import FieldScore, Matcher, Score, Scoring, blocking_keys
from matching.model import Model
from matching.normalise import Token, name_tokens
from matching.records import FIELDS, NameFrequencies, Parsed, Prepared, Vocabulary, parse, prepare

__all__ = [
    "FIELDS",
    "Candidate",
    "Explanation",
    "FieldEvidence",
    "FieldScore",
    "IncrementalIndex",
    "InputError",
    "Linker",
    "Links",
    "Matcher",
    "MatchingError",
    "Model",
    "ModelFormatError",
    "NameFrequencies",
    "Parsed",
    "Placeholders",
    "Prepared",
    "Score",
    "Scoring",
    "Token",
    "TokenMatch",
    "Vocabulary",
    "blocking_keys",
    "dedupe",
    "link",
    "name_tokens",
    "parse",
    "parse_age",
    "parse_partial_date",
    "prepare",
]
