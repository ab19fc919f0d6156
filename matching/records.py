"""Records: validation of the canonical fields and their columnar, prepared form.

A record is a plain mapping of the canonical fields (see ``FIELDS``). :class:`RecordTable` holds many
prepared records column-wise (numpy arrays of token ids, year intervals, codes) so that comparisons
run over arrays of candidate pairs rather than pair by pair.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from matching.dates import DEFAULT_PLACEHOLDERS, BirthDate, Placeholders, birth_date
from matching.errors import InputError, MatchingError
from matching.normalise import (
    Token,
    back_vowel_places,
    country,
    document_key,
    name_tokens,
    phone_key,
    place_key,
    plain,
    skeleton,
)

FIELDS = (
    "id",
    "given_name",
    "family_name",
    "full_name",
    "alternate_names",
    "sex",
    "birth_date",
    "age",
    "record_date",
    "birth_place",
    "nationality",
    "father_name",
    "mother_name",
    "place",
    "address",
    "phone",
    "document_id",
)
NAME_SLOTS = 10  # tokens kept per person's name bag (given, family, full, alternates, in that order)
PARENT_SLOTS = 4
GIVEN_SLOTS = 3
# Frequencies are smoothed with this many pseudo-records: a name seen once (often a typo) is not
# taken for the rarest name of all.
TF_PSEUDO = 5.0
PAIR_TOKENS = 6  # names of a bag whose pairs are counted for the joint name frequency
DATE_COLUMNS = ("birth_date", "record_date")

IntArray = npt.NDArray[np.int32]


class TokenArrays(NamedTuple):
    """Per vocabulary token, what comparisons read, as arrays indexed by token id."""

    skeleton: IntArray  # id of the name key (see :func:`name_key`)
    phonetic: IntArray  # id of the phonetic key
    latin_id: IntArray  # id of the Latin form
    latin: npt.NDArray[np.object_]  # the Latin form
    skeleton_length: IntArray
    is_latin: npt.NDArray[np.bool_]  # written in Latin script
    folded: npt.NDArray[np.object_]  # the Latin form with transliteration digraphs folded
    raw_skeleton: IntArray  # id of the skeleton as is, also when too short to stand for a name alone
    pattern: npt.NDArray[np.object_]  # consonants and long vowels (see normalise.vowel_pattern)
    is_arabic: npt.NDArray[np.bool_]
    back_vowels: npt.NDArray[np.int64]  # see normalise.back_vowel_places
    french_skeleton: IntArray  # name key of the French reading of ch (see normalise.french_reading)
    french_raw_skeleton: IntArray
    french_pattern: npt.NDArray[np.object_]  # its vowel pattern ("" when there is no other reading)
    bare: IntArray  # id of the Latin form without a joined prefix (see normalise.bare_name), -1 if none
    bare_raw_skeleton: IntArray  # its skeleton's id, -1 if none


def _text(record: Mapping[str, Any], key: str) -> str:
    value = record.get(key)
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "|".join(str(v) for v in value if v)
    return str(value)


def _smoothed(counts: npt.NDArray[np.float64], n_records: int) -> npt.NDArray[np.float64]:
    return np.asarray((counts + TF_PSEUDO) / max(1, n_records), dtype=np.float64)


def _mean_under_u(f: npt.NDArray[np.float64]) -> float:
    """Expected frequency of the name two random people share: sum f^3 / sum f^2."""
    return float((f**3).sum() / (f**2).sum()) if f.size else 0.0


@dataclass(frozen=True, repr=False)
class NameFrequencies:
    """How many records hold each name, and each pair of names: what term-frequency adjustment needs.

    A name is keyed as the vocabulary counts it: its consonant skeleton, or ``=`` and its Latin form
    when the skeleton has fewer than two letters. ``pairs`` keys two such names in sorted order; its
    order is the order they were first counted, which fixes the floating-point sum of their mean.

    Personal data in aggregate (which names a population holds, and how often): the library hands it
    over as plain data and never logs it; whoever stores it encrypts it. ``repr`` shows sizes only.
    """

    records: int
    names: Mapping[str, int]
    pairs: Mapping[tuple[str, str], int]

    def __repr__(self) -> str:
        return f"NameFrequencies(records={self.records}, names={len(self.names)}, pairs={len(self.pairs)})"

    @cached_property
    def pair_mean(self) -> float:
        """Mean frequency under u of the pairs of names, as :meth:`Vocabulary.pair_frequencies` gives it."""
        counts = np.fromiter(self.pairs.values(), dtype=np.float64, count=len(self.pairs))
        return _mean_under_u(_smoothed(counts, self.records))


class PairMemo:
    """Values already computed for pairs of tokens (keyed ``a << 32 | b``), sorted for lookups: the same
    pairs of names recur across chunks of candidate pairs and random pairs."""

    LIMIT = 3_000_000  # pairs kept at most

    def __init__(self) -> None:
        self.keys = np.zeros(0, dtype=np.int64)
        self.values = np.zeros(0, dtype=np.float32)
        self.kinds = np.zeros(0, dtype=np.int8)

    def lookup(
        self, keys: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float32], npt.NDArray[np.int8]]:
        """Which keys are known, and their values and kinds (meaningless where unknown)."""
        if not self.keys.size:
            return (
                np.zeros(len(keys), dtype=bool),
                np.zeros(len(keys), np.float32),
                np.zeros(len(keys), np.int8),
            )
        pos = np.minimum(np.searchsorted(self.keys, keys), self.keys.size - 1)
        return self.keys[pos] == keys, self.values[pos], self.kinds[pos]

    def add(
        self, keys: npt.NDArray[np.int64], values: npt.NDArray[np.float32], kinds: npt.NDArray[np.int8]
    ) -> None:
        """Remember new keys (sorted, none already known) with their values: a linear merge."""
        if self.keys.size + keys.size > self.LIMIT:
            return
        at = np.searchsorted(self.keys, keys)
        self.keys = np.insert(self.keys, at, keys)
        self.values = np.insert(self.values, at, values)
        self.kinds = np.insert(self.kinds, at, kinds)


class Vocabulary:
    """Distinct name tokens, shared by the tables being compared, with their comparable forms.

    A vocabulary counts the records it is given (term frequencies of batch linkage), or, built with
    ``frequencies``, scores against fixed ones (a saved model) and counts nothing.
    """

    def __init__(self, frequencies: NameFrequencies | None = None) -> None:
        self.fixed = frequencies
        self.tokens: list[Token] = []
        # by the whole token: a name transliterated from another script may be written as a Latin
        # name is (ተስፋይ and Tesfay both read "tesfay") and must not take that token's id
        self._index: dict[Token, int] = {}
        self._key_index: dict[str, int] = {}
        self._skel: list[int] = []
        self._phon: list[int] = []
        self._latin: list[int] = []
        self._raw_skel: list[int] = []  # skeleton as is, also when too short to stand for a name alone
        self._french: list[int] = []  # name key of the French reading of ch (the name key when none)
        self._french_raw: list[int] = []
        self._bare: list[int] = []  # Latin form without a joined prefix (-1 when none)
        self._bare_raw: list[int] = []  # its skeleton
        self._named: set[int] = set()  # name keys some token was counted under
        self.skeleton_counts: list[int] = []  # records whose name bag holds a token with this skeleton
        self.pair_counts: dict[int, int] = {}  # records holding both skeletons (a << 32 | b, a < b)
        self._skel_text: list[str] = []  # per token, the name key its frequency is counted under
        self.n_records = frequencies.records if frequencies is not None else 0
        self._freq: npt.NDArray[np.float64] | None = None
        self._pairs: tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], float] | None = None
        self._arrays: TokenArrays | None = None
        self.similarities = PairMemo()  # token similarities already computed (see compare)

    def __len__(self) -> int:
        return len(self.tokens)

    def _key(self, kind: str, value: str) -> int:
        k = kind + ":" + value
        i = self._key_index.get(k)
        if i is None:
            i = len(self._key_index)
            self._key_index[k] = i
        return i

    def add(self, token: Token) -> int:
        i = self._index.get(token)
        if i is None:
            i = len(self.tokens)
            self._index[token] = i
            self.tokens.append(token)
            text = name_key(token)
            skel = self._key("s", text)
            self._skel.append(skel)
            self._skel_text.append(text)
            self._phon.append(self._key("p", token.phonetic))
            self._latin.append(self._key("l", token.latin))
            self._raw_skel.append(self._key("r", token.skeleton))
            french = french_key(token)
            self._french.append(self._key("s", french) if french else skel)
            self._french_raw.append(self._key("r", token.french_skeleton) if french else self._raw_skel[-1])
            self._bare.append(self._key("l", token.bare) if token.bare else -1)
            self._bare_raw.append(self._key("r", skeleton(token.bare)) if token.bare else -1)
            if skel not in self._named:  # a name not met before
                self._named.add(skel)
                self.skeleton_counts.extend([0] * (len(self._key_index) - len(self.skeleton_counts)))
                if self.fixed is not None:
                    self.skeleton_counts[skel] = self.fixed.names.get(text, 0)
            self._arrays = None
        return i

    def count(self, token_ids: Iterable[int]) -> None:
        """Count one record's name bag for term frequencies: its names, and its pairs of names."""
        if self.fixed is not None:
            raise MatchingError("a vocabulary with fixed name frequencies counts no records")
        skels = list(dict.fromkeys(self._skel[t] for t in token_ids))
        for s in skels:
            self.skeleton_counts[s] += 1
        head = sorted(skels[:PAIR_TOKENS])
        for i, a in enumerate(head):
            for b in head[i + 1 :]:
                key = (a << 32) | b
                self.pair_counts[key] = self.pair_counts.get(key, 0) + 1
        self.n_records += 1
        self._freq = None
        self._pairs = None

    def arrays(self) -> TokenArrays:
        """The tokens' comparable forms as arrays (rebuilt when tokens were added)."""
        if self._arrays is None:
            self._arrays = TokenArrays(
                skeleton=np.asarray(self._skel, dtype=np.int32),
                phonetic=np.asarray(self._phon, dtype=np.int32),
                latin_id=np.asarray(self._latin, dtype=np.int32),
                latin=_strings([t.latin for t in self.tokens]),
                skeleton_length=np.asarray([len(t.skeleton) for t in self.tokens], dtype=np.int32),
                is_latin=np.asarray([t.script == "latin" for t in self.tokens], dtype=bool),
                folded=_strings([t.folded for t in self.tokens]),
                raw_skeleton=np.asarray(self._raw_skel, dtype=np.int32),
                pattern=_strings([t.pattern for t in self.tokens]),
                is_arabic=np.asarray([t.script == "arabic" for t in self.tokens], dtype=bool),
                back_vowels=np.asarray([back_vowel_places(t.pattern) for t in self.tokens], dtype=np.int64),
                french_skeleton=np.asarray(self._french, dtype=np.int32),
                french_raw_skeleton=np.asarray(self._french_raw, dtype=np.int32),
                french_pattern=_strings([t.french_pattern for t in self.tokens]),
                bare=np.asarray(self._bare, dtype=np.int32),
                bare_raw_skeleton=np.asarray(self._bare_raw, dtype=np.int32),
            )
        return self._arrays

    def frequencies(self) -> npt.NDArray[np.float64]:
        """Share of records holding each token's skeleton, per token (term frequency for TF adjustment)."""
        if self._freq is None or len(self._freq) != len(self.tokens):
            skel = self.arrays().skeleton
            counts = np.asarray(self.skeleton_counts, dtype=np.float64)
            self._freq = _smoothed(counts[skel], self.n_records)
        return self._freq

    def mean_frequency(self) -> float:
        """Expected frequency of the name two random people share: sum f^3 / sum f^2 over names."""
        if self.fixed is not None:
            counts = np.fromiter(self.fixed.names.values(), dtype=np.float64, count=len(self.fixed.names))
        else:
            counts = np.asarray(self.skeleton_counts, dtype=np.float64)
        return _mean_under_u(_smoothed(counts[counts > 0], self.n_records))

    def name_frequencies(self) -> NameFrequencies:
        """The counts term-frequency adjustment needs, keyed by name rather than by token id: what a
        saved model carries so that a vocabulary built from it scores as this one does."""
        if self.fixed is not None:
            return self.fixed
        text = {i: key[2:] for key, i in self._key_index.items() if key.startswith("s:")}
        names = {text[s]: c for s, c in enumerate(self.skeleton_counts) if c > 0}
        pairs: dict[tuple[str, str], int] = {}
        for key, c in self.pair_counts.items():
            a, b = text[key >> 32], text[key & 0xFFFFFFFF]
            pairs[(a, b) if a < b else (b, a)] = c
        return NameFrequencies(self.n_records, names, pairs)

    def pair_frequencies(self, tok_a: IntArray, tok_b: IntArray) -> tuple[npt.NDArray[np.float64], float]:
        """Share of records holding both names (by skeleton), per pair of tokens, and its mean under u."""
        if self.fixed is not None:
            return self._fixed_pair_frequencies(self.fixed, tok_a, tok_b)
        if self._pairs is None:
            keys = np.fromiter(self.pair_counts.keys(), dtype=np.int64, count=len(self.pair_counts))
            counts = np.fromiter(self.pair_counts.values(), dtype=np.float64, count=len(self.pair_counts))
            order = np.argsort(keys)
            f = _smoothed(counts, self.n_records)
            self._pairs = (keys[order], f[order], _mean_under_u(f))
        keys, f, mean = self._pairs
        skel = self.arrays().skeleton
        sa, sb = skel[tok_a].astype(np.int64), skel[tok_b].astype(np.int64)
        q = (np.minimum(sa, sb) << 32) | np.maximum(sa, sb)
        out = np.full(len(q), TF_PSEUDO / max(1, self.n_records))
        if keys.size:
            pos = np.minimum(np.searchsorted(keys, q), keys.size - 1)
            hit = keys[pos] == q
            out[hit] = f[pos[hit]]
        return out, mean

    def _fixed_pair_frequencies(
        self, fixed: NameFrequencies, tok_a: IntArray, tok_b: IntArray
    ) -> tuple[npt.NDArray[np.float64], float]:
        texts = self._skel_text
        counts = np.fromiter(
            (
                fixed.pairs.get((ta, tb) if ta < tb else (tb, ta), 0)
                for ta, tb in (
                    (texts[a], texts[b]) for a, b in zip(tok_a.tolist(), tok_b.tolist(), strict=True)
                )
            ),
            dtype=np.float64,
            count=len(tok_a),
        )
        return _smoothed(counts, self.n_records), fixed.pair_mean


