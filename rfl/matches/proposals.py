"""Proposals: the matcher's candidates for one record, from the other side, across every society.

1. Blocking runs on the blind indexes: the record's blocking keys are hashed under each society's own
   index key and looked up in that society's ``match_block`` rows; a key that too many records share
   finds nothing, and the records sharing the most keys go on (twice ``max_candidates``: see 3).
2. Rule 10 is applied before anything is decrypted: a sighting excluded from a request (by society or
   request id) is never its candidate; a no_cross_border one is, across societies too, the pair shown
   to the sighting's society alone (see ``restrictions.pairable``).
3. Only the blocked candidates are decrypted, in memory, into the matcher's canonical fields; those
   that share a real blocking key (not only a truncated index value) are ranked by keys shared, and
   at most ``max_candidates`` are scored with the current model; those at or above the floor are
   stored with probability, weight, model version and an explanation of field names, levels and
   weights (no values).
4. A pair an officer rejected (or whose confirmation was withdrawn) is not proposed again until one of
   its records changed in a field the matcher compares; a confirmed pair is left as it is.

Everything is idempotent: proposing twice for an unchanged record changes nothing, so a message
delivered twice, a resumed ``rfl match run`` or a relay repeated after a crash all end the same.

A job that proposes for many records (a re-scoring run, a drain of the outbox) shares one
:class:`Proposer`: each record it reads is decrypted and keyed once, not once for every record it is
a candidate of (a common name is the candidate of hundreds). A re-scoring run, which reads every
sighting anyway, blocks against them in memory (a :class:`~rfl.matches.catalogue.Catalogue`) instead
of the index.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import math
import operator
import uuid
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from matching import Matcher, Parsed, Placeholders, Score, Scoring, blocking_keys, parse
from rfl.audit.entries import Action, AuditEntry, AuditSink
from rfl.crypto import Crypto
from rfl.db import dialect_insert, one_of
from rfl.identity import societies_holding, society_codes
from rfl.matches.models import CONFIRMING_STATUSES, OPEN_PAIR, MatchCandidate, MatchOutcome, MatchStatus
from rfl.matches.settings import MatchingSettings
from rfl.records import indexing
from rfl.records.models import BlindIndexEntry, RecordMixin, RecordStatus, TracingRequest
from rfl.records.restrictions import Viewer, pairable, seen_by_everyone
from rfl.records.seals import Protection, Seals
from rfl.records.services import SIGHTINGS, TRACING_REQUESTS, RecordType, canonical_records, kind_named

if TYPE_CHECKING:
    from rfl.matches.catalogue import Catalogue

# Scoring one pair among different competitors moves its probability by rounding noise only; such a
# change is not worth a write (or a changed candidate in a re-scoring's report).
PROBABILITY_NOISE = 1e-6
# Blocking fetches this many times ``max_candidates``: a truncated index value also stands for other
# keys, and the records sharing only a value are dropped after decryption, so the cap is applied to the
# records sharing real keys (at the planned truncation this keeps blocking recall where exact keys have
# it: benchmarks/index_plan_recall.py).
CANDIDATE_HEADROOM = 2
# Blind-index values looked up by one statement (databases cap the bound parameters of a statement).
VALUES_PER_STATEMENT = 2000
_Value = TypeVar("_Value")
# Pairs in these statuses are not proposed again while neither record changed: officers decided them.
DECIDED = (MatchStatus.REJECTED, MatchStatus.WITHDRAWN, MatchStatus.CONFIRMED, MatchStatus.PENDING_APPROVAL)
# At most one candidate per pair is in these (the unique index uq_match_candidates_open_pair).
OPEN = (MatchStatus.PROPOSED, MatchStatus.PENDING_APPROVAL)
# Records a proposer keeps read, the least recently used dropped first: about 10 KB each in memory
# (measured on dev-rfl people with their rows; 1.2 GB at most). A re-scoring run's are its catalogue's.
VIEWS_KEPT = 120_000


@dataclass(frozen=True)
class ProposalReport:
    blocked: int
    scored: int
    stored: int


class Side(Protocol):
    """What pairing reads of either record of a pair (an ORM record, or a ``Head``)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def society_id(self) -> uuid.UUID: ...
    @property
    def match_version(self) -> int: ...


@dataclass(frozen=True)
class Pair:
    request: Side
    sighting: Side
    other: Head  # the pair's record of the other side than the record proposed for


@dataclass(frozen=True, eq=False)  # by identity: a job looks heads up millions of times
class Head:
    """What proposing reads of a record of the other side before it knows whether to decrypt it: its
    owner, versions and, for a sighting, its protection as its seal gives it."""

    id: uuid.UUID
    society_id: uuid.UUID
    version: int
    match_version: int
    protection: Protection | None  # a sighting's; None for a tracing request
    # A sighting rule 10 lets everyone see (sealed, no restriction): most of them, asked of hundreds
    # for each request a job proposes for.
    unrestricted: bool = field(init=False)

    def __post_init__(self) -> None:
        unrestricted = self.protection is not None and seen_by_everyone(self.protection)
        object.__setattr__(self, "unrestricted", unrestricted)  # frozen: set once, here


