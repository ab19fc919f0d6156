"""Person-record matching across scripts: normalisation, blocking, Fellegi-Sunter scoring, explanations.

Pure library: records in (plain mappings of the canonical fields), scored pairs out.

    links = link(left_records, right_records)           # batch, unsupervised
    for left_id, right_id, p, w in links.rows(0.5): ...
    links.explain(i).fields                              # per-field level and weight, name alignment
    index = IncrementalIndex(links.model); index.add(record); index.candidates(new_record, k=10)
    links.model.refine(levels, is_match)                 # officers' confirmations and rejections
"""

from matching.errors import InputError, MatchingError, ModelFormatError
from matching.index import Candidate, IncrementalIndex
from matching.linker import Explanation, FieldEvidence, Linker, Links, TokenMatch, dedupe, link
from matching.model import Model
from matching.normalise import Token, name_tokens
from matching.records import FIELDS, NameFrequencies, Prepared, Vocabulary, prepare

__all__ = [
    "FIELDS",
    "Candidate",
    "Explanation",
    "FieldEvidence",
    "IncrementalIndex",
    "InputError",
    "Linker",
    "Links",
    "MatchingError",
    "Model",
    "ModelFormatError",
    "NameFrequencies",
    "Prepared",
    "Token",
    "TokenMatch",
    "Vocabulary",
    "dedupe",
    "link",
    "name_tokens",
    "prepare",
]