def name_key(token: Token) -> str:
    """What a name's frequency is counted under: its skeleton, or its Latin form when that is too short
    to stand for a name (a skeleton of one letter would merge Ali, Ola and Eli)."""
    return _key_of(token.skeleton, token.latin)


def french_key(token: Token) -> str:
    """The name key of the token's French reading of ch (Aicha as Aisha), or "" when it has none."""
    if not token.french_skeleton:
        return ""
    return _key_of(token.french_skeleton, token.latin.replace("ch", "sh"))


def bare_key(token: Token) -> str:
    """The name key of the token without its joined prefix (Benali as Ali), or "" when it has none."""
    return _key_of(skeleton(token.bare), token.bare) if token.bare else ""


def _key_of(skel: str, latin: str) -> str:
    return skel if len(skel) >= 2 else "=" + latin


@dataclass
class Prepared:
    """One record in comparable form."""

    id: str
    names: list[int]  # own names first, then the father's names not among them
    n_own: int
    n_primary: int  # how many names the person is written with, which decides if a 2nd/3rd can agree
    given: list[int]
    father: list[int]
    mother: list[int]
    born: BirthDate | None
    sex: int
    nationality: str
    birth_place: str
    birth_place_key: str
    place: str
    address: str
    phone: str
    document: str
    raw: dict[str, str] = field(repr=False)
    unreadable_dates: tuple[str, ...] = ()  # date columns read as missing: they held no valid date