@dataclass(frozen=True)
class MatchView:
    """A record as the matcher reads it, decrypted in memory only: canonical fields, plaintext
    blocking keys, and the record parsed for scoring (a candidate of hundreds of records is parsed
    once, not once per scoring)."""

    canonical: dict[str, Any]
    keys: frozenset[str]
    parsed: Parsed  # with the usual placeholders (those of the blocking keys)
    # parsed with the placeholders of a matcher that judged its own (see ``for_matcher``)
    _reparsed: dict[Placeholders, Parsed] = field(default_factory=dict, compare=False)

    def for_matcher(self, matcher: Matcher) -> Parsed:
        """The record as ``matcher`` scores it."""
        if matcher.placeholders == self.parsed.placeholders:
            return self.parsed
        found = self._reparsed.get(matcher.placeholders)
        if found is None:
            found = self._reparsed[matcher.placeholders] = matcher.parse(self.parsed)
        return found


class Proposer:
    """What proposing for many records shares: the records already read.

    A record is read once per job and version: its head and its view are kept under the record's row
    version, which every write of the row moves on (an edit, a closing, an erasure), so a changed
    record is read again. A head is kept only when its seal held: a failing one is checked (and
    audited) again by every transaction that meets it. The views hold plaintext in this process's
    memory for as long as the job runs, as the matcher's own batch linkage does; a job drops its
    proposer when it ends.
    """

    def __init__(self, *, keep: int = VIEWS_KEPT, catalogue: Catalogue | None = None) -> None:
        self._keep = keep
        # A job proposing for most records of one side blocks against the other side in memory.
        self.catalogue = catalogue
        self._scoring: Scoring | None = None
        self._views: OrderedDict[tuple[str, uuid.UUID, int], MatchView] = OrderedDict()
        self._heads: dict[tuple[str, uuid.UUID, int], Head] = {}

    def scoring(self, matcher: Matcher) -> Scoring:
        """The matcher's scoring for this job: the names read for one batch are not read again for the
        next (a new matcher starts anew)."""
        if self._scoring is None or self._scoring.matcher is not matcher:
            self._scoring = matcher.scoring()
        return self._scoring

    def heads(
        self, session: Session, crypto: Crypto, audit: AuditSink, kind: RecordType, ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, Head]:
        """The heads of the open records among ``ids``, by id: only the versions are read of a record
        whose head is kept at its current version (tens of thousands a chunk of a run)."""
        found: dict[uuid.UUID, Head] = {}
        unread = []
        for record_id, version in open_versions(session, kind, ids):
            head = self._heads.get((kind.name, record_id, version))
            if head is None:
                unread.append(record_id)
            else:
                found[record_id] = head
        if len(self._heads) > self._keep:
            self._heads.clear()
        seals = Seals(crypto, audit)
        for record in _open_records(session, kind, unread):
            head = found[record.id] = _head_of(kind, record, seals)
            if head.protection is None or head.protection.intact:
                self._heads[(kind.name, record.id, record.version)] = head
        return found

    def views(
        self,
        session: Session,
        crypto: Crypto,
        kind: RecordType,
        records: Sequence[RecordMixin | Head],
        *,
        keep: bool = True,
    ) -> list[MatchView]:
        """The records' views, in order, reading (decrypting) only those not read at their version (a
        record erased since its head was read is left out). ``keep``: whether the views read are kept
        for later calls."""
        found = self.read(session, crypto, kind, records, keep=keep)
        return [found[record.id] for record in records if record.id in found]

    def read(
        self,
        session: Session,
        crypto: Crypto,
        kind: RecordType,
        records: Sequence[RecordMixin | Head],
        *,
        keep: bool = True,
    ) -> dict[uuid.UUID, MatchView]:
        """:meth:`views`, by record id."""
        keys = [(kind.name, record.id, record.version) for record in records]
        found = {key[1]: self._views[key] for key in keys if key in self._views}
        for key in keys:
            if key in self._views:
                self._views.move_to_end(key)  # recently used: kept longest
        unread = _loaded(session, kind, [record for record in records if record.id not in found])
        for record, canonical in zip(unread, canonical_records(crypto, kind, unread), strict=True):
            # kept under the version read (newer than a head's when the record changed since)
            found[record.id] = self._view_of(canonical)
            if keep:
                self._remember((kind.name, record.id, record.version), found[record.id])
        return found

    def _view_of(self, canonical: dict[str, Any]) -> MatchView:
        parsed = parse(canonical)
        return MatchView(canonical, frozenset(blocking_keys(parsed)), parsed)

    def _remember(self, key: tuple[str, uuid.UUID, int], view: MatchView) -> None:
        self._views[key] = view
        while len(self._views) > self._keep:
            self._views.popitem(last=False)


