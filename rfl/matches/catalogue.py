"""A job's catalogue of one side: every open record of it, by blocking key, in memory.

A re-scoring run proposes for every tracing request and reads every sighting anyway; it blocks against
a catalogue of them instead of the blind index (one query per chunk instead of several per society and
key version, and no truncated values to weed out after decryption). It answers what the index answers,
without its truncation: for a set of keys, the records sharing the most of them (then by id), at most
twice ``max_candidates``, leaving out a key that more than ``max_key_records`` records of a society
share, and ranked by every key they share (a crowded key finds no one but counts for those another key
found, as when the index's candidates are ranked once decrypted).

It decrypts each record once and keeps its view (what a chunk's candidates are scored from), holding
plaintext in this process's memory only, as the matcher's batch linkage does: about 10 KB a record, all
of them (a run's proposer, which keeps at most ``VIEWS_KEPT``, keeps none of a run's). Before each use,
:meth:`Catalogue.refresh` brings it up to date with the database (a record changed, created, closed or
erased since).
"""

from __future__ import annotations

import uuid
from array import array
from collections import defaultdict
from collections.abc import Sequence
from typing import cast

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from rfl.audit.entries import AuditSink
from rfl.crypto import Crypto
from rfl.matches.proposals import CANDIDATE_HEADROOM, Head, MatchView, Proposer, listed_versions
from rfl.matches.settings import MatchingSettings
from rfl.records.services import RecordType

_HALF = (1 << 64) - 1

Positions = npt.NDArray[np.int32]


class Catalogue:
    """Every open record of one side, by blocking key (see the module).

    Each record posted has a position, the next free one; a key's postings are the positions of the
    records holding it, per society, in increasing order, counted and ranked with numpy (a chunk of a
    run blocks hundreds of records against thousands of postings each). A record posted again
    (changed) gets a new position.
    """

    def __init__(self, kind: RecordType) -> None:
        self.kind = kind
        self.heads: dict[uuid.UUID, Head] = {}  # of the records posted, by id
        # What was listed of the records posted (id as text, version): see ``listed_versions``.
        self._listed: set[tuple[str, int]] = set()
        self._listing: dict[uuid.UUID, tuple[str, int]] = {}  # the records posted's, by id
        self.views: dict[Head, MatchView] = {}  # of the records posted, by head (by identity)
        self.societies: set[uuid.UUID] = set()  # the owners of every record ever posted
        self._unsealed: set[uuid.UUID] = set()  # whose seal failed
        self._position: dict[uuid.UUID, int] = {}
        self._at: list[Head | None] = []  # by position (None: a record unposted since)
        self._keys: list[frozenset[str]] = []  # by position
        # The id's halves by position: records sharing as many keys are ranked by id.
        self._high: array[int] = array("Q")
        self._low: array[int] = array("Q")
        self._rank: Positions | None = None  # each position's rank by id (None: to be ranked anew)
        self._postings: defaultdict[str, defaultdict[uuid.UUID, array[int]]] = defaultdict(
            lambda: defaultdict(lambda: array("i"))
        )
        # Each key's postings as arrays (one per society), made when a chunk first blocks on the key and
        # kept until a record holding it is posted or unposted: a run's chunks block 100k records on
        # the same postings, which were copied into arrays anew for every record.
        self._arrays: dict[str, list[Positions]] = {}
        self._vacated: set[int] = set()  # the positions of records unposted since

    def refresh(self, session: Session, crypto: Crypto, proposer: Proposer, audit: AuditSink) -> None:
        """Read the open records' versions and post again those not posted at their current version,
        and those whose seal failed: as proposing does, each refresh checks (and audits) them again."""
        listed = listed_versions(session, self.kind)
        stale = {uuid.UUID(text) for text, _ in self._listed - listed}
        for record_id in stale | self._unsealed:
            self._unpost(record_id)
        unposted = {uuid.UUID(text): (text, version) for text, version in listed - self._listed}
        heads = proposer.heads(session, crypto, audit, self.kind, unposted)
        # kept here, not by the proposer: they are what a chunk's candidates are read from
        views = proposer.read(session, crypto, self.kind, list(heads.values()), keep=False)
        for head in heads.values():
            if head.id in views:  # not erased since
                # under the version listed: a record changed since is posted again by the next refresh
                self._post(head, unposted[head.id], views[head.id])

    def blocked(self, keysets: Sequence[frozenset[str]], limits: MatchingSettings) -> list[list[Head]]:
        """For each set of blocking keys, the records sharing the most of them (see the module)."""
        rank = self._ranks()
        limit = limits.max_candidates * CANDIDATE_HEADROOM
        found = []
        for keys in keysets:
            sparse: list[Positions] = []
            crowded: list[Positions] = []
            for key in keys:
                for postings in self._arrays_of(key):
                    (sparse if len(postings) <= limits.max_key_records else crowded).append(postings)
            found.append(self._heads_at(_most_shared(sparse, crowded, rank, limit).tolist()))
        return found

    def _arrays_of(self, key: str) -> list[Positions]:
        """The key's postings, an array per society holding it."""
        arrays = self._arrays.get(key)
        if arrays is None:
            if key not in self._postings:
                return []  # nothing is kept for a key no record holds (most of a record's keys, at first)
            # copies: a view would keep the array from growing while anything (a traceback) held it
            arrays = self._arrays[key] = [
                np.array(holders, dtype=np.int32) for holders in self._postings[key].values()
            ]
        return arrays

    def _ranks(self) -> Positions:
        """Each position's rank by record id: ranking by it ranks by id, in one integer."""
        if self._rank is None:
            by_id = np.lexsort((np.array(self._low, dtype=np.uint64), np.array(self._high, dtype=np.uint64)))
            self._rank = np.empty(len(by_id), dtype=np.int32)
            self._rank[by_id] = np.arange(len(by_id), dtype=np.int32)
        return self._rank

    def _heads_at(self, positions: list[int]) -> list[Head]:
        if self._vacated and not self._vacated.isdisjoint(positions):  # unposting leaves every posting
            raise LookupError("a posting outlived its record")
        at = self._at
        return cast(list[Head], [at[position] for position in positions])

    def _post(self, head: Head, listing: tuple[str, int], view: MatchView) -> None:
        position, keys = len(self._at), view.keys
        self._at.append(head)
        self._keys.append(keys)
        self.views[head] = view
        self.societies.add(head.society_id)
        self._high.append(head.id.int >> 64)
        self._low.append(head.id.int & _HALF)
        self._rank = None
        self.heads[head.id], self._listing[head.id], self._position[head.id] = head, listing, position
        self._listed.add(listing)
        if head.protection is not None and not head.protection.intact:
            self._unsealed.add(head.id)
        for key in keys:
            self._postings[key][head.society_id].append(position)
            self._arrays.pop(key, None)

    def _unpost(self, record_id: uuid.UUID) -> None:
        head = self.heads.pop(record_id)
        del self.views[head]
        self._listed.discard(self._listing.pop(record_id))
        self._unsealed.discard(record_id)
        position = self._position.pop(record_id)
        for key in self._keys[position]:
            self._postings[key][head.society_id].remove(position)
            self._arrays.pop(key, None)
        self._at[position], self._keys[position] = None, frozenset()
        self._vacated.add(position)