class TokenNumbering(Protocol):
    """What numbers name tokens: a :class:`Vocabulary`, or one record's own numbering (see :func:`parse`)."""

    def add(self, token: Token) -> int: ...


class _RecordTokens:
    """One record's name tokens numbered in the order preparing meets them, distinct tokens as a
    vocabulary tells them apart, so a vocabulary that adds them in this order numbers them alike."""

    def __init__(self) -> None:
        self.tokens: list[Token] = []
        self._index: dict[Token, int] = {}

    def add(self, token: Token) -> int:
        i = self._index.get(token)
        if i is None:
            i = self._index[token] = len(self.tokens)
            self.tokens.append(token)
        return i


def own_names(record: Mapping[str, Any], vocab: TokenNumbering) -> tuple[list[int], int]:
    """The token ids of a person's own names (given, family, full, then alternate names), one slot per
    name, and how many of them the given, family and full name hold (not the aliases)."""
    bag: list[int] = []
    seen: dict[str, int] = {}  # one slot per name: محمد beside its transliteration Mohamed is one name
    primary = 0
    aliases = _text(record, "alternate_names").split("|")
    names = (_text(record, "given_name"), _text(record, "family_name"), _text(record, "full_name"))
    for n, text in enumerate((*names, *aliases)):
        for tok in name_tokens(text):
            t = vocab.add(tok)
            key = name_key(tok)
            # an alias that only repeats a name in another script or spelling adds no slot; a name
            # written twice in the name itself (Mohammed Mohamed Abdullah) keeps both
            if t not in bag and (n < 3 or key not in seen):
                seen[key] = t
                bag.append(t)
                primary += n < 3
    return bag, primary


