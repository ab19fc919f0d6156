"""Fitting the matcher on this installation's records, with officers' decisions as labels.

Every record is decrypted in memory only, into the matcher's canonical fields; nothing of it is
written but the fitted model, which is stored encrypted (its name frequencies are personal data in
aggregate). Confirmed pairs are labelled the same person, rejected ones not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from matching import Matcher
from rfl.audit.entries import Action, AuditEntry, AuditSink
from rfl.crypto import Crypto
from rfl.errors import ValidationFailed
from rfl.matches.models import MatchCandidate, MatcherModel, MatchStatus
from rfl.matches.store import save_and_activate
from rfl.records.models import RecordMixin
from rfl.records.services import SIGHTINGS, TRACING_REQUESTS, RecordType, canonical_records

# Below this many records on either side there is too little to estimate from: the default stays.
MIN_RECORDS = 50
LABELS = {MatchStatus.CONFIRMED: True, MatchStatus.REJECTED: False}


def fit_and_store(
    session: Session, crypto: Crypto, *, progress: Callable[[str], None], audit: AuditSink
) -> MatcherModel:
    requests = _all(session, TRACING_REQUESTS)
    sightings = _all(session, SIGHTINGS)
    if min(len(requests), len(sightings)) < MIN_RECORDS:
        raise ValidationFailed(
            {"records": [f"At least {MIN_RECORDS} tracing requests and sightings are needed to fit a model."]}
        )
    progress(f"decrypting {len(requests)} tracing requests and {len(sightings)} sightings (in memory only)")
    request_views = dict(
        zip((r.id for r in requests), canonical_records(crypto, TRACING_REQUESTS, requests), strict=True)
    )
    sighting_views = dict(
        zip((s.id for s in sightings), canonical_records(crypto, SIGHTINGS, sightings), strict=True)
    )
    labels = [
        (request_views[row.tracing_request_id], sighting_views[row.sighting_id], LABELS[row.status])
        for row in session.execute(
            sa.select(
                MatchCandidate.tracing_request_id, MatchCandidate.sighting_id, MatchCandidate.status
            ).where(MatchCandidate.status.in_(list(LABELS)))
        )
        if row.tracing_request_id in request_views and row.sighting_id in sighting_views
    ]
    matcher = Matcher.fit(
        list(request_views.values()), list(sighting_views.values()), labels=labels or None, progress=progress
    )
    model = save_and_activate(
        session, crypto, matcher, requests=len(requests), sightings=len(sightings), labels=len(labels)
    )
    audit(AuditEntry(Action.MATCH_FIT, object_type="matcher_model", object_id=model.version))
    return model


def _all(session: Session, kind: RecordType) -> Sequence[RecordMixin]:
    """Every record whose compared person was not erased (an erased person is counted nowhere)."""
    erased = getattr(kind.model, kind.erased_columns[kind.matched_role])
    return session.scalars(sa.select(kind.model).where(erased.is_(None)).order_by(kind.model.id)).all()
