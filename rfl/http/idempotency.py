"""``Idempotency-Key`` for every creating POST (api.md): a retry within 24 h returns the first result."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping
from typing import ParamSpec, TypeVar

from flask import request
from sqlalchemy.orm import Session

from rfl.clock import now
from rfl.db import db
from rfl.extensions import app_services
from rfl.http.auth import current_actor
from rfl.idempotency import services
from rfl.idempotency.services import IDEMPOTENCY_HEADER
from rfl.identity import Actor

P = ParamSpec("P")
R = TypeVar("R")


def idempotent(
    load: Callable[[Session, Actor, uuid.UUID], R],
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Make a creating view idempotent; ``load`` fetches the object a replay returns.

    Place it below ``@blp.response`` so a replayed object is serialised exactly like a new one.
    """

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            key = request.headers.get(IDEMPOTENCY_HEADER)
            if key is None:
                return view(*args, **kwargs)
            session, actor = db.session, current_actor()
            secret = app_services().settings.secret_key.encode()
            hashed_key = services.key_hash(secret, actor, key)
            fingerprint = services.request_fingerprint(
                secret, request.method, request.path, request.get_data()
            )
            previous = services.claim_key(session, actor, hashed_key, fingerprint, now())
            if previous is not None:
                return load(session, actor, previous)
            created = view(*args, **kwargs)
            services.remember_result(session, actor, hashed_key, _created_id(created))
            return created

        return wrapper

    return decorator


def _created_id(created: object) -> uuid.UUID:
    """The id of what a view created: a mapped object, or a representation mapping with an ``id``."""
    if isinstance(created, tuple):
        created = created[0]
    if isinstance(created, Mapping):
        return uuid.UUID(str(created["id"]))
    return uuid.UUID(str(getattr(created, "id")))  # noqa: B009 (any object with an id)