def propose(
    session: Session,
    crypto: Crypto,
    matcher: Matcher,
    kind_name: str,
    record_id: uuid.UUID,
    *,
    limits: MatchingSettings,
    audit: AuditSink,
    proposer: Proposer | None = None,
) -> ProposalReport:
    """Propose candidates for one record (created, or changed in a field the matcher compares).

    ``proposer``: the job's, when it proposes for many records.
    """
    return propose_many(
        session, crypto, matcher, kind_name, [record_id], limits=limits, audit=audit, proposer=proposer
    )


def propose_many(
    session: Session,
    crypto: Crypto,
    matcher: Matcher,
    kind_name: str,
    record_ids: Sequence[uuid.UUID],
    *,
    limits: MatchingSettings,
    audit: AuditSink,
    proposer: Proposer | None = None,
) -> ProposalReport:
    """Propose candidates for several records of one kind at once (a re-scoring run's chunk): each step
    reads what all of them need in one round of queries, and the matcher scores all their pairs in one
    pass; every record ends as a proposal of its own would leave it (its candidates never compete with
    another record's). ``proposer``: the job's, when it proposes for many records."""
    kind = kind_named(kind_name)
    records = _records(session, kind, record_ids)
    # Every candidate of the records but the superseded ones, read once: outdated, decided, open and
    # dropped pairs are all among them.
    live = _live_candidates(session, kind, records)
    for record in records:
        _supersede_outdated(session, kind, record, live[record.id], audit)
        _release_refused(session, record, live[record.id], audit)
    records = [record for record in records if record.status is not RecordStatus.CLOSED]
    if not records:
        return ProposalReport(0, 0, 0)
    proposer = proposer or Proposer()
    # A job blocking against a catalogue of the other side proposes for each record of this side once:
    # keeping their views would only push the catalogue's, met again and again, out of the proposer.
    keep = proposer.catalogue is None or proposer.catalogue.kind is kind
    views = proposer.views(session, crypto, kind, records, keep=keep)
    blocked = _block(session, crypto, proposer, kind, views=views, limits=limits, audit=audit)
    sharing = _ranked_candidates(
        session,
        crypto,
        proposer,
        kind,
        records,
        views=views,
        blocked=blocked,
        live=live,
        limits=limits,
        audit=audit,
    )
    parsed = _parsed_for(matcher)
    scores = proposer.scoring(matcher).score_many(
        [
            (view.for_matcher(matcher), list(map(parsed, group)))
            for view, group in zip(views, sharing, strict=True)
        ],
        threshold=limits.floor,
    )
    stored = _store(
        session, kind, matcher.version, records, heads=blocked.by_id, scores=scores, live=live, audit=audit
    )
    return ProposalReport(sum(map(len, blocked.heads)), sum(map(len, sharing)), stored)


def _parsed_for(matcher: Matcher) -> Callable[[MatchView], Parsed]:
    """How the views are read as ``matcher`` scores them: their parsed records themselves when it reads
    birth dates the usual way (every view is parsed so), asked of every pair a job scores."""
    if matcher.placeholders == Placeholders():  # the usual reading
        return _USUAL
    return functools.partial(MatchView.for_matcher, matcher=matcher)


_USUAL: Callable[[MatchView], Parsed] = operator.attrgetter("parsed")


@dataclass(frozen=True)
class _Blocked:
    """What blocking found for each record of a batch."""

    heads: list[list[Head]]  # per record, the records of the other side, in the order blocking ranked them
    by_id: Mapping[uuid.UUID, Head]  # every head read
    societies: Collection[uuid.UUID]  # the heads' owners (maybe more)
    # The heads' views when blocking read them already (a catalogue, whose heads are ranked by the
    # blocking keys shared; the index ranks by values shared, and its candidates are read after it).
    views: Mapping[Head, MatchView] | None


def _block(
    session: Session,
    crypto: Crypto,
    proposer: Proposer,
    kind: RecordType,
    *,
    views: Sequence[MatchView],
    limits: MatchingSettings,
    audit: AuditSink,
) -> _Blocked:
    """The records of the other side each record's blocking keys find: in the proposer's catalogue
    when it holds that side, else in the blind index."""
    other = _other_side(kind)
    keysets = [view.keys for view in views]
    catalogue = proposer.catalogue
    if catalogue is not None and catalogue.kind is other:
        catalogue.refresh(session, crypto, proposer, audit)
        return _Blocked(
            catalogue.blocked(keysets, limits), catalogue.heads, catalogue.societies, catalogue.views
        )
    ids = blocked_candidates(session, crypto, other, keysets, limits)
    found = proposer.heads(session, crypto, audit, other, set().union(*ids))
    societies = {head.society_id for head in found.values()}
    return _Blocked([[found[i] for i in group if i in found] for group in ids], found, societies, None)