@dataclass(frozen=True)
class Parsed:
    """One record validated and read into comparable form, its names numbered among its own tokens:
    all the work of preparing it but numbering its names in a vocabulary. A record scored in many
    calls, each with a vocabulary of its own, is parsed once (:meth:`Matcher.parse`)."""

    own: Prepared  # token ids index ``tokens``
    tokens: tuple[Token, ...]  # the record's distinct name tokens, in the order preparing meets them
    placeholders: Placeholders

    def numbered(self, vocab: Vocabulary) -> Prepared:
        """The prepared record, its tokens numbered in ``vocab`` in the order preparing would add them
        (so it equals preparing the record with that vocabulary)."""
        ids = [vocab.add(token) for token in self.tokens]
        own = self.own
        return replace(
            own,
            names=[ids[t] for t in own.names],
            given=[ids[t] for t in own.given],
            father=[ids[t] for t in own.father],
            mother=[ids[t] for t in own.mother],
        )


def prepare(
    record: Mapping[str, Any],
    vocab: Vocabulary,
    *,
    strict_dates: bool = True,
    placeholders: Placeholders = DEFAULT_PLACEHOLDERS,
) -> Prepared:
    """Validate one record and derive its comparable form, its names numbered in ``vocab``; raises
    :class:`InputError`. See :func:`parse` for the arguments."""
    return parse(record, strict_dates=strict_dates, placeholders=placeholders).numbered(vocab)