def _most_shared(sparse: list[Positions], crowded: list[Positions], rank: Positions, limit: int) -> Positions:
    """The ``limit`` positions most often among the ``sparse`` postings (then by id: ``rank``), ranked
    again by how often they are among all postings (a crowded key counts for those the others found)."""
    if not sparse:
        return np.zeros(0, dtype=np.int32)
    positions, counts = np.unique(np.concatenate(sparse), return_counts=True)
    top = _first(_order_keys(counts, rank[positions]), limit)
    positions, counts = positions[top], counts[top]
    if not crowded:
        return positions
    for postings in crowded:
        counts += _held(positions, postings)
    return positions[np.argsort(_order_keys(counts, rank[positions]))]


def _order_keys(counts: npt.NDArray[np.int64], ranks: Positions) -> npt.NDArray[np.int64]:
    """One integer per position that orders by count (most first), then by id."""
    return counts.astype(np.int64) * -(1 << 32) + ranks


def _first(keys: npt.NDArray[np.int64], limit: int) -> npt.NDArray[np.intp]:
    """Where the ``limit`` smallest ``keys`` are, in order: a partition first, linear in the keys
    (ranking 16k postings of 8 crowded keys for 400 took 2.1 ms sorting them all, 0.7 ms so)."""
    if len(keys) > limit:
        chosen = np.argpartition(keys, limit - 1)[:limit]
        return chosen[np.argsort(keys[chosen])]
    return np.argsort(keys)


def _held(positions: Positions, postings: Positions) -> npt.NDArray[np.bool_]:
    """Whether each of ``positions`` is among ``postings`` (not empty): a binary search, since postings
    are in increasing order (a record's position is new when posted, and unposting keeps the order).
    A crowded key's postings are tens of thousands at 100k records, which ``np.isin`` sorted anew for
    each record blocked (a third of a run's time)."""
    at = np.minimum(np.searchsorted(postings, positions), len(postings) - 1)
    held: npt.NDArray[np.bool_] = postings[at] == positions
    return held