def _ranked_candidates(
    session: Session,
    crypto: Crypto,
    proposer: Proposer,
    kind: RecordType,
    records: Sequence[RecordMixin],
    *,
    views: Sequence[MatchView],
    blocked: _Blocked,
    live: dict[uuid.UUID, list[MatchCandidate]],
    limits: MatchingSettings,
    audit: AuditSink,
) -> list[list[MatchView]]:
    """Per record, the blocked records of the other side it may be paired with (rule 10, earlier
    decisions), decrypted, and at most ``max_candidates`` of those sharing the most real keys."""
    codes = society_codes(session, {record.society_id for record in records} | set(blocked.societies))
    seals = Seals(crypto, audit)  # the records' own, when they are sightings
    groups = (
        _undecided(kind, record, _visible(seals, codes, record, heads), live[record.id], blocked.by_id)
        for record, heads in zip(records, blocked.heads, strict=True)
    )
    if blocked.views is not None:
        # Ranked, and read, already: only the first ``max_candidates`` are looked at further.
        view_of = blocked.views.__getitem__
        return [list(map(view_of, itertools.islice(group, limits.max_candidates))) for group in groups]
    pairable = [list(group) for group in groups]
    others = _other_views(session, crypto, proposer, kind, pairable)
    return [
        _sharing_the_most_keys(
            view.keys, [others[head] for head in heads if head in others], limits.max_candidates
        )
        for view, heads in zip(views, pairable, strict=True)
    ]


def _records(session: Session, kind: RecordType, ids: Sequence[uuid.UUID]) -> list[RecordMixin]:
    """The records of ``ids`` that exist, in id order."""
    statement = sa.select(kind.model).where(kind.model.id.in_(set(ids))).order_by(kind.model.id)
    return list(session.scalars(statement))


def _other_views(
    session: Session, crypto: Crypto, proposer: Proposer, kind: RecordType, heads: Sequence[Sequence[Head]]
) -> dict[Head, MatchView]:
    """The views of every record of the other side in ``heads``, each read once, by head (a record
    erased since its head was read has none)."""
    distinct = list(dict.fromkeys(head for group in heads for head in group))
    views = proposer.read(session, crypto, _other_side(kind), distinct)
    return {head: views[head.id] for head in distinct if head.id in views}


def _other_side(kind: RecordType) -> RecordType:
    return SIGHTINGS if kind is TRACING_REQUESTS else TRACING_REQUESTS


# --- blocking -------------------------------------------------------------------------------------


def blocked_candidates(
    session: Session,
    crypto: Crypto,
    other: RecordType,
    keysets: Sequence[frozenset[str]],
    limits: MatchingSettings,
) -> list[list[uuid.UUID]]:
    """For each set of blocking keys (one record's), the records of the other side that share one of
    them, most shared first, at most twice ``max_candidates``; a value more than ``max_key_records``
    share finds nothing. The index rows of all the sets are read at once (a query or two per society
    and index-key version), so a job blocking many records pays one round of queries, not one each."""
    probes = _probes(session, crypto, other, keysets)
    found = [_rows_of(session, other, probe, limits) for probe in probes]
    ranked = [_most_shared(n, probes, found, limits) for n in range(len(keysets))]
    ids = {given: uuid.UUID(given) for given in set().union(*ranked)}  # each once: the sets overlap
    return [[ids[given] for given in records] for records in ranked]


@dataclass(frozen=True)
class _Probe:
    """Where the records of the other side are looked up for one society and index-key version: the
    values of each set of keys under that society's key."""

    society_id: uuid.UUID
    key_version: int
    values: list[set[bytes]]  # per set of keys


@dataclass(frozen=True)
class _ProbeRows:
    """What the index holds for one probe's values: how many rows hold each value, and the records
    holding each value not held by too many (the ids as text: see ``_holders``)."""

    counts: dict[bytes, int]
    holders: dict[bytes, list[str]]


def _probes(
    session: Session, crypto: Crypto, other: RecordType, keysets: Sequence[frozenset[str]]
) -> list[_Probe]:
    probes = []
    for society_id in _societies_with(session, other):
        # Every version that indexes something: while `rfl keys rotate-index` rebuilds a society's
        # index, some of its records are still under the older one.
        for index in crypto.indexes(society_id):
            values = [{v.value for v in indexing.block_key_values(index, keys)} for keys in keysets]
            if any(values):
                probes.append(_Probe(society_id, index.key_version, values))
    return probes


def _block_rows(
    session: Session, other: RecordType, probe: _Probe, values: Sequence[bytes]
) -> sa.ColumnElement[bool]:
    return sa.and_(
        BlindIndexEntry.index_name == indexing.MATCH_BLOCK,
        BlindIndexEntry.index_version == indexing.INDEX_VERSION,
        one_of(session, BlindIndexEntry.value, values),
        BlindIndexEntry.record_type == other.name,
        BlindIndexEntry.society_id == probe.society_id,
        BlindIndexEntry.key_version == probe.key_version,
    )