def parse(
    record: Mapping[str, Any],
    *,
    strict_dates: bool = True,
    placeholders: Placeholders = DEFAULT_PLACEHOLDERS,
) -> Parsed:
    """Validate one record and derive its comparable form, its names numbered among its own tokens;
    raises :class:`InputError`.

    ``placeholders``: which written birth days of the record's source stand for an unknown one.

    With ``strict_dates`` off (reading a batch file: registration lists hold corrupted dates such as
    1955-11-92), a birth or record date that is not a valid date is read as missing and listed in
    ``unreadable_dates`` instead of raising.
    """
    tokens = _RecordTokens()
    rid = _text(record, "id").strip()
    if not rid:
        raise InputError("missing id", column="id")
    raw = {k: _text(record, k) for k in FIELDS}
    given_tokens = list(name_tokens(raw["given_name"]))
    bag, primary = own_names(raw, tokens)
    # the given name, and the first names of the other ways the person is written (transliterations)
    given: list[int] = []
    firsts = [given_tokens[:1]] + [list(name_tokens(a))[:1] for a in raw["alternate_names"].split("|")]
    if not given_tokens:
        firsts.insert(0, list(name_tokens(raw["full_name"]))[:1])
    for first in firsts:
        if first and (t := tokens.add(first[0])) not in given:
            given.append(t)
    if not given and bag:
        given = bag[:1]
    father = list(dict.fromkeys(tokens.add(t) for t in name_tokens(raw["father_name"])))
    mother = list(dict.fromkeys(tokens.add(t) for t in name_tokens(raw["mother_name"])))
    # Patronymic naming: one registration writes "given + father's name" where another writes a family
    # name, so the father's first name joins the bag the names are aligned from.
    extra = [t for t in father[:2] if t not in bag]  # his name, then his father's: the chain continued
    own = bag[: NAME_SLOTS - len(extra)]
    bag = own + extra
    born, unreadable = _born(raw, strict_dates, placeholders)
    sex_text = raw["sex"].strip().upper()
    if sex_text not in ("", "F", "M", "U"):
        raise InputError("sex must be F, M, U or empty", column="sex")
    prepared = Prepared(
        id=rid,
        names=bag,
        n_own=len(own),
        n_primary=min(primary, len(own)),
        given=given[:GIVEN_SLOTS],
        father=father[:PARENT_SLOTS],
        mother=mother[:PARENT_SLOTS],
        born=born,
        sex={"F": 1, "M": 2}.get(sex_text, 0),
        nationality=country(raw["nationality"]),
        birth_place=plain(raw["birth_place"]),
        birth_place_key=place_key(raw["birth_place"]),
        place=plain(raw["place"]),
        address=plain(raw["address"]),
        phone=phone_key(raw["phone"]),
        document=document_key(raw["document_id"]),
        raw=raw,
        unreadable_dates=unreadable,
    )
    return Parsed(prepared, tuple(tokens.tokens), placeholders)


