"""Fitted matcher models: stored versioned and encrypted, one active, read back by every process.

A model's name-frequency tables are personal data in aggregate, so the whole saved form is one
ciphertext under a data key of the model's own, in the system key ring (not any one society's: a
model is fitted on every society's records). Until a model is fitted, the matcher shipped with the
package (synthetic data only) is used, so the first true pair ever entered is proposed.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from matching import Matcher
from privacy import Subject
from rfl.crypto import Crypto
from rfl.matches.models import MatcherModel

SYSTEM_RING = "rfl-system"
_TABLE, _COLUMN = MatcherModel.__tablename__, "payload"

_lock = threading.Lock()
_loaded: dict[str, Matcher] = {}


def active_version(session: Session) -> str | None:
    return session.scalar(sa.select(MatcherModel.version).where(MatcherModel.active.is_(True)))


def current_matcher(session: Session, crypto: Crypto) -> Matcher:
    """The active fitted matcher (decrypted once per process and version), else the shipped default."""
    version = active_version(session)
    if version is None:
        return default_matcher()
    with _lock:
        cached = _loaded.get(version)
    if cached is not None:
        return cached
    row = session.get_one(MatcherModel, version)
    text = crypto.vault.decrypt(_subject(row.subject_id), _TABLE, _COLUMN, version, row.payload)
    matcher = Matcher.from_dict(json.loads(str(text)))
    with _lock:
        _loaded[version] = matcher
    return matcher


def default_matcher() -> Matcher:
    with _lock:
        cached = _loaded.get("default")
        if cached is None:
            cached = _loaded["default"] = Matcher.default()
    return cached


def save_and_activate(
    session: Session, crypto: Crypto, matcher: Matcher, *, requests: int, sightings: int, labels: int
) -> MatcherModel:
    """Store ``matcher`` encrypted and make it the one every process scores with."""
    crypto.provider_ring(SYSTEM_RING)
    subject_id = uuid.uuid4()
    payload = crypto.vault.encrypt(
        _subject(subject_id), _TABLE, _COLUMN, matcher.version, json.dumps(matcher.to_dict())
    )
    if payload is None:  # a value always encrypts to a token; checked, since asserts vanish under -O
        raise RuntimeError("the matcher model did not encrypt")
    session.execute(sa.update(MatcherModel).where(MatcherModel.active.is_(True)).values(active=False))
    existing = session.get(MatcherModel, matcher.version)
    if existing is not None:  # the same parameters again: reactivate, keep the first ciphertext
        existing.active = True
        session.flush()
        return existing
    model = MatcherModel(
        version=matcher.version,
        subject_id=subject_id,
        payload=payload,
        active=True,
        requests=requests,
        sightings=sightings,
        labels=labels,
    )
    session.add(model)
    session.flush()
    return model


def fitted_at(session: Session) -> datetime | None:
    """When the active model was fitted (None: the shipped default is in use): the records created
    before then are the ones its name frequencies count."""
    return session.scalar(sa.select(MatcherModel.created_at).where(MatcherModel.active.is_(True)))


def forget(
    session: Session, crypto: Crypto, records: Sequence[Mapping[str, Any]], *, requests: int, sightings: int
) -> MatcherModel | None:
    """Make the stored name frequencies forget ``records`` (canonical views of erased persons whom the
    active model counted): a new model version without them becomes active, and every other stored
    version (each counted them too) is destroyed. None: no fitted model, or nothing to forget."""
    active = session.scalar(sa.select(MatcherModel).where(MatcherModel.active.is_(True)))
    if active is None or not records:
        return None
    matcher = current_matcher(session, crypto).without(records)
    kept = save_and_activate(
        session,
        crypto,
        matcher,
        requests=max(0, active.requests - requests),
        sightings=max(0, active.sightings - sightings),
        labels=active.labels,
    )
    # It counts the records of the same fit, less some: what it counts is still told by the fit's time.
    kept.created_at = active.created_at
    destroy_other_models(session, crypto, keep=kept.version)
    return kept


def destroy_other_models(session: Session, crypto: Crypto, *, keep: str | None) -> int:
    """Destroy every stored model but ``keep`` (None: all of them, so the shipped default is used):
    each model's data key is shredded, so its name frequencies are gone from backups too once the
    system ring's old KEK versions are retired. Returns how many were destroyed."""
    statement = sa.select(MatcherModel)
    if keep is not None:
        statement = statement.where(MatcherModel.version != keep)
    rows = session.scalars(statement).all()
    for row in rows:
        crypto.vault.shred(_subject(row.subject_id))
        session.delete(row)
    with _lock:
        for version in [version for version in _loaded if version not in ("default", keep)]:
            del _loaded[version]
    session.flush()
    return len(rows)


def _subject(subject_id: uuid.UUID) -> Subject:
    return Subject(ring_id=SYSTEM_RING, subject_id=str(subject_id))