def _rows_of(session: Session, other: RecordType, probe: _Probe, limits: MatchingSettings) -> _ProbeRows:
    wanted = sorted(set().union(*probe.values))
    counts = _value_counts(session, other, probe, wanted)
    sparse = [value for value in wanted if counts.get(value, 0) <= limits.max_key_records]
    holders: dict[bytes, list[str]] = defaultdict(list)
    for value, record_id in _holders(session, other, probe, sparse):
        holders[value].append(record_id)
    return _ProbeRows(counts, holders)


def _value_counts(
    session: Session, other: RecordType, probe: _Probe, values: Sequence[bytes]
) -> dict[bytes, int]:
    """How many index rows hold each value (an index-only count: crowded values are never fetched)."""
    counts: dict[bytes, int] = {}
    for part in _slices(values):
        statement = (
            sa.select(BlindIndexEntry.value, sa.func.count())
            .where(_block_rows(session, other, probe, part))
            .group_by(BlindIndexEntry.value)
        )
        counts.update(dict(session.execute(statement).all()))
    return counts


def _holders(
    session: Session, other: RecordType, probe: _Probe, values: Sequence[bytes]
) -> Iterator[sa.Row[bytes, str]]:
    # Tens of thousands of rows a chunk: read without the ORM, the record ids as text (PostgreSQL's
    # canonical form, SQLite's 32 hex digits: either sorts as the ids do), of which only the ranked
    # few are made UUIDs.
    record_id = sa.cast(BlindIndexEntry.record_id, sa.String)
    connection = session.connection()
    for part in _slices(values):
        statement = sa.select(BlindIndexEntry.value, record_id).where(
            _block_rows(session, other, probe, part)
        )
        yield from connection.execute(statement)


def _slices(values: Sequence[_Value]) -> Iterator[Sequence[_Value]]:
    """Values a statement at a time: databases cap the parameters of one statement."""
    for start in range(0, len(values), VALUES_PER_STATEMENT):
        yield values[start : start + VALUES_PER_STATEMENT]


def _most_shared(
    n: int, probes: Sequence[_Probe], found: Sequence[_ProbeRows], limits: MatchingSettings
) -> list[str]:
    """The records holding the most of the ``n``-th key set's index rows (then by id), leaving out
    every value that more than ``max_key_records`` rows of a society hold (under any of its key
    versions)."""
    per_society: Counter[tuple[uuid.UUID, bytes]] = Counter()
    for probe, rows in zip(probes, found, strict=True):
        for value in probe.values[n]:
            per_society[(probe.society_id, value)] += rows.counts.get(value, 0)
    crowded = {value for (_, value), count in per_society.items() if count > limits.max_key_records}
    shared: Counter[str] = Counter()
    for probe, rows in zip(probes, found, strict=True):
        for value in probe.values[n] - crowded:
            shared.update(rows.holders.get(value, ()))
    limit = limits.max_candidates * CANDIDATE_HEADROOM
    # the same as sorting them all and taking the first ``limit``
    ranked = heapq.nsmallest(limit, shared.items(), key=lambda item: (-item[1], item[0]))
    return [given for given, _ in ranked]


def _sharing_the_most_keys(keys: frozenset[str], others: Sequence[MatchView], limit: int) -> list[MatchView]:
    """The ``limit`` decrypted candidates sharing the most of the record's real blocking ``keys``
    (none that shares only a truncated value: such a pair was never blocked together)."""
    shared = [(len(keys & view.keys), view.canonical["id"], view) for view in others]
    ranked = sorted((entry for entry in shared if entry[0]), key=lambda entry: (-entry[0], entry[1]))
    return [view for _, _, view in ranked[:limit]]


def _societies_with(session: Session, kind: RecordType) -> list[uuid.UUID]:
    return societies_holding(session, kind.model.society_id)


# What proposing reads of a candidate before knowing it must be decrypted: its owner, status, versions
# and the sealed protection columns (the encrypted fields follow, in one query, for those not yet read).
_CANDIDATE_COLUMNS = (
    "id",
    "society_id",
    "status",
    "minor",
    "flagged_minor",
    "version",
    "match_version",
    "seal",
)
_SIGHTING_COLUMNS = ("deceased", "no_cross_border", "exclude")


def _open_records(session: Session, kind: RecordType, ids: Sequence[uuid.UUID]) -> list[sa.Row[Any]]:
    """The open records among ``ids``, as rows of the columns a head needs (not ORM objects: a chunk
    of a run reads tens of thousands)."""
    names = _CANDIDATE_COLUMNS + (_SIGHTING_COLUMNS if kind is SIGHTINGS else ())
    columns = [getattr(kind.model, name) for name in names]
    found: list[sa.Row[Any]] = []
    for part in _slices(sorted(ids)):
        statement = sa.select(*columns).where(
            one_of(session, kind.model.id, part), kind.model.status != RecordStatus.CLOSED
        )
        found.extend(session.execute(statement))
    return found