def _born(
    raw: Mapping[str, str], strict_dates: bool, placeholders: Placeholders
) -> tuple[BirthDate | None, tuple[str, ...]]:
    """The birth date, and the date columns read as missing because they held no valid date."""
    values = {key: raw[key].strip() for key in ("birth_date", "age", "record_date")}
    unreadable: list[str] = []
    while True:  # at most once per date column: a column read as missing is empty
        try:
            born = birth_date(values["birth_date"], values["age"], values["record_date"], placeholders)
            return born, tuple(unreadable)
        except InputError as exc:
            if strict_dates or exc.column not in DATE_COLUMNS:
                raise
            unreadable.append(exc.column)
            values[exc.column] = ""


def _pad(rows: Sequence[Sequence[int]], width: int) -> IntArray:
    out = np.full((len(rows), width), -1, dtype=np.int32)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def _strings(values: Sequence[str]) -> npt.NDArray[np.object_]:
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


class ColumnStore:
    """Prepared records' columns, appended to: each record is built into columns once, the columns
    grown by doubling (what a table grown record by record, and a job scoring in many calls, keep)."""

    def __init__(self) -> None:
        self._store: dict[str, npt.NDArray[Any]] = {}  # columns with spare capacity
        self._built = 0  # rows in use

    def __len__(self) -> int:
        return self._built

    def append(self, records: Sequence[Prepared]) -> None:
        if not records:
            return
        new = RecordTable._build(records)
        n = self._built + len(records)
        if not self._store:
            self._store = new
        else:
            capacity = len(next(iter(self._store.values())))
            if n > capacity:
                grown = max(n, 2 * capacity)
                for key, col in self._store.items():
                    bigger = np.empty((grown, *col.shape[1:]), dtype=col.dtype)
                    bigger[: self._built] = col[: self._built]
                    self._store[key] = bigger
            for key, col in new.items():
                self._store[key][self._built : n] = col
        self._built = n

    def columns(self) -> dict[str, npt.NDArray[Any]]:
        """Every row, column-wise (views into the store)."""
        return {key: col[: self._built] for key, col in self._store.items()}

    def gather(self, rows: npt.NDArray[np.int64]) -> dict[str, npt.NDArray[Any]]:
        """Some rows, column-wise (copies)."""
        return {key: col[rows] for key, col in self._store.items()}