def open_versions(
    session: Session, kind: RecordType, ids: Iterable[uuid.UUID]
) -> Iterator[sa.Row[uuid.UUID, int]]:
    """The id and row version of the open records among ``ids``, read without the ORM: tens of
    thousands a chunk of a run."""
    connection = session.connection()
    is_open = kind.model.status != RecordStatus.CLOSED
    for part in _slices(sorted(ids)):
        statement = sa.select(kind.model.id, kind.model.version).where(
            one_of(session, kind.model.id, part), is_open
        )
        yield from connection.execute(statement)


def listed_versions(session: Session, kind: RecordType) -> set[tuple[str, int]]:
    """The id (as text: see ``_holders``) and row version of every open record: a catalogue compares
    it with what it holds before each chunk of a run, 100k records and more, as sets of tuples (the
    ids made UUIDs, hashed and compared in Python, cost a tenth of a run at 100k x 100k)."""
    statement = sa.select(sa.cast(kind.model.id, sa.String), kind.model.version).where(
        kind.model.status != RecordStatus.CLOSED
    )
    return {(text, version) for text, version in session.connection().execute(statement)}


def _head_of(kind: RecordType, record: sa.Row[Any], seals: Seals) -> Head:
    protection = seals.protection(record, kind.model) if kind is SIGHTINGS else None
    return Head(record.id, record.society_id, record.version, record.match_version, protection)


def _loaded(session: Session, kind: RecordType, records: Sequence[RecordMixin | Head]) -> list[RecordMixin]:
    """``records`` as ORM records with every column loaded: one query for those that are heads or
    partly loaded (the ORM fills in what an object already in the session lacks)."""
    ready = {
        record.id: record
        for record in records
        if isinstance(record, RecordMixin) and not sa.inspect(record).unloaded
    }
    for part in _slices([record.id for record in records if record.id not in ready]):
        ready.update(
            (row.id, row)
            for row in session.scalars(sa.select(kind.model).where(one_of(session, kind.model.id, part)))
        )
    return [ready[record.id] for record in records if record.id in ready]


# --- rule 10 and earlier decisions ------------------------------------------------------------------


def _visible(
    seals: Seals, codes: dict[uuid.UUID, str], record: RecordMixin, heads: Iterable[Head]
) -> Iterator[Head]:
    """The records of the other side (``heads``) the record may be paired with under rule 10
    (``restrictions.pairable``), in order (each sighting read through its seal: one whose seal fails
    is nobody's candidate). ``codes``: the societies' codes, by id."""
    if isinstance(record, TracingRequest):
        viewer = Viewer(record.society_id, codes[record.society_id], record.id)
        return (
            head for head in heads if head.unrestricted or pairable(head, viewer, _sighting_protection(head))
        )
    own = seals.protection(record)
    return (
        head
        for head in heads
        if pairable(record, Viewer(head.society_id, codes[head.society_id], head.id), own)
    )


def _sighting_protection(head: Head) -> Protection:
    if head.protection is None:
        raise TypeError("a sighting's head carries its protection")
    return head.protection


def _undecided(
    kind: RecordType,
    record: RecordMixin,
    heads: Iterable[Head],
    live: Sequence[MatchCandidate],
    found: Mapping[uuid.UUID, Head],
) -> Iterator[Head]:
    """The ``heads`` whose pair with the record officers have not decided, in order: none confirmed
    (or awaiting approval), none rejected or withdrawn at the records' current match versions
    (``live``: the record's unsuperseded candidates; ``found``: the heads read, by id)."""
    settled = _settled(kind, record, live, found)
    return (head for head in heads if head.id not in settled) if settled else iter(heads)


def _settled(
    kind: RecordType, record: RecordMixin, live: Sequence[MatchCandidate], found: Mapping[uuid.UUID, Head]
) -> set[uuid.UUID]:
    """The records of the other side whose pair with the record officers decided (see ``_undecided``)."""
    settled = set()
    for row in live:
        if row.status not in DECIDED:
            continue
        other_id = row.sighting_id if kind is TRACING_REQUESTS else row.tracing_request_id
        head = found.get(other_id)
        if head is None:
            continue
        pair = _pair(record, head)
        unchanged = (row.request_match_version, row.sighting_match_version) == (
            pair.request.match_version,
            pair.sighting.match_version,
        )
        if row.status in (MatchStatus.CONFIRMED, MatchStatus.PENDING_APPROVAL) or unchanged:
            settled.add(other_id)
    return settled


def _pair(record: RecordMixin, head: Head) -> Pair:
    """The record proposed for, with a record of the other side."""
    return Pair(record, head, head) if isinstance(record, TracingRequest) else Pair(head, record, head)


# --- storing ----------------------------------------------------------------------------------------


def _store(
    session: Session,
    kind: RecordType,
    model_version: str,
    records: Sequence[RecordMixin],
    *,
    heads: Mapping[uuid.UUID, Head],
    scores: Sequence[Sequence[Score]],
    live: dict[uuid.UUID, list[MatchCandidate]],
    audit: AuditSink,
) -> int:
    """Store what scoring found for each record (``heads``: the records of the other side blocking
    read, by id): new candidates, changed ones refreshed, those no longer above the floor superseded;
    returns how many were created or changed."""
    new: list[MatchCandidate] = []
    changed = 0
    for record, scored in zip(records, scores, strict=True):
        # Looked up for the few scored above the floor: a map of a record's every scored candidate (200)
        # by id cost a twentieth of a re-scoring run.
        pairs = [_pair(record, heads[uuid.UUID(score.id)]) for score in scored]
        changed += _refresh(pairs, scored, model_version, live[record.id], new)
        _supersede_dropped(session, kind, live[record.id], {score.id for score in scored}, audit)
        # The matcher read the record and its scored candidates (decrypted in memory): that is logged too.
        audit(
            AuditEntry(
                Action.MATCH_PROPOSE,
                owner_society_id=record.society_id,
                object_type=kind.name,
                object_id=str(record.id),
            )
        )
    return changed + _insert(session, new, audit)


def _refresh(
    pairs: Sequence[Pair],
    scores: Sequence[Score],
    model_version: str,
    live: Sequence[MatchCandidate],
    new: list[MatchCandidate],
) -> int:
    """Refresh the record's open candidates its scores (one per pair of ``pairs``, in order) changed
    (returns how many) and add those it has none for to ``new``."""
    open_candidates = _open_candidates(live)
    changed = 0
    for pair, score in zip(pairs, scores, strict=True):
        explanation = [{"field": f.field, "level": f.level, "weight": f.weight} for f in score.explanation]
        current = open_candidates.get((pair.request.id, pair.sighting.id))
        if current is None:
            new.append(_new_candidate(pair, score, model_version, explanation))
        elif not _same_scoring(current, score, model_version, explanation):
            current.match_probability = score.match_probability
            current.match_weight = score.match_weight
            current.model_version = model_version
            current.explanation = explanation
            changed += 1
    return changed


def _insert(session: Session, candidates: Sequence[MatchCandidate], audit: AuditSink) -> int:
    """Insert new open candidates (made, not added to the session) and return how many went in. A pair
    another transaction proposed at the same moment (the request's and the sighting's messages, taken
    by two workers at once) is left out: the other's candidate, scored from the same records, stands;
    the open pair's unique index decides."""
    session.flush()  # what superseding changed comes first: a superseded pair may be proposed anew
    # Pairs go in in one order in every transaction: two that propose overlapping pairs (two drains'
    # batches) wait for each other on the unique index, never each for the other (a deadlock).
    ordered = sorted(candidates, key=lambda c: (c.tracing_request_id, c.sighting_id))
    if not ordered:
        return 0
    # One short statement given many rows: the driver prepares it once and sends the rows in a
    # pipeline. Asking it to return the ids that went in made SQLAlchemy write one statement of a
    # thousand rows' values at a time, which the driver parsed anew each time (storing was 15% of a
    # 100k x 100k run's profile with it, 8% without); the count of rows inserted says the same when all
    # went in.
    statement = (
        dialect_insert(session, _CANDIDATES)
        .on_conflict_do_nothing(
            index_elements=["tracing_request_id", "sighting_id"], index_where=sa.text(OPEN_PAIR)
        )
        .execution_options(preserve_rowcount=True)  # SQLAlchemy keeps it of UPDATE and DELETE only
    )
    rows = [
        {key: value for key, value in sa.inspect(c).dict.items() if key in _CANDIDATES.c} for c in ordered
    ]
    inserted = session.execute(statement, rows).rowcount  # type: ignore[attr-defined]
    went_in = _ids_stored(session, ordered) if inserted != len(ordered) else {c.id for c in ordered}
    for candidate in ordered:
        if candidate.id in went_in:
            audit(_candidate_event(Action.MATCH_CANDIDATE_CREATE, candidate))
    return len(went_in)


def _ids_stored(session: Session, candidates: Sequence[MatchCandidate]) -> set[uuid.UUID]:
    """Which of the candidates made (their ids new) went in."""
    ids = [candidate.id for candidate in candidates]
    statement = sa.select(_CANDIDATES.c.id)
    return {
        found
        for part in _slices(ids)
        for found in session.scalars(statement.where(one_of(session, _CANDIDATES.c.id, part)))
    }


_CANDIDATES: sa.Table = MatchCandidate.__table__  # type: ignore[assignment]