class RecordTable:
    """Prepared records, column-wise. Built once for batch linkage, or grown record by record."""

    def __init__(self, vocab: Vocabulary, records: Sequence[Prepared] = ()) -> None:
        self.vocab = vocab
        self.records: list[Prepared] = []
        self._store = ColumnStore()  # built on demand
        self.extend(records)

    def __len__(self) -> int:
        return len(self.records)

    def extend(self, records: Iterable[Prepared]) -> None:
        for r in records:
            self.vocab.count(r.names)
            self.records.append(r)

    @property
    def ids(self) -> list[str]:
        return [r.id for r in self.records]

    def columns(self) -> dict[str, npt.NDArray[Any]]:
        """All records column-wise (views into the store; appended records are added on demand)."""
        self._store.append(self.records[len(self._store) :])
        return self._store.columns()

    def columns_for(self, positions: npt.NDArray[np.int64]) -> dict[str, npt.NDArray[Any]]:
        """Columns of some records only (incremental queries): a gather from the store."""
        self._store.append(self.records[len(self._store) :])
        return self._store.gather(positions)

    @staticmethod
    def _build(records: Sequence[Prepared]) -> dict[str, npt.NDArray[Any]]:
        def born(attr: str, missing: int) -> npt.NDArray[np.int32]:
            return np.asarray([getattr(r.born, attr) if r.born else missing for r in records], dtype=np.int32)

        return {
            "names": _pad([r.names for r in records], NAME_SLOTS),
            "n_names": np.asarray([r.n_primary + len(r.names) - r.n_own for r in records], dtype=np.int32),
            "father_slots": np.arange(NAME_SLOTS)[None, :]
            >= np.asarray([r.n_own for r in records], dtype=np.int32).reshape(len(records), 1),
            "given_slots": np.asarray(
                [[t in r.given for t in r.names] + [False] * (NAME_SLOTS - len(r.names)) for r in records],
                dtype=bool,
            ).reshape(len(records), NAME_SLOTS),
            "father": _pad([r.father for r in records], PARENT_SLOTS),
            "mother": _pad([r.mother for r in records], PARENT_SLOTS),
            "year_lo": born("year_lo", -1),
            "year_hi": born("year_hi", -1),
            "month": born("month", 0),
            "day": born("day", 0),
            "sex": np.asarray([r.sex for r in records], dtype=np.int8),
            "nationality": _strings([r.nationality for r in records]),
            "birth_place": _strings([r.birth_place for r in records]),
            "birth_place_key": _strings([r.birth_place_key for r in records]),
            "place": _strings([r.place for r in records]),
            "address": _strings([r.address for r in records]),
            "phone": _strings([r.phone for r in records]),
            "document": _strings([r.document for r in records]),
        }