def _same_scoring(
    current: MatchCandidate, score: Score, model_version: str, explanation: list[dict[str, Any]]
) -> bool:
    """Whether a stored candidate already says what a new scoring says (up to rounding noise)."""
    return (
        current.model_version == model_version
        and current.explanation == explanation
        and math.isclose(current.match_probability, score.match_probability, abs_tol=PROBABILITY_NOISE)
    )


def _new_candidate(
    pair: Pair,
    score: Score,
    model_version: str,
    explanation: list[dict[str, Any]],
) -> MatchCandidate:
    return MatchCandidate(
        id=uuid.uuid4(),
        tracing_request_id=pair.request.id,
        sighting_id=pair.sighting.id,
        request_society_id=pair.request.society_id,
        sighting_society_id=pair.sighting.society_id,
        request_match_version=pair.request.match_version,
        sighting_match_version=pair.sighting.match_version,
        match_probability=score.match_probability,
        match_weight=score.match_weight,
        model_version=model_version,
        explanation=explanation,
        status=MatchStatus.PROPOSED,
        subject_id=uuid.uuid4(),
    )


def _open_candidates(live: Sequence[MatchCandidate]) -> dict[tuple[uuid.UUID, uuid.UUID], MatchCandidate]:
    """The record's proposed candidates (of ``live``), by pair."""
    return {
        (row.tracing_request_id, row.sighting_id): row for row in live if row.status is MatchStatus.PROPOSED
    }


# --- superseding --------------------------------------------------------------------------------------


def _live_candidates(
    session: Session, kind: RecordType, records: Sequence[RecordMixin]
) -> dict[uuid.UUID, list[MatchCandidate]]:
    """The records' candidates in every status but superseded, by record id."""
    record_column = (
        MatchCandidate.tracing_request_id if kind is TRACING_REQUESTS else MatchCandidate.sighting_id
    )
    live: dict[uuid.UUID, list[MatchCandidate]] = {record.id: [] for record in records}
    if not records:
        return live
    statement = sa.select(MatchCandidate).where(
        record_column.in_(list(live)), MatchCandidate.status != MatchStatus.SUPERSEDED
    )
    for candidate in session.scalars(statement.order_by(MatchCandidate.id)):
        record_id = candidate.tracing_request_id if kind is TRACING_REQUESTS else candidate.sighting_id
        live[record_id].append(candidate)
    return live


def _record_version(kind: RecordType, candidate: MatchCandidate) -> int:
    """The record's match version a candidate was scored at (the record whose side ``kind`` is)."""
    if kind is TRACING_REQUESTS:
        return candidate.request_match_version
    return candidate.sighting_match_version


def _supersede_outdated(
    session: Session, kind: RecordType, record: RecordMixin, live: Sequence[MatchCandidate], audit: AuditSink
) -> None:
    """Open candidates scored before the record last changed in a matched field (or closed)."""
    closed = record.status is RecordStatus.CLOSED
    supersede(
        session,
        [c for c in live if closed or _record_version(kind, c) < record.match_version],
        audit,
    )


def _release_refused(
    session: Session, record: RecordMixin, live: Sequence[MatchCandidate], audit: AuditSink
) -> None:
    """A tracing request its family's side opened again after the found person refused contact (it saw
    only "closed"): the refused pair is withdrawn, so the search goes on and another sighting can be
    confirmed (the pair kept confirmed would answer that the request has one: rule 2). The refusal
    stays in the consent log, and holds if the pair is ever confirmed again."""
    if not isinstance(record, TracingRequest) or record.status is not RecordStatus.OPEN:
        return
    for candidate in live:
        if candidate.status in CONFIRMING_STATUSES and candidate.outcome is MatchOutcome.LOCATED_NO_CONTACT:
            candidate.status = MatchStatus.WITHDRAWN
            audit(_candidate_event(Action.MATCH_WITHDRAW, candidate))
    session.flush()


def _supersede_dropped(
    session: Session,
    kind: RecordType,
    live: Sequence[MatchCandidate],
    kept_ids: Iterable[str],
    audit: AuditSink,
) -> None:
    """Proposed candidates of the record that the latest scoring no longer puts above the floor."""
    kept = set(kept_ids)
    supersede(
        session,
        [
            c
            for c in live
            if c.status is MatchStatus.PROPOSED
            and str(c.sighting_id if kind is TRACING_REQUESTS else c.tracing_request_id) not in kept
        ],
        audit,
    )


def supersede(session: Session, candidates: Sequence[MatchCandidate], audit: AuditSink) -> None:
    """Supersede the open ones (proposed, or awaiting approval) of ``candidates``."""
    for candidate in candidates:
        if candidate.status in OPEN:
            candidate.status = MatchStatus.SUPERSEDED
            audit(_candidate_event(Action.MATCH_SUPERSEDE, candidate))
    session.flush()


def _candidate_event(action: Action, candidate: MatchCandidate) -> AuditEntry:
    return AuditEntry(
        action,
        owner_society_id=candidate.sighting_society_id,
        object_type="match_candidate",
        object_id=str(candidate.id),
    )
